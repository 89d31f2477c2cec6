"""LearningRateScheduler: both schedule forms, result types, History, signature checks."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import LearningRateScheduler

X = np.random.RandomState(0).rand(10, 3).astype("float32")
Y = np.random.RandomState(1).rand(10, 2).astype("float32")


def make_model(optimizer="sgd"):
    model = kfit.Sequential([kfit.layers.Dense(5, input_dim=3), kfit.layers.Dense(2)])
    model.compile(loss="mse", optimizer=optimizer)
    return model


def fit(model, schedule, epochs, verbose=0):
    return model.fit(X, Y, epochs=epochs, verbose=0,
                     callbacks=[LearningRateScheduler(schedule, verbose=verbose)])


def test_one_argument_schedule():
    model = make_model()
    fit(model, lambda epoch: 1.0 / (2.0 + epoch), epochs=1)
    assert float(model.optimizer.learning_rate) == 0.5


def test_verbose_logging(capsys):
    fit(make_model(), lambda epoch: 1.0 / (1.0 + epoch), epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1: LearningRateScheduler setting learning rate to 1.0." in out
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.5." in out


def test_schedule_receives_the_current_rate():
    seen = []

    def halve(epoch, lr):
        seen.append((epoch, lr))
        return lr / 2

    model = make_model(kfit.optimizers.Adam(0.03))
    fit(model, halve, epochs=2)
    assert seen == [(0, 0.03), (1, 0.015)]
    assert float(model.optimizer.learning_rate) == pytest.approx(0.03 / 4)


def test_throws_when_optimizer_has_schedule():
    schedule = kfit.optimizers.schedules.PolynomialDecay(initial_learning_rate=0.1, decay_steps=10)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        fit(make_model(kfit.optimizers.Adam(schedule)), lambda epoch, lr: lr / 2, epochs=2)


def test_learning_rate_in_history_as_python_floats():
    history = fit(make_model(), lambda epoch, lr: 0.5 / (epoch + 1), epochs=3)
    rates = history.history["learning_rate"]
    assert all(type(r) is float for r in rates)
    assert rates == [0.5, 0.25, 0.5 / 3]


@pytest.mark.parametrize(
    "value",
    [
        np.float32(0.25),
        np.float64(0.25),
        np.array(0.25),
        torch.tensor(0.25),
        torch.tensor(0.25, dtype=torch.float64),
    ],
)
def test_numpy_and_tensor_results_are_converted(value):
    model = make_model()
    history = fit(model, lambda epoch: value, epochs=1)
    assert type(history.history["learning_rate"][0]) is float
    assert float(model.optimizer.learning_rate) == pytest.approx(0.25)


@pytest.mark.parametrize("value", [1, "0.1", [0.1], np.array([0.1]), torch.tensor([0.1]), torch.tensor(1), None])
def test_non_float_results_raise_naming_the_fix(value):
    with pytest.raises(ValueError, match=r"return a float.*Received: .*float\(new_lr\)"):
        fit(make_model(), lambda epoch: value, epochs=1)


def test_type_errors_inside_a_two_argument_schedule_are_not_swallowed():
    def broken(epoch, lr):
        return lr + "oops"  # a bug in the schedule: Keras would retry as schedule(epoch)

    with pytest.raises(TypeError, match="unsupported operand"):
        fit(make_model(), broken, epochs=1)


def test_optional_and_variadic_signatures_get_the_rate():
    got = []
    fit(make_model(), lambda epoch, lr=None: got.append(lr) or 0.1, epochs=1)
    fit(make_model(), lambda *args: got.append(args) or 0.1, epochs=1)
    assert got == [0.01, (0, 0.01)]


def test_a_kfit_schedule_object_works_as_a_one_argument_schedule():
    decay = kfit.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model = make_model()
    history = fit(model, decay, epochs=3)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])


@pytest.mark.parametrize(
    "schedule, error, match",
    [
        (0.1, TypeError, r"schedule.*Received: schedule=0.1 \(of type float\)"),
        (lambda: 0.1, TypeError, r"\(epoch, lr\)` or `\(epoch\)`.*signature \(\)"),
        (lambda a, b, c: 0.1, TypeError, r"signature \(a, b, c\)"),
        (lambda *, epoch: 0.1, TypeError, r"signature \(\*, epoch\)"),
    ],
)
def test_bad_schedules_are_refused_at_construction(schedule, error, match):
    with pytest.raises(error, match=match):
        LearningRateScheduler(schedule)


def test_plain_torch_optimizer_is_refused_with_the_alternative():
    callback = LearningRateScheduler(lambda epoch: 0.1)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    callback.set_model(types.SimpleNamespace(optimizer=optimizer))
    with pytest.raises(ValueError, match=r"learning_rate.*of type SGD.*LambdaLR"):
        callback.on_epoch_begin(0, {})


def test_matches_keras_on_a_two_argument_schedule():
    keras = pytest.importorskip("keras")
    schedule = lambda epoch, lr: lr * 0.9 if epoch % 2 else lr  # noqa: E731
    kmodel = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    kmodel.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    kh = kmodel.fit(X, Y, epochs=5, verbose=0, callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
    ours = fit(make_model(kfit.optimizers.SGD(0.1)), schedule, epochs=5)
    # Keras stores the rate in float32; kfit keeps the exact Python float.
    np.testing.assert_allclose(ours.history["learning_rate"], kh.history["learning_rate"], rtol=1e-6)
