"""The `Loss` base class and the helpers that losses and metrics share.

A loss function maps `(y_true, y_pred)` to per-sample values; a `Loss` object then weights
those values with `sample_weight` and reduces them (by default: sum divided by the number of
values) to a 0-d tensor. The helpers below are that weighting and reduction, in the pieces
`kfit.metrics` reuses: aligning ranks, folding a mask into weights, dividing without NaNs.
Everything is torch arithmetic on the inputs' device; nothing copies data to the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kfit.backend.config import epsilon, floatx
from kfit.backend.dtypes import convert_to_tensor, standardize_dtype, to_torch_dtype
from kfit.utils.errors import received
from kfit.utils.naming import auto_name

__all__ = [
    "REDUCTIONS",
    "Loss",
    "apply_mask",
    "cast_and_align",
    "divide_no_nan",
    "l2_normalize",
    "reduce_values",
    "reduce_weighted_values",
    "squeeze_or_expand_to_same_rank",
    "standardize_reduction",
]

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction: Any) -> str | None:
    """Returns `reduction` when it is one of `REDUCTIONS`, else raises a `ValueError`.

    Example:
        >>> standardize_reduction("sum")
        'sum'
    """
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Expected `reduction` to be one of {REDUCTIONS}. {received('reduction', reduction)} "
            "Use 'sum_over_batch_size' (the default) unless you need another reduction."
        )
    return reduction


def squeeze_or_expand_to_same_rank(
    x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Squeezes or expands a trailing size-1 axis when the ranks differ by exactly one.

    Args:
        x1: A tensor.
        x2: A tensor whose rank may be one more or one less than `x1`'s.
        expand_rank_1: When the lower-rank tensor has rank 1, expand it to `(n, 1)` instead
            of squeezing the other one to `(n,)`.

    Returns:
        `(x1, x2)`, with at most one of them reshaped.

    Example:
        >>> a, b = squeeze_or_expand_to_same_rank(torch.zeros(4, 3, 1), torch.zeros(4, 3))
        >>> a.shape, b.shape
        (torch.Size([4, 3]), torch.Size([4, 3]))
    """
    r1 = x1.dim()
    r2 = x2.dim()
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def cast_and_align(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Converts `y_true` to `y_pred`'s dtype and device, then aligns their ranks.

    This is the first step of every element-wise loss and metric.

    Example:
        >>> y_true, y_pred = cast_and_align([1, 0], torch.zeros(2, 1, dtype=torch.float64))
        >>> y_true.dtype, y_true.shape
        (torch.float64, torch.Size([2, 1]))
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def divide_no_nan(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """`x / y`, with 0 wherever `y` is 0 (instead of inf or NaN).

    Example:
        >>> divide_no_nan(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 0.0]))
        tensor([0.5000, 0.0000])
    """
    zero = y == 0
    return torch.where(zero, 0.0, x / torch.where(zero, 1.0, y))


def l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    """Divides `x` by its L2 norm along `axis` (a zero vector stays zero).

    Example:
        >>> l2_normalize(torch.tensor([[3.0, 4.0]]), axis=-1)
        tensor([[0.6000, 0.8000]])
    """
    if x.dim() == 0:
        x = x.unsqueeze(0)
    inv_norm = torch.rsqrt(torch.square(x).sum(dim=axis, keepdim=True))
    return x * torch.clamp(inv_norm, max=1.0 / epsilon())


def apply_mask(
    sample_weight: torch.Tensor | None,
    mask: torch.Tensor | None,
    dtype: torch.dtype,
    reduction: str | None,
) -> torch.Tensor | None:
    """Folds a boolean mask into the sample weights.

    With an averaging reduction (`"mean"`, `"sum_over_batch_size"`) the valid entries get
    the weight `total / valid`, so that dividing by the number of all entries later amounts
    to dividing by the number of valid ones.

    Args:
        sample_weight: The weights, or None.
        mask: A boolean tensor, True where values count, or None (then the weights are
            returned unchanged).
        dtype: The dtype of the returned weights.
        reduction: The reduction that will be applied (see `REDUCTIONS`).

    Example:
        >>> apply_mask(None, torch.tensor([True, False]), torch.float32, "sum")
        tensor([1., 0.])
        >>> apply_mask(None, torch.tensor([True, False]), torch.float32, "mean")
        tensor([2., 0.])
    """
    if mask is None:
        return sample_weight
    if reduction in ("mean", "sum_over_batch_size"):
        valid = mask.to(dtype).sum()
        mask_weight = divide_no_nan(torch.full_like(valid, mask.numel()), valid)
        float_mask = torch.where(mask.bool(), mask_weight, 0.0)
    else:
        float_mask = mask.to(dtype)
    if sample_weight is None:
        return float_mask
    sample_weight = convert_to_tensor(sample_weight, dtype, float_mask.device)
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def reduce_values(
    values: torch.Tensor,
    sample_weight: torch.Tensor | None = None,
    reduction: str | None = "sum_over_batch_size",
) -> torch.Tensor:
    """Reduces (already weighted) values to a 0-d tensor as `reduction` says.

    Args:
        values: The weighted loss values.
        sample_weight: The weights, read only by `"mean_with_sample_weight"` (which divides
            by their sum).
        reduction: One of `REDUCTIONS`; `"none"`, `None`, a 0-d or an empty input are
            returned as they are.

    Example:
        >>> reduce_values(torch.tensor([1.0, 2.0, 6.0]))
        tensor(3.)
    """
    if reduction is None or reduction == "none" or values.dim() == 0 or values.shape == (0,):
        return values
    loss = values.sum()
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(loss, sample_weight.sum().to(loss.dtype))
    count = values.numel()
    # The element count is known on the host, so dividing by it costs no device query.
    return loss / count if count else torch.zeros_like(loss)


def reduce_weighted_values(
    values: Any,
    sample_weight: Any = None,
    mask: torch.Tensor | None = None,
    reduction: str | None = "sum_over_batch_size",
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Weights per-sample values (after folding in `mask`) and reduces them.

    Args:
        values: Per-sample (or per-element) loss values.
        sample_weight: Weights broadcast to the values after aligning ranks, or None.
        mask: A boolean mask of the values, or None.
        reduction: One of `REDUCTIONS`.
        dtype: The dtype to compute in; defaults to the values' dtype.

    Example:
        >>> reduce_weighted_values(torch.tensor([1.0, 3.0]), sample_weight=[1.0, 0.0])
        tensor(0.5000)
    """
    values = convert_to_tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = convert_to_tensor(sample_weight, values.dtype, values.device)
    sample_weight = apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


def _get_mask(x: Any) -> torch.Tensor | None:
    # Masking layers and `ignore_class` attach the mask as an attribute, as Keras does.
    return getattr(x, "_keras_mask", None)


def _convert_structure(x: Any, dtype: torch.dtype, device: torch.device | None) -> Any:
    """Casts a tensor (or each value of a dict) to `dtype`, leaving unconvertible values alone."""
    if isinstance(x, torch.Tensor):
        return x if x.dtype == dtype else x.to(dtype)
    if isinstance(x, dict):
        return {k: _convert_structure(v, dtype, device) for k, v in x.items()}
    try:
        array = np.asarray(x)
    except (ValueError, TypeError):
        return x
    if array.dtype == object:
        return x
    return torch.as_tensor(array, dtype=dtype, device=device)


class Loss:
    """Base class of losses: subclasses implement `call(y_true, y_pred)` -> per-sample values.

    Calling the object casts both inputs to the loss dtype, runs `call`, weights the values
    with `sample_weight` (broadcast after aligning ranks) and reduces them.

    Args:
        name: Name of the loss; defaults to the snake-cased class name.
        reduction: `"sum_over_batch_size"` (default) or `"mean"`: sum divided by the number
            of values; `"sum"`; `"mean_with_sample_weight"`: sum divided by the sum of the
            weights; `"none"` or `None`: no reduction.
        dtype: The computation dtype; defaults to `kfit.backend.floatx()`.

    Example:
        >>> class Abs(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return (y_true - y_pred).abs()
        >>> Abs()(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]))
        tensor(1.5000)
    """

    def __init__(
        self,
        name: str | None = None,
        reduction: str | None = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        self.name = name or auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = standardize_dtype(dtype or floatx())
        self._torch_dtype = to_torch_dtype(self._dtype)

    @property
    def dtype(self) -> str:
        """The computation dtype as a string, e.g. `"float32"`."""
        return self._dtype

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        """Computes the reduced, weighted loss (a 0-d tensor unless `reduction="none"`)."""
        in_mask = _get_mask(y_pred)
        dtype = self._torch_dtype
        y_pred = _convert_structure(y_pred, dtype, None)
        device = y_pred.device if isinstance(y_pred, torch.Tensor) else None
        y_true = _convert_structure(y_true, dtype, device)
        values = self.call(y_true, y_pred)
        out_mask = _get_mask(values)
        mask: torch.Tensor | None
        if in_mask is not None and out_mask is not None:
            mask = in_mask & out_mask
        else:
            mask = in_mask if in_mask is not None else out_mask
        return reduce_weighted_values(values, sample_weight, mask, self.reduction, dtype)

    def call(self, y_true: Any, y_pred: Any) -> torch.Tensor:
        """Returns per-sample loss values; subclasses must override it."""
        raise NotImplementedError(
            f"`{type(self).__name__}` must implement `call(y_true, y_pred)` returning "
            "per-sample loss values."
        )

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments needed to rebuild the loss."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """Rebuilds a loss from `get_config()` output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"
