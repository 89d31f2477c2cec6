"""What `compile(loss=..., metrics=...)` becomes: one loss callable and a list of metrics.

Both are resolved lazily from the first batch, because Keras picks metric variants ("accuracy"
becomes binary, sparse or categorical accuracy) from the shapes of `y` and the predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from kfit import losses as losses_module
from kfit import metrics as metrics_module

__all__ = ["CompileLoss", "CompileMetrics", "output_names"]


def output_names(y_pred: Any) -> list[str] | None:
    """Names of a model's outputs: dict keys, `output_<i>` for lists, None for one tensor."""
    if isinstance(y_pred, dict):
        return list(y_pred)
    if isinstance(y_pred, (list, tuple)):
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
                f"keys {unknown}. Name the model's outputs in the dict it returns."
            )
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)) and what != "metrics":
        if len(spec) != len(names):
            raise ValueError(
                f"Expected `{what}` to have one entry per output ({len(names)}). Received: a "
                f"{type(spec).__name__} of {len(spec)} entries. Pass one per output, or a dict."
            )
        return list(spec)
    return [spec] * len(names)


def _as_loss(identifier: Any) -> Any:
    loss = losses_module.get(identifier)
    if loss is None or isinstance(loss, losses_module.Loss):
        return loss
    return losses_module.LossFunctionWrapper(loss, name=getattr(loss, "__name__", None))


class CompileLoss:
    """Computes the (weighted) total loss of a batch, summed over outputs.

    Example:
        >>> loss = CompileLoss("mse")
        >>> float(loss(torch.zeros(2, 1), torch.ones(2, 1)))
        1.0
    """

    def __init__(self, loss: Any, loss_weights: Any = None) -> None:
        self.spec = loss
        self.loss_weights = loss_weights
        self.built = False
        self.names: list[str] | None = None
        self._single: Any = None
        self._weight = 1.0
        self._losses: list[Any] = []
        self._weights: list[float] = []
        if not isinstance(loss, (dict, list, tuple)):
            self._single = _as_loss(loss)

    def build(self, y_pred: Any) -> None:
        self.names = output_names(y_pred)
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
        self.built = True

    def fused_op(self) -> tuple[Callable[..., torch.Tensor], torch.dtype, str] | None:
        """The whole loss as one op on `(y_pred, y_true)`, with its dtype and pairing.

        Only for a built, single-output loss with weight 1 whose function has such an op:
        pairing `"same_shape"` for mean squared or absolute error, Huber and the binary and
        categorical cross-entropies from logits; `"sparse"` for sparse categorical
        cross-entropy from float32 logits. None otherwise.

        Example:
            >>> loss = CompileLoss("mse")
            >>> loss.fused_op() is None  # not built before the first batch
            True
            >>> _ = loss(torch.zeros(2, 1), torch.ones(2, 1))
            >>> op, dtype, pairing = loss.fused_op()
            >>> float(op(torch.ones(2, 1), torch.zeros(2, 1))), dtype, pairing
            (1.0, torch.float32, 'same_shape')
        """
        single = self._single
        if not self.built or self.names is not None or self._weight != 1.0:
            return None
        kernel = getattr(single, "_fused_kernel", None)
        if kernel is None:
            return None
        op, pairing = kernel
        dtype = single._torch_dtype
        if pairing == "sparse" and dtype != torch.float32:
            return None
        return op, dtype, pairing

    def per_output(self, y_true: Any, y_pred: Any, sample_weight: Any) -> list[tuple[str, torch.Tensor]]:
        """The unweighted loss of each output that has one (only for multi-output models)."""
        assert self.names is not None
        ys, ps = _outputs(y_true, self.names), _outputs(y_pred, self.names)
        sws = _outputs(sample_weight, self.names) if sample_weight is not None else [None] * len(self.names)
        return [
            (name, fn(yt, yp, sw))
            for name, fn, yt, yp, sw in zip(self.names, self._losses, ys, ps, sws)
            if fn is not None
        ]

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        if not self.built:
            self.build(y_pred)
        if self.names is None:
            loss = self._single(y_true, y_pred, sample_weight)
            return loss if self._weight == 1.0 else loss * self._weight
        parts = self.per_output(y_true, y_pred, sample_weight)
        weights = dict(zip(self.names, self._weights))
        return sum(weights[name] * value for name, value in parts)  # type: ignore[return-value]


class CompileMetrics:
    """The compiled metrics: `metrics` ignore sample weights, `weighted_metrics` use them.

    Example:
        >>> m = CompileMetrics(["mae"])
        >>> m.update_state(torch.zeros(2, 1), torch.ones(2, 1), None)
        >>> [(x.name, float(x.result())) for x in m.metrics]
        [('mae', 1.0)]
    """

    def __init__(self, metrics: Any = None, weighted_metrics: Any = None) -> None:
        for name, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple, dict)):
                raise TypeError(
                    f"Expected `{name}` to be a list (or a dict of lists, one per output). "
                    f"Received: {name}={value!r} (of type {type(value).__name__}). "
                    f"Wrap it in a list: {name}=[{value!r}]."
                )
        self.spec = metrics
        self.weighted_spec = weighted_metrics
        self.built = False
        # (metric, output index or None, uses sample weight)
        self._entries: list[tuple[Any, int | None, bool]] = []
        self.metrics: list[Any] = []

    def build(self, y_true: Any, y_pred: Any) -> None:
        names = output_names(y_pred)
        entries: list[tuple[Any, int | None, bool]] = []
        for spec, weighted in ((self.spec, False), (self.weighted_spec, True)):
            if not spec:
                continue
            if names is None:
                groups: list[tuple[int | None, Sequence[Any]]] = [(None, spec)]  # type: ignore[list-item]
            else:
                per = _per_output(spec, names, "metrics")
                groups = [(i, p if isinstance(p, (list, tuple)) else ([p] if p else [])) for i, p in enumerate(per)]
            for index, identifiers in groups:
                yt = y_true if index is None else _outputs(y_true, names)[index]  # type: ignore[arg-type]
                yp = y_pred if index is None else _outputs(y_pred, names)[index]  # type: ignore[arg-type]
                for identifier in identifiers:
                    metric = metrics_module.resolve_metric(identifier, yt, yp)
                    if index is not None:
                        metric.name = f"{names[index]}_{metric.name}"  # type: ignore[index]
                    entries.append((metric, index, weighted))
        seen = {m.name for m, _, w in entries if not w}
        for metric, _, weighted in entries:
            if weighted and metric.name in seen:
                metric.name = f"weighted_{metric.name}"
        self._entries = entries
        self.metrics = [m for m, _, _ in entries]
        self.built = True

    def fused_metrics(self, pairing: str) -> list[Any] | None:
        """The metrics, when every one takes `update_fused` with this pairing; else None.

        Example:
            >>> m = CompileMetrics(["mae"])
            >>> m.update_state(torch.zeros(2, 1), torch.ones(2, 1), None)
            >>> [x.name for x in m.fused_metrics("same_shape")], m.fused_metrics("sparse")
            (['mae'], None)
        """
        if not self.built:
            return None
        if any(index is not None or getattr(metric, "fused_pairing", None) != pairing
               for metric, index, _ in self._entries):
            return None
        return list(self.metrics)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> None:
        if not self.built:
            self.build(y_true, y_pred)
        for metric, index, weighted in self._entries:
            if index is None:
                metric.update_state(y_true, y_pred, sample_weight if weighted else None)
            else:
                names = output_names(y_pred)
                yt = _outputs(y_true, names)[index]  # type: ignore[arg-type]
                yp = _outputs(y_pred, names)[index]  # type: ignore[arg-type]
                sw = _outputs(sample_weight, names)[index] if (weighted and sample_weight is not None) else None  # type: ignore[arg-type]
                metric.update_state(yt, yp, sw)
