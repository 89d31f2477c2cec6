"""The loss functions of `kfit.losses.functions` against Keras 3's per-sample values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_parity import N, assert_close, keras, rng, to_torch

from kfit import losses


def test_categorical_crossentropy_on_class_axis_0_matches_keras():
    r = rng(5)
    y_true = np.eye(4, dtype="float32")[r.integers(0, 4, N)].T.copy()
    y_pred = r.uniform(size=(4, N)).astype("float32")
    ours = losses.categorical_crossentropy(to_torch(y_true), to_torch(y_pred), axis=0)
    assert_close(ours, keras.losses.categorical_crossentropy(y_true, y_pred, axis=0))


@pytest.mark.parametrize(
    "name",
    [
        "mean_squared_error",
        "mean_absolute_error",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "huber",
        "log_cosh",
        "kl_divergence",
        "poisson",
        "hinge",
        "squared_hinge",
        "categorical_hinge",
        "cosine_similarity",
        "binary_crossentropy",
        "categorical_crossentropy",
    ],
)
def test_loss_functions_return_keras_per_sample_values(name):
    r = rng(9)
    y_true = r.uniform(size=(N, 4)).astype("float32")
    y_pred = r.uniform(size=(N, 4)).astype("float32")
    assert_close(
        getattr(losses, name)(to_torch(y_true), to_torch(y_pred)),
        getattr(keras.losses, name)(y_true, y_pred),
    )


def test_sparse_function_with_logits_matches_keras():
    r = rng(10)
    labels = r.integers(0, 4, size=(N, 1))
    logits = r.normal(size=(N, 4)).astype("float32")
    ours = losses.sparse_categorical_crossentropy(
        to_torch(labels), to_torch(logits), from_logits=True
    )
    assert_close(
        ours, keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    )


def test_mismatched_crossentropy_shapes_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        losses.binary_crossentropy(torch.zeros(4, 2), torch.zeros(4, 3))
