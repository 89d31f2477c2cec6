"""The loss functions: `(y_true, y_pred)` -> per-sample values, with Keras 3's semantics.

Each function reduces over the last axis (or the class axis) only; weighting and averaging
over the batch belong to the `Loss` classes (`kfit.losses.losses`) and to the metrics, which
wrap these same functions.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as tnn

from kfit.backend.config import epsilon
from kfit.backend.dtypes import convert_to_tensor
from kfit.losses.loss import cast_and_align, l2_normalize
from kfit.utils.errors import received

__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]


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
    y_true, y_pred = cast_and_align(y_true, y_pred)
    return torch.square(y_true - y_pred).mean(dim=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of absolute errors over the last axis: `mean(abs(y_true - y_pred), axis=-1)`.

    Example:
        >>> mean_absolute_error(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 3.0]]))
        tensor([1.5000])
    """
    y_true, y_pred = cast_and_align(y_true, y_pred)
    return torch.abs(y_true - y_pred).mean(dim=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`.

    Example:
        >>> mean_absolute_percentage_error(torch.tensor([[2.0, 4.0]]), torch.tensor([[1.0, 4.0]]))
        tensor([25.])
    """
    y_true, y_pred = cast_and_align(y_true, y_pred)
    ratio = (y_true - y_pred) / torch.clamp(torch.abs(y_true), min=epsilon())
    return 100.0 * torch.abs(ratio).mean(dim=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)`.

    Example:
        >>> mean_squared_logarithmic_error(torch.tensor([[0.0]]), torch.tensor([[1.0]]))
        tensor([0.4805])
    """
    y_true, y_pred = cast_and_align(y_true, y_pred)
    eps = epsilon()
    first_log = torch.log(torch.clamp(y_pred, min=eps) + 1.0)
    second_log = torch.log(torch.clamp(y_true, min=eps) + 1.0)
    return torch.square(first_log - second_log).mean(dim=-1)


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
    y_true, y_pred = cast_and_align(y_true, y_pred)
    return -(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis)).sum(dim=axis)


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
    y_true, y_pred = cast_and_align(y_true, y_pred)
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
    y_true, y_pred = cast_and_align(y_true, y_pred)
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
    y_pred = convert_to_tensor(y_pred)
    y_true = _binary_labels_to_signed(convert_to_tensor(y_true, y_pred.dtype, y_pred.device))
    return torch.clamp(1.0 - y_true * y_pred, min=0.0).mean(dim=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`, labels mapped like `hinge`.

    Example:
        >>> squared_hinge(torch.tensor([[1.0]]), torch.tensor([[0.5]]))
        tensor([0.2500])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = _binary_labels_to_signed(convert_to_tensor(y_true, y_pred.dtype, y_pred.device))
    return torch.square(torch.clamp(1.0 - y_true * y_pred, min=0.0)).mean(dim=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """`maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` over the last axis.

    Example:
        >>> categorical_hinge(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.9]]))
        tensor([0.3000])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
    pos = (y_true * y_pred).sum(dim=-1)
    neg = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return torch.clamp(neg - pos + 1.0, min=0.0)


def kl_divergence(y_true: Any, y_pred: Any) -> torch.Tensor:
    """KL divergence `sum(y_true * log(y_true / y_pred), axis=-1)`, inputs clipped to [eps, 1].

    Example:
        >>> kl_divergence(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
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
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
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
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
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
            f"Expected `axis` to be an int. {received('axis', axis)} Pass e.g. axis=-1."
        )
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
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
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, device=y_pred.device)
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
        # Keras's convention: the mask rides on the tensor as an attribute torch does not declare.
        result._keras_mask = valid_mask  # type: ignore[attr-defined]
    return result
