"""The hinge metrics against Keras 3 over several weighted and unweighted batches."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kfit
from kfit import metrics
from kfit.metrics import hinge_metrics

keras = pytest.importorskip("keras")

N, C = 9, 3
CLASSES = ["Hinge", "SquaredHinge", "CategoricalHinge"]


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape == ()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def labels(r: np.random.Generator, cls_name: str, signed: bool):
    if cls_name == "CategoricalHinge":
        return np.eye(C, dtype="float32")[r.integers(0, C, N)]
    y = r.integers(0, 2, size=(N, C)).astype("float32")
    return 2.0 * y - 1.0 if signed else y


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("weight_shape", [None, (N,), (N, 1)])
@pytest.mark.parametrize("cls_name", CLASSES)
def test_matches_keras_over_several_batches(cls_name, weight_shape, signed):
    r = np.random.default_rng(0)
    ours = getattr(hinge_metrics, cls_name)()
    theirs = getattr(keras.metrics, cls_name)()
    assert ours.name == theirs.name
    assert ours.direction == theirs._direction == "down"
    for step in range(3):
        y_true = labels(r, cls_name, signed)
        y_pred = r.normal(size=(N, C)).astype("float32")
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


@pytest.mark.parametrize("cls_name", CLASSES)
def test_configs_equal_keras_and_round_trip(cls_name):
    ours = getattr(hinge_metrics, cls_name)(name="m")
    theirs = getattr(keras.metrics, cls_name)(name="m")
    assert ours.get_config() == theirs.get_config()
    rebuilt = metrics.deserialize(metrics.serialize(ours))
    assert type(rebuilt) is type(ours)
    assert rebuilt.get_config() == ours.get_config()


@pytest.mark.parametrize("name", ["hinge", "squared_hinge", "categorical_hinge", "Hinge", "CategoricalHinge"])
def test_names_resolve_like_keras(name):
    ours, theirs = metrics.get(name), keras.metrics.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name


def test_update_runs_without_host_sync():
    y = torch.empty(N, C, device="meta")
    for cls_name in CLASSES:
        m = getattr(hinge_metrics, cls_name)()
        m.update_state(y, y, sample_weight=torch.empty(N, device="meta"))
        assert m.result().device.type == "meta"


def _fit_history(k, metric_list):
    rs = np.random.RandomState(0)
    x = rs.rand(48, 6).astype("float32")
    y = np.eye(3, dtype="float32")[rs.randint(0, 3, 48)]
    model = k.Sequential([k.Input(shape=(6,)), k.layers.Dense(3, activation="tanh")])
    model.compile(optimizer="adam", loss="hinge", metrics=metric_list)
    return model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(x, y)).history


def test_fit_logs_the_keras_keys():
    def metric_list(k):
        return ["hinge", "squared_hinge", k.metrics.CategoricalHinge()]

    assert sorted(_fit_history(kfit, metric_list(kfit))) == sorted(_fit_history(keras, metric_list(keras)))
