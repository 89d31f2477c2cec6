"""Nested data (tensors in tuples, lists and dicts) as kfit's inputs see it, and its conversion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from kfit.backend.config import floatx
from kfit.utils.batch_utils import is_namedtuple, pack_x_y_sample_weight, unpack_x_y_sample_weight

__all__ = [
    "batch_size_of",
    "flatten",
    "map_structure",
    "pack_x_y_sample_weight",
    "to_device",
    "to_tensor",
    "unpack_x_y_sample_weight",
]


def map_structure(fn: Callable[[Any], Any], data: Any) -> Any:
    """Applies `fn` to every leaf of nested tuples, lists and dicts; None stays None."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: map_structure(fn, v) for k, v in data.items()}
    if isinstance(data, (list, tuple)) and not is_namedtuple(data):
        return type(data)(map_structure(fn, v) for v in data)
    return fn(data)


def flatten(data: Any) -> list[Any]:
    """The leaves of a nested structure, in order."""
    if data is None:
        return []
    if isinstance(data, dict):
        return [leaf for v in data.values() for leaf in flatten(v)]
    if isinstance(data, (list, tuple)):
        return [leaf for v in data for leaf in flatten(v)]
    return [data]


def batch_size_of(x: Any) -> int:
    """The number of samples in a batch: the first dimension of its first leaf.

    Example:
        >>> batch_size_of(torch.zeros(4, 2)), batch_size_of({"a": [torch.zeros(3, 1)]})
        (4, 3)
    """
    return int(x.shape[0]) if isinstance(x, torch.Tensor) else int(flatten(x)[0].shape[0])


def to_tensor(value: Any, name: str = "x") -> torch.Tensor:
    """Converts an array-like leaf to a tensor, sharing memory where it can.

    float64 becomes the default float type (as Keras casts to floatx), so numpy's default
    dtype does not silently run the model in double precision. `name` is the argument the
    value came from, for the error a non-numeric array (strings, objects) gets.

    Example:
        >>> to_tensor(np.array(["a", "b"]), name="y")
        Traceback (most recent call last):
        ...
        TypeError: Expected `y` to hold numbers ...
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        if hasattr(value, "to_numpy"):  # pandas objects
            value = value.to_numpy()
        array = np.asarray(value)
        if not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        elif not array.flags.writeable:
            # torch.from_numpy warns on read-only memory (e.g. np.load with mmap).
            array = array.copy()
        if array.dtype == np.float64:
            array = array.astype(floatx())
        elif array.dtype.kind in _NON_NUMERIC_KINDS:
            raise TypeError(_non_numeric_message(name, array))
        tensor = torch.from_numpy(array)
    if tensor.dtype == torch.float64:
        tensor = tensor.to(getattr(torch, floatx()))
    return tensor


# numpy dtype kinds torch cannot hold: object, str, bytes, void (records), datetime, timedelta.
_NON_NUMERIC_KINDS = frozenset("OUSVMm")


def _non_numeric_message(name: str, array: np.ndarray) -> str:
    first = array.flat[0] if array.size else None
    if array.dtype.kind in "US":
        fix = (
            f"Encode the strings as numbers first, e.g. class indices with "
            f"`classes, {name}_ids = np.unique({name}, return_inverse=True)`."
        )
    elif array.dtype.kind == "O":
        fix = (
            f"Convert it with `np.asarray({name}, dtype='float32')`; an object array usually means "
            "rows of unequal length, None values or mixed types, which must be fixed first."
        )
    else:
        fix = f"Convert it to a numeric dtype first, e.g. `{name}.astype('float32')`."
    return (
        f"Expected `{name}` to hold numbers (a numeric dtype such as float32 or int64). "
        f"Received: {name} with dtype {array.dtype} (first element {first!r}). {fix}"
    )


def to_device(data: Any, device: torch.device) -> Any:
    """Moves every tensor leaf to `device` (asynchronously from pinned host memory)."""
    def move(t: Any) -> Any:
        if isinstance(t, torch.Tensor) and t.device != device:
            return t.to(device, non_blocking=True)
        return t
    return map_structure(move, data)
