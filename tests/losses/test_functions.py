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


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("binary_focal_crossentropy", {}),
        ("binary_focal_crossentropy", {"apply_class_balancing": True, "alpha": 0.1, "gamma": 0.5}),
        ("binary_focal_crossentropy", {"from_logits": True, "label_smoothing": 0.3}),
        ("categorical_focal_crossentropy", {}),
        ("categorical_focal_crossentropy", {"from_logits": True, "label_smoothing": 0.1, "axis": 0}),
        ("dice", {}),
        ("dice", {"axis": -1}),
        ("tversky", {"alpha": 0.2, "beta": 0.8}),
        ("tversky", {"axis": (0, 1)}),
    ],
)
def test_new_loss_functions_return_keras_values(name, kwargs):
    r = rng(11)
    y_true = r.integers(0, 2, size=(N, 3)).astype("float32")
    y_pred = r.uniform(0.01, 0.99, size=(N, 3)).astype("float32")
    if kwargs.get("from_logits"):
        y_pred = r.normal(size=(N, 3)).astype("float32")
    ours = getattr(losses, name)(to_torch(y_true), to_torch(y_pred), **kwargs)
    assert_close(ours, getattr(keras.losses, name)(y_true, y_pred, **kwargs))


def test_circle_with_reference_embeddings_matches_keras():
    r = rng(12)
    emb = r.normal(size=(N, 4)).astype("float32")
    ref = r.normal(size=(5, 4)).astype("float32")
    labels, ref_labels = r.integers(0, 3, N), r.integers(0, 3, 5)
    kwargs = {"remove_diagonal": False, "gamma": 20}
    ours = losses.circle(torch.tensor(labels), torch.tensor(emb), ref_labels=torch.tensor(ref_labels),
                         ref_embeddings=torch.tensor(ref), **kwargs)
    theirs = keras.losses.circle(labels, emb, ref_labels=ref_labels, ref_embeddings=ref, **kwargs)
    assert_close(ours, theirs)
    np.testing.assert_array_equal(ours._keras_mask.numpy(), keras.ops.convert_to_numpy(theirs._keras_mask))


def test_generalized_cross_entropy_and_ctc_return_keras_values():
    r = rng(13)
    p = r.uniform(0.05, 1.0, size=(N, 4)).astype("float32")
    p /= p.sum(-1, keepdims=True)
    labels = r.integers(0, 4, N)
    ours = losses.categorical_generalized_cross_entropy(torch.tensor(labels), torch.tensor(p), q=0.7)
    assert_close(ours, keras.losses.categorical_generalized_cross_entropy(torch.tensor(labels), torch.tensor(p), q=0.7))
    targets = np.array([[1, 2, 0], [3, 3, 1], [2, 0, 0]])
    logits = r.normal(size=(3, 6, 4)).astype("float32")
    assert_close(losses.ctc(torch.tensor(targets), torch.tensor(logits)), keras.losses.ctc(targets, logits))


def test_ctc_rejects_wrong_ranks():
    with pytest.raises(ValueError, match=r"y_true\.shape"):
        losses.ctc(torch.zeros(3), torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match=r"y_pred\.shape"):
        losses.ctc(torch.zeros(3, 2), torch.zeros(3, 4))
