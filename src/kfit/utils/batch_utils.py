"""How Keras packs one batch: `x`, `(x, y)` or `(x, y, sample_weight)`, and back.

A custom `train_step` receives its `data` packed this way, and unpacks it with
`keras.utils.unpack_x_y_sample_weight`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_namedtuple", "pack_x_y_sample_weight", "unpack_x_y_sample_weight"]


def is_namedtuple(x: Any) -> bool:
    """Whether `x` is a namedtuple, which counts as one structure, not as `(x, y, ...)`.

    Example:
        >>> import collections
        >>> is_namedtuple(collections.namedtuple("P", "a b")(1, 2)), is_namedtuple((1, 2))
        (True, False)
    """
    return isinstance(x, tuple) and hasattr(x, "_fields")


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """Packs a batch the way Keras hands it to `train_step`: `x`, `(x, y)` or `(x, y, sample_weight)`.

    A tuple or list `x` without targets is wrapped as `(x,)`, so that unpacking gives it back.

    Example:
        >>> pack_x_y_sample_weight(1, 2), pack_x_y_sample_weight(1), pack_x_y_sample_weight((1, 2))
        ((1, 2), 1, ((1, 2),))
    """
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data: Any) -> tuple[Any, Any, Any]:
    """Splits a batch given as `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`.

    Example:
        >>> unpack_x_y_sample_weight((1, 2)), unpack_x_y_sample_weight(1)
        ((1, 2, None), (1, None, None))
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple) or is_namedtuple(data):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError(
        "Expected each batch to be `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`. "
        f"Received: a tuple of {len(data)} elements. Wrap multiple inputs in a tuple of their "
        "own: `((x1, x2), y)`."
    )
