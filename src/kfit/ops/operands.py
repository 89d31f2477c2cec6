"""How op arguments become tensors: Keras's conversion rules, the device, and axis arguments.

Every op in `kfit.ops` accepts tensors, numpy arrays, Python scalars and nested lists. The
conversion follows Keras (measured with Keras 3 on torch):

| Input                         | dtype                                                 |
|-------------------------------|-------------------------------------------------------|
| `torch.Tensor` (or Variable)  | its own (cast only when `dtype` is given); device kept |
| Python `bool` / `int` / `float` | `bool` / `int32` (`int64` past 2**31) / `floatx()`    |
| list or tuple of Python numbers | promoted as Keras does: `[1, 2]` int32, `[1, 2.0]` float32 |
| list or tuple holding tensors | the tensors, stacked                                  |
| numpy array                   | its own (`uint32` is held as `int64`, as Keras does)  |
| numpy scalar                  | `np.float64` → `floatx()` (it is a Python float); others their own |

New tensors are created on kfit's device (`kfit.backend.device.default_device()`, where the
trainer runs models), as Keras creates them on its default device; a device chosen for torch
(`with torch.device("meta"):`, as for shape inference) takes precedence. When an op mixes a tensor
with a non-tensor, the non-tensor joins the tensor's device instead, so eager code on CPU
tensors keeps working on a GPU machine. Python scalars beside a tensor are passed to torch as
scalars (no host-to-device copy), which torch promotes as weakly as Keras does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from kfit.backend.config import floatx
from kfit.backend.device import default_device
from kfit.ops.dtypes import result_type, standardize_dtype, to_torch_dtype
from kfit.utils.errors import received

__all__ = [
    "Scalar",
    "canonicalize_axis",
    "convert_to_tensor",
    "creation_device",
    "operand_pair",
    "promoted_pair",
    "same_device_tensors",
    "standardize_axis",
]

Scalar = (bool, int, float)
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def creation_device() -> torch.device:
    """The device of tensors created from nothing (`zeros`, `arange`, random draws, conversions).

    A device chosen for torch (a `with torch.device("meta"):` block, or `torch.set_default_device`)
    wins; otherwise it is kfit's device, `kfit.backend.device.default_device()`.

    Example:
        >>> with torch.device("meta"):
        ...     creation_device()
        device(type='meta')
    """
    chosen = torch.get_default_device()
    return chosen if chosen.type != "cpu" else default_device()


def _list_dtype(array: np.ndarray) -> str:
    # A list of Python numbers goes through numpy, which widens to 64 bits; Keras promotes
    # such lists with its own lattice, whose results are 32-bit (and floats follow floatx).
    name = array.dtype.name
    if name == "float64":
        return floatx()
    if name in ("int64", "uint64"):
        return "int32"
    return standardize_dtype(array.dtype) if name != "object" else floatx()


def convert_to_tensor(
    x: Any, dtype: Any = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """Returns `x` as a tensor with Keras's dtype rules (see the module docstring).

    Args:
        x: A tensor, numpy array, Python scalar or (nested) list/tuple.
        dtype: The dtype wanted, or None for the rules above.
        device: Where a new tensor goes; None means `creation_device()`. A tensor given
            as `x` stays on its device.

    Raises:
        ValueError: for a `dtype` that names no dtype.
        TypeError: for an object that cannot become a tensor.

    Example:
        >>> convert_to_tensor([1, 2]).dtype, convert_to_tensor(np.ones(2)).dtype
        (torch.int32, torch.float64)
    """
    if isinstance(x, torch.Tensor):
        if dtype is not None:
            wanted = to_torch_dtype(dtype)
            if x.dtype != wanted:
                return x.to(wanted)
        return x
    if device is None:
        device = creation_device()
    wanted_dtype = None if dtype is None else to_torch_dtype(dtype)
    if isinstance(x, (*Scalar, complex)):
        if wanted_dtype is None:
            if isinstance(x, bool):
                wanted_dtype = torch.bool
            elif isinstance(x, int):
                wanted_dtype = torch.int32 if _INT32_MIN <= x <= _INT32_MAX else torch.int64
            elif isinstance(x, float):
                wanted_dtype = to_torch_dtype(floatx())
            else:
                wanted_dtype = torch.complex64
        return torch.tensor(x, dtype=wanted_dtype, device=device)
    if isinstance(x, (list, tuple)):
        if any(isinstance(item, torch.Tensor) for item in x):
            return torch.stack([convert_to_tensor(item, wanted_dtype, device) for item in x])
        try:
            array = np.asarray(x)
        except ValueError as error:
            raise ValueError(
                f"Expected a rectangular nested list (every row the same length). {received('x', x)} "
                "Pad the rows to one length, or pass a list of tensors with equal shapes."
            ) from error
        if wanted_dtype is None:
            wanted_dtype = to_torch_dtype(_list_dtype(array))
        return torch.as_tensor(array, dtype=wanted_dtype, device=device)
    try:
        array = np.asarray(x)
    except Exception as error:
        raise TypeError(
            f"Expected a tensor, numpy array, Python number or list. {received('x', x)} "
            "Convert the value to a numpy array first."
        ) from error
    if array.dtype == object:
        raise TypeError(
            f"Expected a tensor, numpy array, Python number or list. {received('x', x)} "
            "Convert the value to a numpy array of numbers first."
        )
    if wanted_dtype is None:
        wanted_dtype = to_torch_dtype(array.dtype)
    return torch.as_tensor(array, dtype=wanted_dtype, device=device)


def _device_of(values: Sequence[Any]) -> torch.device | None:
    for value in values:
        if isinstance(value, torch.Tensor):
            return value.device
    return None


def same_device_tensors(*values: Any, dtype: Any = None) -> list[torch.Tensor]:
    """Converts every value to a tensor, non-tensors on the first tensor's device.

    Example:
        >>> [t.dtype for t in same_device_tensors(torch.ones(2), [1, 2])]
        [torch.float32, torch.int32]
    """
    device = _device_of(values)
    return [convert_to_tensor(v, dtype, device) for v in values]


def operand_pair(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Prepares the two operands of an elementwise op whose dtype torch promotes as Keras does.

    A Python scalar after a tensor stays a scalar (torch treats it as weakly as Keras). A scalar
    before a tensor, or an `int` beside a `bool` tensor (which Keras makes `int32` where torch
    would make `int64`), becomes a 0-d CPU tensor of Keras's dtype: torch combines 0-d tensors
    as weakly as scalars, and a CPU one needs no copy to the accelerator. Everything else
    becomes a tensor on the device of the tensor operand.

    Example:
        >>> a, b = operand_pair(torch.ones(2, dtype=torch.int8), 3)
        >>> a.dtype, b
        (torch.int8, 3)
    """
    t1, t2 = isinstance(x1, torch.Tensor), isinstance(x2, torch.Tensor)
    if t1 and t2:
        return x1, x2
    if t1 and isinstance(x2, Scalar):
        if x1.dtype == torch.bool and type(x2) is int:
            return x1, convert_to_tensor(x2, device="cpu")
        return x1, x2
    if t2 and isinstance(x1, Scalar):
        return convert_to_tensor(x1, device="cpu"), x2
    device = _device_of((x1, x2))
    return convert_to_tensor(x1, device=device), convert_to_tensor(x2, device=device)


def promoted_pair(x1: Any, x2: Any, *extra: Any, weak: bool = True) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Both operands as tensors of their Keras `result_type`.

    `extra` adds dtypes to the promotion, e.g. `float` for ops whose result is a float. With
    `weak=True` Python numbers promote as weak types (`maximum(int8_tensor, 2)` is int8); with
    `weak=False` they are converted first (a Python float is `floatx()`), as Keras does for
    ops such as `arctan2`.

    Example:
        >>> a, b, name = promoted_pair(torch.ones(2, dtype=torch.int32), 0.5)
        >>> a.dtype, b.dtype, name
        (torch.float32, torch.float32, 'float32')
    """
    device = _device_of((x1, x2))
    types: list[Any] = []
    converted: list[Any] = []
    for value in (x1, x2):
        if weak and isinstance(value, Scalar) and not isinstance(value, bool):
            types.append(type(value))
        else:
            value = convert_to_tensor(value, device=device)
            types.append(value.dtype)
        converted.append(value)
    name = result_type(*types, *extra)
    dtype = to_torch_dtype(name)
    a, b = (convert_to_tensor(v, dtype, device) for v in converted)
    return a, b, name


def canonicalize_axis(axis: int, ndim: int) -> int:
    """`axis` as a non-negative index into `ndim` dimensions.

    Raises:
        ValueError: when `axis` is out of range.

    Example:
        >>> canonicalize_axis(-1, 3)
        2
    """
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(
            f"Expected an axis in [{-ndim}, {ndim}) for a tensor of rank {ndim}. "
            f"{received('axis', axis)} Pass an axis within the tensor's rank."
        )
    return axis % ndim if ndim else 0


def standardize_axis(axis: Any) -> int | tuple[int, ...] | None:
    """An `axis` argument as torch's `dim`: None, an int, or a tuple of ints.

    Example:
        >>> standardize_axis([0, 2]), standardize_axis(1), standardize_axis(None)
        ((0, 2), 1, None)
    """
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return tuple(int(a) for a in axis)
    if isinstance(axis, (int, np.integer)):
        return int(axis)
    raise TypeError(
        f"Expected `axis` to be an int, a tuple of ints or None. {received('axis', axis)} "
        "Pass e.g. axis=-1 or axis=(1, 2)."
    )
