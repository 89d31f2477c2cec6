"""Parity harness for the loss tests: Keras 3 (torch backend) as the reference, random data.

Imported by the tests in this folder (`from loss_parity import ...`); the name is unique so it
cannot shadow another module, and it is not a conftest so it cannot shadow the root one.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

keras = pytest.importorskip("keras")

N = 8
RTOL = 1e-5
ATOL = 1e-6
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def to_torch(x):
    return None if x is None else torch.as_tensor(x)


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def regression_data(seed: int = 0):
    r = rng(seed)
    y_true = r.normal(size=(N, 3)).astype("float32")
    y_pred = r.normal(size=(N, 3)).astype("float32")
    return y_true, y_pred


def positive_regression_data(seed: int = 0):
    y_true, y_pred = regression_data(seed)
    y_true[0, 0] = 0.0  # exercises the epsilon guards (MAPE, MSLE)
    return np.abs(y_true), y_pred


def probability_data(seed: int = 0):
    r = rng(seed)
    y_true = r.uniform(size=(N, 3)).astype("float32")
    y_pred = r.uniform(size=(N, 3)).astype("float32")
    y_pred[0, 0] = 0.0
    return y_true / y_true.sum(-1, keepdims=True), y_pred / y_pred.sum(-1, keepdims=True)


def hinge_data(seed: int = 0):
    r = rng(seed)
    return r.integers(0, 2, size=(N, 3)).astype("float32"), r.normal(size=(N, 3)).astype("float32")


def signed_hinge_data(seed: int = 0):
    y_true, y_pred = hinge_data(seed)
    return 2.0 * y_true - 1.0, y_pred


def one_hot_data(seed: int = 0):
    r = rng(seed)
    y_true = np.eye(3, dtype="float32")[r.integers(0, 3, N)]
    return y_true, r.normal(size=(N, 3)).astype("float32")
