"""Dtype names and Keras's type promotion, shared by every op module.

Keras names dtypes with strings (`"float32"`) and decides the dtype of a mixed operation with a
promotion lattice adapted from JAX (`keras.backend.result_type`): Python scalars are *weak*
(an `int8` tensor plus `2` stays `int8`, an `int32` tensor plus `2.5` becomes `floatx()`),
unsigned and signed integers meet at the next wider signed type, integers meet floats at the
float, and `float16` meets `bfloat16` at `float32`. One trait matters for parity: a result
computed through `result_type` is capped at 32 bits (`int64` → `int32`, `float64` → `float32`),
so the ops that promote through it (`maximum`, `matmul`, `floor`, `var`, ...) narrow 64-bit
inputs, while ops that Keras hands straight to torch (`add`, `exp`, `mean`, ...) keep them.
Each op in `kfit.ops` follows Keras's choice; `result_type` below is that lattice.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from kfit.backend.config import floatx
from kfit.utils.errors import received

__all__ = [
    "FLOAT_DTYPES",
    "INT_DTYPES",
    "is_float_dtype",
    "is_int_dtype",
    "result_type",
    "standardize_dtype",
    "to_torch_dtype",
]

INT_DTYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
FLOAT_DTYPES = ("bfloat16", "float16", "float32", "float64")
_COMPLEX_DTYPES = ("complex64", "complex128")
_KNOWN = ("bool", *INT_DTYPES, *FLOAT_DTYPES, *_COMPLEX_DTYPES, "float8_e4m3fn", "float8_e5m2")

# Torch lacks most unsigned types; Keras stores them in the next signed type that holds them.
_TORCH_DTYPES: dict[str, torch.dtype] = {
    "bool": torch.bool,
    "uint8": torch.uint8,
    "uint16": torch.int32,
    "uint32": torch.int64,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
    "float8_e4m3fn": torch.float8_e4m3fn,
    "float8_e5m2": torch.float8_e5m2,
}
_TORCH_NAMES = {v: k for k, v in _TORCH_DTYPES.items() if not k.startswith("uint") or k == "uint8"}
_TORCH_NAMES.update({torch.uint16: "uint16", torch.uint32: "uint32", torch.uint64: "uint64"})
_PYTHON_TYPES = {bool: "bool", int: "int32", float: "float32", complex: "complex64"}
_ALIASES = {"int": "int32", "half": "float16", "double": "float64"}


@functools.lru_cache(maxsize=256)
def _standardize_hashable(dtype: Any) -> str:
    if dtype in _PYTHON_TYPES:
        return _PYTHON_TYPES[dtype]
    if isinstance(dtype, torch.dtype):
        if dtype in _TORCH_NAMES:
            return _TORCH_NAMES[dtype]
        name = str(dtype).removeprefix("torch.")
    elif isinstance(dtype, str):
        name = _ALIASES.get(dtype, dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(getattr(dtype, "name", dtype))
    if name not in _KNOWN:
        raise ValueError(
            f"Expected a dtype name such as 'float32', 'int32' or 'bool'. {received('dtype', dtype)} "
            f"Pass one of {', '.join(_KNOWN[:13])}."
        )
    return name


def standardize_dtype(dtype: Any) -> str:
    """Returns Keras's name for a dtype given as a name, torch/numpy dtype or Python type.

    `None` means `floatx()`; Python `int` means `"int32"` and `float` means `"float32"`,
    as in Keras.

    Raises:
        ValueError: when `dtype` names no dtype.

    Example:
        >>> standardize_dtype(torch.int8), standardize_dtype(float), standardize_dtype(None)
        ('int8', 'float32', 'float32')
    """
    if dtype is None:
        return floatx()
    try:
        return _standardize_hashable(dtype)
    except TypeError:  # an unhashable dtype-like object
        return _standardize_hashable.__wrapped__(dtype)


def to_torch_dtype(dtype: Any) -> torch.dtype:
    """Returns the torch dtype that holds a Keras dtype (`None` means `floatx()`).

    Example:
        >>> to_torch_dtype("uint32"), to_torch_dtype(None)
        (torch.int64, torch.float32)
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    return _TORCH_DTYPES[standardize_dtype(dtype)]


def is_float_dtype(dtype: Any) -> bool:
    """Whether a dtype is a floating point type (`bfloat16` to `float64`)."""
    return standardize_dtype(dtype) in FLOAT_DTYPES


def is_int_dtype(dtype: Any) -> bool:
    """Whether a dtype is a signed or unsigned integer type (not `bool`)."""
    return standardize_dtype(dtype) in INT_DTYPES


# The promotion lattice: each node lists the nodes right above it. "int" and "float" are the
# weak types of Python scalars, which yield to any strongly typed operand of their kind.
_LATTICE = {
    "bool": ("int",),
    "int": ("uint8", "int8", "complex64"),
    "uint8": ("int16", "uint16"),
    "uint16": ("int32", "uint32"),
    "uint32": ("int64", "uint64"),
    "uint64": ("float",),
    "int8": ("int16",),
    "int16": ("int32",),
    "int32": ("int64",),
    "int64": ("float",),
    "float": ("bfloat16", "float16"),
    "bfloat16": ("float32",),
    "float16": ("float32",),
    "float32": ("float64", "complex64"),
    "float64": ("complex128",),
    "complex64": ("complex128",),
    "complex128": (),
}


def _upper_bounds() -> dict[str, frozenset[str]]:
    bounds: dict[str, frozenset[str]] = {}

    def visit(node: str) -> frozenset[str]:
        if node not in bounds:
            bounds[node] = frozenset({node}).union(*(visit(up) for up in _LATTICE[node]))
        return bounds[node]

    for node in _LATTICE:
        visit(node)
    return bounds


_UPPER_BOUNDS = _upper_bounds()
_CAP_64_BITS = {"int64": "int32", "uint64": "uint32", "float64": "float32", "complex128": "complex64"}


@functools.lru_cache(maxsize=1024)
def _lattice_join(nodes: tuple[tuple[str, bool], ...], precision: str) -> str:
    names = {name for name, _ in nodes}
    all_weak = all(weak for _, weak in nodes)
    if len(nodes) == 1:
        name, weak = nodes[0]
        joined, weak_result = name, weak
    elif len(names) == 1 and not all_weak:
        joined, weak_result = names.pop(), False
    else:
        # Weak scalars take their kind's weak node, unless every operand is weak: then the
        # strong types decide and the result is weak again (two Python ints give an int).
        keys = {_weak_node(name) if weak and not all_weak else name for name, weak in nodes}
        common = frozenset.intersection(*(_UPPER_BOUNDS[k] for k in keys))
        least = [c for c in common if common <= _UPPER_BOUNDS[c]]
        if len(least) != 1:
            raise ValueError(
                f"Expected dtypes with a common promotion. Received: dtypes={sorted(names)}. "
                "Cast the inputs to one dtype with `kfit.ops.cast` first."
            )
        joined = least[0]
        weak_result = all_weak or joined in ("int", "float")
    if weak_result and joined != "bool":
        # A weak result takes the width of `floatx()` ("32" unless changed).
        kind = "int" if joined.startswith("int") else "uint" if joined.startswith("uint") else "float"
        joined = f"{kind}{precision}"
    return _CAP_64_BITS.get(joined, joined)


def _weak_node(name: str) -> str:
    if name == "bool":
        return "bool"
    if "float" in name:
        return "float"
    if "int" in name:
        return "int"
    return name


def result_type(*dtypes: Any) -> str:
    """The dtype Keras gives an operation on operands of these dtypes (`keras.backend.result_type`).

    Each argument is a dtype, or the Python type `int`/`float`/`bool` for a Python scalar
    operand (a weak type). Results are capped at 32 bits as in Keras (see the module docstring).
    With no argument, returns `floatx()`.

    Example:
        >>> result_type("int8", int), result_type("int32", float), result_type("uint8", "int8")
        ('int8', 'float32', 'int16')
        >>> result_type("float16", "bfloat16"), result_type("int64"), result_type(int, float)
        ('float32', 'int32', 'float32')
    """
    if not dtypes:
        return floatx()
    nodes = []
    for dtype in dtypes:
        if dtype is int or dtype is float:
            nodes.append(("int" if dtype is int else "float", True))
        else:
            name = standardize_dtype(dtype)
            if name.startswith("float8"):
                raise ValueError(
                    f"Expected no float8 dtype in an implicit promotion. {received('dtypes', dtypes)} "
                    "Cast float8 values explicitly with `kfit.ops.cast`."
                )
            nodes.append((name, False))
    return _lattice_join(tuple(nodes), floatx()[-2:])
