"""What `compile(loss=..., metrics=...)` becomes: one loss callable and a list of metrics.

Both are resolved lazily from the first batch, because Keras picks metric variants ("accuracy"
becomes binary, sparse or categorical accuracy) from the shapes of `y` and the predictions.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch

from kfit import losses as losses_module
from kfit import metrics as metrics_module
from kfit.trainers.data_adapters import batch_size_of

__all__ = ["CompileLoss", "CompileMetrics", "check_compile_arguments", "output_names", "sparse_label_users"]


def output_names(y_pred: Any, names: Sequence[str] | None = None) -> list[str] | None:
    """Names of a model's outputs: dict keys; for a list, the model's `output_names` (the
    output layers' names, as Keras logs them) when it has one per output, else `output_<i>`;
    None for one tensor.

    Example:
        >>> output_names([torch.zeros(1)] * 2), output_names([torch.zeros(1)] * 2, ["cls", "reg"])
        (['output_0', 'output_1'], ['cls', 'reg'])
    """
    if isinstance(y_pred, dict):
        return list(y_pred)
    if isinstance(y_pred, (list, tuple)):
        if names is not None and len(names) == len(y_pred):
            return list(names)
        return [f"output_{i}" for i in range(len(y_pred))]
    return None


def _outputs(data: Any, names: list[str]) -> list[Any]:
    if isinstance(data, dict):
        return [data[n] for n in names]
    if isinstance(data, (list, tuple)):
        return list(data)
    return [data] * len(names)


def _per_output(spec: Any, names: list[str], what: str) -> list[Any]:
    """Spreads a compile argument given once, as a list, or as a dict over the outputs."""
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(
                f"Expected the keys of `{what}` to be output names {names}. Received: unknown "
                f"keys {unknown}. Key the dict by those names (the output layers' names, or the "
                "keys of the dict the model returns)."
            )
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            if what in ("metrics", "weighted_metrics"):
                # Keras's rule: with several outputs the metrics are given per output.
                raise ValueError(
                    f"Invalid `{what}`. `{what}` should contain metrics objects and either be a "
                    f"dict or a list matching the output names {names}. Received: {what}="
                    f"{list(spec)!r} (of type {type(spec).__name__}), {len(spec)} entries for "
                    f"{len(names)} outputs. Pass one list per output, e.g. "
                    f"{[['mae']] * len(names)!r}, or a dict keyed by output name."
                )
            raise ValueError(
                f"Expected `{what}` to have one entry per output ({len(names)}: {names}). Received: "
                f"{what}={list(spec)!r}, a {type(spec).__name__} of {len(spec)} entries. Pass one "
                "per output, in order, or a dict keyed by output name."
            )
        return list(spec)
    return [spec] * len(names)


def _check_signature(arg: str, fn: Any) -> None:
    """Raises when a loss or metric function cannot be called as `fn(y_true, y_pred)`."""
    if isinstance(fn, (losses_module.Loss, metrics_module.Metric, type)) or not callable(fn):
        return
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature to read
        return
    try:
        signature.bind(None, None)
    except TypeError:
        name = getattr(fn, "__name__", type(fn).__name__)
        name = name if name.isidentifier() else ("my_loss" if arg == "loss" else "my_metric")
        raise TypeError(
            f"Expected each function in `{arg}` to take `(y_true, y_pred)`. Received: {arg} "
            f"function {name}{signature}. Define it as `def {name}(y_true, y_pred): ...`, or "
            "bind other arguments first (functools.partial)."
        ) from None


def _entries(spec: Any) -> list[Any]:
    """The leaves of a compile argument: a value, or the values of its lists and dicts."""
    if isinstance(spec, dict):
        return [leaf for v in spec.values() for leaf in _entries(v)]
    if isinstance(spec, (list, tuple)):
        return [leaf for v in spec for leaf in _entries(v)]
    return [] if spec is None else [spec]


def check_compile_arguments(
    loss: Any, loss_weights: Any, metrics: Any, weighted_metrics: Any, names: Sequence[str] | None
) -> None:
    """Checks what `compile` can check before any data: metric names, function signatures,
    and, when the model's outputs are known (`names`, a functional model), that per-output
    arguments match them. The rest is checked on the first batch, before any step.

    Example:
        >>> check_compile_arguments("mse", None, ["mae"], None, None)
        >>> check_compile_arguments("mse", None, ["accuracyy"], None, None)
        Traceback (most recent call last):
        ...
        ValueError: ...accuracy...
    """
    for arg, spec in (("loss", loss), ("metrics", metrics), ("weighted_metrics", weighted_metrics)):
        for entry in _entries(spec):
            if arg != "loss" and isinstance(entry, str) and entry.lower() not in ("accuracy", "acc"):
                metrics_module.get(entry)  # raises for an unknown name, suggesting close ones
            _check_signature(arg, entry)
    if names is None or len(names) < 2:
        return
    names = list(names)
    if isinstance(loss, (dict, list, tuple)):
        _per_output(loss, names, "loss")
    if isinstance(loss_weights, (dict, list, tuple)):
        _per_output(loss_weights, names, "loss_weights")
    for arg, spec in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
        if spec:
            _per_output(spec, names, arg)


def _as_loss(identifier: Any) -> Any:
    loss = losses_module.get(identifier)
    if loss is None or isinstance(loss, losses_module.Loss):
        return loss
    return losses_module.LossFunctionWrapper(loss, name=getattr(loss, "__name__", None))


class CompileLoss:
    """Computes the (weighted) total loss of a batch, summed over outputs.

    For a model with several outputs it also tracks each output's unweighted loss in a `Mean`
    (`metrics`, named `<output>_loss`, weighted by the batch size), as Keras does.

    Example:
        >>> loss = CompileLoss("mse")
        >>> float(loss(torch.zeros(2, 1), torch.ones(2, 1)))
        1.0
        >>> two = CompileLoss(["mse", "mae"], loss_weights=[1.0, 0.5])
        >>> float(two([torch.zeros(2, 1)] * 2, [torch.ones(2, 1)] * 2))
        1.5
        >>> [(m.name, float(m.result())) for m in two.metrics]
        [('output_0_loss', 1.0), ('output_1_loss', 1.0)]
    """

    def __init__(self, loss: Any, loss_weights: Any = None) -> None:
        self.spec = loss
        self.loss_weights = loss_weights
        # The model's `output_names`, set by `Model.compile` when it has them.
        self.output_names: list[str] | None = None
        self.built = False
        self.names: list[str] | None = None
        self.metrics: list[Any] = []
        self._single: Any = None
        self._weight = 1.0
        self._losses: list[Any] = []
        self._weights: list[float] = []
        if not isinstance(loss, (dict, list, tuple)):
            self._single = _as_loss(loss)

    def build(self, y_pred: Any) -> None:
        self.names = output_names(y_pred, self.output_names)
        if self.names is None:
            if self._single is None:
                raise ValueError(
                    "Expected one loss for a model with a single output. Received: "
                    f"loss={self.spec!r}. Pass e.g. loss='mse'."
                )
            if self.loss_weights is not None:
                self._weight = float(self.loss_weights)
        else:
            self._losses = [_as_loss(s) for s in _per_output(self.spec, self.names, "loss")]
            weights = self.loss_weights if self.loss_weights is not None else 1.0
            self._weights = [1.0 if w is None else float(w) for w in _per_output(weights, self.names, "loss_weights")]
            self.metrics = [
                metrics_module.Mean(name=f"{name}_loss")
                for name, fn in zip(self.names, self._losses)
                if fn is not None
            ]
        self.built = True

    def sole_loss(self) -> Any:
        """The `Loss` object, when this is a built single-output loss of weight 1; else None.

        Example:
            >>> loss = CompileLoss("mse")
            >>> loss.sole_loss() is None  # built from the first batch
            True
            >>> _ = loss(torch.zeros(2, 1), torch.ones(2, 1))
            >>> loss.sole_loss().name
            'mean_squared_error'
        """
        if not self.built or self.names is not None or self._weight != 1.0:
            return None
        return self._single

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        if not self.built:
            self.build(y_pred)
        if self.names is None:
            loss = self._single(y_true, y_pred, sample_weight)
            return loss if self._weight == 1.0 else loss * self._weight
        ys, ps = _outputs(y_true, self.names), _outputs(y_pred, self.names)
        sws = _outputs(sample_weight, self.names) if sample_weight is not None else [None] * len(self.names)
        trackers = iter(self.metrics)
        total: Any = 0.0
        for fn, weight, yt, yp, sw in zip(self._losses, self._weights, ys, ps, sws):
            if fn is None:
                continue
            value = fn(yt, yp, sw)
            # Keras records each output's loss before weighting, averaged over samples.
            with torch.no_grad():
                next(trackers).update_state(value.detach(), sample_weight=batch_size_of(yp))
            total = total + weight * value
        return total


class CompileMetrics(metrics_module.Metric):
    """The compiled metrics as one `Metric` named `compile_metrics`, as in Keras.

    `metrics` ignore sample weights and `weighted_metrics` use them. Both are resolved from the
    first batch. `result()` is a dict of every metric's result; the trainer flattens it into
    the logs, so a custom `train_step` can update and report all of them through `model.metrics`.

    Example:
        >>> m = CompileMetrics(["mae"])
        >>> m.update_state(torch.zeros(2, 1), torch.ones(2, 1))
        >>> m.name, {k: float(v) for k, v in m.result().items()}
        ('compile_metrics', {'mae': 1.0})
    """

    def __init__(self, metrics: Any = None, weighted_metrics: Any = None, name: str = "compile_metrics") -> None:
        for arg, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple, dict)):
                raise TypeError(
                    f"Expected `{arg}` to be a list (or a dict of lists, one per output). "
                    f"Received: {arg}={value!r} (of type {type(value).__name__}). "
                    f"Wrap it in a list: {arg}=[{value!r}]."
                )
        super().__init__(name=name)
        self.spec = metrics
        self.weighted_spec = weighted_metrics
        # The model's `output_names`, set by `Model.compile` when it has them.
        self.output_names: list[str] | None = None
        self.built = False
        # (metric, output index or None, uses sample weight)
        self._entries: list[tuple[Any, int | None, bool]] = []
        self.metrics: list[Any] = []

    def build(self, y_true: Any, y_pred: Any) -> None:
        names = output_names(y_pred, self.output_names)
        entries: list[tuple[Any, int | None, bool]] = []
        for spec, weighted in ((self.spec, False), (self.weighted_spec, True)):
            if not spec:
                continue
            if names is None:
                for identifier in spec:
                    entries.append((metrics_module.resolve_metric(identifier, y_true, y_pred), None, weighted))
                continue
            per = _per_output(spec, names, "weighted_metrics" if weighted else "metrics")
            for index, p in enumerate(per):
                identifiers: Sequence[Any] = p if isinstance(p, (list, tuple)) else ([p] if p else [])
                yt = _outputs(y_true, names)[index]
                yp = _outputs(y_pred, names)[index]
                for identifier in identifiers:
                    metric = metrics_module.resolve_metric(identifier, yt, yp)
                    metric.name = f"{names[index]}_{metric.name}"
                    entries.append((metric, index, weighted))
        seen = {m.name for m, _, w in entries if not w}
        for metric, _, weighted in entries:
            if weighted and metric.name in seen:
                metric.name = f"weighted_{metric.name}"
        self._entries = entries
        self.metrics = [m for m, _, _ in entries]
        self.built = True

    def single_output_metrics(self) -> list[Any] | None:
        """The metrics, once built, when each one watches the model's only output; else None.

        Example:
            >>> m = CompileMetrics(["mae"])
            >>> m.single_output_metrics() is None  # built from the first batch
            True
            >>> m.update_state(torch.zeros(2, 1), torch.ones(2, 1))
            >>> [x.name for x in m.single_output_metrics()]
            ['mae']
        """
        if not self.built or any(index is not None for _, index, _ in self._entries):
            return None
        return list(self.metrics)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if not self.built:
            self.build(y_true, y_pred)
        names = output_names(y_pred, self.output_names)
        # Split per output once per batch, not once per metric.
        per_output = None if names is None else (
            _outputs(y_true, names),
            _outputs(y_pred, names),
            _outputs(sample_weight, names) if sample_weight is not None else [None] * len(names),
        )
        for metric, index, weighted in self._entries:
            if index is None:
                metric.update_state(y_true, y_pred, sample_weight if weighted else None)
                continue
            if per_output is None:
                raise ValueError(
                    "Expected the model to return the outputs the metrics were built for on its "
                    "first batch (a list or dict). Received: a single output. Return the same "
                    "outputs on every batch."
                )
            ys, ps, sws = per_output
            metric.update_state(ys[index], ps[index], sws[index] if weighted else None)

    # Keras's API: the compiled metrics report a dict of results, where a `Metric` has one.
    def result(self) -> dict[str, torch.Tensor]:  # type: ignore[override]
        return {metric.name: metric.result() for metric in self.metrics}

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    @property
    def variables(self) -> list[torch.Tensor]:
        return [v for metric in self.metrics for v in metric.variables]

    def to(self, device: torch.device | str) -> CompileMetrics:
        for metric in self.metrics:
            metric.to(device)
        return self

    def get_state(self) -> dict[str, torch.Tensor]:
        return {f"{m.name}/{k}": v for m in self.metrics for k, v in m.get_state().items()}

    def set_state(self, state: dict[str, Any]) -> None:
        for metric in self.metrics:
            prefix = f"{metric.name}/"
            metric.set_state({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def get_state_names(self) -> list[str]:
        return [f"{m.name}/{k}" for m in self.metrics for k in m.get_state_names()]


def _is_sparse(fn: Any) -> bool:
    if isinstance(fn, (losses_module.SparseCategoricalCrossentropy, metrics_module.SparseCategoricalAccuracy,
                       metrics_module.SparseTopKCategoricalAccuracy)):
        return True
    inner = getattr(fn, "fn", None) or getattr(fn, "_fn", None)
    return inner is losses_module.sparse_categorical_crossentropy


def sparse_outputs(
    compiled_loss: CompileLoss | None, compiled_metrics: CompileMetrics | None
) -> dict[int, int | None]:
    """For a multi-output model: the outputs whose loss or metric takes sparse labels (class
    indices), each with its loss's `ignore_class`.

    Example:
        >>> loss = CompileLoss(["sparse_categorical_crossentropy", "mse"])
        >>> _ = loss([torch.tensor([0, 1]), torch.zeros(2, 1)], [torch.zeros(2, 3), torch.zeros(2, 1)])
        >>> sparse_outputs(loss, None)
        {0: None}
    """
    found: dict[int, int | None] = {}
    if compiled_loss is not None and compiled_loss.built and compiled_loss.names is not None:
        for index, fn in enumerate(compiled_loss._losses):
            if fn is not None and _is_sparse(fn):
                fn_kwargs = getattr(fn, "fn_kwargs", None)
                found[index] = fn_kwargs.get("ignore_class") if isinstance(fn_kwargs, dict) else None
    if compiled_metrics is not None and compiled_metrics.built:
        for metric, output, _ in compiled_metrics._entries:
            if output is not None and _is_sparse(metric):
                found.setdefault(output, None)
    return found


def sparse_label_users(compiled_loss: CompileLoss | None, compiled_metrics: CompileMetrics | None) -> (
        tuple[bool, int | None]):
    """Whether a built single-output loss or metric takes sparse labels (class indices), and the
    loss's `ignore_class` (a label exempt from the range check).

    Example:
        >>> loss = CompileLoss("sparse_categorical_crossentropy")
        >>> _ = loss(torch.tensor([0, 1]), torch.zeros(2, 3))
        >>> sparse_label_users(loss, None)
        (True, None)
    """
    users: list[Any] = []
    ignore_class = None
    if compiled_loss is not None and compiled_loss.built and compiled_loss.names is None:
        users.append(compiled_loss._single)
        fn_kwargs = getattr(compiled_loss._single, "fn_kwargs", None)
        if isinstance(fn_kwargs, dict) and _is_sparse(compiled_loss._single):
            ignore_class = fn_kwargs.get("ignore_class")
    if compiled_metrics is not None and compiled_metrics.built:
        users.extend(m for m, index, _ in compiled_metrics._entries if index is None)
    return any(_is_sparse(u) for u in users), ignore_class
