"""Parity harness: run the same gradients through a kfit optimizer and its Keras 3 twin.

Imported by the tests in this folder (`from optimizer_parity import ...`); the name is unique
so it cannot shadow another module, and it is not a conftest so it cannot shadow the root one.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch

# A 2-D kernel, a bias-like vector and a single scalar weight.
SHAPES = [(3, 4), (4,), (1,)]
RTOL, ATOL = 1e-5, 1e-7
# kfit's Adam and AdamW run torch's fused kernel, which evaluates Keras's update in another
# order: its float32 rounding differs from Keras's by up to ~5e-5 relative after a few steps,
# while both stay as close to a float64 evaluation of the same maths (test_adam.py checks that
# the fused result is at least as accurate as the per-op one).
FUSED_ADAM_RTOL = 1e-4


def rtol_for(optimizer: Any) -> float:
    from kfit.optimizers import Adam

    return FUSED_ADAM_RTOL if isinstance(optimizer, Adam) and not optimizer.amsgrad else RTOL


def initial_values() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.normal(size=s).astype("float32") for s in SHAPES]


def gradient_sequence(steps: int, scale: float = 1.0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(2)
    return [[(scale * rng.normal(size=s)).astype("float32") for s in SHAPES] for _ in range(steps)]


def run_kfit(
    optimizer: Any,
    grads: list[list[np.ndarray | None]],
    params: list[torch.nn.Parameter] | None = None,
) -> list[torch.nn.Parameter]:
    if params is None:
        params = [torch.nn.Parameter(torch.tensor(v)) for v in initial_values()]
    if not optimizer.built:
        optimizer.build(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g)
        optimizer.step()
    return params


def run_keras(optimizer: Any, grads: list[list[np.ndarray | None]]) -> list[Any]:
    import keras

    variables = [keras.Variable(v) for v in initial_values()]
    for step_grads in grads:
        pairs = [(None if g is None else torch.tensor(g), v) for g, v in zip(step_grads, variables)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns about the None gradients we send
            optimizer.apply_gradients(pairs)
    return variables


def assert_close(actual: list[Any], expected: list[Any], rtol: float = RTOL) -> None:
    for a, e in zip(actual, expected, strict=True):
        a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        e = e.detach().cpu().numpy() if isinstance(e, torch.Tensor) else np.asarray(e)
        np.testing.assert_allclose(a, e, rtol=rtol, atol=ATOL)


def parity(
    kfit_opt: Any,
    keras_opt: Any,
    steps: int = 5,
    grads: list[list[np.ndarray | None]] | None = None,
) -> tuple[list[torch.nn.Parameter], list[Any]]:
    """Runs both optimizers over the same gradients and asserts equal weights.

    Returns `(kfit_params, keras_variables)` for further checks.
    """
    grads = gradient_sequence(steps) if grads is None else grads
    params = run_kfit(kfit_opt, grads)
    variables = run_keras(keras_opt, grads)
    assert_close(params, [v.value for v in variables], rtol=rtol_for(kfit_opt))
    return params, variables
