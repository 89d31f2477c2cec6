"""Regression metrics against Keras 3 over several weighted and unweighted updates."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np
import pytest
import torch

import kfit
from kfit import losses
from kfit.metrics import regression_metrics

keras = pytest.importorskip("keras")

N = 7
CLASSES = [
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "RootMeanSquaredError",
    "CosineSimilarity",
    "LogCoshError",
]


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape == ()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def to_torch(x):
    return None if x is None else torch.as_tensor(x)


@pytest.mark.parametrize("cls_name", CLASSES)
@pytest.mark.parametrize(
    ("true_shape", "pred_shape", "weight_shape"),
    [
        ((N, 3), (N, 3), None),
        ((N, 3), (N, 3), (N,)),
        ((N, 3), (N, 3), (N, 1)),
        ((N,), (N, 1), None),
        ((N,), (N, 1), (N,)),
        ((N, 1), (N, 1), (N, 1)),
    ],
)
def test_regression_metrics_match_keras(cls_name, true_shape, pred_shape, weight_shape):
    r = np.random.default_rng(0)
    ours = getattr(regression_metrics, cls_name)()
    theirs = getattr(keras.metrics, cls_name)()
    assert ours.name == theirs.name
    assert ours.direction == theirs._direction
    for step in range(3):
        y_true = np.abs(r.normal(size=true_shape)).astype("float32")
        y_pred = np.abs(r.normal(size=pred_shape)).astype("float32")
        weight = None
        if weight_shape is not None and step != 1:
            weight = r.uniform(size=weight_shape).astype("float32")
        ours.update_state(to_torch(y_true), to_torch(y_pred), sample_weight=to_torch(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        assert_close(ours.result(), theirs.result())
    ours.reset_state()
    theirs.reset_state()
    assert_close(ours.result(), theirs.result())
    y = r.normal(size=true_shape).astype("float32")
    ours.update_state(to_torch(y), to_torch(y * 0.5))
    theirs.update_state(y, y * 0.5)
    assert_close(ours.result(), theirs.result())


@pytest.mark.parametrize("cls_name", CLASSES)
def test_call_returns_the_running_result_like_keras(cls_name):
    r = np.random.default_rng(1)
    ours = getattr(regression_metrics, cls_name)()
    theirs = getattr(keras.metrics, cls_name)()
    for _ in range(2):
        y_true = r.normal(size=(N, 2)).astype("float32")
        y_pred = r.normal(size=(N, 2)).astype("float32")
        assert_close(ours(to_torch(y_true), to_torch(y_pred)), theirs(y_true, y_pred))


@pytest.mark.parametrize("cls_name", CLASSES)
def test_configs_match_keras(cls_name):
    ours = getattr(regression_metrics, cls_name)(name="m")
    theirs = getattr(keras.metrics, cls_name)(name="m")
    config = ours.get_config()
    for key, value in theirs.get_config().items():
        assert config[key] == value
    rebuilt = type(ours).from_config(config)
    assert rebuilt.get_config() == config


def test_integer_targets_work():
    ours = regression_metrics.MeanAbsoluteError()
    theirs = keras.metrics.MeanAbsoluteError()
    y_true = np.array([[1], [2], [3]], dtype="uint8")
    y_pred = np.array([[1.5], [2.0], [2.0]], dtype="float32")
    ours.update_state(torch.tensor(y_true), torch.tensor(y_pred))
    theirs.update_state(y_true, y_pred)
    assert_close(ours.result(), theirs.result())


def test_metric_functions_are_the_loss_functions():
    assert regression_metrics.mean_squared_error is losses.mean_squared_error
    assert regression_metrics.mean_absolute_error is losses.mean_absolute_error
    assert regression_metrics.log_cosh is losses.log_cosh


def test_rmse_state_round_trip_is_exact():
    r = np.random.default_rng(2)
    first = regression_metrics.RootMeanSquaredError()
    for _ in range(3):
        first.update_state(torch.tensor(r.normal(size=(N, 1))), torch.tensor(r.normal(size=(N, 1))))
    second = regression_metrics.RootMeanSquaredError()
    second.set_state(first.get_state())
    assert torch.equal(first.result(), second.result())
    y_true, y_pred = torch.tensor(r.normal(size=(N, 1))), torch.tensor(r.normal(size=(N, 1)))
    first.update_state(y_true, y_pred)
    second.update_state(y_true, y_pred)
    assert torch.equal(first.result(), second.result())


@pytest.mark.parametrize("num_regressors", [0, 2])
@pytest.mark.parametrize("class_aggregation", [None, "uniform_average", "variance_weighted_average"])
@pytest.mark.parametrize(
    ("true_shape", "pred_shape", "weight_shape"),
    [((N, 3), (N, 3), None), ((N, 3), (N, 3), (N,)), ((N, 3), (N, 3), (N, 3)), ((N,), (N, 1), (N,))],
)
def test_r2_score_matches_keras(class_aggregation, num_regressors, true_shape, pred_shape, weight_shape):
    r = np.random.default_rng(4)
    kwargs = {"class_aggregation": class_aggregation, "num_regressors": num_regressors}
    ours = regression_metrics.R2Score(**kwargs)
    theirs = keras.metrics.R2Score(**kwargs)
    assert ours.name == theirs.name
    assert ours.direction == theirs._direction == "up"
    for step in range(3):
        y_true = r.normal(size=true_shape).astype("float32")
        y_pred = (y_true.reshape(pred_shape) + 0.5 * r.normal(size=pred_shape)).astype("float32")
        weight = None
        if weight_shape is not None and step != 1:
            weight = r.uniform(size=weight_shape).astype("float32")
        ours.update_state(to_torch(y_true), to_torch(y_pred), sample_weight=to_torch(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        expected = keras.ops.convert_to_numpy(theirs.result())
        np.testing.assert_allclose(ours.result().numpy(), expected, rtol=1e-5, atol=1e-6)
    assert ours.get_state_names() == [v.path.split("/")[-1] for v in theirs.variables]
    ours.reset_state()
    theirs.reset_state()
    y_true = r.normal(size=true_shape).astype("float32")
    y_pred = r.normal(size=pred_shape).astype("float32")
    ours.update_state(to_torch(y_true), to_torch(y_pred))
    theirs.update_state(y_true, y_pred)
    expected = keras.ops.convert_to_numpy(theirs.result())
    np.testing.assert_allclose(ours.result().numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("num_regressors", [6, 5])  # more than n - 1, and exactly n - 1 (n = 6)
def test_r2_adjusted_falls_back_with_a_warning_like_keras(num_regressors):
    y_true = np.arange(6, dtype="float32").reshape(6, 1)
    y_pred = y_true + np.array([[0.5], [-0.5], [0.2], [0.1], [0.0], [0.3]], dtype="float32")
    ours = regression_metrics.R2Score(num_regressors=num_regressors)
    theirs = keras.metrics.R2Score(num_regressors=num_regressors)
    ours.update_state(to_torch(y_true), to_torch(y_pred))
    theirs.update_state(y_true, y_pred)
    with pytest.warns(UserWarning, match="R2 score"):
        got = ours.result()
    with pytest.warns(UserWarning):
        expected = keras.ops.convert_to_numpy(theirs.result())
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


def test_r2_config_equals_keras_and_bad_arguments_raise():
    ours = regression_metrics.R2Score(class_aggregation=None, num_regressors=3, name="r2")
    theirs = keras.metrics.R2Score(class_aggregation=None, num_regressors=3, name="r2")
    assert ours.get_config() == theirs.get_config()
    assert regression_metrics.R2Score.from_config(ours.get_config()).get_config() == ours.get_config()
    for kwargs in ({"class_aggregation": "mean"}, {"num_regressors": -1}):
        with pytest.raises(ValueError):
            keras.metrics.R2Score(**kwargs)
        with pytest.raises(ValueError, match="Received:"):
            regression_metrics.R2Score(**kwargs)


def test_r2_state_round_trip_into_a_fresh_metric_and_no_host_sync():
    r = np.random.default_rng(5)
    first = regression_metrics.R2Score(num_regressors=1)
    first.update_state(torch.tensor(r.normal(size=(N, 2))), torch.tensor(r.normal(size=(N, 2))))
    second = regression_metrics.R2Score(num_regressors=1)
    second.set_state(first.get_state())
    assert torch.equal(first.result(), second.result())
    meta = regression_metrics.R2Score()
    y = torch.empty(N, 2, device="meta")
    meta.update_state(y, y, sample_weight=torch.empty(N, device="meta"))
    assert meta.result().device.type == "meta"


def test_r2_fit_logs_the_keras_keys_and_auto_mode_maximises():
    def history(k, stop):
        rs = np.random.RandomState(0)
        x = rs.rand(40, 4).astype("float32")
        y = x @ rs.rand(4, 2).astype("float32")
        model = k.Sequential([k.Input(shape=(4,)), k.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse", metrics=["r2_score", k.metrics.R2Score(name="r2")])
        return model.fit(x, y, batch_size=8, epochs=1, verbose=0, validation_data=(x, y), callbacks=[stop]).history

    ours_stop = kfit.callbacks.EarlyStopping(monitor="val_r2")
    theirs_stop = keras.callbacks.EarlyStopping(monitor="val_r2")
    assert sorted(history(kfit, ours_stop)) == sorted(history(keras, theirs_stop))
    assert ours_stop._is_improvement(0.9, 0.1)
    assert theirs_stop._is_improvement(0.9, 0.1)
