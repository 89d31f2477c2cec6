"""MonitorCallback: mode resolution, min_delta, the missing-key warning, argument checks."""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks.monitor_callback import MonitorCallback


def _squared(y_true, y_pred):
    return (y_true - y_pred) ** 2


def _custom_metric(name, direction=None):
    """A custom metric; "up" mimics Keras's F1Score, None a metric that states nothing."""
    metric = kfit.metrics.MeanMetricWrapper(_squared, name=name)
    if direction is not None:
        metric._direction = direction
    return metric


@pytest.fixture(scope="module")
def trained_model():
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
    model.compile(
        loss="mae",
        optimizer="adam",
        metrics=["mse", "acc", "accuracy", "hinge", _custom_metric("f1_score", "up"), _custom_metric("mystery")],
    )
    rs = np.random.RandomState(0)
    # Compiled metrics exist once a batch has run, which is when callbacks resolve "auto".
    model.fit(rs.rand(16, 4), rs.rand(16), validation_split=0.25, epochs=1, verbose=0)
    return model


@pytest.mark.parametrize(
    "mode, monitor, expected",
    [
        ("max", "val_mse", operator.gt),
        ("min", "val_loss", operator.lt),
        ("auto", "val_mse", operator.lt),
        ("auto", "loss", operator.lt),
        ("auto", "val_loss", operator.lt),
        ("auto", "acc", operator.gt),
        ("auto", "val_accuracy", operator.gt),
        ("auto", "hinge", operator.lt),
        ("auto", "f1_score", operator.gt),
        ("auto", "val_f1_score", operator.gt),
        ("auto", "dense_loss", operator.lt),  # a per-output loss of a multi-output model
    ],
)
def test_mode_resolution_table(trained_model, mode, monitor, expected):
    callback = MonitorCallback(monitor, mode)
    callback.set_model(trained_model)
    callback._set_monitor_op()
    assert callback.monitor_op is expected


@pytest.mark.parametrize("monitor", ["unknown", "val_mystery"])
def test_auto_mode_without_a_direction_raises_naming_the_fix(trained_model, monitor):
    callback = MonitorCallback(monitor)
    callback.set_model(trained_model)
    with pytest.raises(ValueError, match=rf"monitor='{monitor}'.*mode='min'.*mode='max'"):
        callback._set_monitor_op()


def test_auto_mode_error_suggests_a_close_metric_name(trained_model):
    callback = MonitorCallback("val_acuracy")
    callback.set_model(trained_model)
    with pytest.raises(ValueError, match="Did you mean monitor='val_accuracy'"):
        callback._set_monitor_op()


def test_auto_mode_is_resolved_again_for_a_new_model(trained_model):
    callback = MonitorCallback("f1_score")
    callback.set_model(trained_model)
    callback._set_monitor_op()
    assert callback.monitor_op is operator.gt
    other = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
    other.compile(loss="mse", optimizer="sgd")
    callback.set_model(other)  # as the next fit would do
    assert callback.monitor_op is None
    with pytest.raises(ValueError, match="f1_score"):
        callback._set_monitor_op()


def test_explicit_mode_survives_set_model(trained_model):
    callback = MonitorCallback("anything", mode="max")
    callback._set_monitor_op()
    callback.set_model(trained_model)
    assert callback.monitor_op is operator.gt


def test_min_delta_as_in_keras():
    callback = MonitorCallback(mode="max", min_delta=0.5)
    callback._set_monitor_op()
    assert callback._is_improvement(0.75, 0)
    assert callback._is_improvement(0.5, None)
    assert not callback._is_improvement(0.5, 0)
    assert not callback._is_improvement(0.2, 0.5)


def test_min_delta_sign_is_ignored():
    callback = MonitorCallback(mode="min", min_delta=-0.1)
    assert callback.min_delta == 0.1
    assert callback._is_improvement(0.85, 1.0)
    assert not callback._is_improvement(0.95, 1.0)


def test_is_improvement_matches_keras():
    pytest.importorskip("keras")
    from keras.src.callbacks.monitor_callback import MonitorCallback as KerasMonitor

    values = [-1.0, 0.0, 0.25, 0.5, 0.75, 1.0, float("nan")]
    for mode, delta in itertools.product(["min", "max"], [0.0, 0.25, -0.25]):
        ours, theirs = MonitorCallback(mode=mode, min_delta=delta), KerasMonitor(mode=mode, min_delta=delta)
        theirs._set_monitor_op()
        for current, reference in itertools.product(values, [None, *values]):
            expected = bool(theirs._is_improvement(current, reference))
            assert ours._is_improvement(current, reference) is expected, (mode, delta, current, reference)


def test_baseline_is_the_initial_best():
    assert MonitorCallback(baseline=0.5).best == 0.5
    assert MonitorCallback().best is None


def test_get_monitor_value_warns_listing_available_keys():
    callback = MonitorCallback("val_los", mode="min")
    with pytest.warns(UserWarning, match=r"Available keys: \['loss', 'val_loss'\].*Did you mean 'val_loss'"):
        assert callback.get_monitor_value({"loss": 1.0, "val_loss": 2.0}) is None


def test_get_monitor_value_converts_scalars_and_rejects_arrays():
    callback = MonitorCallback("m", mode="min")
    for value in (np.float32(0.5), np.array(0.5), torch.tensor(0.5)):
        got = callback.get_monitor_value({"m": value})
        assert type(got) is float and got == 0.5
    with pytest.raises(ValueError, match=r"logs\['m'\].*scalar.*shape \(2,\)"):
        callback.get_monitor_value({"m": np.array([1.0, 2.0])})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "maxx"}, r"mode.*Received: mode='maxx' \(of type str\).*Did you mean mode='max'"),
        ({"mode": None}, r"mode.*Received: mode=None"),
        ({"monitor": 3}, r"monitor.*Received: monitor=3 \(of type int\)"),
        ({"min_delta": "0.1"}, r"min_delta.*Received: min_delta='0.1' \(of type str\)"),
        ({"baseline": "high"}, r"baseline.*Received: baseline='high'"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MonitorCallback(**kwargs)


def test_not_exported_from_callbacks_namespace():
    assert "MonitorCallback" not in kfit.callbacks.__all__
