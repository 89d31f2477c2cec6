"""Parity harness for the ops tests: Keras 3 (torch backend) as the reference.

`compare_op` runs one op in kfit and in Keras on the same inputs and describes any difference in
structure, dtype, shape or values (None when they agree). Imported by the tests in this folder
(`from ops_parity import ...`); the name is unique in the tests tree.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

keras = pytest.importorskip("keras")

import kfit.ops as kops  # noqa: E402  (after the Keras backend is chosen)

ALL_DTYPES = ["float32", "float16", "bfloat16", "float64", "int32", "int64", "int8", "uint8", "bool"]


def make(dtype: str, shape: tuple[int, ...] = (3, 4), kind: str = "any", seed: int = 0) -> torch.Tensor:
    """A random CPU tensor of `dtype`; `kind` restricts the values to an op's domain."""
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return torch.as_tensor(rng.random(shape) > 0.5)
    if dtype.startswith(("int", "uint")):
        low = 1 if kind in ("positive", "ge1") else (0 if dtype == "uint8" else -5)
        high = 2 if kind == "unit" else 9
        if kind == "unit":
            low = 0 if dtype == "uint8" else -1
        return torch.as_tensor(rng.integers(low, high, size=shape)).to(getattr(torch, dtype))
    values = {
        "any": lambda: rng.normal(size=shape),
        "positive": lambda: rng.uniform(0.1, 3.0, size=shape),
        "unit": lambda: rng.uniform(-0.95, 0.95, size=shape),
        "ge1": lambda: rng.uniform(1.05, 4.0, size=shape),
    }[kind]()
    return torch.as_tensor(values).to(getattr(torch, dtype))


def _tolerance(dtype: torch.dtype) -> tuple[float, float]:
    if dtype in (torch.float16, torch.bfloat16):
        return 2e-2, 2e-2
    if dtype == torch.float64:
        return 1e-6, 1e-9
    return 1e-6, 1e-6


def _host(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.resolve_conj().numpy()


def describe_difference(ours: Any, theirs: Any, rtol: float | None = None, path: str = "out") -> str | None:
    """None when `ours` (kfit) matches `theirs` (Keras) in structure, dtype, shape and values."""
    if isinstance(theirs, torch.Tensor):
        if not isinstance(ours, torch.Tensor):
            return f"{path}: kfit gave {type(ours).__name__}, Keras a tensor"
        if ours.dtype != theirs.dtype:
            return f"{path}: dtype {ours.dtype} != Keras {theirs.dtype}"
        if tuple(ours.shape) != tuple(theirs.shape):
            return f"{path}: shape {tuple(ours.shape)} != Keras {tuple(theirs.shape)}"
        default_rtol, atol = _tolerance(theirs.dtype)
        try:
            np.testing.assert_allclose(_host(ours), _host(theirs), rtol=rtol or default_rtol, atol=atol, equal_nan=True)
        except AssertionError as error:
            return f"{path}: values differ {str(error).strip().splitlines()[-3:]}"
        return None
    if isinstance(theirs, (tuple, list)):
        if not isinstance(ours, (tuple, list)) or len(ours) != len(theirs):
            return f"{path}: kfit gave {type(ours).__name__} of {len(ours) if hasattr(ours, '__len__') else '?'}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            problem = describe_difference(a, b, rtol, f"{path}[{i}]")
            if problem:
                return problem
        return None
    if ours != theirs or type(ours) is not type(theirs):
        return f"{path}: {ours!r} != Keras {theirs!r}"
    return None


def clone_args(args: Any) -> Any:
    if isinstance(args, torch.Tensor):
        return args.clone()
    if isinstance(args, np.ndarray):
        return args.copy()
    if isinstance(args, (list, tuple)):
        return type(args)(clone_args(a) for a in args)
    if isinstance(args, dict):
        return {k: clone_args(v) for k, v in args.items()}
    return args


def compare_op(
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    *args: Any,
    rtol: float | None = None,
    keras_may_fail: bool = False,
    **kwargs: Any,
) -> str | None:
    """Runs both ops. A Keras error is a broken case, unless `keras_may_fail` (sweeps over dtypes
    that some ops reject): then kfit need not agree, and None is returned."""
    try:
        expected = theirs(*clone_args(args), **clone_args(kwargs))
    except Exception as error:
        return None if keras_may_fail else f"Keras raised {type(error).__name__}: {error}"
    try:
        got = ours(*clone_args(args), **clone_args(kwargs))
    except Exception as error:
        return f"kfit raised {type(error).__name__}: {error}"
    return describe_difference(got, expected, rtol)


def op_pair(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    return getattr(kops, name), getattr(keras.ops, name)


def assert_no_problems(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)
