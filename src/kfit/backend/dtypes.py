"""Dtypes: names as Keras writes them, the torch dtypes behind them, and default conversions.

Keras objects report their dtype as a string (`loss.dtype == "float32"`) while torch works
with `torch.dtype` objects; these helpers convert between the two, and turn Python and numpy
inputs into tensors with Keras's default dtypes (`floatx()` for floats, int32 for integers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kfit.backend.config import floatx
from kfit.utils.errors import received

__all__ = ["convert_to_tensor", "standardize_dtype", "to_torch_dtype"]


def to_torch_dtype(dtype: Any) -> torch.dtype:
    """Returns the `torch.dtype` for a dtype name such as `"float32"` (or a torch dtype).

    Args:
        dtype: A dtype name or a `torch.dtype`.

    Raises:
        ValueError: when `dtype` names no torch dtype.

    Example:
        >>> to_torch_dtype("float16")
        torch.float16
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(
            "Expected `dtype` to be a dtype name such as 'float32' or a torch.dtype. "
            f"{received('dtype', dtype)} Pass e.g. dtype='float32'."
        )
    return resolved


def standardize_dtype(dtype: Any) -> str:
    """Returns the Keras name of a dtype given as a name or a `torch.dtype`.

    Example:
        >>> standardize_dtype(torch.float64)
        'float64'
    """
    return str(to_torch_dtype(dtype)).removeprefix("torch.")


def convert_to_tensor(
    x: Any, dtype: torch.dtype | None = None, device: torch.device | None = None
) -> torch.Tensor:
    """Returns `x` as a tensor, casting a tensor only when its dtype differs.

    Python floats and lists of them become `floatx()` and Python ints become int32, as in
    Keras, rather than numpy's 64-bit defaults; numpy arrays keep their dtype. A tensor that
    already has the dtype is returned as it is, on its own device.

    Args:
        x: A tensor, numpy array, Python number or nested list.
        dtype: The wanted dtype, or None for the defaults above.
        device: Where a new tensor is created (a tensor passed in is not moved).

    Example:
        >>> convert_to_tensor([1.0, 2.0]).dtype, convert_to_tensor(3).dtype
        (torch.float32, torch.int32)
    """
    if isinstance(x, torch.Tensor):
        if dtype is not None and x.dtype != dtype:
            return x.to(dtype)
        return x
    array = np.asarray(x)
    if dtype is None and not isinstance(x, np.ndarray):
        if array.dtype == np.float64:
            dtype = to_torch_dtype(floatx())
        elif array.dtype == np.int64:
            dtype = torch.int32
    return torch.as_tensor(array, dtype=dtype, device=device)
