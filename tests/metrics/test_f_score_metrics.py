"""`F1Score` and `FBetaScore` against Keras 3 over several weighted and unweighted batches."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kfit
from kfit import metrics
from kfit.metrics import f_score_metrics

keras = pytest.importorskip("keras")

N, C = 12, 4
AVERAGES = [None, "micro", "macro", "weighted"]


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def batch(r: np.random.Generator):
    y_true = r.integers(0, 2, size=(N, C)).astype("float32")
    y_pred = r.uniform(size=(N, C)).astype("float32")
    y_pred[0] = 0.0  # a row with no positive prediction under `threshold=None`
    y_pred[1, :2] = y_pred[1].max()  # a tie for the row maximum
    return y_true, y_pred


def pair(cls_name: str, **kwargs):
    return getattr(f_score_metrics, cls_name)(**kwargs), getattr(keras.metrics, cls_name)(**kwargs)


@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("threshold", [None, 0.4])
@pytest.mark.parametrize(("cls_name", "extra"), [("F1Score", {}), ("FBetaScore", {"beta": 0.5}),
                                                  ("FBetaScore", {"beta": 2.0})])
def test_matches_keras_over_several_batches(cls_name, extra, average, threshold):
    r = np.random.default_rng(0)
    ours, theirs = pair(cls_name, average=average, threshold=threshold, **extra)
    assert ours.name == theirs.name
    for step in range(3):
        y_true, y_pred = batch(r)
        weight = None if step == 1 else r.uniform(size=(N,)).astype("float32")
        ours.update_state(torch.tensor(y_true), torch.tensor(y_pred),
                          sample_weight=None if weight is None else torch.tensor(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        assert_close(ours.result(), theirs.result())
    assert ours.get_state_names() == [v.path.split("/")[-1] for v in theirs.variables]
    ours.reset_state()
    theirs.reset_state()
    assert_close(ours.result(), theirs.result())
    y_true, y_pred = batch(r)
    ours.update_state(y_true, y_pred)  # numpy inputs work too
    theirs.update_state(y_true, y_pred)
    assert_close(ours.result(), theirs.result())


@pytest.mark.parametrize("average", AVERAGES)
def test_configs_equal_keras_and_round_trip(average):
    for cls_name, kwargs in [("F1Score", {"threshold": 0.3}), ("FBetaScore", {"beta": 3.0})]:
        ours, theirs = pair(cls_name, average=average, name="m", **kwargs)
        assert ours.get_config() == theirs.get_config()
        rebuilt = type(ours).from_config(ours.get_config())
        assert rebuilt.get_config() == ours.get_config()
        assert metrics.deserialize(metrics.serialize(ours)).get_config() == ours.get_config()


@pytest.mark.parametrize(
    "kwargs",
    [{"average": "mean"}, {"beta": 2}, {"beta": -1.0}, {"threshold": 1}, {"threshold": 1.5},
     {"threshold": 0.0}],
)
def test_invalid_arguments_raise_like_keras(kwargs):
    with pytest.raises(ValueError):
        keras.metrics.FBetaScore(**kwargs)
    with pytest.raises(ValueError, match="Received:"):
        f_score_metrics.FBetaScore(**kwargs)


def test_non_2d_inputs_are_rejected():
    with pytest.raises(ValueError, match="2D inputs"):
        f_score_metrics.F1Score().update_state(torch.ones(4), torch.ones(4))


def test_state_round_trip_into_a_fresh_metric_is_exact():
    r = np.random.default_rng(3)
    first = f_score_metrics.F1Score(average="weighted")
    for _ in range(2):
        first.update_state(*map(torch.tensor, batch(r)))
    second = f_score_metrics.F1Score(average="weighted")
    second.set_state(first.get_state())
    assert torch.equal(first.result(), second.result())
    y_true, y_pred = map(torch.tensor, batch(r))
    first.update_state(y_true, y_pred)
    second.update_state(y_true, y_pred)
    assert torch.equal(first.result(), second.result())


def test_update_runs_without_host_sync():
    # Meta tensors have no data: any read back to the host (item, bool, numpy) fails.
    for average in AVERAGES:
        for threshold in (None, 0.5):
            m = f_score_metrics.FBetaScore(average=average, beta=2.0, threshold=threshold)
            y = torch.empty(N, C, device="meta")
            m.update_state(y, y, sample_weight=torch.empty(N, device="meta"))
            assert m.result().device.type == "meta"


def test_names_resolve_and_direction_is_up_like_keras():
    for name in ("f1_score", "F1Score", "f_beta_score", "FBetaScore"):
        ours, theirs = metrics.get(name), keras.metrics.get(name)
        assert type(ours).__name__ == type(theirs).__name__
        assert ours.name == theirs.name
        assert ours.direction == theirs._direction == "up"


def _fit_history(k, metric_list, callbacks=()):
    rs = np.random.RandomState(0)
    x = rs.rand(48, 6).astype("float32")
    y = np.eye(3, dtype="float32")[rs.randint(0, 3, 48)]
    model = k.Sequential([k.Input(shape=(6,)), k.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=metric_list)
    return model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(x, y),
                     callbacks=list(callbacks)).history


def test_fit_logs_the_keras_keys_and_auto_mode_maximises():
    def metric_list(k):
        return ["f1_score", k.metrics.F1Score(average="macro", name="macro_f1"),
                k.metrics.FBetaScore(average="micro", beta=2.0)]

    ours_stop = kfit.callbacks.EarlyStopping(monitor="val_macro_f1")
    theirs_stop = keras.callbacks.EarlyStopping(monitor="val_macro_f1")
    ours = _fit_history(kfit, metric_list(kfit), [ours_stop])
    theirs = _fit_history(keras, metric_list(keras), [theirs_stop])
    assert sorted(ours) == sorted(theirs)
    assert ours_stop._is_improvement(0.9, 0.1)
    assert theirs_stop._is_improvement(0.9, 0.1)
