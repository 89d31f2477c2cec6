"""The probabilistic metrics against Keras 3 over several weighted and unweighted batches."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kfit
from kfit import metrics
from kfit.metrics import probabilistic_metrics

keras = pytest.importorskip("keras")

N, C = 9, 3


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape == ()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def probabilities(r):
    p = r.uniform(0.01, 1.0, size=(N, C)).astype("float32")
    return p / p.sum(-1, keepdims=True)


def soft_targets(r):
    return probabilities(r), probabilities(r)


def binary(r):
    return r.integers(0, 2, size=(N, C)).astype("float32"), r.uniform(size=(N, C)).astype("float32")


def binary_logits(r):
    return r.integers(0, 2, size=(N, C)).astype("float32"), r.normal(size=(N, C)).astype("float32")


def one_hot(r):
    return np.eye(C, dtype="float32")[r.integers(0, C, N)], probabilities(r)


def one_hot_logits(r):
    return np.eye(C, dtype="float32")[r.integers(0, C, N)], r.normal(size=(N, C)).astype("float32")


def sparse(r):
    return r.integers(0, C, size=(N,)), probabilities(r)


def sparse_logits(r):
    return r.integers(0, C, size=(N, 1)), r.normal(size=(N, C)).astype("float32")


def counts(r):
    return r.poisson(2.0, size=(N, C)).astype("float32"), r.uniform(0.1, 4.0, size=(N, C)).astype("float32")


CASES = [
    ("KLDivergence", {}, soft_targets),
    ("Poisson", {}, counts),
    ("BinaryCrossentropy", {}, binary),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, binary_logits),
    ("CategoricalCrossentropy", {}, one_hot),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, one_hot_logits),
    ("SparseCategoricalCrossentropy", {}, sparse),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, sparse_logits),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, sparse),
]


@pytest.mark.parametrize("weight_shape", [None, (N,)])
@pytest.mark.parametrize(("cls_name", "kwargs", "data"), CASES)
def test_matches_keras_over_several_batches(cls_name, kwargs, data, weight_shape):
    r = np.random.default_rng(0)
    ours = getattr(probabilistic_metrics, cls_name)(**kwargs)
    theirs = getattr(keras.metrics, cls_name)(**kwargs)
    assert ours.name == theirs.name
    assert ours.direction == theirs._direction == "down"
    for step in range(3):
        y_true, y_pred = data(r)
        weight = None
        if weight_shape is not None and step != 1:
            weight = r.uniform(size=weight_shape).astype("float32")
        ours.update_state(torch.tensor(y_true), torch.tensor(y_pred),
                          sample_weight=None if weight is None else torch.tensor(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        assert_close(ours.result(), theirs.result())
    ours.reset_state()
    theirs.reset_state()
    assert_close(ours.result(), theirs.result())


@pytest.mark.parametrize(("cls_name", "kwargs", "data"), CASES)
def test_configs_equal_keras_and_round_trip(cls_name, kwargs, data):
    ours = getattr(probabilistic_metrics, cls_name)(name="m", **kwargs)
    theirs = getattr(keras.metrics, cls_name)(name="m", **kwargs)
    assert ours.get_config() == theirs.get_config()
    rebuilt = metrics.deserialize(metrics.serialize(ours))
    assert type(rebuilt) is type(ours)
    assert rebuilt.get_config() == ours.get_config()


@pytest.mark.parametrize(
    "name",
    ["kl_divergence", "KLDivergence", "poisson", "binary_crossentropy", "bce", "BCE",
     "categorical_crossentropy", "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"],
)
def test_names_resolve_like_keras(name):
    ours, theirs = metrics.get(name), keras.metrics.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name


def test_focal_functions_are_exported_like_keras():
    assert metrics.binary_focal_crossentropy is kfit.losses.binary_focal_crossentropy
    assert metrics.categorical_focal_crossentropy is kfit.losses.categorical_focal_crossentropy
    assert callable(keras.metrics.binary_focal_crossentropy)


def test_update_runs_without_host_sync():
    y = torch.empty(N, C, device="meta")
    labels = torch.empty(N, dtype=torch.long, device="meta")
    weight = torch.empty(N, device="meta")
    for m, y_true in [
        (probabilistic_metrics.KLDivergence(), y),
        (probabilistic_metrics.BinaryCrossentropy(from_logits=True), y),
        (probabilistic_metrics.CategoricalCrossentropy(), y),
        (probabilistic_metrics.SparseCategoricalCrossentropy(ignore_class=0), labels),
    ]:
        m.update_state(y_true, y, sample_weight=weight)
        assert m.result().device.type == "meta"


def _fit_history(k, metric_list):
    rs = np.random.RandomState(0)
    x = rs.rand(48, 6).astype("float32")
    y = np.eye(3, dtype="float32")[rs.randint(0, 3, 48)]
    model = k.Sequential([k.Input(shape=(6,)), k.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=metric_list)
    return model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(x, y)).history


def test_fit_logs_the_keras_keys():
    def metric_list(k):
        return ["kl_divergence", "poisson", "categorical_crossentropy", k.metrics.BinaryCrossentropy()]

    assert sorted(_fit_history(kfit, metric_list(kfit))) == sorted(_fit_history(keras, metric_list(keras)))
