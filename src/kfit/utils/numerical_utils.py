"""`to_categorical` and `normalize`: label and row-norm helpers for preparing data (`keras.utils`).

Both follow Keras's split by input type: a NumPy array or other array-like (a list, a scalar)
is worked on with NumPy, and a torch tensor stays a tensor on its own device. `normalize` is the
exception Keras makes too: only a NumPy array takes the NumPy route, so a list comes back as a
tensor.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import torch

from kfit.utils.errors import received

__all__ = ["normalize", "to_categorical"]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray | torch.Tensor:
    """One-hot encodes integer class labels, with the class axis last.

    A trailing axis of size 1 is dropped first, so labels of shape `(n, 1)` give `(n, C)` rather
    than `(n, 1, C)`. Array-likes return a float64 NumPy array, as in Keras; a torch tensor
    returns a `floatx()` tensor on the same device. Float labels are truncated to ints.

    Negative labels follow the input's route, as in Keras: in the NumPy route they count from
    the end like NumPy indices (`-1` is the last class), on a tensor they give an all-zero row.

    Args:
        x: Integer labels: an array-like or a torch tensor, of any shape.
        num_classes: The number of classes. `None` (or 0) infers it as `max(x) + 1`.

    Returns:
        An array (or tensor) of shape `x.shape + (num_classes,)`, without a trailing 1 in `x.shape`.

    Raises:
        TypeError: if `num_classes` is not an int.
        ValueError: if `num_classes` is negative, `x` cannot be read as integers, or `x` is empty
            and `num_classes` is not given.
        IndexError: if a label is `>= num_classes` (or, in the NumPy route, `< -num_classes`).

    Example:
        >>> to_categorical([0, 2, 1])
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]])
        >>> to_categorical(np.array([[1], [0]]), num_classes=3).shape
        (2, 3)
    """
    num_classes = _check_num_classes(num_classes)
    if isinstance(x, torch.Tensor):
        return _tensor_to_categorical(x, num_classes)
    try:
        labels = np.asarray(x, dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"Expected `x` to be integer class labels in an array-like of a regular shape. {received('x', x)} "
            "Pass e.g. x=[0, 2, 1] or a NumPy array of ints."
        ) from error
    batch_shape = _drop_trailing_one(labels.shape)
    flat = labels.reshape(-1)
    largest, smallest = (int(flat.max()), int(flat.min())) if flat.size else (None, 0)
    if not num_classes:
        num_classes = _inferred_num_classes(x, largest)
    _check_labels_fit(num_classes, largest, smallest)
    encoded = np.zeros((flat.size, num_classes))
    encoded[np.arange(flat.size), flat] = 1.0
    return encoded.reshape((*batch_shape, num_classes))


def _tensor_to_categorical(x: torch.Tensor, num_classes: int | None) -> torch.Tensor:
    # Imported here: kfit.ops imports kfit.utils.
    from kfit.ops import one_hot

    labels = x.reshape(_drop_trailing_one(tuple(x.shape))).long()
    # One device-to-host read for both checks below (this is data preparation, not a train step).
    largest = int(labels.max()) if labels.numel() else None
    if not num_classes:
        num_classes = _inferred_num_classes(x, largest)
    # Negative labels are not checked: one_hot gives them an all-zero row.
    _check_labels_fit(num_classes, largest, 0)
    return one_hot(labels, num_classes)


def _check_num_classes(num_classes: Any) -> int | None:
    if num_classes is None:
        return None
    try:
        count = operator.index(num_classes)
    except TypeError:
        raise TypeError(
            f"Expected `num_classes` to be an int or None. {received('num_classes', num_classes)} "
            "Pass e.g. num_classes=10, or None to infer it from the labels."
        ) from None
    if count < 0:
        raise ValueError(
            f"Expected `num_classes` to be >= 0. {received('num_classes', num_classes)} "
            "Pass the number of classes, or None to infer it from the labels."
        )
    return count


def _drop_trailing_one(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape


def _inferred_num_classes(x: Any, largest: int | None) -> int:
    if largest is None:
        raise ValueError(
            f"Expected at least one label to infer `num_classes` from. {received('x', x)} "
            "Pass num_classes explicitly for empty labels."
        )
    return largest + 1


def _check_labels_fit(num_classes: int, largest: int | None, smallest: int) -> None:
    if largest is None:
        return
    # A label in [-num_classes, 0) is a valid NumPy index: it counts from the last class.
    if largest >= num_classes or smallest < -num_classes:
        bad = largest if largest >= num_classes else smallest
        raise IndexError(
            f"Expected every class label in `x` to index one of the num_classes classes, but found label {bad}. "
            f"{received('num_classes', num_classes)} Pass num_classes greater than the largest "
            "label, or None to infer it."
        )


def normalize(x: Any, axis: int | tuple[int, ...] | None = -1, order: Any = 2) -> np.ndarray | torch.Tensor:
    """Divides `x` by its `order`-norm along `axis`.

    A NumPy array is normalized with `np.linalg.norm` and returns a NumPy array of the float
    dtype that division gives (float64 for ints); rows whose norm is 0 stay 0. Any other input
    (a torch tensor, a list, a scalar) goes through `kfit.ops.normalize` and returns a tensor
    (`order` must then be an int >= 1, and the norm is floored at `kfit.backend.epsilon()`).

    As in Keras, when the norm is a single number (a 1-D array, or `axis=None`) the NumPy route
    returns at least 2 dimensions: a vector of shape `(n,)` comes back as `(1, n)`.

    Differences from Keras: for a NumPy array with `axis=0` Keras divides by the norms laid
    out along the last axis (an error for non-square input, a wrong result for square input);
    kfit divides each column by its own norm.

    Args:
        x: A NumPy array, a torch tensor, or an array-like.
        axis: The axis (or axes) along which to take the norm.
        order: The norm's order, as `np.linalg.norm` takes it (e.g. 2 for L2, 1 for L1).

    Returns:
        A normalized copy of `x`: a NumPy array for a NumPy array, otherwise a tensor.

    Raises:
        ValueError: for a tensor input and an `order` that is not an int >= 1.

    Example:
        >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
        array([[0.6, 0.8],
               [0. , 0. ]])
        >>> normalize(torch.tensor([[1.0, 3.0]]), order=1)
        tensor([[0.2500, 0.7500]])
    """
    if not isinstance(x, np.ndarray):
        # Imported here: kfit.ops imports kfit.utils.
        from kfit.ops import normalize as normalize_op

        return normalize_op(x, axis=axis, order=order)  # type: ignore[arg-type]
    norm = np.atleast_1d(np.linalg.norm(x, ord=order, axis=axis))
    norm[norm == 0] = 1
    # Put the norms back where they were reduced, so that they broadcast against `x`.
    return x / np.expand_dims(norm, -1 if axis is None else axis)
