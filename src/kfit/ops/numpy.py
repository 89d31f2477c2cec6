"""NumPy-like ops (`keras.ops.numpy`): Keras's names, signatures and dtypes, computed by torch.

Each op converts its arguments with Keras's rules (`kfit.ops.operands`) and returns a torch
tensor. Result dtypes follow Keras 3 on torch, op by op; the module docstring of
`kfit.ops.dtypes` explains the two families (ops that promote with Keras's lattice, which caps
results at 32 bits, and ops that keep torch's promotion). Where Keras's torch backend departs
from NumPy through an evident slip (e.g. `count_nonzero` transposing its result, `pad` with one
`(before, after)` pair padding only the last axis), kfit follows NumPy, as Keras documents.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as tnn

from kfit.backend.config import floatx
from kfit.ops.dtypes import is_float_dtype, result_type, to_torch_dtype
from kfit.ops.graph import keras_op
from kfit.ops.index_folding import fold_index
from kfit.ops.operands import (
    canonicalize_axis,
    convert_to_tensor,
    creation_device,
    operand_pair,
    promoted_pair,
    same_device_tensors,
    standardize_axis,
)
from kfit.utils.errors import received

__all__ = [
    "abs",
    "absolute",
    "add",
    "all",
    "allclose",
    "amax",
    "amin",
    "angle",
    "any",
    "append",
    "arange",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "argmax",
    "argmin",
    "argpartition",
    "argsort",
    "array",
    "array_split",
    "average",
    "bartlett",
    "bincount",
    "bitwise_and",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_not",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "blackman",
    "broadcast_to",
    "cbrt",
    "ceil",
    "clip",
    "concatenate",
    "conj",
    "conjugate",
    "copy",
    "corrcoef",
    "correlate",
    "cos",
    "cosh",
    "count_nonzero",
    "cross",
    "cumprod",
    "cumsum",
    "deg2rad",
    "diag",
    "diagflat",
    "diagonal",
    "diff",
    "digitize",
    "divide",
    "divide_no_nan",
    "dot",
    "dsplit",
    "dstack",
    "einsum",
    "empty",
    "empty_like",
    "equal",
    "exp",
    "exp2",
    "expand_dims",
    "expm1",
    "eye",
    "fabs",
    "flip",
    "fliplr",
    "flipud",
    "floor",
    "floor_divide",
    "fmax",
    "fmin",
    "fmod",
    "full",
    "full_like",
    "gcd",
    "geomspace",
    "get_item",
    "greater",
    "greater_equal",
    "hamming",
    "hanning",
    "heaviside",
    "histogram",
    "hsplit",
    "hstack",
    "hypot",
    "i0",
    "identity",
    "imag",
    "inner",
    "isclose",
    "isfinite",
    "isin",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "isreal",
    "kaiser",
    "kron",
    "lcm",
    "ldexp",
    "left_shift",
    "less",
    "less_equal",
    "linspace",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "logaddexp2",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logspace",
    "matmul",
    "max",
    "maximum",
    "mean",
    "median",
    "meshgrid",
    "min",
    "minimum",
    "mod",
    "moveaxis",
    "multiply",
    "nan_to_num",
    "nanargmax",
    "nanargmin",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmean",
    "nanmedian",
    "nanmin",
    "nanpercentile",
    "nanprod",
    "nanquantile",
    "nanstd",
    "nansum",
    "nanvar",
    "ndim",
    "negative",
    "nextafter",
    "nonzero",
    "not_equal",
    "ones",
    "ones_like",
    "outer",
    "pad",
    "percentile",
    "power",
    "prod",
    "ptp",
    "quantile",
    "rad2deg",
    "ravel",
    "real",
    "reciprocal",
    "repeat",
    "reshape",
    "right_shift",
    "roll",
    "rot90",
    "round",
    "searchsorted",
    "select",
    "sign",
    "signbit",
    "sin",
    "sinc",
    "sinh",
    "size",
    "slogdet",
    "sort",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "subtract",
    "sum",
    "swapaxes",
    "take",
    "take_along_axis",
    "tan",
    "tanh",
    "tensordot",
    "tile",
    "trace",
    "transpose",
    "trapezoid",
    "tri",
    "tril",
    "triu",
    "true_divide",
    "trunc",
    "unique",
    "unravel_index",
    "vander",
    "var",
    "vdot",
    "vectorize",
    "view",
    "vsplit",
    "vstack",
    "where",
    "zeros",
    "zeros_like",
]

_SMALL_INTS = (torch.bool, torch.uint8, torch.int8, torch.int16)


def _floatx() -> torch.dtype:
    return to_torch_dtype(floatx())


def _as_float(x: torch.Tensor) -> torch.Tensor:
    """`x` unchanged when it is a float (or complex) tensor, else cast to `floatx()`."""
    if x.dtype.is_floating_point or x.dtype.is_complex:
        return x
    return x.to(_floatx())


def _unary_float(fn: Callable[[torch.Tensor], torch.Tensor], x: Any) -> torch.Tensor:
    return fn(_as_float(convert_to_tensor(x)))


def _keras_float_of(x: torch.Tensor) -> torch.dtype:
    """The float dtype Keras's `result_type(x.dtype, float)` gives (64-bit narrowed to 32)."""
    return to_torch_dtype(result_type(x.dtype, float))


def _is_empty_axis(axis: Any) -> bool:
    return isinstance(axis, (tuple, list)) and len(axis) == 0


def _keep_all_dims(result: torch.Tensor, ndim: int) -> torch.Tensor:
    """A full reduction's result reshaped to `(1,) * ndim` (for `keepdims=True` with `axis=None`)."""
    return result.reshape((1,) * ndim)


# ----------------------------------------------------------------------------- creation


def _shape_tuple(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    if isinstance(shape, torch.Tensor):
        return tuple(int(s) for s in shape.tolist())
    return tuple(int(s) for s in shape)


@keras_op
def zeros(shape: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of zeros (`floatx()` unless `dtype` says otherwise).

    Example:
        >>> zeros((2, 3)).shape, zeros(2, dtype="int32").dtype
        (torch.Size([2, 3]), torch.int32)
    """
    return torch.zeros(_shape_tuple(shape), dtype=to_torch_dtype(dtype), device=creation_device())


@keras_op
def ones(shape: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of ones (`floatx()` unless `dtype` says otherwise)."""
    return torch.ones(_shape_tuple(shape), dtype=to_torch_dtype(dtype), device=creation_device())


@keras_op
def empty(shape: Any, dtype: Any = None) -> torch.Tensor:
    """An uninitialized tensor (`floatx()` unless `dtype` says otherwise)."""
    return torch.empty(_shape_tuple(shape), dtype=to_torch_dtype(dtype), device=creation_device())


def _like_dtype(x: torch.Tensor, dtype: Any) -> torch.dtype:
    return x.dtype if dtype is None else to_torch_dtype(dtype)


@keras_op
def zeros_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Zeros with the shape (and, unless `dtype` is given, the dtype) of `x`."""
    x = convert_to_tensor(x)
    return torch.zeros_like(x, dtype=_like_dtype(x, dtype))


@keras_op
def ones_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Ones with the shape (and, unless `dtype` is given, the dtype) of `x`."""
    x = convert_to_tensor(x)
    return torch.ones_like(x, dtype=_like_dtype(x, dtype))


@keras_op
def empty_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """An uninitialized tensor with the shape (and, unless `dtype` is given, the dtype) of `x`."""
    x = convert_to_tensor(x)
    return torch.empty_like(x, dtype=_like_dtype(x, dtype))


@keras_op
def full(shape: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of `shape` filled with `fill_value` (a scalar, or a tensor broadcast to `shape`).

    The dtype is `floatx()` unless `dtype` is given, whatever the fill value (as in Keras).

    Example:
        >>> full((2,), 3)
        tensor([3., 3.])
    """
    value = convert_to_tensor(fill_value, to_torch_dtype(dtype))
    return value.expand(_shape_tuple(shape)).clone()


@keras_op
def full_like(x: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor shaped like `x` filled with `fill_value`, in `x`'s dtype unless `dtype` is given."""
    x = convert_to_tensor(x)
    value = convert_to_tensor(fill_value, _like_dtype(x, dtype), x.device)
    return value.expand(x.shape).clone()


@keras_op
def array(x: Any, dtype: Any = None) -> torch.Tensor:
    """`x` as a tensor (same as `convert_to_tensor`)."""
    return convert_to_tensor(x, dtype)


@keras_op
def copy(x: Any) -> torch.Tensor:
    """A copy of `x` that shares no memory with it."""
    return torch.clone(convert_to_tensor(x))


def _dtype_of_value(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.dtype
    if isinstance(value, np.ndarray | np.generic):
        return value.dtype
    return type(value)


@keras_op
def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> torch.Tensor:
    """Evenly spaced values in `[start, stop)`; ints give int32, any float gives `floatx()`.

    Example:
        >>> arange(3), arange(0, 1, 0.5)
        (tensor([0, 1, 2], dtype=torch.int32), tensor([0.0000, 0.5000]))
    """
    if dtype is None:
        given = [v for v in (start, stop, step) if v is not None]
        dtype = result_type(*(_dtype_of_value(v) for v in given))
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    values = [v.item() if isinstance(v, torch.Tensor | np.ndarray | np.generic) else v for v in (start, stop, step)]
    return torch.arange(values[0], values[1], values[2], dtype=to_torch_dtype(dtype), device=creation_device())


def _rank(value: Any) -> int:
    return value.dim() if isinstance(value, torch.Tensor) else int(np.ndim(value))


def _space_dtype(start: Any, stop: Any, dtype: Any) -> torch.dtype:
    if dtype is None:
        return to_torch_dtype(result_type(_dtype_of_value(start), _dtype_of_value(stop), float))
    return to_torch_dtype(dtype)


@keras_op
def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """`num` evenly spaced values from `start` to `stop` (inclusive unless `endpoint=False`).

    Array-valued `start`/`stop` give one sequence per element, stacked along `axis`.

    Example:
        >>> linspace(0, 1, 5)
        tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    out_dtype = _space_dtype(start, stop, dtype)
    divisor = (num - 1) if endpoint else num
    if _rank(start) == 0 and _rank(stop) == 0:
        first = float(start)
        last = float(stop)
        step = (last - first) / divisor if divisor > 0 else float("nan")
        if not endpoint and num > 0:
            last = last - (last - first) / num
        values = torch.linspace(first, last, num, dtype=out_dtype, device=creation_device())
        return (values, step) if retstep else values
    start_t = convert_to_tensor(start, torch.float64)
    stop_t = convert_to_tensor(stop, torch.float64, start_t.device)
    step_t = (stop_t - start_t) / divisor if divisor > 0 else torch.full_like(start_t, float("nan"))
    positions = torch.arange(num, dtype=torch.float64, device=start_t.device)
    grid = start_t + positions.reshape((num,) + (1,) * start_t.dim()) * step_t
    if endpoint and num > 1:
        grid[-1] = stop_t
    grid = torch.moveaxis(grid, 0, axis).to(out_dtype)
    return (grid, step_t.to(out_dtype)) if retstep else grid


@keras_op
def logspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    base: float = 10,
    dtype: Any = None,
    axis: int = 0,
) -> torch.Tensor:
    """`base ** linspace(start, stop, num)`."""
    out_dtype = _space_dtype(start, stop, dtype)
    exponents = linspace(start, stop, num, endpoint=endpoint, dtype=torch.float64, axis=axis)
    return torch.pow(float(base), exponents).to(out_dtype)


@keras_op
def geomspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None, axis: int = 0
) -> torch.Tensor:
    """`num` values spaced evenly on a log scale from `start` to `stop`."""
    out_dtype = _space_dtype(start, stop, dtype)
    start_t = convert_to_tensor(start, torch.float64)
    stop_t = convert_to_tensor(stop, torch.float64, start_t.device)
    sign = torch.sign(start_t)
    exponents = linspace(
        torch.log10(torch.abs(start_t)), torch.log10(torch.abs(stop_t)), num, endpoint=endpoint, dtype=torch.float64
    )
    values = torch.pow(10.0, exponents) * sign
    values[0] = start_t
    if endpoint and num > 1:
        values[-1] = stop_t
    if values.dim() > 1:
        values = torch.moveaxis(values, 0, axis)
    return values.to(out_dtype)


@keras_op
def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:
    """A 2-D tensor with ones on the `k`-th diagonal and zeros elsewhere.

    Raises:
        TypeError: if `N` or `M` is a float.

    Example:
        >>> eye(2, 3, k=1)
        tensor([[0., 1., 0.],
                [0., 0., 1.]])
    """
    for name, value in (("N", N), ("M", M)):
        if isinstance(value, float) or (isinstance(value, torch.Tensor) and value.dtype.is_floating_point):
            raise TypeError(f"Expected `{name}` to be an integer. {received(name, value)} Pass e.g. {name}=3.")
    rows = int(N)
    cols = rows if M is None else int(M)
    ones_ = torch.ones((rows, cols), dtype=torch.bool, device=creation_device())
    return torch.logical_and(torch.triu(ones_, diagonal=k), torch.tril(ones_, diagonal=k)).to(to_torch_dtype(dtype))


@keras_op
def identity(n: int, dtype: Any = None) -> torch.Tensor:
    """The `n` x `n` identity matrix."""
    return eye(n, dtype=dtype)


@keras_op
def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:
    """Ones at and below the `k`-th diagonal of an `N` x `M` matrix, zeros above."""
    cols = N if M is None else M
    ones_ = torch.ones((N, cols), dtype=to_torch_dtype(dtype), device=creation_device())
    return torch.tril(ones_, diagonal=k)


def _window(fn: Callable[..., torch.Tensor], x: Any, **kwargs: Any) -> torch.Tensor:
    length = int(x.item() if isinstance(x, torch.Tensor) else x)
    return fn(length, dtype=_floatx(), device=creation_device(), **kwargs)


@keras_op
def bartlett(x: Any) -> torch.Tensor:
    """The Bartlett (triangular) window of length `x`."""
    return _window(torch.signal.windows.bartlett, x)


@keras_op
def blackman(x: Any) -> torch.Tensor:
    """The Blackman window of length `x`."""
    return _window(torch.signal.windows.blackman, x)


@keras_op
def hamming(x: Any) -> torch.Tensor:
    """The Hamming window of length `x`."""
    return _window(torch.signal.windows.hamming, x)


@keras_op
def hanning(x: Any) -> torch.Tensor:
    """The Hann window of length `x`."""
    return _window(torch.signal.windows.hann, x)


@keras_op
def kaiser(x: Any, beta: float) -> torch.Tensor:
    """The Kaiser window of length `x` with shape parameter `beta`."""
    return _window(torch.signal.windows.kaiser, x, beta=float(beta))


@keras_op
def meshgrid(*x: Any, indexing: str = "xy") -> tuple[torch.Tensor, ...]:
    """Coordinate grids from 1-D coordinate vectors (`"xy"` Cartesian or `"ij"` matrix indexing).

    Raises:
        ValueError: for another `indexing`.
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Expected `indexing` to be 'xy' or 'ij'. {received('indexing', indexing)} Pass one of them.")
    return tuple(torch.meshgrid(*same_device_tensors(*x), indexing=indexing))


@keras_op
def vander(x: Any, N: int | None = None, increasing: bool = False) -> torch.Tensor:
    """The Vandermonde matrix of a 1-D `x` (columns are powers of `x`).

    Raises:
        ValueError: if `x` is not 1-D or `N` is negative.
        TypeError: if `N` is not an int or `increasing` not a bool.
    """
    x = convert_to_tensor(x)
    if x.dim() != 1:
        raise ValueError(f"Expected a 1-D `x`. Received: x.shape={tuple(x.shape)}. Flatten `x` first.")
    if N is not None and not isinstance(N, int):
        raise TypeError(f"Expected `N` to be an int. {received('N', N)} Pass e.g. N=3.")
    if N is not None and N < 0:
        raise ValueError(f"Expected a non-negative `N`. {received('N', N)} Pass N >= 0.")
    if not isinstance(increasing, bool):
        raise TypeError(f"Expected `increasing` to be a bool. {received('increasing', increasing)}")
    return torch.vander(x, N=N, increasing=increasing).to(to_torch_dtype(result_type(x.dtype)))


# ----------------------------------------------------------------------------- elementwise arithmetic


@keras_op
def add(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 + x2`, broadcast.

    Example:
        >>> add(torch.tensor([1, 2], dtype=torch.int8), 3)
        tensor([4, 5], dtype=torch.int8)
    """
    return torch.add(*operand_pair(x1, x2))


def _bool_to_partner(a: Any, b: Any) -> Any:
    """A bool tensor cast to its partner's dtype (torch cannot subtract booleans)."""
    if isinstance(a, torch.Tensor) and a.dtype == torch.bool:
        partner = b.dtype if isinstance(b, torch.Tensor) else convert_to_tensor(b).dtype
        return a.to(partner)
    return a


@keras_op
def subtract(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 - x2`, broadcast (a bool operand takes the other operand's dtype)."""
    # A Python bool subtracts as the int it equals (Keras casts it to the other operand's dtype).
    a, b = operand_pair(int(x1) if type(x1) is bool else x1, int(x2) if type(x2) is bool else x2)
    return torch.subtract(_bool_to_partner(a, b), _bool_to_partner(b, a))


@keras_op
def multiply(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 * x2`, broadcast."""
    return torch.multiply(*operand_pair(x1, x2))


@keras_op
def divide(x1: Any, x2: Any) -> torch.Tensor:
    """True division `x1 / x2`; integer operands give `floatx()`.

    Example:
        >>> divide(torch.tensor([1, 2]), 2)
        tensor([0.5000, 1.0000])
    """
    return torch.divide(*operand_pair(x1, x2))


@keras_op
def true_divide(x1: Any, x2: Any) -> torch.Tensor:
    """Same as `divide`."""
    return divide(x1, x2)


@keras_op
def divide_no_nan(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 / x2`, with 0 wherever `x2` is 0 (instead of inf or nan).

    Example:
        >>> divide_no_nan(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 2.0]))
        tensor([0.0000, 0.5000])
    """
    a, b, _ = promoted_pair(x1, x2, float)
    zero = b == 0
    return torch.where(zero, torch.zeros((), dtype=a.dtype, device=a.device), a / torch.where(zero, 1, b))


@keras_op
def floor_divide(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 // x2` (rounded toward negative infinity), in Keras's promoted dtype."""
    a, b = operand_pair(x1, x2)
    name = result_type(_operand_dtype(x1, a), _operand_dtype(x2, b))
    return torch.floor_divide(a, b).to(to_torch_dtype(name))


@keras_op
def mod(x1: Any, x2: Any) -> torch.Tensor:
    """The remainder of `x1 / x2` with the sign of `x2` (as `numpy.mod`)."""
    return torch.remainder(*_remainder_operands(x1, x2))


@keras_op
def fmod(x1: Any, x2: Any) -> torch.Tensor:
    """The remainder of `x1 / x2` with the sign of `x1` (as C's `fmod`)."""
    return torch.fmod(*_remainder_operands(x1, x2))


def _operand_dtype(original: Any, converted: Any) -> Any:
    """The dtype Keras promotes an operand as: Python numbers (not bools) are weak types."""
    if isinstance(original, (int, float)) and not isinstance(original, bool):
        return type(original)
    return converted.dtype if isinstance(converted, torch.Tensor) else type(converted)


def _remainder_operands(x1: Any, x2: Any) -> tuple[Any, Any]:
    a, b = operand_pair(x1, x2)
    if result_type(_operand_dtype(x1, a), _operand_dtype(x2, b)) == "bool":
        # torch has no remainder of booleans; Keras computes it in int32.
        a, b = same_device_tensors(a, b)
        return a.to(torch.int32), b.to(torch.int32)
    return a, b


@keras_op
def power(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 ** x2`, broadcast."""
    return torch.pow(*operand_pair(x1, x2))


@keras_op
def negative(x: Any) -> torch.Tensor:
    """`-x`."""
    return torch.negative(convert_to_tensor(x))


@keras_op
def absolute(x: Any) -> torch.Tensor:
    """`|x|` (booleans are returned unchanged)."""
    x = convert_to_tensor(x)
    return x if x.dtype == torch.bool else torch.abs(x)


@keras_op
def abs(x: Any) -> torch.Tensor:
    """`|x|`; same as `absolute`."""
    return absolute(x)


@keras_op
def fabs(x: Any) -> torch.Tensor:
    """`|x|` as a float (`floatx()` for integer inputs).

    Raises:
        TypeError: for complex inputs.
    """
    x = convert_to_tensor(x)
    if x.dtype.is_complex:
        raise TypeError(f"Expected a real input to `fabs`. Received: x.dtype={x.dtype}. Use `abs` for complex values.")
    return torch.abs(_as_float(x))


@keras_op
def sign(x: Any) -> torch.Tensor:
    """-1, 0 or 1 by the sign of `x`, in `x`'s dtype."""
    return torch.sign(convert_to_tensor(x))


@keras_op
def signbit(x: Any) -> torch.Tensor:
    """True where the sign bit of `x` is set (negative values and -0.0)."""
    x = convert_to_tensor(x)
    return torch.signbit(x if x.dtype != torch.bool else x.to(torch.uint8))


@keras_op
def square(x: Any) -> torch.Tensor:
    """`x * x` (booleans become int32)."""
    x = convert_to_tensor(x)
    return torch.square(x.to(torch.int32) if x.dtype == torch.bool else x)


@keras_op
def sqrt(x: Any) -> torch.Tensor:
    """The square root, as a float."""
    return _unary_float(torch.sqrt, x)


@keras_op
def cbrt(x: Any) -> torch.Tensor:
    """The cube root (real, keeping the sign)."""
    x = convert_to_tensor(x)
    if x.dtype == torch.int64:
        x = x.to(torch.float64)
    x = _as_float(x)
    return torch.sign(x) * torch.abs(x).pow(1.0 / 3.0)


@keras_op
def reciprocal(x: Any) -> torch.Tensor:
    """`1 / x`, as a float."""
    return _unary_float(torch.reciprocal, x)


@keras_op
def exp(x: Any) -> torch.Tensor:
    """`e ** x`, as a float."""
    return _unary_float(torch.exp, x)


@keras_op
def exp2(x: Any) -> torch.Tensor:
    """`2 ** x`, as a float."""
    return _unary_float(torch.exp2, x)


@keras_op
def expm1(x: Any) -> torch.Tensor:
    """`exp(x) - 1`, accurate near 0."""
    return _unary_float(torch.expm1, x)


@keras_op
def log(x: Any) -> torch.Tensor:
    """The natural logarithm, as a float."""
    return _unary_float(torch.log, x)


@keras_op
def log2(x: Any) -> torch.Tensor:
    """The base-2 logarithm, as a float."""
    return _unary_float(torch.log2, x)


@keras_op
def log10(x: Any) -> torch.Tensor:
    """The base-10 logarithm, as a float."""
    return _unary_float(torch.log10, x)


@keras_op
def log1p(x: Any) -> torch.Tensor:
    """`log(1 + x)`, accurate near 0."""
    return _unary_float(torch.log1p, x)


@keras_op
def sin(x: Any) -> torch.Tensor:
    """The sine, as a float."""
    return _unary_float(torch.sin, x)


@keras_op
def cos(x: Any) -> torch.Tensor:
    """The cosine, as a float."""
    return _unary_float(torch.cos, x)


@keras_op
def tan(x: Any) -> torch.Tensor:
    """The tangent, as a float."""
    return _unary_float(torch.tan, x)


@keras_op
def arcsin(x: Any) -> torch.Tensor:
    """The inverse sine, as a float."""
    return _unary_float(torch.arcsin, x)


@keras_op
def arccos(x: Any) -> torch.Tensor:
    """The inverse cosine, as a float."""
    return _unary_float(torch.arccos, x)


@keras_op
def arctan(x: Any) -> torch.Tensor:
    """The inverse tangent, as a float."""
    return _unary_float(torch.arctan, x)


@keras_op
def sinh(x: Any) -> torch.Tensor:
    """The hyperbolic sine, as a float."""
    return _unary_float(torch.sinh, x)


@keras_op
def cosh(x: Any) -> torch.Tensor:
    """The hyperbolic cosine, as a float."""
    return _unary_float(torch.cosh, x)


@keras_op
def tanh(x: Any) -> torch.Tensor:
    """The hyperbolic tangent, as a float."""
    return _unary_float(torch.tanh, x)


@keras_op
def arcsinh(x: Any) -> torch.Tensor:
    """The inverse hyperbolic sine, as a float."""
    return _unary_float(torch.arcsinh, x)


@keras_op
def arccosh(x: Any) -> torch.Tensor:
    """The inverse hyperbolic cosine, as a float."""
    return _unary_float(torch.arccosh, x)


@keras_op
def arctanh(x: Any) -> torch.Tensor:
    """The inverse hyperbolic tangent, as a float."""
    return _unary_float(torch.arctanh, x)


@keras_op
def sinc(x: Any) -> torch.Tensor:
    """The normalized sinc, `sin(pi x) / (pi x)`."""
    return _unary_float(torch.sinc, x)


def _int64_to_float64(fn: Callable[[torch.Tensor], torch.Tensor], x: Any) -> torch.Tensor:
    x = convert_to_tensor(x)
    return fn(x.to(torch.float64) if x.dtype == torch.int64 else _as_float(x))


@keras_op
def deg2rad(x: Any) -> torch.Tensor:
    """Degrees to radians."""
    return _int64_to_float64(torch.deg2rad, x)


@keras_op
def rad2deg(x: Any) -> torch.Tensor:
    """Radians to degrees."""
    return _int64_to_float64(torch.rad2deg, x)


@keras_op
def i0(x: Any) -> torch.Tensor:
    """The modified Bessel function of the first kind, order 0."""
    return _int64_to_float64(torch.i0, x)


@keras_op
def arctan2(x1: Any, x2: Any) -> torch.Tensor:
    """The angle of the point `(x2, x1)`, in `(-pi, pi]`."""
    a, b, _ = promoted_pair(x1, x2, float, weak=False)
    return torch.arctan2(a, b)


@keras_op
def hypot(x1: Any, x2: Any) -> torch.Tensor:
    """`sqrt(x1**2 + x2**2)`, without intermediate overflow."""
    a, b = _float_pair_keeping_int64(x1, x2)
    return torch.hypot(a, b)


@keras_op
def heaviside(x1: Any, x2: Any) -> torch.Tensor:
    """The Heaviside step: 0 where `x1 < 0`, `x2` where `x1 == 0`, 1 where `x1 > 0`."""
    a, b = _float_pair_keeping_int64(x1, x2)
    return torch.heaviside(a, b)


def _float_pair_keeping_int64(x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = same_device_tensors(x1, x2)
    name = result_type(a.dtype, b.dtype)
    if name == "int64":
        dtype = torch.float64
    elif name != "bool" and not is_float_dtype(name):
        dtype = _floatx()
    else:
        dtype = to_torch_dtype(name)
    return a.to(dtype), b.to(dtype)


@keras_op
def logaddexp(x1: Any, x2: Any) -> torch.Tensor:
    """`log(exp(x1) + exp(x2))`, computed stably."""
    a, b, _ = promoted_pair(x1, x2, float, weak=False)
    return torch.logaddexp(a, b)


@keras_op
def logaddexp2(x1: Any, x2: Any) -> torch.Tensor:
    """`log2(2**x1 + 2**x2)`, computed stably."""
    a, b, _ = promoted_pair(x1, x2, float, weak=False)
    return torch.logaddexp2(a, b)


@keras_op
def ldexp(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 * 2**x2` for an integer exponent `x2`.

    Raises:
        TypeError: if `x2` is not an integer tensor.
    """
    a, b = same_device_tensors(x1, x2)
    if b.dtype.is_floating_point or b.dtype.is_complex or b.dtype == torch.bool:
        raise TypeError(
            f"Expected an integer exponent `x2`. Received: x2.dtype={b.dtype}. Cast it with `cast(x2, 'int32')`."
        )
    return torch.ldexp(a, b).to(to_torch_dtype(result_type(a.dtype, b.dtype, float)))


@keras_op
def nextafter(x1: Any, x2: Any) -> torch.Tensor:
    """The next float after `x1` towards `x2`."""
    a, b = same_device_tensors(x1, x2)
    name = result_type(a.dtype, b.dtype, float)
    return torch.nextafter(a.to(torch.float64), b.to(torch.float64)).to(to_torch_dtype(name))


@keras_op
def maximum(x1: Any, x2: Any) -> torch.Tensor:
    """The elementwise maximum (nan propagates), in Keras's promoted dtype.

    Example:
        >>> maximum(torch.tensor([-1.0, 2.0]), 0.0)
        tensor([0., 2.])
    """
    return _extremum(x1, x2, torch.maximum, "min")


@keras_op
def minimum(x1: Any, x2: Any) -> torch.Tensor:
    """The elementwise minimum (nan propagates), in Keras's promoted dtype."""
    return _extremum(x1, x2, torch.minimum, "max")


def _extremum(x1: Any, x2: Any, fn: Callable[..., torch.Tensor], clamp_side: str) -> torch.Tensor:
    # A tensor against a Python number is one fused clamp, with no scalar tensor to create.
    for tensor, scalar in ((x1, x2), (x2, x1)):
        if isinstance(tensor, torch.Tensor) and isinstance(scalar, (int, float)) and not isinstance(scalar, bool):
            if tensor.dtype in (torch.float32, torch.float16, torch.bfloat16):
                cast = tensor  # a Python number never widens these
            else:
                cast = tensor.to(to_torch_dtype(result_type(tensor.dtype, type(scalar))))
            return torch.clamp(cast, min=scalar) if clamp_side == "min" else torch.clamp(cast, max=scalar)
    a, b, _ = promoted_pair(x1, x2)
    return fn(a, b)


@keras_op
def fmax(x1: Any, x2: Any) -> torch.Tensor:
    """The elementwise maximum, ignoring nan where the other value is a number."""
    a, b, _ = promoted_pair(x1, x2)
    return torch.fmax(a, b)


@keras_op
def fmin(x1: Any, x2: Any) -> torch.Tensor:
    """The elementwise minimum, ignoring nan where the other value is a number."""
    a, b, _ = promoted_pair(x1, x2)
    return torch.fmin(a, b)


@keras_op
def floor(x: Any) -> torch.Tensor:
    """Rounds down, returning a float (as Keras does, even for integer inputs)."""
    x = convert_to_tensor(x)
    return torch.floor(x.to(_rounding_dtype(x)))


@keras_op
def ceil(x: Any) -> torch.Tensor:
    """Rounds up, returning a float (as Keras does, even for integer inputs)."""
    x = convert_to_tensor(x)
    return torch.ceil(x.to(_rounding_dtype(x)))


def _rounding_dtype(x: torch.Tensor) -> torch.dtype:
    return _floatx() if x.dtype == torch.int64 else _keras_float_of(x)


@keras_op
def trunc(x: Any) -> torch.Tensor:
    """Rounds toward zero, keeping the dtype."""
    x = convert_to_tensor(x)
    return x if x.dtype == torch.bool or not (x.dtype.is_floating_point) else torch.trunc(x)


@keras_op
def round(x: Any, decimals: int = 0) -> torch.Tensor:
    """Rounds half to even to `decimals` decimals, keeping the dtype."""
    x = convert_to_tensor(x)
    if x.dtype.is_floating_point:
        return torch.round(x, decimals=decimals)
    return torch.round(x.to(_floatx()), decimals=decimals).to(x.dtype)


@keras_op
def clip(x: Any, x_min: Any, x_max: Any) -> torch.Tensor:
    """Limits values to `[x_min, x_max]` (booleans are clipped as int32).

    Example:
        >>> clip(torch.tensor([-2, 0, 9]), 0, 5)
        tensor([0, 0, 5])
    """
    x = convert_to_tensor(x)
    if x.dtype == torch.bool:
        x = x.to(torch.int32)
    bounds = (x_min, x_max)
    if builtins.all(b is None or isinstance(b, (int, float)) for b in bounds):
        return torch.clamp(x, x_min, x_max)
    # torch takes both bounds as numbers or both as tensors.
    low, high = (None if b is None else convert_to_tensor(b, device=x.device) for b in bounds)
    return torch.clamp(x, low, high)


@keras_op
def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> torch.Tensor:
    """Replaces nan, +inf and -inf with finite numbers (the largest finite values by default)."""
    return torch.nan_to_num(convert_to_tensor(x), nan=nan, posinf=posinf, neginf=neginf)


# ----------------------------------------------------------------------------- comparisons and logic


@keras_op
def equal(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 == x2`, broadcast."""
    return torch.eq(*operand_pair(x1, x2))


@keras_op
def not_equal(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 != x2`, broadcast."""
    return torch.ne(*operand_pair(x1, x2))


@keras_op
def greater(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 > x2`, broadcast."""
    return torch.gt(*operand_pair(x1, x2))


@keras_op
def greater_equal(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 >= x2`, broadcast."""
    return torch.ge(*operand_pair(x1, x2))


@keras_op
def less(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 < x2`, broadcast."""
    return torch.lt(*operand_pair(x1, x2))


@keras_op
def less_equal(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 <= x2`, broadcast."""
    return torch.le(*operand_pair(x1, x2))


def _tensor_pair(x1: Any, x2: Any) -> list[torch.Tensor]:
    return same_device_tensors(x1, x2)


@keras_op
def logical_and(x1: Any, x2: Any) -> torch.Tensor:
    """Elementwise AND of the truth values."""
    return torch.logical_and(*_tensor_pair(x1, x2))


@keras_op
def logical_or(x1: Any, x2: Any) -> torch.Tensor:
    """Elementwise OR of the truth values."""
    return torch.logical_or(*_tensor_pair(x1, x2))


@keras_op
def logical_xor(x1: Any, x2: Any) -> torch.Tensor:
    """Elementwise XOR of the truth values."""
    return torch.logical_xor(*_tensor_pair(x1, x2))


@keras_op
def logical_not(x: Any) -> torch.Tensor:
    """Elementwise NOT of the truth values."""
    return torch.logical_not(convert_to_tensor(x))


@keras_op
def isnan(x: Any) -> torch.Tensor:
    """True where `x` is nan."""
    return torch.isnan(convert_to_tensor(x))


@keras_op
def isinf(x: Any) -> torch.Tensor:
    """True where `x` is +inf or -inf."""
    return torch.isinf(convert_to_tensor(x))


@keras_op
def isfinite(x: Any) -> torch.Tensor:
    """True where `x` is neither inf nor nan."""
    return torch.isfinite(convert_to_tensor(x))


@keras_op
def isneginf(x: Any) -> torch.Tensor:
    """True where `x` is -inf."""
    return torch.isneginf(convert_to_tensor(x))


@keras_op
def isposinf(x: Any) -> torch.Tensor:
    """True where `x` is +inf."""
    return torch.isposinf(convert_to_tensor(x))


@keras_op
def isreal(x: Any) -> torch.Tensor:
    """True where `x` has no imaginary part."""
    return torch.isreal(convert_to_tensor(x))


@keras_op
def isclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> torch.Tensor:
    """True where `|x1 - x2| <= atol + rtol * |x2|` (exact equality for integers)."""
    a, b, name = promoted_pair(x1, x2, weak=False)
    if is_float_dtype(name):
        return torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return torch.eq(a, b)


@keras_op
def allclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> torch.Tensor:
    """Whether `isclose` holds everywhere (a 0-d bool tensor)."""
    return torch.all(isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan))


@keras_op
def bitwise_and(x: Any, y: Any) -> torch.Tensor:
    """Bitwise AND of integers (or booleans)."""
    return torch.bitwise_and(*_tensor_pair(x, y))


@keras_op
def bitwise_or(x: Any, y: Any) -> torch.Tensor:
    """Bitwise OR of integers (or booleans)."""
    return torch.bitwise_or(*_tensor_pair(x, y))


@keras_op
def bitwise_xor(x: Any, y: Any) -> torch.Tensor:
    """Bitwise XOR of integers (or booleans)."""
    return torch.bitwise_xor(*_tensor_pair(x, y))


@keras_op
def bitwise_invert(x: Any) -> torch.Tensor:
    """Bitwise NOT of integers (logical NOT of booleans)."""
    return torch.bitwise_not(convert_to_tensor(x))


@keras_op
def bitwise_not(x: Any) -> torch.Tensor:
    """Same as `bitwise_invert`."""
    return bitwise_invert(x)


@keras_op
def bitwise_left_shift(x: Any, y: Any) -> torch.Tensor:
    """`x << y`."""
    x = convert_to_tensor(x)
    return torch.bitwise_left_shift(x, y if isinstance(y, int) else convert_to_tensor(y, device=x.device))


@keras_op
def left_shift(x: Any, y: Any) -> torch.Tensor:
    """Same as `bitwise_left_shift`."""
    return bitwise_left_shift(x, y)


@keras_op
def bitwise_right_shift(x: Any, y: Any) -> torch.Tensor:
    """`x >> y`."""
    x = convert_to_tensor(x)
    return torch.bitwise_right_shift(x, y if isinstance(y, int) else convert_to_tensor(y, device=x.device))


@keras_op
def right_shift(x: Any, y: Any) -> torch.Tensor:
    """Same as `bitwise_right_shift`."""
    return bitwise_right_shift(x, y)


@keras_op
def gcd(x1: Any, x2: Any) -> torch.Tensor:
    """The greatest common divisor of integers."""
    return torch.gcd(*_tensor_pair(x1, x2))


@keras_op
def lcm(x1: Any, x2: Any) -> torch.Tensor:
    """The least common multiple of integers."""
    return torch.lcm(*_tensor_pair(x1, x2))


@keras_op
def isin(x1: Any, x2: Any, assume_unique: bool = False, invert: bool = False) -> torch.Tensor:
    """True where an element of `x1` occurs in `x2` (False there when `invert`)."""
    a, b = _tensor_pair(x1, x2)
    if a.dtype == torch.bool or b.dtype == torch.bool:
        a, b = a.to(torch.int32), b.to(torch.int32)
    return torch.isin(a, b, assume_unique=assume_unique, invert=invert)


# ----------------------------------------------------------------------------- complex numbers


def _complex_input(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    return torch.as_tensor(np.asarray(x), device=creation_device())


@keras_op
def real(x: Any) -> torch.Tensor:
    """The real part."""
    return torch.real(_complex_input(x))


@keras_op
def imag(x: Any) -> torch.Tensor:
    """The imaginary part (zeros for real inputs)."""
    x = _complex_input(x)
    return torch.imag(x) if x.is_complex() else torch.zeros_like(x)


@keras_op
def conjugate(x: Any) -> torch.Tensor:
    """The complex conjugate."""
    return torch.conj(_complex_input(x)).resolve_conj()


@keras_op
def conj(x: Any) -> torch.Tensor:
    """Same as `conjugate`."""
    return conjugate(x)


@keras_op
def angle(x: Any) -> torch.Tensor:
    """The argument (phase angle) of complex values; 0 or pi for reals."""
    x = convert_to_tensor(x)
    return torch.angle(_as_float(x) if not x.is_complex() else x)


# ----------------------------------------------------------------------------- reductions


def _stack_if_sequence(x: Any) -> torch.Tensor:
    if isinstance(x, (list, tuple)) and builtins.any(isinstance(item, torch.Tensor) for item in x):
        return torch.stack(same_device_tensors(*x))
    return convert_to_tensor(x)


def _reduce(
    fn: Callable[..., torch.Tensor], x: torch.Tensor, axis: Any, keepdims: bool, **kwargs: Any
) -> torch.Tensor:
    """Applies a torch reduction with numpy's `axis`/`keepdims` meaning (None reduces everything)."""
    dim = standardize_axis(axis)
    if dim is None:
        result = fn(x, **kwargs)
        return _keep_all_dims(result, x.dim()) if keepdims else result
    return fn(x, dim=dim, keepdim=keepdims, **kwargs)


@keras_op
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The sum over `axis` (all axes when None); bool and 8/16-bit integers sum as int32.

    Example:
        >>> sum(torch.tensor([[True, True], [False, True]]), axis=0)
        tensor([1, 2], dtype=torch.int32)
    """
    x = _stack_if_sequence(x)
    if _is_empty_axis(axis):
        return x
    # torch sums integers as int64; Keras keeps the input's width (at least int32).
    dtype = torch.int32 if x.dtype in _SMALL_INTS else x.dtype
    return _reduce(torch.sum, x, axis, keepdims, dtype=dtype)


@keras_op
def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> torch.Tensor:
    """The product over `axis`; small integers multiply as int32 and 64-bit types narrow to 32 bits."""
    x = convert_to_tensor(x)
    if _is_empty_axis(axis):
        return x
    if dtype is None:
        out = torch.int32 if x.dtype in _SMALL_INTS else to_torch_dtype(result_type(x.dtype))
    else:
        out = to_torch_dtype(dtype)
    compute = torch.float32 if out == torch.float16 and x.device.type == "cpu" else out
    dim = standardize_axis(axis)
    if dim is None:
        result = torch.prod(x, dtype=compute).to(out)
        return _keep_all_dims(result, x.dim()) if keepdims else result
    dims = (dim,) if isinstance(dim, int) else dim
    for d in sorted((canonicalize_axis(d, x.dim()) for d in dims), reverse=True):
        x = torch.prod(x, dim=d, keepdim=keepdims, dtype=compute)
    return x.to(out)


@keras_op
def mean(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The arithmetic mean over `axis`; integers give `float32`, half floats are averaged in float32.

    Example:
        >>> mean(torch.tensor([1, 2]))
        tensor(1.5000)
    """
    x = _stack_if_sequence(x)
    if _is_empty_axis(axis):
        return x
    if x.dtype in (torch.float32, torch.float64) or x.is_complex():
        return _reduce(torch.mean, x, axis, keepdims)
    out = x.dtype if x.dtype.is_floating_point else to_torch_dtype(result_type(x.dtype, "float32"))
    return _reduce(torch.mean, x.to(torch.float32), axis, keepdims).to(out)


@keras_op
def var(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The (biased, as numpy) variance over `axis`, as a float."""
    x = convert_to_tensor(x)
    out = _keras_float_of(x)
    if _is_empty_axis(axis):
        return torch.zeros_like(x, dtype=out)
    compute = x.dtype if x.dtype == torch.float64 else torch.float32
    return _reduce(torch.var, x.to(compute), axis, keepdims, correction=0).to(out)


@keras_op
def std(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The (biased, as numpy) standard deviation over `axis`, as a float."""
    x = convert_to_tensor(x)
    if not x.dtype.is_floating_point:
        x = x.to(torch.float32)
    if _is_empty_axis(axis):
        return torch.zeros_like(x)
    return _reduce(torch.std, x, axis, keepdims, correction=0)


def _extreme_value(
    x: Any,
    axis: Any,
    keepdims: bool,
    initial: Any,
    fn: Callable[..., torch.Tensor],
    combine: Callable[..., torch.Tensor],
    name: str,
) -> torch.Tensor:
    x = convert_to_tensor(x)
    if x.numel() == 0:
        if initial is None:
            raise ValueError(
                f"Expected a non-empty tensor for `{name}`, or an `initial` value. Received: x.shape="
                f"{tuple(x.shape)}. Pass initial=... to give empty inputs a result."
            )
        return torch.full((1,) * x.dim() if keepdims else (), initial, device=x.device)
    result = x if _is_empty_axis(axis) else _reduce(fn, x, axis, keepdims)
    if initial is not None:
        result = combine(result, torch.tensor(initial, dtype=result.dtype, device=result.device))
    return result


@keras_op
def max(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:
    """The largest value over `axis` (all axes when None), at least `initial` when given.

    Raises:
        ValueError: for an empty tensor without `initial`.

    Example:
        >>> max(torch.tensor([[1, 5], [3, 2]]), axis=1)
        tensor([5, 3])
    """
    return _extreme_value(x, axis, keepdims, initial, torch.amax, torch.maximum, "max")


@keras_op
def min(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:
    """The smallest value over `axis` (all axes when None), at most `initial` when given.

    Raises:
        ValueError: for an empty tensor without `initial`.
    """
    return _extreme_value(x, axis, keepdims, initial, torch.amin, torch.minimum, "min")


@keras_op
def amax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The largest value over `axis` (all axes when None)."""
    x = convert_to_tensor(x)
    return x if _is_empty_axis(axis) else _reduce(torch.amax, x, axis, keepdims)


@keras_op
def amin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The smallest value over `axis` (all axes when None)."""
    x = convert_to_tensor(x)
    return x if _is_empty_axis(axis) else _reduce(torch.amin, x, axis, keepdims)


@keras_op
def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The range `max - min` over `axis`."""
    x = convert_to_tensor(x)
    if _is_empty_axis(axis):
        return torch.zeros_like(x)
    return _reduce(torch.amax, x, axis, keepdims) - _reduce(torch.amin, x, axis, keepdims)


@keras_op
def all(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Whether every element over `axis` is true."""
    x = convert_to_tensor(x)
    if _is_empty_axis(axis):
        return x.to(torch.bool)
    return _reduce(torch.all, x, axis, keepdims).to(torch.bool)


@keras_op
def any(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Whether some element over `axis` is true."""
    x = convert_to_tensor(x)
    if _is_empty_axis(axis):
        return x.to(torch.bool)
    return _reduce(torch.any, x, axis, keepdims).to(torch.bool)


def _arg_extreme(fn: Callable[..., torch.Tensor], x: Any, axis: Any, keepdims: bool) -> torch.Tensor:
    x = convert_to_tensor(x)
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    if axis is None:
        result = fn(x.reshape(-1))
        return (_keep_all_dims(result, x.dim()) if keepdims else result).to(torch.int32)
    return fn(x, dim=int(axis), keepdim=keepdims).to(torch.int32)


@keras_op
def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    """The index (int32) of the largest value along `axis` (of the flattened tensor when None).

    Example:
        >>> argmax(torch.tensor([[1, 5], [3, 2]]), axis=1)
        tensor([1, 0], dtype=torch.int32)
    """
    return _arg_extreme(torch.argmax, x, axis, keepdims)


@keras_op
def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    """The index (int32) of the smallest value along `axis` (of the flattened tensor when None)."""
    return _arg_extreme(torch.argmin, x, axis, keepdims)


@keras_op
def count_nonzero(x: Any, axis: Any = None) -> torch.Tensor:
    """The number of non-zero values over `axis`, as int32."""
    x = convert_to_tensor(x)
    if _is_empty_axis(axis):
        return torch.ne(x, 0).to(torch.int32)
    return torch.count_nonzero(x, dim=standardize_axis(axis)).to(torch.int32)


def _cumulative(fn: Callable[..., torch.Tensor], x: Any, axis: Any, dtype: Any) -> torch.Tensor:
    x = convert_to_tensor(x)
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    out = to_torch_dtype(result_type(x.dtype if dtype is None else dtype))
    if out == torch.bool:
        out = torch.int32
    if out == torch.float16 and x.device.type == "cpu":
        return fn(x, dim=int(axis), dtype=torch.float32).to(out)
    return fn(x, dim=int(axis), dtype=out)


@keras_op
def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """The running sum along `axis` (of the flattened tensor when None).

    Example:
        >>> cumsum(torch.tensor([1, 2, 3]))
        tensor([1, 3, 6], dtype=torch.int32)
    """
    return _cumulative(torch.cumsum, x, axis, dtype)


@keras_op
def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """The running product along `axis` (of the flattened tensor when None)."""
    return _cumulative(torch.cumprod, x, axis, dtype)


def _to_last(x: torch.Tensor, axis: Any) -> tuple[torch.Tensor, tuple[int, ...] | None]:
    """`x` with the `axis` dimensions merged into one last dimension (all of them when None)."""
    if axis is None:
        return x.reshape(-1), None
    dims = (axis,) if isinstance(axis, int) else tuple(axis)
    dims = tuple(sorted(canonicalize_axis(d, x.dim()) for d in dims))
    others = [d for d in range(x.dim()) if d not in dims]
    moved = x.permute(*others, *dims)
    return moved.reshape(*[x.shape[d] for d in others], -1), dims


def _quantile(
    fn: Callable[..., torch.Tensor], x: Any, q: Any, axis: Any, method: str, keepdims: bool
) -> torch.Tensor:
    x = convert_to_tensor(x)
    out = _keras_float_of(x)
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    x = x.to(compute)
    q_t = convert_to_tensor(q, compute, x.device)
    flat, dims = _to_last(x, standardize_axis(axis))
    result = fn(flat, q_t, dim=-1, interpolation=method)
    if keepdims:
        offset = 1 if q_t.dim() > 0 else 0
        for d in range(x.dim()) if dims is None else dims:
            result = result.unsqueeze(d + offset)
    return result.to(out)


@keras_op
def quantile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> torch.Tensor:
    """The `q`-th quantiles (`q` in [0, 1]) over `axis`; `method` as in numpy (`"linear"`, `"lower"`, ...)."""
    return _quantile(torch.quantile, x, q, axis, method, keepdims)


@keras_op
def percentile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> torch.Tensor:
    """The `q`-th percentiles (`q` in [0, 100]) over `axis`."""
    return _quantile(torch.quantile, x, _percent(q), axis, method, keepdims)


def _percent(q: Any) -> torch.Tensor:
    return convert_to_tensor(q, torch.float64) / 100.0


@keras_op
def median(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The median over `axis` (the mean of the two middle values for even counts, as numpy)."""
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


@keras_op
def average(x: Any, axis: int | None = None, weights: Any = None) -> torch.Tensor:
    """The (weighted) mean over `axis`; `weights` has `x`'s shape or the length of `axis`.

    Raises:
        ValueError: if 1-D `weights` are given without `axis`, or do not match `x`.
    """
    x = convert_to_tensor(x)
    types = [x.dtype, float]
    w = None
    if weights is not None:
        w = convert_to_tensor(weights, device=x.device)
        types.append(w.dtype)
    dtype = to_torch_dtype(result_type(*types))
    x = x.to(dtype)
    if _is_empty_axis(axis):
        return x
    if w is None:
        return _reduce(torch.mean, x, axis, False)
    w = w.to(dtype)
    if w.shape != x.shape:
        if axis is None or w.dim() != 1 or w.shape[0] != x.shape[axis]:
            raise ValueError(
                f"Expected `weights` of shape {tuple(x.shape)}, or 1-D of length x.shape[axis] with an "
                f"`axis`. Received: weights.shape={tuple(w.shape)}, axis={axis!r}. Pass matching weights."
            )
        shape = [1] * x.dim()
        shape[canonicalize_axis(int(axis), x.dim())] = w.shape[0]
        w = w.reshape(shape)
    weighted = _reduce(torch.sum, x * w, axis, False)
    total = _reduce(torch.sum, torch.broadcast_to(w, x.shape), axis, False)
    return weighted / total


@keras_op
def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> torch.Tensor:
    """The sum along a diagonal (bool and small integers sum as int32)."""
    x = convert_to_tensor(x)
    dtype = torch.int32 if x.dtype in _SMALL_INTS else x.dtype
    return torch.sum(torch.diagonal(x, offset, axis1, axis2), dim=-1, dtype=dtype)


# ----------------------------------------------------------------------------- nan-aware reductions


@keras_op
def nansum(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`sum`, treating nan as 0."""
    x = _stack_if_sequence(x)
    out = torch.int32 if x.dtype in _SMALL_INTS else x.dtype
    if _is_empty_axis(axis):
        return torch.nan_to_num(x, nan=0).to(out)
    if not x.dtype.is_floating_point:
        return sum(x, axis, keepdims).to(out)
    return _reduce(torch.nansum, x, axis, keepdims).to(out)


@keras_op
def nanprod(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`prod`, treating nan as 1."""
    x = convert_to_tensor(x)
    if _is_empty_axis(axis):
        return torch.nan_to_num(x, nan=1)
    if x.dtype.is_floating_point:
        x = torch.where(torch.isnan(x), torch.ones((), dtype=x.dtype, device=x.device), x)
    return prod(x, axis, keepdims)


@keras_op
def nanmean(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`mean`, ignoring nan (nan where every value is nan)."""
    x = convert_to_tensor(x)
    if _is_empty_axis(axis):
        return x
    return _reduce(torch.nanmean, x.to(_keras_float_of(x)), axis, keepdims)


@keras_op
def nanvar(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`var`, ignoring nan."""
    x = convert_to_tensor(x)
    x = x.to(_keras_float_of(x))
    if _is_empty_axis(axis):
        return torch.where(torch.isnan(x), x, torch.zeros((), dtype=x.dtype, device=x.device))
    valid = ~torch.isnan(x)
    centered = torch.where(valid, x - nanmean(x, axis, keepdims=True), torch.zeros((), dtype=x.dtype, device=x.device))
    count = _reduce(torch.sum, valid, axis, keepdims)
    return _reduce(torch.sum, centered.square(), axis, keepdims) / count


@keras_op
def nanstd(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`std`, ignoring nan."""
    return torch.sqrt(nanvar(x, axis, keepdims))


def _nan_extreme(x: Any, axis: Any, keepdims: bool, fn: Callable[..., torch.Tensor], fill: float) -> torch.Tensor:
    x = convert_to_tensor(x)
    if not x.dtype.is_floating_point:
        return x if _is_empty_axis(axis) else _reduce(fn, x, axis, keepdims)
    if _is_empty_axis(axis):
        return x
    nan = torch.isnan(x)
    result = _reduce(fn, torch.where(nan, fill, x), axis, keepdims)
    return torch.where(_reduce(torch.all, nan, axis, keepdims), float("nan"), result)


@keras_op
def nanmax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`max`, ignoring nan (nan where every value is nan)."""
    return _nan_extreme(x, axis, keepdims, torch.amax, float("-inf"))


@keras_op
def nanmin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`min`, ignoring nan (nan where every value is nan)."""
    return _nan_extreme(x, axis, keepdims, torch.amin, float("inf"))


def _nan_arg(x: Any, axis: Any, keepdims: bool, fn: Callable[..., torch.Tensor], fill: float) -> torch.Tensor:
    x = convert_to_tensor(x)
    if not x.dtype.is_floating_point:
        return _arg_extreme(fn, x, axis, keepdims)
    nan = torch.isnan(x)
    index = _arg_extreme(fn, torch.where(nan, fill, x), axis, keepdims)
    all_nan = _reduce(torch.all, nan, axis, keepdims)
    return torch.where(all_nan, torch.tensor(-1, dtype=torch.int32, device=x.device), index)


@keras_op
def nanargmax(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    """`argmax`, ignoring nan (-1 where every value is nan)."""
    return _nan_arg(x, axis, keepdims, torch.argmax, float("-inf"))


@keras_op
def nanargmin(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    """`argmin`, ignoring nan (-1 where every value is nan)."""
    return _nan_arg(x, axis, keepdims, torch.argmin, float("inf"))


@keras_op
def nancumsum(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """`cumsum`, treating nan as 0."""
    return cumsum(nan_to_num(x, nan=0.0), axis=axis, dtype=dtype)


@keras_op
def nancumprod(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """`cumprod`, treating nan as 1."""
    return cumprod(nan_to_num(x, nan=1.0), axis=axis, dtype=dtype)


@keras_op
def nanquantile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> torch.Tensor:
    """`quantile`, ignoring nan."""
    return _quantile(torch.nanquantile, x, q, axis, method, keepdims)


@keras_op
def nanpercentile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> torch.Tensor:
    """`percentile`, ignoring nan."""
    return _quantile(torch.nanquantile, x, _percent(q), axis, method, keepdims)


@keras_op
def nanmedian(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`median`, ignoring nan."""
    x = convert_to_tensor(x)
    if _is_empty_axis(axis):
        return x
    return nanquantile(x, 0.5, axis=axis, keepdims=keepdims)


# ----------------------------------------------------------------------------- shapes


@keras_op
def reshape(x: Any, newshape: Any) -> torch.Tensor:
    """`x` with shape `newshape` (one entry may be -1).

    Raises:
        ValueError: if `newshape` has more than one -1 or a negative size.
    """
    shape = _shape_tuple(newshape)
    if builtins.sum(1 for s in shape if s == -1) > 1 or builtins.any(s < -1 for s in shape):
        raise ValueError(
            f"Expected a shape of non-negative sizes with at most one -1. {received('newshape', newshape)} "
            "Give every dimension but one explicitly."
        )
    return torch.reshape(convert_to_tensor(x), shape)


@keras_op
def ravel(x: Any) -> torch.Tensor:
    """`x` flattened to 1-D."""
    return torch.ravel(convert_to_tensor(x))


@keras_op
def transpose(x: Any, axes: Sequence[int] | None = None) -> torch.Tensor:
    """`x` with its axes permuted (reversed when `axes` is None)."""
    x = convert_to_tensor(x)
    if axes is None:
        return x.permute(*reversed(range(x.dim())))
    return x.permute(*axes)


@keras_op
def moveaxis(x: Any, source: Any, destination: Any) -> torch.Tensor:
    """`x` with axes `source` moved to positions `destination`."""
    return torch.moveaxis(convert_to_tensor(x), source, destination)


@keras_op
def swapaxes(x: Any, axis1: int, axis2: int) -> torch.Tensor:
    """`x` with two axes interchanged."""
    return torch.swapaxes(convert_to_tensor(x), axis1, axis2)


@keras_op
def expand_dims(x: Any, axis: Any) -> torch.Tensor:
    """`x` with new size-1 axes inserted at `axis` (an int or a tuple)."""
    x = convert_to_tensor(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out_ndim = x.dim() + len(axes)
    for a in sorted(canonicalize_axis(a, out_ndim) for a in axes):
        x = torch.unsqueeze(x, a)
    return x


@keras_op
def squeeze(x: Any, axis: Any = None) -> torch.Tensor:
    """`x` without its size-1 axes (only those in `axis` when given).

    Raises:
        ValueError: if an axis in `axis` does not have size 1.
    """
    x = convert_to_tensor(x)
    if axis is None:
        return torch.squeeze(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(canonicalize_axis(a, x.dim()) for a in axes)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(
                f"Expected axis {a} to have size 1 to squeeze it. Received: x.shape={tuple(x.shape)}, "
                f"axis={axis!r}. Pass only axes of size 1."
            )
    return torch.squeeze(x, axes)


@keras_op
def broadcast_to(x: Any, shape: Any) -> torch.Tensor:
    """`x` broadcast to `shape` (a view, no copy)."""
    return torch.broadcast_to(convert_to_tensor(x), _shape_tuple(shape))


@keras_op
def flip(x: Any, axis: Any = None) -> torch.Tensor:
    """`x` reversed along `axis` (all axes when None)."""
    x = convert_to_tensor(x)
    dims = tuple(range(x.dim())) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    return torch.flip(x, dims)


@keras_op
def fliplr(x: Any) -> torch.Tensor:
    """`x` reversed along axis 1."""
    return torch.fliplr(convert_to_tensor(x))


@keras_op
def flipud(x: Any) -> torch.Tensor:
    """`x` reversed along axis 0."""
    return torch.flipud(convert_to_tensor(x))


@keras_op
def roll(x: Any, shift: Any, axis: Any = None) -> torch.Tensor:
    """`x` shifted circularly by `shift` along `axis` (over the flattened tensor when None)."""
    x = convert_to_tensor(x)
    if axis is None:
        return torch.roll(x, shift)
    return torch.roll(x, shift, axis)


@keras_op
def rot90(array: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """`array` rotated by 90 degrees `k` times in the plane of `axes`.

    Raises:
        ValueError: if `array` has fewer than 2 dimensions or `axes` are not two distinct axes.
    """
    x = convert_to_tensor(array)
    if x.dim() < 2:
        raise ValueError(f"Expected an input of rank >= 2. Received: array.shape={tuple(x.shape)}.")
    if len(axes) != 2 or canonicalize_axis(axes[0], x.dim()) == canonicalize_axis(axes[1], x.dim()):
        raise ValueError(f"Expected two different axes. {received('axes', axes)} Pass e.g. axes=(0, 1).")
    return torch.rot90(x, k, [canonicalize_axis(a, x.dim()) for a in axes])


@keras_op
def tile(x: Any, repeats: Any) -> torch.Tensor:
    """`x` repeated `repeats` times along each axis."""
    reps = _shape_tuple(repeats)
    return torch.tile(convert_to_tensor(x), reps)


@keras_op
def repeat(x: Any, repeats: Any, axis: int | None = None) -> torch.Tensor:
    """Each element of `x` repeated `repeats` times along `axis` (of the flattened tensor when None)."""
    x = convert_to_tensor(x)
    if isinstance(repeats, (list, tuple)):
        repeats = convert_to_tensor(repeats, torch.int64, x.device)
    elif isinstance(repeats, torch.Tensor):
        repeats = repeats.to(torch.int64)
    return torch.repeat_interleave(x, repeats, dim=axis)


@keras_op
def concatenate(xs: Sequence[Any], axis: int | None = 0) -> torch.Tensor:
    """The tensors in `xs` joined along an existing `axis` (flattened first when None)."""
    tensors = same_device_tensors(*xs)
    if axis is None:
        return torch.cat([t.reshape(-1) for t in tensors])
    return torch.cat(tensors, dim=axis)


@keras_op
def stack(x: Sequence[Any], axis: int = 0) -> torch.Tensor:
    """The tensors in `x` joined along a new `axis`."""
    return torch.stack(same_device_tensors(*x), dim=axis)


@keras_op
def hstack(xs: Sequence[Any]) -> torch.Tensor:
    """The tensors joined column-wise (axis 1, or 0 for 1-D inputs)."""
    return torch.hstack(same_device_tensors(*xs))


@keras_op
def vstack(xs: Sequence[Any]) -> torch.Tensor:
    """The tensors joined row-wise (along axis 0 after making them at least 2-D)."""
    return torch.vstack(same_device_tensors(*xs))


@keras_op
def dstack(xs: Sequence[Any]) -> torch.Tensor:
    """The tensors joined depth-wise (along axis 2 after making them at least 3-D)."""
    return torch.dstack(same_device_tensors(*xs))


@keras_op
def append(x1: Any, x2: Any, axis: int | None = None) -> torch.Tensor:
    """`x2` appended to `x1` along `axis` (both flattened when None)."""
    return concatenate([x1, x2], axis=axis)


def _split_sizes(length: int, indices_or_sections: Any, axis: int) -> list[int]:
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or length % indices_or_sections:
            raise ValueError(
                f"Expected a number of sections that divides x.shape[{axis}]={length} evenly. "
                f"{received('indices_or_sections', indices_or_sections)} Use `array_split` for uneven parts."
            )
        return [length // indices_or_sections] * indices_or_sections
    bounds = [0, *(builtins.min(builtins.max(int(i), 0), length) for i in _int_values(indices_or_sections)), length]
    return [builtins.max(b - a, 0) for a, b in itertools.pairwise(bounds)]


def _int_values(values: Any) -> list[int]:
    if isinstance(values, torch.Tensor):
        return [int(v) for v in values.tolist()]
    return [int(v) for v in values]


@keras_op
def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[torch.Tensor]:
    """`x` split into equal sections (an int) or at the given indices along `axis`.

    Raises:
        ValueError: when an int number of sections does not divide the axis.

    Example:
        >>> [t.tolist() for t in split(torch.arange(6), [2, 5])]
        [[0, 1], [2, 3, 4], [5]]
    """
    x = convert_to_tensor(x)
    sizes = _split_sizes(x.shape[axis], indices_or_sections, axis)
    return list(torch.split(x, sizes, dim=axis))


@keras_op
def array_split(x: Any, indices_or_sections: int, axis: int = 0) -> list[torch.Tensor]:
    """`x` split into `indices_or_sections` nearly equal parts (the first ones one longer).

    Raises:
        TypeError: if `indices_or_sections` or `axis` is not an int.
        ValueError: if `indices_or_sections` is not positive.
    """
    if not isinstance(indices_or_sections, int) or isinstance(indices_or_sections, bool):
        raise TypeError(
            f"Expected an int number of sections. {received('indices_or_sections', indices_or_sections)} "
            "Use `split` to split at given indices."
        )
    if indices_or_sections <= 0:
        raise ValueError(
            f"Expected a positive number of sections. {received('indices_or_sections', indices_or_sections)}"
        )
    if not isinstance(axis, int):
        raise TypeError(f"Expected `axis` to be an int. {received('axis', axis)}")
    return list(torch.tensor_split(convert_to_tensor(x), indices_or_sections, dim=axis))


@keras_op
def hsplit(x: Any, indices_or_sections: Any) -> list[torch.Tensor]:
    """`split` along axis 1 (axis 0 for 1-D inputs)."""
    x = convert_to_tensor(x)
    return split(x, indices_or_sections, axis=1 if x.dim() > 1 else 0)


@keras_op
def vsplit(x: Any, indices_or_sections: Any) -> list[torch.Tensor]:
    """`split` along axis 0."""
    return split(x, indices_or_sections, axis=0)


@keras_op
def dsplit(x: Any, indices_or_sections: Any) -> list[torch.Tensor]:
    """`split` along axis 2."""
    return split(x, indices_or_sections, axis=2)


@keras_op
def tril(x: Any, k: int = 0) -> torch.Tensor:
    """`x` with the elements above the `k`-th diagonal zeroed."""
    return torch.tril(convert_to_tensor(x), diagonal=k)


@keras_op
def triu(x: Any, k: int = 0) -> torch.Tensor:
    """`x` with the elements below the `k`-th diagonal zeroed."""
    return torch.triu(convert_to_tensor(x), diagonal=k)


@keras_op
def diag(x: Any, k: int = 0) -> torch.Tensor:
    """The `k`-th diagonal of a 2-D `x`, or a 2-D tensor with 1-D `x` on that diagonal."""
    return torch.diag(convert_to_tensor(x), diagonal=k)


@keras_op
def diagflat(x: Any, k: int = 0) -> torch.Tensor:
    """A 2-D tensor with the flattened `x` on the `k`-th diagonal."""
    return torch.diagflat(convert_to_tensor(x), offset=k)


@keras_op
def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> torch.Tensor:
    """The diagonal in the plane of `axis1`, `axis2`, as the last axis.

    Raises:
        ValueError: if `axis1` and `axis2` are the same axis.
    """
    x = convert_to_tensor(x)
    if canonicalize_axis(axis1, x.dim()) == canonicalize_axis(axis2, x.dim()):
        raise ValueError(
            f"Expected two different axes. Received: axis1={axis1}, axis2={axis2}. Pass two distinct axes."
        )
    return torch.diagonal(x, offset=offset, dim1=axis1, dim2=axis2)


@keras_op
def diff(a: Any, n: int = 1, axis: int = -1) -> torch.Tensor:
    """The `n`-th discrete difference along `axis`."""
    return torch.diff(convert_to_tensor(a), n=n, dim=axis)


def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    if isinstance(pad_width, torch.Tensor):
        pad_width = pad_width.tolist()
    if isinstance(pad_width, (int, np.integer)):
        return [(int(pad_width), int(pad_width))] * ndim
    pad_width = list(pad_width)
    if pad_width and isinstance(pad_width[0], (int, np.integer)):
        pad_width = [tuple(pad_width)]
    pairs = [(int(p[0]), int(p[-1])) for p in pad_width]
    if len(pairs) == 1:
        return pairs * ndim
    if len(pairs) != ndim:
        raise ValueError(
            f"Expected one (before, after) pair per axis of x ({ndim}), or a single pair for all. "
            f"{received('pad_width', pad_width)} Give {ndim} pairs."
        )
    return pairs


@keras_op
def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> torch.Tensor:
    """`x` padded by `pad_width`: an int, one `(before, after)` pair for every axis, or a pair per axis.

    Modes: `"constant"` (with `constant_values`, default 0), `"edge"`, `"reflect"` (mirror
    without the edge), `"symmetric"` (mirror with the edge) and `"wrap"`, as in numpy.

    Raises:
        ValueError: for an unknown mode, `constant_values` with another mode, or mismatched pairs.

    Example:
        >>> pad(torch.tensor([1, 2, 3]), (2, 1), mode="reflect")
        tensor([3, 2, 1, 2, 3, 2])
    """
    modes = ("constant", "edge", "reflect", "symmetric", "wrap")
    if mode not in modes:
        raise ValueError(f"Expected `mode` to be one of {modes}. {received('mode', mode)} Pass one of them.")
    if constant_values is not None and mode != "constant":
        raise ValueError(
            f"Expected `constant_values` only with mode='constant'. Received: mode={mode!r}. "
            "Drop `constant_values` or use mode='constant'."
        )
    x = convert_to_tensor(x)
    pairs = _pad_widths(pad_width, x.dim())
    if mode == "constant":
        flat: list[int] = []
        for before, after in reversed(pairs):
            flat.extend((before, after))
        return tnn.pad(x, flat, value=0 if constant_values is None else constant_values)
    for axis, (before, after) in enumerate(pairs):
        if before or after:
            length = x.shape[axis]
            positions = torch.arange(-before, length + after, device=x.device)
            x = torch.index_select(x, axis, fold_index(positions, length, mode))
    return x


# ----------------------------------------------------------------------------- indexing and selection


def _wrap_negative(indices: torch.Tensor, length: int) -> torch.Tensor:
    return torch.where(indices < 0, indices + length, indices)


@keras_op
def take(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    """Elements of `x` at `indices` along `axis` (of the flattened tensor when None).

    Negative indices count from the end. Taking rows of a 2-D tensor (axis 0) is an embedding lookup.

    Example:
        >>> take(torch.tensor([[1, 2], [3, 4]]), [1, -2], axis=0)
        tensor([[3, 4],
                [1, 2]])
    """
    x = convert_to_tensor(x)
    idx = convert_to_tensor(indices, device=x.device).long()
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    axis = canonicalize_axis(axis, x.dim())
    idx = _wrap_negative(idx, x.shape[axis])
    if x.dim() == 2 and axis == 0 and x.dtype.is_floating_point:
        return tnn.embedding(idx, x)
    picked = torch.index_select(x, axis, idx.reshape(-1))
    return picked.reshape(*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :])


@keras_op
def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    """Elements of `x` at `indices` matched along `axis` (indices broadcast against `x`)."""
    x = convert_to_tensor(x)
    idx = convert_to_tensor(indices, device=x.device).long()
    if axis is None:
        x = x.reshape(-1)
        idx = idx.reshape(-1)
        axis = 0
    idx = _wrap_negative(idx, x.shape[axis])
    return torch.take_along_dim(x, idx, dim=axis)


@keras_op
def get_item(x: Any, key: Any) -> torch.Tensor:
    """`x[key]`."""
    return convert_to_tensor(x)[key]


@keras_op
def where(condition: Any, x1: Any = None, x2: Any = None) -> torch.Tensor:
    """`x1` where `condition` holds, else `x2`; with only `condition`, the stacked indices of its true values.

    Raises:
        ValueError: if only one of `x1` and `x2` is given.

    Example:
        >>> where(torch.tensor([True, False]), 1, 0)
        tensor([1, 0], dtype=torch.int32)
    """
    if (x1 is None) != (x2 is None):
        raise ValueError(
            f"Expected both `x1` and `x2`, or neither. Received: x1={x1!r}, x2={x2!r}. Pass both values."
        )
    cond = convert_to_tensor(condition).to(torch.bool)
    if x1 is None:
        return torch.stack(torch.where(cond), dim=0)
    if not isinstance(x1, torch.Tensor) and not isinstance(x2, torch.Tensor):
        # Two values that are not tensors join the condition's device.
        x1, x2 = (convert_to_tensor(v, device=cond.device) for v in (x1, x2))
    a, b = operand_pair(x1, x2)
    # A 0-d CPU operand rides along with any device; the condition must join the others.
    for value in (a, b):
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.device != cond.device:
            cond = cond.to(value.device)
            break
    return torch.where(cond, a, b)


@keras_op
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> torch.Tensor:
    """For each element, the value from the first `choicelist` entry whose condition holds, else `default`.

    Raises:
        ValueError: if the lists are not lists, are empty, or differ in length.
    """
    if not isinstance(condlist, (list, tuple)) or not isinstance(choicelist, (list, tuple)):
        raise ValueError(
            f"Expected lists for `condlist` and `choicelist`. Received: condlist of type "
            f"{type(condlist).__name__}, choicelist of type {type(choicelist).__name__}. Pass lists."
        )
    if not condlist or not choicelist or len(condlist) != len(choicelist):
        raise ValueError(
            f"Expected non-empty `condlist` and `choicelist` of equal length. Received: {len(condlist)} "
            f"conditions and {len(choicelist)} choices."
        )
    tensors = same_device_tensors(*condlist, *choicelist, default)
    conds, choices, out = tensors[: len(condlist)], tensors[len(condlist) : -1], tensors[-1]
    for c, v in zip(reversed(conds), reversed(choices)):
        out = torch.where(c.to(torch.bool), v, out)
    return out


@keras_op
def nonzero(x: Any) -> torch.Tensor:
    """The indices of the non-zero values, as an int32 tensor of shape `(x.ndim, count)`."""
    return torch.nonzero(convert_to_tensor(x)).T.to(torch.int32)


@keras_op
def searchsorted(sorted_sequence: Any, values: Any, side: str = "left") -> torch.Tensor:
    """Where `values` would be inserted into the 1-D `sorted_sequence` to keep it sorted (int32).

    Raises:
        ValueError: if `sorted_sequence` is not 1-D.
    """
    seq, vals = same_device_tensors(sorted_sequence, values)
    if seq.dim() != 1:
        raise ValueError(
            f"Expected a 1-D `sorted_sequence`. Received: sorted_sequence.shape={tuple(seq.shape)}. "
            "Use `vectorized_map` for batched sequences."
        )
    return torch.searchsorted(seq, vals.to(seq.dtype), side=side, out_int32=True)


@keras_op
def digitize(x: Any, bins: Any) -> torch.Tensor:
    """The index of the bin each value of `x` falls into (int32), as `numpy.digitize`."""
    values, edges = same_device_tensors(x, bins)
    if values.dtype == torch.bool:
        values = values.to(torch.uint8)
    return torch.bucketize(values, edges, right=True).to(torch.int32)


@keras_op
def bincount(x: Any, weights: Any = None, minlength: int = 0, sparse: bool = False) -> torch.Tensor:
    """How often each non-negative integer occurs in `x` (per row for 2-D `x`), optionally weighted.

    Raises:
        ValueError: for `sparse=True`.
    """
    if sparse:
        raise ValueError(f"Expected sparse=False: kfit's tensors are dense. {received('sparse', sparse)}")
    x = convert_to_tensor(x)
    w = None if weights is None else convert_to_tensor(weights, device=x.device)
    out = torch.int32 if w is None else to_torch_dtype(result_type(x.dtype, w.dtype))
    length = builtins.max(int(x.max()) + 1 if x.numel() else 0, minlength)
    if x.dim() == 2:
        rows = x.shape[0]
        offsets = (torch.arange(rows, device=x.device) * length).unsqueeze(1)
        flat = (x.long() + offsets).reshape(-1)
        counts = torch.bincount(flat, None if w is None else w.reshape(-1), minlength=rows * length)
        return counts.reshape(rows, length).to(out)
    return torch.bincount(x.long(), w, minlength=length).to(out)


@keras_op
def histogram(x: Any, bins: int = 10, range: tuple[float, float] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Counts of `x` in `bins` equal bins over `range` (min to max of `x` when None), and the bin edges.

    Raises:
        TypeError: if `bins` is not an int.
        ValueError: for negative `bins` or a bad `range`.
    """
    if not isinstance(bins, int):
        raise TypeError(f"Expected an int number of bins. {received('bins', bins)}")
    if bins < 0:
        raise ValueError(f"Expected a non-negative number of bins. {received('bins', bins)}")
    if range is not None and (not isinstance(range, tuple) or len(range) != 2 or range[1] < range[0]):
        raise ValueError(f"Expected `range` as a tuple (low, high) with low <= high. {received('range', range)}")
    x = _as_float(convert_to_tensor(x))
    low, high = (float(x.min()), float(x.max())) if range is None else (float(range[0]), float(range[1]))
    edges = torch.linspace(low, high, bins + 1, dtype=x.dtype, device=x.device)
    counts = torch.histc(x, bins=bins, min=low, max=high)
    return counts.to(x.dtype), edges


@keras_op
def sort(x: Any, axis: int | None = -1) -> torch.Tensor:
    """`x` sorted ascending along `axis` (the flattened tensor when None)."""
    x = convert_to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    if x.dtype == torch.bool:
        return torch.sort(x.to(torch.uint8), dim=axis).values.to(torch.bool)
    return torch.sort(x, dim=axis).values


@keras_op
def argsort(x: Any, axis: int | None = -1) -> torch.Tensor:
    """The indices (int32) that sort `x` along `axis` (stable; the flattened tensor when None)."""
    x = convert_to_tensor(x)
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    if axis is None:
        x, axis = x.reshape(-1), -1
    return torch.argsort(x, dim=axis, stable=True).to(torch.int32)


@keras_op
def argpartition(x: Any, kth: int, axis: int | None = -1) -> torch.Tensor:
    """Indices (int32) that put the `kth` smallest value in place, smaller ones before it, larger after.

    (Here the indices fully sort `x`, which is one valid partition.)
    """
    return argsort(x, axis=axis)


@keras_op
def unique(
    x: Any,
    sorted: bool = True,
    return_index: bool = False,
    return_inverse: bool = False,
    return_counts: bool = False,
    axis: int | None = None,
    size: int | None = None,
    fill_value: Any = None,
) -> Any:
    """The unique values of `x` (sorted), and optionally first indices, the inverse map and counts.

    `size` pads (with `fill_value`, default 0) or truncates the unique values to a fixed length.
    """
    x = convert_to_tensor(x)
    values, inverse, counts = torch.unique(x, sorted=sorted, return_inverse=True, return_counts=True, dim=axis)
    dim = 0 if axis is None else canonicalize_axis(axis, x.dim())
    count = values.shape[dim]
    first = None
    if return_index:
        flat_inverse = inverse.reshape(-1)
        positions = torch.arange(flat_inverse.shape[0], device=x.device)
        first = torch.full((count,), flat_inverse.shape[0], dtype=torch.long, device=x.device)
        first = first.scatter_reduce(0, flat_inverse, positions, reduce="amin")
    if size is not None:
        if count >= size:
            values = values.narrow(dim, 0, size)
            counts = counts[:size]
            first = None if first is None else first[:size]
        else:
            widths = [(0, 0)] * values.dim()
            widths[dim] = (0, size - count)
            values = pad(values, widths, constant_values=0 if fill_value is None else fill_value)
            counts = tnn.pad(counts, (0, size - count))
            first = None if first is None else tnn.pad(first, (0, size - count))
    outputs: list[torch.Tensor] = [values]
    if first is not None:
        outputs.append(first)
    if return_inverse:
        outputs.append(inverse)
    if return_counts:
        outputs.append(counts)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


@keras_op
def unravel_index(indices: Any, shape: Any) -> tuple[torch.Tensor, ...]:
    """The coordinates in a tensor of `shape` of flat `indices`."""
    idx = convert_to_tensor(indices)
    out = to_torch_dtype(result_type(idx.dtype))
    return tuple(c.to(out) for c in torch.unravel_index(idx, _shape_tuple(shape)))


@keras_op
def size(x: Any) -> torch.Tensor:
    """The number of elements of `x` (an int64 0-d tensor)."""
    x = convert_to_tensor(x)
    return torch.tensor(x.numel(), dtype=torch.int64, device=x.device)


@keras_op
def ndim(x: Any) -> int:
    """The number of dimensions of `x`."""
    return convert_to_tensor(x).dim()


@keras_op
def view(x: Any, dtype: Any = None) -> torch.Tensor:
    """The bytes of `x` reinterpreted as `dtype` (the last axis rescales when item sizes differ)."""
    x = convert_to_tensor(x)
    return x if dtype is None else x.view(to_torch_dtype(dtype))


@keras_op
def vectorize(pyfunc: Callable[..., Any], *, excluded: Any = None, signature: str | None = None) -> Callable[..., Any]:
    """Turns a function of scalars into one of broadcast tensors (`torch.vmap` over every element).

    Arguments in `excluded` (positions or names) are passed through unchanged.

    Raises:
        ValueError: if `pyfunc` is not callable, or a `signature` is given (use `vectorized_map`).
    """
    if not callable(pyfunc):
        raise ValueError(f"Expected a callable `pyfunc`. {received('pyfunc', pyfunc)}")
    if signature is not None:
        raise ValueError(
            f"Expected signature=None: kfit vectorizes over every element. {received('signature', signature)} "
            "Map over a leading axis with `kfit.ops.vectorized_map` instead."
        )
    skip = set(excluded or ())

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        vector_positions = [i for i in builtins.range(len(args)) if i not in skip]
        vector_names = [k for k in kwargs if k not in skip]
        tensors = same_device_tensors(*(args[i] for i in vector_positions), *(kwargs[k] for k in vector_names))
        shape = torch.broadcast_shapes(*(t.shape for t in tensors))
        flat = [torch.broadcast_to(t, shape).reshape(-1) for t in tensors]

        def scalar_call(*values: torch.Tensor) -> Any:
            call_args = list(args)
            for i, value in zip(vector_positions, values):
                call_args[i] = value
            call_kwargs = dict(kwargs)
            for k, value in zip(vector_names, values[len(vector_positions) :]):
                call_kwargs[k] = value
            return pyfunc(*call_args, **call_kwargs)

        result = torch.vmap(scalar_call)(*flat)
        return result.reshape(*shape, *result.shape[1:])

    return wrapped


# ----------------------------------------------------------------------------- products


def _product_operands(x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    """Operands cast for a product that Keras computes in float and returns in the promoted dtype."""
    a, b = same_device_tensors(x1, x2)
    out = to_torch_dtype(result_type(a.dtype, b.dtype))
    compute = to_torch_dtype(result_type(out, float))
    if compute == torch.float16 and a.device.type == "cpu":
        compute = torch.float32
    return a.to(compute), b.to(compute), out


@keras_op
def matmul(x1: Any, x2: Any) -> torch.Tensor:
    """The matrix product, broadcasting batch dimensions; int8 operands give int32.

    Example:
        >>> matmul(torch.ones(2, 3), torch.ones(3, 4)).shape
        torch.Size([2, 4])
    """
    a, b = same_device_tensors(x1, x2)
    if (a.dtype == b.dtype and a.dtype in (torch.float32, torch.bfloat16)) or (
        a.dtype == b.dtype == torch.float16 and a.device.type != "cpu"
    ):
        return torch.matmul(a, b)
    if a.dtype == b.dtype == torch.int8:
        out = torch.int32
    else:
        out = to_torch_dtype(result_type(a.dtype, b.dtype))
    compute = out
    if compute == torch.bool or (compute == torch.float16 and a.device.type == "cpu"):
        compute = _floatx() if compute == torch.bool else torch.float32
    elif not compute.is_floating_point and a.device.type == "cuda":
        compute = _floatx()  # CUDA has no integer matmul kernels
    return torch.matmul(a.to(compute), b.to(compute)).to(out)


@keras_op
def dot(x1: Any, x2: Any) -> torch.Tensor:
    """The dot product: a matrix product for tensors, a product when one operand is a scalar."""
    a, b, out = _product_operands(x1, x2)
    if a.dim() == 0 or b.dim() == 0:
        return torch.multiply(a, b).to(out)
    return torch.matmul(a, b).to(out)


@keras_op
def tensordot(x1: Any, x2: Any, axes: Any = 2) -> torch.Tensor:
    """The sum of products over `axes` (an int: the last/first that many axes; or two axis lists)."""
    a, b, out = _product_operands(x1, x2)
    if isinstance(axes, (list, tuple)):
        first, second = axes
        axes = (
            [first] if isinstance(first, int) else list(first),
            [second] if isinstance(second, int) else list(second),
        )
    return torch.tensordot(a, b, dims=axes).to(out)


@keras_op
def inner(x1: Any, x2: Any) -> torch.Tensor:
    """The inner product over the last axes."""
    a, b, out = _product_operands(x1, x2)
    return torch.inner(a, b).to(out)


@keras_op
def vdot(x1: Any, x2: Any) -> torch.Tensor:
    """The dot product of the flattened inputs (conjugating the first)."""
    a, b, out = _product_operands(x1, x2)
    return torch.vdot(a.reshape(-1), b.reshape(-1)).to(out)


@keras_op
def outer(x1: Any, x2: Any) -> torch.Tensor:
    """The outer product of the flattened inputs."""
    a, b = same_device_tensors(x1, x2)
    return torch.outer(a.reshape(-1), b.reshape(-1))


@keras_op
def kron(x1: Any, x2: Any) -> torch.Tensor:
    """The Kronecker product."""
    return torch.kron(*same_device_tensors(x1, x2))


@keras_op
def cross(x1: Any, x2: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> torch.Tensor:
    """The cross product of 3-vectors along the last axis (or `axis`).

    Raises:
        ValueError: for `axisa`, `axisb` or `axisc` other than -1 (use `axis`).
    """
    if (axisa, axisb, axisc) != (-1, -1, -1):
        raise ValueError(
            f"Expected axisa=axisb=axisc=-1. Received: axisa={axisa}, axisb={axisb}, axisc={axisc}. "
            "Move the vector axis with `axis=` instead."
        )
    a, b = same_device_tensors(x1, x2)
    out = to_torch_dtype(result_type(a.dtype, b.dtype))
    compute = torch.float32 if out in (torch.float16, torch.bfloat16) else out
    shape = torch.broadcast_shapes(a.shape, b.shape)
    a, b = torch.broadcast_to(a.to(compute), shape), torch.broadcast_to(b.to(compute), shape)
    return torch.linalg.cross(a, b, dim=-1 if axis is None else axis).to(out)


@keras_op
def einsum(subscripts: str, *operands: Any, **kwargs: Any) -> torch.Tensor:
    """Einstein summation over `operands` as described by `subscripts` (int8 inputs give int32).

    Example:
        >>> einsum("ij,jk->ik", torch.ones(2, 3), torch.ones(3, 1))
        tensor([[3.],
                [3.]])
    """
    tensors = same_device_tensors(*operands)
    if tensors and builtins.all(t.dtype == torch.int8 for t in tensors):
        compute = _floatx() if tensors[0].device.type == "cuda" else torch.int32
        return torch.einsum(subscripts, *(t.to(compute) for t in tensors)).to(torch.int32)
    return torch.einsum(subscripts, *tensors)


@keras_op
def slogdet(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The sign and the log of the absolute determinant."""
    result = torch.linalg.slogdet(convert_to_tensor(x))
    return result.sign, result.logabsdet


@keras_op
def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> torch.Tensor:
    """The integral of `y` along `axis` by the trapezoidal rule (at points `x`, or spaced `dx`)."""
    y = _as_float(convert_to_tensor(y))
    if x is not None:
        return torch.trapezoid(y, convert_to_tensor(x, device=y.device), dim=axis)
    return torch.trapezoid(y, dx=float(dx), dim=axis)


@keras_op
def correlate(x1: Any, x2: Any, mode: str = "valid") -> torch.Tensor:
    """The cross-correlation of two 1-D sequences (`mode` `"valid"`, `"same"` or `"full"`, as numpy).

    Raises:
        ValueError: for another `mode`.
    """
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"Expected mode 'valid', 'same' or 'full'. {received('mode', mode)}")
    a, b = same_device_tensors(x1, x2)
    name = result_type(a.dtype, b.dtype)
    if name == "int64":
        dtype = torch.float64
    else:
        dtype = to_torch_dtype(name) if name in ("bfloat16", "float16", "float64") else torch.float32
    a, b = a.to(dtype), b.to(dtype)
    n1, n2 = a.shape[-1], b.shape[-1]
    full_ = tnn.conv1d(a.reshape(1, 1, n1), b.reshape(1, 1, n2), padding=n2 - 1).reshape(-1)
    if mode == "full":
        return full_
    shortest = builtins.min(n1, n2)
    if mode == "valid":
        return full_[shortest - 1 : shortest - 1 + builtins.abs(n1 - n2) + 1]
    start = (shortest - 1) // 2 if n1 >= n2 else shortest // 2
    return full_[start : start + builtins.max(n1, n2)]


@keras_op
def corrcoef(x: Any) -> torch.Tensor:
    """The Pearson correlation coefficients of the rows of `x`."""
    x = convert_to_tensor(x)
    if x.dtype == torch.int64:
        x = x.to(torch.float64)
    return torch.corrcoef(_as_float(x))
