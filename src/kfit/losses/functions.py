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
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
    "circle",
    "cosine_similarity",
    "ctc",
    "dice",
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
    "tversky",
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


def binary_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    """Binary crossentropy scaled by `(1 - p_t) ** gamma`, averaged over `axis` (focal loss).

    `p_t` is the probability given to the true label, so confident correct predictions
    count less and hard examples more.

    Args:
        y_true: Targets in [0, 1], same shape as `y_pred`.
        y_pred: Probabilities or, with `from_logits=True`, logits (passed through a sigmoid,
            then treated as probabilities, as Keras does).
        apply_class_balancing: Whether to weight positives by `alpha` and negatives by
            `1 - alpha`.
        alpha: The positive-class weight used by `apply_class_balancing`.
        gamma: The focusing exponent; 0 gives plain binary crossentropy.
        from_logits: Whether `y_pred` holds logits.
        label_smoothing: Squeezes targets towards 0.5: `y * (1 - s) + 0.5 * s`.
        axis: The axis to average over.

    Example:
        >>> binary_focal_crossentropy(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.1733])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    _check_same_shape(y_true, y_pred, "binary_focal_crossentropy")
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    eps = epsilon()
    bce = tnn.binary_cross_entropy(torch.clamp(y_pred, eps, 1.0 - eps), y_true, reduction="none")
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = torch.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return focal.mean(dim=axis)


def categorical_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    """Categorical crossentropy with each class term scaled by `alpha * (1 - p) ** gamma`.

    Args:
        y_true: One-hot or soft targets, same shape as `y_pred`.
        y_pred: Probabilities (renormalised, clipped to [eps, 1 - eps]) or, with
            `from_logits=True`, logits (a softmax is applied first).
        alpha: The weight of every class term.
        gamma: The focusing exponent; 0 (with `alpha=1`) gives categorical crossentropy.
        from_logits: Whether `y_pred` holds logits.
        label_smoothing: Mixes targets with the uniform distribution: `y * (1 - s) + s / C`.
        axis: The class axis.

    Example:
        >>> categorical_focal_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.0433])
    """
    if isinstance(axis, bool):
        raise ValueError(
            f"Expected `axis` to be an int. {received('axis', axis)} Pass e.g. axis=-1."
        )
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
    if y_pred.shape[-1] == 1:
        warnings.warn(
            "In `categorical_focal_crossentropy`, expected y_pred.shape to be (batch_size, "
            f"num_classes) with num_classes > 1. Received: y_pred.shape={tuple(y_pred.shape)}. "
            "Consider using 'binary_focal_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=2,
        )
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    _check_same_shape(y_true, y_pred, "categorical_focal_crossentropy")
    if from_logits:
        y_pred = torch.softmax(y_pred, dim=axis)
    eps = epsilon()
    output = torch.clamp(y_pred / y_pred.sum(dim=axis, keepdim=True), eps, 1.0 - eps)
    cce = -y_true * torch.log(output)
    return (torch.pow(1.0 - output, gamma) * alpha * cce).sum(dim=axis)


def categorical_generalized_cross_entropy(y_true: Any, y_pred: Any, q: float) -> torch.Tensor:
    """Generalized crossentropy `(1 - p ** q) / q`, `p` the probability of the true class.

    It moves from crossentropy (`q -> 0`) towards mean absolute error (`q = 1`), which makes
    it more robust to wrong labels.

    Args:
        y_true: Integer class labels, shape `(batch,)` (a trailing axis of size 1 is fine).
        y_pred: Class probabilities, shape `(batch, num_classes)`.
        q: The exponent, in (0, 1).

    Example:
        >>> categorical_generalized_cross_entropy(torch.tensor([1]), torch.tensor([[0.75, 0.25]]), q=0.5)
        tensor([1.])
    """
    y_pred = convert_to_tensor(y_pred)
    labels = convert_to_tensor(y_true, device=y_pred.device).long()
    if labels.dim() == y_pred.dim() and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    p = torch.take_along_dim(y_pred, labels.unsqueeze(-1), dim=-1).squeeze(-1)
    return (1.0 - torch.pow(p, q)) / q


def dice(y_true: Any, y_pred: Any, axis: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """Dice loss `1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred))` over `axis`.

    Args:
        y_true: Target masks or probabilities.
        y_pred: Predicted probabilities, same shape.
        axis: The axes summed over; `None` sums over everything (one value per batch).

    Example:
        >>> dice(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]), axis=-1)
        tensor([0.5000])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
    dims = () if axis is None else axis
    intersection = torch.sum(y_true * y_pred, dim=dims)
    union = torch.sum(y_true, dim=dims) + torch.sum(y_pred, dim=dims)
    return 1.0 - 2.0 * intersection / (union + epsilon())


def tversky(
    y_true: Any,
    y_pred: Any,
    alpha: float = 0.5,
    beta: float = 0.5,
    axis: int | tuple[int, ...] | None = None,
) -> torch.Tensor:
    """Tversky loss `1 - TP / (TP + alpha * FP + beta * FN)`, soft counts summed over `axis`.

    With `alpha = beta = 0.5` it equals the Dice loss.

    Args:
        y_true: Target masks or probabilities.
        y_pred: Predicted probabilities, same shape.
        alpha: The weight of false positives.
        beta: The weight of false negatives.
        axis: The axes summed over; `None` sums over everything.

    Example:
        >>> tversky(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]), axis=-1)
        tensor([0.5000])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
    dims = () if axis is None else axis
    true_pos = torch.sum(y_true * y_pred, dim=dims)
    # Keras's naming, kept for the formula: FP counts targets the prediction missed.
    false_pos = torch.sum((1.0 - y_pred) * y_true, dim=dims)
    false_neg = torch.sum(y_pred * (1.0 - y_true), dim=dims)
    return 1.0 - true_pos / (true_pos + false_pos * alpha + false_neg * beta + epsilon())


def circle(
    y_true: Any,
    y_pred: Any,
    ref_labels: Any = None,
    ref_embeddings: Any = None,
    remove_diagonal: bool = True,
    gamma: float = 80,
    margin: float = 0.4,
) -> torch.Tensor:
    """Circle loss for metric learning, over the cosine distances between embeddings.

    Pairs with the same label are pulled together and pairs with different labels pushed
    apart, each weighted by how far it is from its optimum. Rows with a zero loss are masked
    out of the `Loss` average, as in Keras.

    Args:
        y_true: Integer labels of the embeddings, shape `(batch,)`.
        y_pred: L2-normalised embeddings, shape `(batch, dim)`.
        ref_labels: Labels of the reference embeddings; defaults to `y_true`.
        ref_embeddings: Reference embeddings; defaults to `y_pred`.
        remove_diagonal: Whether an embedding is left out as its own positive.
        gamma: The scale factor.
        margin: The relaxation margin.

    Example:
        >>> emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]]))
        >>> circle(torch.tensor([0, 0, 1]), emb).shape
        torch.Size([3])
    """
    y_pred = convert_to_tensor(y_pred)
    labels = convert_to_tensor(y_true, device=y_pred.device).to(torch.int32)
    refs = y_pred if ref_embeddings is None else convert_to_tensor(ref_embeddings, y_pred.dtype, y_pred.device)
    ref = labels if ref_labels is None else convert_to_tensor(ref_labels, device=y_pred.device)
    ref = ref.to(torch.int32)
    distances = torch.clamp(1.0 - y_pred @ refs.T, min=0.0)
    positive = labels.reshape(-1, 1) == ref.reshape(-1, 1).T
    negative = ~positive
    if remove_diagonal:
        eye = torch.eye(labels.numel(), ref.numel(), dtype=torch.bool, device=positive.device)
        positive = positive & ~eye
    pos_weights = torch.clamp((margin + distances) * positive.to(distances.dtype), min=0.0)
    neg_weights = torch.clamp((1.0 + margin - distances) * negative.to(distances.dtype), min=0.0)
    pos_logits = -gamma * pos_weights * (margin - distances)
    neg_logits = gamma * neg_weights * ((1.0 - margin) - distances)
    minus_inf = float("-inf")
    p_loss = torch.logsumexp(torch.where(positive, pos_logits, minus_inf), dim=1)
    n_loss = torch.logsumexp(torch.where(negative, neg_logits, minus_inf), dim=1)
    loss = tnn.softplus(p_loss + n_loss)
    loss._keras_mask = loss > 0  # type: ignore[attr-defined]
    return loss


def ctc(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Connectionist temporal classification loss per sequence; class 0 is the blank.

    Args:
        y_true: Integer label sequences, shape `(batch, max_label_length)`, padded with 0
            (so label lengths are the counts of non-zero entries).
        y_pred: Logits, shape `(batch, time, num_classes)`; every sequence uses all `time`
            steps.

    Raises:
        ValueError: if the ranks are not 2 and 3.

    Example:
        >>> ctc(torch.tensor([[1, 2]]), torch.zeros(1, 4, 3)).shape
        torch.Size([1])
    """
    y_pred = convert_to_tensor(y_pred)
    targets = convert_to_tensor(y_true, device=y_pred.device)
    if targets.dim() != 2:
        raise ValueError(
            "Expected `y_true` of shape (batch_size, max_length) holding integer labels. "
            f"Received: y_true.shape={tuple(targets.shape)}. Pad the label sequences with 0."
        )
    if y_pred.dim() != 3:
        raise ValueError(
            "Expected `y_pred` of shape (batch_size, max_length, num_classes) holding logits. "
            f"Received: y_pred.shape={tuple(y_pred.shape)}. Pass the per-step class logits."
        )
    targets = targets.long()
    if y_pred.dtype in (torch.float16, torch.bfloat16):
        y_pred = y_pred.float()
    batch, steps = y_pred.shape[0], y_pred.shape[1]
    input_lengths = torch.full((batch,), steps, dtype=torch.long, device=y_pred.device)
    target_lengths = (targets != 0).sum(dim=-1)
    log_probs = tnn.log_softmax(y_pred.transpose(0, 1), dim=-1)
    return tnn.ctc_loss(
        log_probs, targets, input_lengths, target_lengths, blank=0, reduction="none"
    )
