"""`PearsonCorrelation` and `ConcordanceCorrelation` against Keras 3 over several batches."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kfit
from kfit import metrics
from kfit.metrics import correlation_metrics

keras = pytest.importorskip("keras")

N, D = 8, 5
CLASSES = ["PearsonCorrelation", "ConcordanceCorrelation"]


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls_name", CLASSES)
def test_matches_keras_over_several_batches(cls_name, weighted, axis):
    r = np.random.default_rng(0)
    ours = getattr(correlation_metrics, cls_name)(axis=axis)
    theirs = getattr(keras.metrics, cls_name)(axis=axis)
    assert ours.name == theirs.name
    assert ours.direction == theirs._direction == "up"
    for step in range(3):
        y_true = r.normal(size=(N, D)).astype("float32")
        y_pred = (0.6 * y_true + r.normal(size=(N, D)) + 0.3).astype("float32")
        weight = None
        if weighted and step != 1:
            weight = r.uniform(size=(N if axis == -1 else D,)).astype("float32")
        ours.update_state(torch.tensor(y_true), torch.tensor(y_pred),
                          sample_weight=None if weight is None else torch.tensor(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        assert_close(ours.result(), theirs.result())
    ours.reset_state()
    theirs.reset_state()
    assert_close(ours.result(), theirs.result())


@pytest.mark.parametrize("fn", ["pearson_correlation", "concordance_correlation"])
def test_functions_return_keras_per_sample_values(fn):
    r = np.random.default_rng(1)
    y_true = r.normal(size=(N, D)).astype("float32")
    y_pred = r.normal(size=(N, D)).astype("float32")
    assert_close(getattr(metrics, fn)(torch.tensor(y_true), torch.tensor(y_pred)),
                 getattr(keras.metrics, fn)(y_true, y_pred))


@pytest.mark.parametrize("cls_name", CLASSES)
def test_configs_equal_keras_and_round_trip(cls_name):
    ours = getattr(correlation_metrics, cls_name)(name="m", axis=0)
    theirs = getattr(keras.metrics, cls_name)(name="m", axis=0)
    assert ours.get_config() == theirs.get_config()
    rebuilt = metrics.deserialize(metrics.serialize(ours))
    assert type(rebuilt) is type(ours)
    assert rebuilt.get_config() == ours.get_config()


@pytest.mark.parametrize("name", ["pearson_correlation", "PearsonCorrelation", "concordance_correlation"])
def test_names_resolve_like_keras(name):
    ours, theirs = metrics.get(name), keras.metrics.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name


def test_update_runs_without_host_sync():
    y = torch.empty(N, D, device="meta")
    for cls_name in CLASSES:
        m = getattr(correlation_metrics, cls_name)()
        m.update_state(y, y, sample_weight=torch.empty(N, device="meta"))
        assert m.result().device.type == "meta"


def test_fit_logs_the_keras_keys_and_auto_mode_maximises():
    def history(k, stop):
        rs = np.random.RandomState(0)
        x = rs.rand(40, 4).astype("float32")
        y = x @ rs.rand(4, 3).astype("float32")
        model = k.Sequential([k.Input(shape=(4,)), k.layers.Dense(3)])
        model.compile(optimizer="adam", loss="mse",
                      metrics=["pearson_correlation", k.metrics.ConcordanceCorrelation(name="ccc")])
        return model.fit(x, y, batch_size=8, epochs=1, verbose=0, validation_data=(x, y), callbacks=[stop]).history

    ours_stop = kfit.callbacks.EarlyStopping(monitor="val_ccc")
    theirs_stop = keras.callbacks.EarlyStopping(monitor="val_ccc")
    assert sorted(history(kfit, ours_stop)) == sorted(history(keras, theirs_stop))
    assert ours_stop._is_improvement(0.9, 0.1)
    assert theirs_stop._is_improvement(0.9, 0.1)
