"""Running reductions: `Sum`, `Mean` and `MeanMetricWrapper` (a `Mean` over a metric function)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from kfit import losses
from kfit.losses.loss import (
    apply_mask,
    divide_no_nan,
    squeeze_or_expand_to_same_rank,
)
from kfit.metrics.metric import Metric
from kfit.utils.errors import received

__all__ = ["Mean", "MeanMetricWrapper", "Sum"]


def _reduce_dims(values: torch.Tensor, start: int, reduce_fn: str) -> torch.Tensor:
    dims = tuple(range(start, values.dim()))
    return values.mean(dim=dims) if reduce_fn == "mean" else values.sum(dim=dims)


def _weighted_samplewise(
    values: torch.Tensor,
    sample_weight: Any,
    mask: torch.Tensor | None,
    reduce_fn: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights `values` per sample and reduces both to one value (and weight) per sample.

    The weights are broadcast to the values after aligning ranks; axes of the values that
    the weights lack are reduced first, as Keras does.
    """
    dtype = values.dtype
    if isinstance(sample_weight, torch.Tensor):
        if sample_weight.dtype != dtype or sample_weight.device != values.device:
            sample_weight = sample_weight.to(device=values.device, dtype=dtype)
    else:
        sample_weight = torch.as_tensor(
            np.asarray(sample_weight), dtype=dtype, device=values.device
        )
    if mask is not None:
        sample_weight = apply_mask(sample_weight, mask, dtype, "sum")
    values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
    weight_ndim = sample_weight.dim()
    if values.dim() > weight_ndim:
        values = _reduce_dims(values, weight_ndim, reduce_fn)
    sample_weight = sample_weight.broadcast_to(values.shape)
    values = values * sample_weight
    if weight_ndim > 1:
        sample_weight = _reduce_dims(sample_weight, 1, reduce_fn)
    if values.dim() > 1:
        values = _reduce_dims(values, 1, reduce_fn)
    return values, sample_weight


class _Reduction(Metric):
    """Shared input handling of `Sum` and `Mean`."""

    def _values(self, values: Any) -> torch.Tensor:
        if isinstance(values, torch.Tensor):
            if values.device != self._device:
                # The state follows the inputs: it moves once, on the first update (or
                # when training moves to another device), never on every step.
                self.to(values.device)
            if values.dtype != self._torch_dtype:
                values = values.to(self._torch_dtype)
            # A custom train step passes its loss with its graph; the state must not join it.
            return values.detach() if values.requires_grad else values
        return torch.as_tensor(np.asarray(values), dtype=self._torch_dtype, device=self._device)


class Sum(_Reduction):
    """Running (optionally weighted) sum of all values seen.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = Sum()
        >>> m.update_state(torch.tensor([1.0, 3.0, 5.0]))
        >>> m.update_state(torch.tensor([1.0, 1.0]), sample_weight=torch.tensor([2.0, 0.0]))
        >>> m.result()
        tensor(11.)
    """

    def __init__(self, name: str | None = "sum", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), name="total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Adds `sum(values * sample_weight)` to the total."""
        mask = getattr(values, "_keras_mask", None) if sample_weight is not None else None
        values = self._values(values)
        if sample_weight is not None:
            values, _ = _weighted_samplewise(values, sample_weight, mask, "sum")
        self.total.add_(values.sum())

    def result(self) -> torch.Tensor:
        # A copy, so that a later `reset_state` cannot change an already returned value.
        return self.total.detach().as_subclass(torch.Tensor).clone()


class Mean(_Reduction):
    """Running (optionally weighted) mean: `sum(values * w) / sum(w)`.

    Per-sample values are formed first (values of rank > 1 are averaged over all but the
    first axis); `sample_weight` is broadcast to the values as in Keras. Unweighted updates
    count samples on the host, so they cost one reduction and one in-place add on the device.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = Mean()
        >>> m.update_state(torch.tensor([1.0, 3.0, 5.0, 7.0]))
        >>> m.result()
        tensor(4.)
        >>> m.update_state(torch.tensor([10.0, 0.0]), sample_weight=torch.tensor([1.0, 0.0]))
        >>> m.result()
        tensor(5.2000)
    """

    def __init__(self, name: str | None = "mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), name="total")
        self.count = self.add_variable(shape=(), name="count")
        # Samples counted on the host by unweighted updates (not yet folded into `count`).
        self._host_count: float = 0
        # Whether `count` on the device holds anything (weighted updates, restored state).
        self._count_on_device = False

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Adds a batch of values (and optional per-sample weights) to the running mean."""
        if sample_weight is None:
            values = self._values(values)
            ndim = values.dim()
            if ndim > 1:
                values = values.mean(dim=tuple(range(1, ndim)))
            self.total.add_(values.sum())
            self._host_count += values.shape[0] if ndim else 1
            return
        if isinstance(sample_weight, (int, float)) and not isinstance(sample_weight, bool):
            values = self._values(values)
            if values.dim() == 0:
                # The trainer's loss tracker: one scalar weighted by the batch size, known on
                # the host, so the count stays a host number and no weight tensor is built.
                self.add_batch_mean(values, sample_weight)
                return
        mask = getattr(values, "_keras_mask", None)
        values, sample_weight = _weighted_samplewise(
            self._values(values), sample_weight, mask, "mean"
        )
        self.total.add_(values.sum())
        self.count.add_(sample_weight.sum())
        self._count_on_device = True

    def add_batch_mean(self, value: torch.Tensor, count: float) -> None:
        """Adds a batch whose mean is `value` over `count` samples, without any checks.

        `value` must be a 0-d tensor of the state's dtype, on its device: the train step
        calls this for the loss once it has checked that.

        Example:
            >>> m = Mean()
            >>> m.add_batch_mean(torch.tensor(2.0), 3)
            >>> m.add_batch_mean(torch.tensor(6.0), 1)
            >>> m.result()
            tensor(3.)
        """
        self.add_batch_total(value, count, scale=count)

    def add_batch_total(self, total: torch.Tensor, count: float, scale: float = 1.0) -> None:
        """Adds `scale * total` to the running total and `count` samples, without any checks.

        `total` must be a 0-d tensor on the state's device: the fast path of the train step
        passes the sum of a batch's per-sample values (`scale` turns an element sum into it).

        Example:
            >>> m = Mean()
            >>> m.add_batch_total(torch.tensor(8.0), 4, scale=0.5)  # 4 samples, values summing to 4
            >>> m.result()
            tensor(1.)
        """
        self.total.add_(total, alpha=scale)
        self._host_count += count

    def result(self) -> torch.Tensor:
        if self._count_on_device:
            count = self.count + self._host_count if self._host_count else self.count
            return divide_no_nan(self.total.as_subclass(torch.Tensor), count)
        if self._host_count:
            return self.total / self._host_count
        return torch.zeros((), dtype=self._torch_dtype, device=self._device)

    def reset_state(self) -> None:
        super().reset_state()
        self._host_count = 0
        self._count_on_device = False

    def _fold_host_count(self) -> None:
        if self._host_count:
            with torch.no_grad():
                self.count.add_(self._host_count)
            self._host_count = 0
            self._count_on_device = True

    def get_state(self) -> dict[str, torch.Tensor]:
        self._fold_host_count()
        return super().get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self._host_count = 0
        self._count_on_device = True


class MeanMetricWrapper(Mean):
    """Running mean of the per-sample values of `fn(y_true, y_pred, **kwargs)`.

    Args:
        fn: The metric function, returning one value per sample (or per element).
        name: Name of the metric.
        dtype: Dtype of the state.
        **kwargs: Keyword arguments passed to `fn` on every update.

    Example:
        >>> from kfit.losses import mean_absolute_error
        >>> m = MeanMetricWrapper(mean_absolute_error, name="mae")
        >>> m.update_state(torch.tensor([[1.0], [2.0]]), torch.tensor([[1.5], [1.0]]))
        >>> m.result(), m.direction
        (tensor(0.7500), 'down')
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        if not callable(fn):
            raise TypeError(
                "Expected `fn` to be a callable `fn(y_true, y_pred)` returning per-sample "
                f"values. {received('fn', fn)} Pass a function."
            )
        self._fn = fn
        self._fn_kwargs = kwargs
        if fn in losses.ALL_OBJECTS or type(fn) in losses.ALL_OBJECTS:
            # Loss values are minimised.
            self._direction = "down"

    # Keras's API: a wrapper is a `Mean` that takes `(y_true, y_pred)`, not `values`.
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        """Computes `fn` on the batch and adds its values to the running mean."""
        mask = getattr(y_pred, "_keras_mask", None)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            if sample_weight is not None and not isinstance(sample_weight, torch.Tensor):
                sample_weight = torch.as_tensor(np.asarray(sample_weight), device=mask.device)
            sample_weight = apply_mask(sample_weight, mask, self._torch_dtype, "sum")
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["fn"] = getattr(self._fn, "__name__", type(self._fn).__name__)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        config = dict(config)
        if isinstance(config.get("fn"), str):
            # Imported here: the package `__init__` imports this module.
            from kfit.metrics import deserialize

            config["fn"] = deserialize({"class_name": "function", "config": config["fn"]})
        return cls(**config)
