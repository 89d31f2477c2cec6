"""Accuracy metrics and functions against Keras 3."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np
import pytest
import torch

from kfit.metrics import accuracy_metrics

keras = pytest.importorskip("keras")

N = 9
C = 4


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def to_torch(x):
    return None if x is None else torch.as_tensor(x)


def binary(r, true_shape, pred_shape):
    return r.integers(0, 2, size=true_shape).astype("float32"), r.uniform(size=pred_shape).astype(
        "float32"
    )


def exact(r, true_shape, pred_shape):
    return r.integers(0, 3, size=true_shape).astype("int64"), r.integers(
        0, 3, size=pred_shape
    ).astype("float32")


def one_hot(r, true_shape, pred_shape):
    labels = r.integers(0, C, size=true_shape[:-1])
    scores = r.uniform(size=pred_shape).astype("float32")
    scores[0, :] = 0.5  # a fully tied row
    return np.eye(C, dtype="float32")[labels], scores


def sparse(r, true_shape, pred_shape):
    scores = r.uniform(size=pred_shape).astype("float32")
    scores[0, :] = 0.5
    return r.integers(0, C, size=true_shape), scores


CASES = [
    ("Accuracy", {}, exact, (N,), (N, 1)),
    ("Accuracy", {}, exact, (N, 3), (N, 3)),
    ("BinaryAccuracy", {}, binary, (N,), (N, 1)),
    ("BinaryAccuracy", {}, binary, (N, 1), (N, 1)),
    ("BinaryAccuracy", {"threshold": 0.7}, binary, (N, 3), (N, 3)),
    ("CategoricalAccuracy", {}, one_hot, (N, C), (N, C)),
    ("CategoricalAccuracy", {}, one_hot, (N, 2, C), (N, 2, C)),
    ("SparseCategoricalAccuracy", {}, sparse, (N,), (N, C)),
    ("SparseCategoricalAccuracy", {}, sparse, (N, 1), (N, C)),
    ("SparseCategoricalAccuracy", {}, sparse, (N, 2), (N, 2, C)),
    ("TopKCategoricalAccuracy", {"k": 3}, one_hot, (N, C), (N, C)),
    ("TopKCategoricalAccuracy", {"k": 2}, one_hot, (N, C), (N, C)),
    ("TopKCategoricalAccuracy", {"k": 2}, one_hot, (N, 2, C), (N, 2, C)),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, sparse, (N,), (N, C)),
    ("SparseTopKCategoricalAccuracy", {"k": 1}, sparse, (N, 1), (N, C)),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, sparse, (N, 2), (N, 2, C)),
]


@pytest.mark.parametrize("weight_kind", [None, "flat", "column"])
@pytest.mark.parametrize(("cls_name", "kwargs", "data", "true_shape", "pred_shape"), CASES)
def test_accuracy_metrics_match_keras(cls_name, kwargs, data, true_shape, pred_shape, weight_kind):
    r = np.random.default_rng(0)
    ours = getattr(accuracy_metrics, cls_name)(**kwargs)
    theirs = getattr(keras.metrics, cls_name)(**kwargs)
    assert ours.name == theirs.name
    assert ours.direction == theirs._direction == "up"
    for step in range(3):
        y_true, y_pred = data(r, true_shape, pred_shape)
        weight = None
        if weight_kind is not None and step != 1:
            weight = r.uniform(size=(N,) if weight_kind == "flat" else (N, 1)).astype("float32")
        ours.update_state(to_torch(y_true), to_torch(y_pred), sample_weight=to_torch(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        assert_close(ours.result(), theirs.result())
    ours.reset_state()
    theirs.reset_state()
    assert_close(ours.result(), theirs.result())
    y_true, y_pred = data(r, true_shape, pred_shape)
    ours.update_state(to_torch(y_true), to_torch(y_pred))
    theirs.update_state(y_true, y_pred)
    assert_close(ours.result(), theirs.result())


@pytest.mark.parametrize(("cls_name", "kwargs", "data", "true_shape", "pred_shape"), CASES)
def test_accuracy_functions_match_keras(cls_name, kwargs, data, true_shape, pred_shape):
    fn_name = {
        "Accuracy": "accuracy",
        "BinaryAccuracy": "binary_accuracy",
        "CategoricalAccuracy": "categorical_accuracy",
        "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
        "TopKCategoricalAccuracy": "top_k_categorical_accuracy",
        "SparseTopKCategoricalAccuracy": "sparse_top_k_categorical_accuracy",
    }[cls_name]
    from keras.src.metrics import accuracy_metrics as keras_accuracy

    y_true, y_pred = data(np.random.default_rng(1), true_shape, pred_shape)
    ours = getattr(accuracy_metrics, fn_name)(to_torch(y_true), to_torch(y_pred), **kwargs)
    assert ours.dtype == torch.float32
    assert_close(ours, getattr(keras_accuracy, fn_name)(y_true, y_pred, **kwargs))


def test_sparse_top_k_from_sorted_ids_matches_keras():
    r = np.random.default_rng(2)
    labels = r.integers(0, C, size=(N,))
    ids = np.argsort(-r.uniform(size=(N, C)), axis=-1).astype("float32")
    ids[0] = [labels[0], labels[0], 0, 1]  # a repeated id counts once
    ours = accuracy_metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    theirs = keras.metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    ours.update_state(torch.tensor(labels), torch.tensor(ids))
    theirs.update_state(labels, ids)
    assert_close(ours.result(), theirs.result())
    assert ours.get_config() == theirs.get_config()


def test_top_k_larger_than_the_class_count_counts_every_sample():
    m = accuracy_metrics.SparseTopKCategoricalAccuracy(k=5)
    m.update_state(torch.tensor([0, 2]), torch.rand(2, 3))
    assert m.result().item() == 1.0


@pytest.mark.parametrize(
    ("cls_name", "kwargs"),
    [
        ("Accuracy", {}),
        ("BinaryAccuracy", {"threshold": 0.3}),
        ("CategoricalAccuracy", {}),
        ("SparseCategoricalAccuracy", {}),
        ("TopKCategoricalAccuracy", {"k": 3}),
        ("SparseTopKCategoricalAccuracy", {"k": 3}),
    ],
)
def test_configs_match_keras(cls_name, kwargs):
    ours = getattr(accuracy_metrics, cls_name)(name="acc_x", **kwargs)
    theirs = getattr(keras.metrics, cls_name)(name="acc_x", **kwargs)
    assert ours.get_config() == theirs.get_config()
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()


def test_accuracy_updates_never_read_device_values_on_the_host():
    labels = torch.empty(N, dtype=torch.long, device="meta")
    one_hot_labels = torch.empty(N, C, device="meta")
    scores = torch.empty(N, C, device="meta")
    for metric, y_true in (
        (accuracy_metrics.SparseCategoricalAccuracy(), labels),
        (accuracy_metrics.CategoricalAccuracy(), one_hot_labels),
        (accuracy_metrics.TopKCategoricalAccuracy(k=2), one_hot_labels),
        (accuracy_metrics.SparseTopKCategoricalAccuracy(k=2), labels),
        (accuracy_metrics.BinaryAccuracy(), one_hot_labels),
    ):
        metric.update_state(y_true, scores, sample_weight=torch.empty(N, device="meta"))
        assert metric.result().device.type == "meta"
