"""Loss functions and `Loss` classes with the semantics of `keras.losses` (Keras 3).

Every loss function maps `(y_true, y_pred)` to per-sample values (usually by averaging
over the last axis); every `Loss` object then weights those values with `sample_weight`
and reduces them (by default: sum divided by the number of values) to a 0-d tensor.
Everything is plain torch arithmetic, so losses run on whatever device `y_pred` lives on
and never copy data back to the host.
"""

from __future__ import annotations

import difflib
import inspect
import re
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as tnn

from kfit.backend.config import epsilon, floatx

__all__ = [
    "Loss",
    "LossFunctionWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "CosineSimilarity",
    "Huber",
    "LogCosh",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "KLDivergence",
    "Poisson",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "cosine_similarity",
    "huber",
    "log_cosh",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "kl_divergence",
    "poisson",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "get",
    "serialize",
    "deserialize",
]

LossFn = Callable[..., torch.Tensor]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# --------------------------------------------------------------------------------------
# Shared helpers (also used by `kfit.metrics`).
# --------------------------------------------------------------------------------------


def _to_snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


_NAME_UIDS: defaultdict[str, int] = defaultdict(int)


def _auto_name(class_name: str) -> str:
    """Snake-cases a class name and appends `_1`, `_2`, ... on reuse, as Keras does."""
    base = _to_snake_case(class_name)
    uid = _NAME_UIDS[base]
    _NAME_UIDS[base] += 1
    return f"{base}_{uid}" if uid else base


def _unknown_identifier_error(kind: str, identifier: Any, options: Iterable[str]) -> ValueError:
    matches = difflib.get_close_matches(str(identifier), sorted(set(options)), n=3)
    hint = (
        f"Did you mean {' or '.join(repr(m) for m in matches)}?"
        if matches
        else f"Use one of the built-in {kind} names (see `kfit.{kind}s`), an object or a callable."
    )
    return ValueError(
        f"Could not interpret {kind} identifier: expected the name of a built-in {kind}, "
        f"a {kind} object, a callable or a config dict. "
        f"Received: identifier={identifier!r} (of type {type(identifier).__name__}). {hint}"
    )


def _torch_dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(
            "Expected `dtype` to be a dtype name such as 'float32' or a torch.dtype. "
            f"Received: dtype={dtype!r} (of type {type(dtype).__name__}). "
            "Pass e.g. dtype='float32'."
        )
    return resolved


def _dtype_name(dtype: Any) -> str:
    return str(_torch_dtype(dtype)).removeprefix("torch.")


def _as_tensor(
    x: Any, dtype: torch.dtype | None = None, device: torch.device | None = None
) -> torch.Tensor:
    """Returns `x` as a tensor, casting only when the dtype differs (the common case is free)."""
    if isinstance(x, torch.Tensor):
        if dtype is not None and x.dtype != dtype:
            return x.to(dtype)
        return x
    array = np.asarray(x)
    if dtype is None and not isinstance(x, np.ndarray):
        # Python numbers and lists default to floatx / int32 like Keras, not to numpy's 64 bits.
        if array.dtype == np.float64:
            dtype = _torch_dtype(floatx())
        elif array.dtype == np.int64:
            dtype = torch.int32
    return torch.as_tensor(array, dtype=dtype, device=device)


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


def _align_ranks(
    x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Squeezes or expands a trailing size-1 axis when the ranks differ by exactly one."""
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


def _divide_no_nan(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    zero = y == 0
    return torch.where(zero, 0.0, x / torch.where(zero, 1.0, y))


def _get_mask(x: Any) -> torch.Tensor | None:
    # Masking layers and `ignore_class` attach the mask as an attribute, as Keras does.
    return getattr(x, "_keras_mask", None)


def _apply_mask(
    sample_weight: torch.Tensor | None,
    mask: torch.Tensor | None,
    dtype: torch.dtype,
    reduction: str | None,
) -> torch.Tensor | None:
    """Folds a boolean mask into the sample weights."""
    if mask is None:
        return sample_weight
    if reduction in ("mean", "sum_over_batch_size"):
        # Valid entries get weight total/valid so that dividing by the total number of
        # entries later amounts to dividing by the number of valid ones.
        valid = mask.to(dtype).sum()
        mask_weight = _divide_no_nan(torch.full_like(valid, mask.numel()), valid)
        float_mask = torch.where(mask.bool(), mask_weight, 0.0)
    else:
        float_mask = mask.to(dtype)
    if sample_weight is None:
        return float_mask
    sample_weight = _as_tensor(sample_weight, dtype, float_mask.device)
    float_mask, sample_weight = _align_ranks(float_mask, sample_weight)
    return sample_weight * float_mask


def _standardize_reduction(reduction: Any) -> str | None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Expected `reduction` to be one of {_REDUCTIONS}. "
            f"Received: reduction={reduction!r} (of type {type(reduction).__name__}). "
            "Use 'sum_over_batch_size' (the default) unless you need another reduction."
        )
    return reduction


def _reduce_values(
    values: torch.Tensor, sample_weight: torch.Tensor | None, reduction: str | None
) -> torch.Tensor:
    if reduction is None or reduction == "none" or values.dim() == 0 or values.shape == (0,):
        return values
    loss = values.sum()
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(loss, sample_weight.sum().to(loss.dtype))
    count = values.numel()
    # The element count is known on the host, so dividing by it costs no device query.
    return loss / count if count else torch.zeros_like(loss)


def _reduce_weighted_values(
    values: torch.Tensor,
    sample_weight: Any = None,
    mask: torch.Tensor | None = None,
    reduction: str | None = "sum_over_batch_size",
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    values = _as_tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = _as_tensor(sample_weight, values.dtype, values.device)
    sample_weight = _apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = _align_ranks(values, sample_weight)
        values = values * sample_weight
    return _reduce_values(values, sample_weight, reduction)


def _prepare_pair(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Converts `y_true` to `y_pred`'s dtype and device, then aligns their ranks."""
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.dtype, y_pred.device)
    return _align_ranks(y_true, y_pred)


# --------------------------------------------------------------------------------------
# Loss functions: (y_true, y_pred) -> per-sample values.
# --------------------------------------------------------------------------------------


def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of squared errors over the last axis: `mean(square(y_true - y_pred), axis=-1)`.

    Args:
        y_true: Ground truth values, shape `(batch, d0, ..., dN)`.
        y_pred: Predictions, same shape (a missing or extra trailing axis of size 1 is fine).

    Returns:
        Per-sample losses of shape `(batch, d0, ..., dN-1)`.

    Example:
        >>> mean_squared_error(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        tensor([0.5000])
    """
    y_true, y_pred = _prepare_pair(y_true, y_pred)
    return torch.square(y_true - y_pred).mean(dim=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of absolute errors over the last axis: `mean(abs(y_true - y_pred), axis=-1)`.

    Example:
        >>> mean_absolute_error(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 3.0]]))
        tensor([1.5000])
    """
    y_true, y_pred = _prepare_pair(y_true, y_pred)
    return torch.abs(y_true - y_pred).mean(dim=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`.

    Example:
        >>> mean_absolute_percentage_error(torch.tensor([[2.0, 4.0]]), torch.tensor([[1.0, 4.0]]))
        tensor([25.])
    """
    y_true, y_pred = _prepare_pair(y_true, y_pred)
    ratio = (y_true - y_pred) / torch.clamp(torch.abs(y_true), min=epsilon())
    return 100.0 * torch.abs(ratio).mean(dim=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)`.

    Example:
        >>> mean_squared_logarithmic_error(torch.tensor([[0.0]]), torch.tensor([[1.0]]))
        tensor([0.4805])
    """
    y_true, y_pred = _prepare_pair(y_true, y_pred)
    eps = epsilon()
    first_log = torch.log(torch.clamp(y_pred, min=eps) + 1.0)
    second_log = torch.log(torch.clamp(y_true, min=eps) + 1.0)
    return torch.square(first_log - second_log).mean(dim=-1)


def _l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    if x.dim() == 0:
        x = x.unsqueeze(0)
    inv_norm = torch.rsqrt(torch.square(x).sum(dim=axis, keepdim=True))
    return x * torch.clamp(inv_norm, max=1.0 / epsilon())


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Negative cosine similarity along `axis`: -1 for parallel vectors, 1 for opposite ones.

    Args:
        y_true: Ground truth vectors.
        y_pred: Predicted vectors.
        axis: The axis along which the similarity is computed.

    Example:
        >>> cosine_similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]))
        tensor([-1.])
    """
    y_true, y_pred = _prepare_pair(y_true, y_pred)
    return -(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis)).sum(dim=axis)


def _float32_half_square(delta: float) -> float:
    # Keras computes 0.5 * delta**2 in float32; doing the same keeps results bit-identical.
    return float(np.float32(0.5) * np.square(np.float32(delta)))


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> torch.Tensor:
    """Huber loss: quadratic for `|error| <= delta`, linear beyond; averaged over the last axis.

    Args:
        y_true: Ground truth values.
        y_pred: Predictions.
        delta: The error size at which the loss turns from quadratic to linear.

    Example:
        >>> huber(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
        tensor([1.3125])
    """
    y_true, y_pred = _prepare_pair(y_true, y_pred)
    error = y_pred - y_true
    abs_error = torch.abs(error)
    quadratic = 0.5 * torch.square(error)
    linear = delta * abs_error - _float32_half_square(delta)
    return torch.where(abs_error <= delta, quadratic, linear).mean(dim=-1)


def log_cosh(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean over the last axis of `log(cosh(y_pred - y_true))`, computed without overflow.

    Example:
        >>> log_cosh(torch.tensor([[0.0]]), torch.tensor([[0.0]]))
        tensor([0.])
    """
    y_true, y_pred = _prepare_pair(y_true, y_pred)
    log2 = float(np.log(np.float32(2.0)))
    x = y_pred - y_true
    return (x + tnn.softplus(x * -2.0) - log2).mean(dim=-1)


def _binary_labels_to_signed(y_true: torch.Tensor) -> torch.Tensor:
    # Labels in {0, 1} become {-1, 1}; any other label set is left alone. `torch.where`
    # decides on the device, so there is no host sync on the "are all labels binary" test.
    is_binary = ((y_true == 0) | (y_true == 1)).all()
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`; labels in {0, 1} are mapped to {-1, 1}.

    Example:
        >>> hinge(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, -2.0]]))
        tensor([0.2500])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _binary_labels_to_signed(_as_tensor(y_true, y_pred.dtype, y_pred.device))
    return torch.clamp(1.0 - y_true * y_pred, min=0.0).mean(dim=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`, labels mapped like `hinge`.

    Example:
        >>> squared_hinge(torch.tensor([[1.0]]), torch.tensor([[0.5]]))
        tensor([0.2500])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _binary_labels_to_signed(_as_tensor(y_true, y_pred.dtype, y_pred.device))
    return torch.square(torch.clamp(1.0 - y_true * y_pred, min=0.0)).mean(dim=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` over the last axis.

    Example:
        >>> categorical_hinge(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.9]]))
        tensor([0.3000])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.dtype, y_pred.device)
    pos = (y_true * y_pred).sum(dim=-1)
    neg = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return torch.clamp(neg - pos + 1.0, min=0.0)


def kl_divergence(y_true: Any, y_pred: Any) -> torch.Tensor:
    """KL divergence `sum(y_true * log(y_true / y_pred), axis=-1)`, inputs clipped to [eps, 1].

    Example:
        >>> kl_divergence(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.dtype, y_pred.device)
    eps = epsilon()
    y_true = torch.clamp(y_true, eps, 1.0)
    y_pred = torch.clamp(y_pred, eps, 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(dim=-1)


def poisson(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Poisson loss `mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`.

    Example:
        >>> poisson(torch.tensor([[0.0]]), torch.tensor([[2.0]]))
        tensor([2.])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.dtype, y_pred.device)
    return (y_pred - y_true * torch.log(y_pred + epsilon())).mean(dim=-1)


def _check_same_shape(target: torch.Tensor, output: torch.Tensor, fn_name: str) -> None:
    if target.shape != output.shape:
        raise ValueError(
            f"In `{fn_name}`, expected `y_true` and `y_pred` to have the same shape. "
            f"Received: y_true.shape={tuple(target.shape)}, y_pred.shape={tuple(output.shape)}. "
            "For integer class labels use the sparse variant of the loss."
        )


def binary_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    """Binary crossentropy averaged over `axis`.

    Args:
        y_true: Targets in [0, 1], same shape as `y_pred`.
        y_pred: Probabilities (clipped to [eps, 1 - eps]) or, with `from_logits=True`, logits.
        from_logits: Whether `y_pred` holds logits (then a numerically stable fused op is used).
        label_smoothing: Squeezes targets towards 0.5: `y * (1 - s) + 0.5 * s`.
        axis: The axis to average over.

    Example:
        >>> logits = torch.tensor([[0.0, 0.0]])
        >>> binary_crossentropy(torch.tensor([[1.0, 0.0]]), logits, from_logits=True)
        tensor([0.6931])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.dtype, y_pred.device)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    _check_same_shape(y_true, y_pred, "binary_crossentropy")
    if from_logits:
        values = tnn.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        eps = epsilon()
        y_pred = torch.clamp(y_pred, eps, 1.0 - eps)
        values = tnn.binary_cross_entropy(y_pred, y_true, reduction="none")
    return values.mean(dim=axis)


def categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    """Crossentropy between one-hot (or soft) targets and predicted class distributions.

    Args:
        y_true: One-hot or soft targets, same shape as `y_pred`.
        y_pred: Probabilities (renormalised to sum to 1, then clipped to [eps, 1 - eps]) or,
            with `from_logits=True`, logits (then `log_softmax` is used).
        from_logits: Whether `y_pred` holds logits.
        label_smoothing: Mixes targets with the uniform distribution: `y * (1 - s) + s / C`.
        axis: The class axis.

    Example:
        >>> categorical_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.6931])
    """
    if isinstance(axis, bool):
        raise ValueError(
            "Expected `axis` to be an int. "
            f"Received: axis={axis!r} (of type bool). Pass e.g. axis=-1."
        )
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.dtype, y_pred.device)
    if y_pred.shape[-1] == 1:
        warnings.warn(
            "In `categorical_crossentropy`, expected y_pred.shape to be (batch_size, "
            f"num_classes) with num_classes > 1. Received: y_pred.shape={tuple(y_pred.shape)}. "
            "Consider using 'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=2,
        )
    if label_smoothing:
        num_classes = y_true.shape[-1]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    _check_same_shape(y_true, y_pred, "categorical_crossentropy")
    if y_true.dim() < 1:
        raise ValueError(
            "In `categorical_crossentropy`, expected `y_true` and `y_pred` of rank >= 1. "
            f"Received: y_pred.shape={tuple(y_pred.shape)}. Add a class axis."
        )
    if from_logits:
        log_prob = tnn.log_softmax(y_pred, dim=axis)
    else:
        eps = epsilon()
        y_pred = y_pred / y_pred.sum(dim=axis, keepdim=True)
        log_prob = torch.log(torch.clamp(y_pred, eps, 1.0 - eps))
    return -(y_true * log_prob).sum(dim=axis)


def sparse_categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> torch.Tensor:
    """Crossentropy between integer class labels and predicted class distributions.

    Args:
        y_true: Integer labels of shape `y_pred.shape` without the class axis (a trailing
            axis of size 1 is squeezed).
        y_pred: Probabilities (renormalised, clipped to [eps, 1 - eps]) or logits.
        from_logits: Whether `y_pred` holds logits.
        ignore_class: A label value whose entries get zero loss and are excluded from the
            average by the `Loss` reduction (e.g. a padding label).
        axis: The class axis of `y_pred`.

    Example:
        >>> sparse_categorical_crossentropy(torch.tensor([1]), torch.tensor([[0.5, 0.5]]))
        tensor([0.6931])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, device=y_pred.device)
    if y_pred.dim() < 1:
        raise ValueError(
            "In `sparse_categorical_crossentropy`, expected `y_pred` of rank >= 1. "
            f"Received: y_pred.shape={tuple(y_pred.shape)}. Add a class axis."
        )
    if y_true.dim() == y_pred.dim() and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    class_axis = axis % y_pred.dim()
    valid_mask = None
    if ignore_class is not None:
        res_shape = tuple(d for i, d in enumerate(y_pred.shape) if i != class_axis)
        valid_mask = y_true != ignore_class
        y_true = torch.where(valid_mask, y_true, 0)
        y_pred = torch.where(valid_mask.unsqueeze(axis), y_pred, 0.0)
    target = y_true.long()
    expected = [d for i, d in enumerate(y_pred.shape) if i != class_axis]
    if list(target.shape) != expected:
        raise ValueError(
            "In `sparse_categorical_crossentropy`, expected `y_true` to have the shape of "
            "`y_pred` without the class axis. "
            f"Received: y_true.shape={tuple(target.shape)}, y_pred.shape={tuple(y_pred.shape)}. "
            "Pass integer labels (not one-hot vectors; use `categorical_crossentropy` for those)."
        )
    output = y_pred
    squeeze = output.dim() == 1
    if squeeze:
        output = output.unsqueeze(0)
        target = target.unsqueeze(0)
    elif class_axis != 1:
        # torch's NLL kernels want the class axis at position 1.
        output = output.movedim(class_axis, 1)
    if from_logits:
        result = tnn.cross_entropy(output, target, reduction="none")
    else:
        eps = epsilon()
        output = output / output.sum(dim=1, keepdim=True)
        log_prob = torch.log(torch.clamp(output, eps, 1.0 - eps))
        result = tnn.nll_loss(log_prob, target, reduction="none")
    if squeeze:
        result = result.squeeze(0)
    if valid_mask is not None:
        valid_mask = valid_mask.reshape(res_shape)
        result = torch.where(valid_mask, result, 0.0)
        result._keras_mask = valid_mask
    return result


# --------------------------------------------------------------------------------------
# Loss classes.
# --------------------------------------------------------------------------------------


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
        self.name = name or _auto_name(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)
        self._dtype = _dtype_name(dtype or floatx())
        self._torch_dtype = _torch_dtype(self._dtype)

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
        if in_mask is not None and out_mask is not None:
            mask = in_mask & out_mask
        else:
            mask = in_mask if in_mask is not None else out_mask
        return _reduce_weighted_values(values, sample_weight, mask, self.reduction, dtype)

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


# --------------------------------------------------------------------------------------
# Fused forms of the common losses. Averaging the per-sample values over the batch (the default
# "sum_over_batch_size" reduction, without weights) equals one torch op over all elements; that
# op has one autograd node instead of four or five, which saves a noticeable share of a small
# model's step. The per-sample path stays the reference for every other case.
# --------------------------------------------------------------------------------------

_MEAN = 1  # torch's reduction enum for "mean" (torch.nn._reduction.get_enum("mean"))


# The `torch._C._nn` kernels are what `F.mse_loss` and friends end in; called on tensors of one
# shape they skip the `broadcast_tensors` those wrappers run first, about 2 us a step on a
# small model. The `F` forms stay as the fallback for a torch without them.
def _kernel(name: str, fallback: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    native = getattr(torch._C._nn, name, None)
    if native is None:
        return lambda y_pred, y_true, *args: fallback(y_pred, y_true, *args)
    return lambda y_pred, y_true, *args: native(y_pred, y_true, _MEAN, *args)


_mse_kernel = _kernel("mse_loss", tnn.mse_loss)
_l1_kernel = _kernel("l1_loss", tnn.l1_loss)
_huber_native = getattr(torch._C._nn, "huber_loss", None)


def _huber_kernel(delta: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if _huber_native is None:
        return lambda y_pred, y_true: tnn.huber_loss(y_pred, y_true, delta=delta)
    return lambda y_pred, y_true: _huber_native(y_pred, y_true, _MEAN, delta)


def _no_options(kwargs: dict[str, Any]) -> bool:
    return not kwargs


def _plain_crossentropy(kwargs: dict[str, Any], from_logits: bool) -> bool:
    return (
        bool(kwargs.get("from_logits")) is from_logits
        and not kwargs.get("label_smoothing", 0.0)
        and kwargs.get("axis", -1) == -1
        and set(kwargs) <= {"from_logits", "label_smoothing", "axis"}
    )


_bce_native = getattr(torch._C._nn, "binary_cross_entropy", None)


def _bce_probabilities_kernel(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    # `binary_crossentropy` on probabilities: clipped to [eps, 1 - eps] first, as Keras does.
    eps = epsilon()
    clipped = torch.clamp(y_pred, eps, 1.0 - eps)
    if _bce_native is None:
        return tnn.binary_cross_entropy(clipped, y_true)
    return _bce_native(clipped, y_true, None, _MEAN)


def _cce_probabilities_kernel(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    # `categorical_crossentropy` on probabilities, averaged: Keras's normalise, clip and log.
    if y_pred.shape[-1] == 1:
        return categorical_crossentropy(y_true, y_pred).mean()  # which warns, as Keras does
    eps = epsilon()
    log_prob = torch.log(torch.clamp(y_pred / y_pred.sum(dim=-1, keepdim=True), eps, 1.0 - eps))
    return -(y_true * log_prob).sum(dim=-1).mean()


def _same_shape_kernel(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Callable[..., torch.Tensor] | None:
    """`fn(**kwargs)` averaged over every element, as one op on `(y_pred, y_true)` of one shape.

    None when no single op computes it. Categorical cross-entropy's op from logits needs 2-D
    inputs (`(batch, classes)`); the others take any shape.

    Example:
        >>> op = _same_shape_kernel(mean_squared_error, {})
        >>> float(op(torch.tensor([[1.0], [3.0]]), torch.zeros(2, 1)))
        5.0
        >>> _same_shape_kernel(binary_crossentropy, {"label_smoothing": 0.1}) is None
        True
    """
    if fn is mean_squared_error and _no_options(kwargs):
        return _mse_kernel
    if fn is mean_absolute_error and _no_options(kwargs):
        return _l1_kernel
    if fn is huber and set(kwargs) <= {"delta"}:
        return _huber_kernel(float(kwargs.get("delta", 1.0)))
    if fn is binary_crossentropy and _plain_crossentropy(kwargs, from_logits=True):
        return tnn.binary_cross_entropy_with_logits
    if fn is binary_crossentropy and _plain_crossentropy(kwargs, from_logits=False):
        return _bce_probabilities_kernel
    if fn is categorical_crossentropy and _plain_crossentropy(kwargs, from_logits=True):
        return tnn.cross_entropy
    if fn is categorical_crossentropy and _plain_crossentropy(kwargs, from_logits=False):
        return _cce_probabilities_kernel
    return None


def _plain_sparse(kwargs: dict[str, Any]) -> bool:
    return (
        kwargs.get("ignore_class") is None
        and kwargs.get("axis", -1) == -1
        and set(kwargs) <= {"from_logits", "ignore_class", "axis"}
    )


_cross_entropy_native = getattr(torch._C._nn, "cross_entropy_loss", None)


def _sparse_cross_entropy(y_pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of `(batch, classes)` logits against int64 labels of shape `(batch,)`."""
    if _cross_entropy_native is None:
        return tnn.cross_entropy(y_pred, labels)
    return _cross_entropy_native(y_pred, labels, None, _MEAN, -100, 0.0)


def _sparse_probabilities(y_pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """`sparse_categorical_crossentropy` on probabilities, averaged: Keras's ops, without checks."""
    eps = epsilon()
    log_prob = torch.log(torch.clamp(y_pred / y_pred.sum(dim=1, keepdim=True), eps, 1.0 - eps))
    return tnn.nll_loss(log_prob, labels)


def _fused_kernel(fn: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[Callable[..., torch.Tensor], str] | None:
    """The unweighted mean loss as one op, with the pairing of `(y_pred, y_true)` it takes.

    `"same_shape"`: both of one shape (see `_same_shape_kernel`). `"sparse"`: float32
    `(batch, classes)` logits or probabilities and int64 labels of shape `(batch,)`.

    Example:
        >>> _fused_kernel(sparse_categorical_crossentropy, {"from_logits": True})[1]
        'sparse'
    """
    if fn is sparse_categorical_crossentropy:
        if not _plain_sparse(kwargs):
            return None
        return (_sparse_cross_entropy if kwargs.get("from_logits") else _sparse_probabilities), "sparse"
    op = _same_shape_kernel(fn, kwargs)
    return None if op is None else (op, "same_shape")


def _fused_sparse_categorical_crossentropy(
    op: Callable[..., torch.Tensor], y_true: torch.Tensor, y_pred: torch.Tensor
) -> torch.Tensor | None:
    if y_pred.dim() != 2 or y_pred.dtype != torch.float32:
        return None
    labels = y_true.reshape(-1) if y_true.dim() == 2 and y_true.shape[-1] == 1 else y_true
    if labels.dim() != 1 or labels.shape[0] != y_pred.shape[0]:
        return None
    return op(y_pred, labels.long())


class LossFunctionWrapper(Loss):
    """Turns a function `fn(y_true, y_pred, **kwargs) -> values` into a `Loss`.

    The ranks of `y_true` and `y_pred` are aligned first (a trailing axis of size 1 is
    added or removed), so `fn` may be any user callable returning per-sample or scalar values.

    Args:
        fn: The loss function.
        reduction: See `Loss`.
        name: Name of the loss.
        dtype: See `Loss`.
        **kwargs: Extra keyword arguments passed to `fn` on every call.

    Example:
        >>> loss = LossFunctionWrapper(mean_absolute_error, name="mae")
        >>> y_true, y_pred = torch.tensor([1.0, 3.0]), torch.tensor([[0.0], [0.0]])
        >>> loss(y_true, y_pred, sample_weight=torch.tensor([1.0, 0.0]))
        tensor(0.5000)
    """

    def __init__(
        self,
        fn: LossFn,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not callable(fn):
            raise TypeError(
                "Expected `fn` to be a callable `fn(y_true, y_pred)`. "
                f"Received: fn={fn!r} (of type {type(fn).__name__}). Pass a function."
            )
        self.fn = fn
        self._fn_kwargs = kwargs
        averaged = self.reduction in ("sum_over_batch_size", "mean")
        # The train step calls this op directly when its own checks hold (backend/steps.py).
        # Not for a subclass that changes `call` or `__call__`: the op would skip its code.
        own_code = type(self).call is LossFunctionWrapper.call and type(self).__call__ is LossFunctionWrapper.__call__
        self._fused_kernel = _fused_kernel(fn, kwargs) if averaged and own_code else None

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        if (
            sample_weight is None
            and type(y_pred) is torch.Tensor
            and isinstance(y_true, torch.Tensor)
            and y_pred.dtype == self._torch_dtype
            and y_pred.dim() > 0
        ):
            loss = self._fused(y_true, y_pred)
            if loss is not None:
                return loss
        return super().__call__(y_true, y_pred, sample_weight)

    def _fused(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        if self._fused_kernel is None:
            return None
        op, pairing = self._fused_kernel
        if pairing == "sparse":
            return _fused_sparse_categorical_crossentropy(op, y_true, y_pred)
        if op is tnn.cross_entropy and y_pred.dim() != 2:
            return None
        if y_true.dtype != y_pred.dtype or y_true.device != y_pred.device:
            y_true = y_true.to(device=y_pred.device, dtype=y_pred.dtype)
        if y_true.dim() != y_pred.dim():
            y_true, y_pred = _align_ranks(y_true, y_pred)
        return op(y_pred, y_true) if y_true.shape == y_pred.shape else None

    def call(self, y_true: Any, y_pred: Any) -> torch.Tensor:
        if isinstance(y_true, torch.Tensor) and isinstance(y_pred, torch.Tensor):
            y_true, y_pred = _align_ranks(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["fn"] = _function_name(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        config = dict(config)
        fn = config.get("fn")
        if isinstance(fn, (str, dict)):
            config["fn"] = deserialize(fn)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self.fn}, kwargs={self._fn_kwargs})>"


class _BuiltinLoss(LossFunctionWrapper):
    """A `LossFunctionWrapper` whose function is fixed; its config lists constructor args."""

    _config_keys: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        config = Loss.get_config(self)
        config.update({key: self._fn_kwargs[key] for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return Loss.__repr__(self)


class MeanSquaredError(_BuiltinLoss):
    """Mean of squared errors: `mean(square(y_true - y_pred))`.

    Example:
        >>> MeanSquaredError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        tensor(0.5000)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_squared_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """Mean of absolute errors: `mean(abs(y_true - y_pred))`.

    Example:
        >>> MeanAbsoluteError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 3.0]]))
        tensor(1.5000)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_absolute_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinLoss):
    """Mean absolute percentage error, see `mean_absolute_percentage_error`.

    Example:
        >>> MeanAbsolutePercentageError()(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
        tensor(50.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_absolute_percentage_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype
        )


class MeanSquaredLogarithmicError(_BuiltinLoss):
    """Mean squared logarithmic error, see `mean_squared_logarithmic_error`.

    Example:
        >>> MeanSquaredLogarithmicError()(torch.tensor([[0.0]]), torch.tensor([[0.0]]))
        tensor(0.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_squared_logarithmic_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype
        )


class CosineSimilarity(_BuiltinLoss):
    """Negative cosine similarity between targets and predictions along `axis`.

    Example:
        >>> CosineSimilarity()(torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 0.0]]))
        tensor(-1.)
    """

    _config_keys = ("axis",)

    def __init__(
        self,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "cosine_similarity",
        dtype: Any = None,
    ) -> None:
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)


class Huber(_BuiltinLoss):
    """Huber loss with threshold `delta`, see `huber`.

    Example:
        >>> Huber(delta=1.0)(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
        tensor(1.3125)
    """

    _config_keys = ("delta",)

    def __init__(
        self,
        delta: float = 1.0,
        reduction: str | None = "sum_over_batch_size",
        name: str = "huber_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(_BuiltinLoss):
    """Logarithm of the hyperbolic cosine of the error, see `log_cosh`.

    Example:
        >>> LogCosh()(torch.tensor([[1.0]]), torch.tensor([[1.0]]))
        tensor(0.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "log_cosh",
        dtype: Any = None,
    ) -> None:
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class Hinge(_BuiltinLoss):
    """Hinge loss for labels in {-1, 1} (or {0, 1}), see `hinge`.

    Example:
        >>> Hinge()(torch.tensor([[1.0]]), torch.tensor([[0.25]]))
        tensor(0.7500)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "hinge",
        dtype: Any = None,
    ) -> None:
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(_BuiltinLoss):
    """Squared hinge loss, see `squared_hinge`.

    Example:
        >>> SquaredHinge()(torch.tensor([[1.0]]), torch.tensor([[0.5]]))
        tensor(0.2500)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "squared_hinge",
        dtype: Any = None,
    ) -> None:
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(_BuiltinLoss):
    """Categorical hinge loss, see `categorical_hinge`.

    Example:
        >>> CategoricalHinge()(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.9]]))
        tensor(0.3000)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_hinge",
        dtype: Any = None,
    ) -> None:
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class KLDivergence(_BuiltinLoss):
    """Kullback-Leibler divergence between target and predicted distributions.

    Example:
        >>> KLDivergence()(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
        tensor(0.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "kl_divergence",
        dtype: Any = None,
    ) -> None:
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(_BuiltinLoss):
    """Poisson loss, see `poisson`.

    Example:
        >>> Poisson()(torch.tensor([[0.0]]), torch.tensor([[2.0]]))
        tensor(2.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "poisson",
        dtype: Any = None,
    ) -> None:
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(_BuiltinLoss):
    """Binary crossentropy, see `binary_crossentropy` for the arguments.

    Example:
        >>> bce = BinaryCrossentropy(from_logits=True)
        >>> bce(torch.tensor([1.0, 0.0]), torch.tensor([[0.0], [0.0]]))
        tensor(0.6931)
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            binary_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(_BuiltinLoss):
    """Categorical crossentropy for one-hot targets, see `categorical_crossentropy`.

    Example:
        >>> CategoricalCrossentropy()(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
        tensor(0.6931)
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Categorical crossentropy for integer labels, see `sparse_categorical_crossentropy`.

    With `ignore_class`, entries carrying that label are left out of the average.

    Example:
        >>> scce = SparseCategoricalCrossentropy(ignore_class=-1)
        >>> scce(torch.tensor([1, -1]), torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
        tensor(0.6931)
    """

    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str | None = "sum_over_batch_size",
        axis: int = -1,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            sparse_categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


# --------------------------------------------------------------------------------------
# Lookup and (de)serialization.
# --------------------------------------------------------------------------------------

_CLASSES: tuple[type[Loss], ...] = (
    Loss,
    LossFunctionWrapper,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    Huber,
    LogCosh,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
)

_FUNCTIONS: tuple[LossFn, ...] = (
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    cosine_similarity,
    huber,
    log_cosh,
    hinge,
    squared_hinge,
    categorical_hinge,
    kl_divergence,
    poisson,
    binary_crossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
)

_ALIASES: dict[str, LossFn] = {
    "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
    "kld": kl_divergence,
    "KLD": kl_divergence,
    "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error,
    # Keras 2 spelling, still common in tutorials; Keras 3 only accepts `log_cosh`.
    "logcosh": log_cosh,
}

_ALL_OBJECTS: dict[str, Any] = {
    **{cls.__name__: cls for cls in _CLASSES},
    **{fn.__name__: fn for fn in _FUNCTIONS},
    **_ALIASES,
}

_BUILTINS = frozenset(_CLASSES) | frozenset(_FUNCTIONS)


def _is_builtin_loss(obj: Any) -> bool:
    """Whether `obj` is one of this module's loss functions or an instance of its classes."""
    return obj in _BUILTINS or type(obj) in _BUILTINS


def _function_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def serialize(loss: Loss | Callable[..., Any]) -> dict[str, Any]:
    """Returns a JSON-friendly description of a `Loss` object or a loss function.

    Example:
        >>> serialize(Huber(delta=2.0))["config"]
        {'name': 'huber_loss', 'reduction': 'sum_over_batch_size', 'delta': 2.0}
        >>> serialize(mean_squared_error)
        {'class_name': 'function', 'config': 'mean_squared_error'}
    """
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    if callable(loss):
        return {"class_name": "function", "config": _function_name(loss)}
    raise TypeError(
        "Expected `loss` to be a `Loss` object or a loss function. "
        f"Received: loss={loss!r} (of type {type(loss).__name__}). Pass one of those."
    )


def deserialize(
    config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Loss | Callable[..., Any]:
    """Rebuilds a loss from a name or from `serialize()` output.

    Args:
        config: A loss name or a dict with `class_name` and `config`.
        custom_objects: Extra name -> class/function mappings to resolve user losses.

    Example:
        >>> deserialize(serialize(Huber(delta=2.0))).get_config()["delta"]
        2.0
    """
    table = {**_ALL_OBJECTS, **(custom_objects or {})}
    if isinstance(config, str):
        if config not in table:
            raise _unknown_identifier_error("loss", config, table)
        return table[config]
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Expected `config` to be a loss name or a dict with 'class_name' and 'config'. "
            f"Received: config={config!r} (of type {type(config).__name__}). "
            "Pass the output of `kfit.losses.serialize`."
        )
    class_name = config["class_name"]
    inner = config.get("config")
    if class_name == "function":
        return deserialize(inner, custom_objects)
    if class_name not in table:
        raise _unknown_identifier_error("loss", class_name, table)
    cls = table[class_name]
    return cls.from_config(inner or {})


def get(identifier: Any) -> Loss | Callable[..., Any] | None:
    """Resolves a loss identifier the way `keras.losses.get` does.

    Strings naming a function (`"mse"`, `"categorical_crossentropy"`, ...) give the
    function; strings naming a class (`"MeanSquaredError"`) give a fresh instance; dicts
    are deserialized; `Loss` objects and callables are returned unchanged; `None` gives `None`.

    Raises:
        ValueError: for an unknown name (close matches are suggested) or a non-callable.

    Example:
        >>> get("mse") is mean_squared_error
        True
        >>> type(get("Huber")).__name__
        'Huber'
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        if identifier not in _ALL_OBJECTS:
            raise _unknown_identifier_error("loss", identifier, _ALL_OBJECTS)
        obj = _ALL_OBJECTS[identifier]
    else:
        obj = identifier
    if inspect.isclass(obj):
        return obj()
    if callable(obj):
        return obj
    raise _unknown_identifier_error("loss", identifier, _ALL_OBJECTS)
