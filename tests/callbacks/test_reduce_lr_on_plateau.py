"""ReduceLROnPlateau: Keras's scenarios, the logged rate, cooldown, min_lr, parity with Keras."""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import ReduceLROnPlateau

X = np.random.RandomState(0).rand(32, 3).astype("float32")
Y = np.random.RandomState(1).rand(32, 2).astype("float32")
X_VAL, Y_VAL = X[:10], Y[:10]


def make_model(optimizer=None):
    model = kfit.Sequential([kfit.layers.Dense(5, input_dim=3), kfit.layers.Dense(2)])
    model.compile(loss="mse", optimizer=optimizer or kfit.optimizers.Adam(0.1))
    return model


def fit(model, callbacks, epochs, **kwargs):
    return model.fit(X, Y, validation_data=(X_VAL, Y_VAL), callbacks=callbacks, epochs=epochs,
                     verbose=0, **kwargs)


def fake_model(lr):
    return types.SimpleNamespace(stop_training=False, optimizer=types.SimpleNamespace(learning_rate=lr))


def test_reduces_lr_with_model_fit():
    model = make_model()
    fit(model, [ReduceLROnPlateau(patience=1, factor=0.1, monitor="val_loss", min_delta=100)], epochs=2)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_logs_the_rate_each_epoch_ran_with_before_reducing():
    model = make_model()
    history = fit(model, [ReduceLROnPlateau(patience=1, factor=0.5, min_delta=100)], epochs=4)
    rates = history.history["learning_rate"]
    assert all(type(r) is float for r in rates)
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0125)


def test_throws_when_optimizer_has_schedule():
    schedule = kfit.optimizers.schedules.PolynomialDecay(initial_learning_rate=0.1, decay_steps=10)
    model = make_model(kfit.optimizers.Adam(schedule))
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        fit(model, [ReduceLROnPlateau(patience=1, factor=0.1, min_delta=100)], epochs=2)


def test_verbose_logging(capsys):
    fit(make_model(), [ReduceLROnPlateau(patience=1, factor=0.1, min_delta=100, verbose=1)], epochs=2)
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.01" in capsys.readouterr().out


def test_honors_min_lr(capsys):
    model = make_model()
    reduce = ReduceLROnPlateau(patience=1, factor=0.1, min_delta=10, min_lr=0.005, verbose=1)
    history = fit(model, [reduce], epochs=4)
    assert float(model.optimizer.learning_rate) == 0.005
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.01, 0.005])
    # At the floor there is nothing left to reduce, and nothing is announced.
    assert capsys.readouterr().out.count("reducing learning rate") == 2


def test_cooldown():
    model = make_model()
    fit(model, [ReduceLROnPlateau(patience=1, factor=0.1, min_delta=100, cooldown=2)], epochs=4)
    # Reduced at epoch 1; epoch 2 cools down; epoch 3's counter reaches 0 and it reduces again.
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)


def test_state_reset_across_fit_calls():
    reduce = ReduceLROnPlateau(patience=1, factor=0.1, monitor="loss", min_delta=0, cooldown=2)
    reduce.set_model(make_model())
    reduce.on_train_begin()
    reduce.best, reduce.wait, reduce.cooldown_counter = 0.5, 3, 2
    reduce.on_train_begin()
    assert reduce.best is None and reduce.wait == 0 and reduce.cooldown_counter == 0


def test_missing_monitor_warns_but_still_logs_the_rate():
    reduce = ReduceLROnPlateau(monitor="val_loss", patience=0)
    reduce.set_model(fake_model(0.3))
    logs = {"loss": 1.0}
    with pytest.warns(UserWarning, match=r"`val_loss`.*Available keys: \['learning_rate', 'loss'\]"):
        reduce.on_epoch_end(0, logs)
    assert logs["learning_rate"] == 0.3 and reduce.model.optimizer.learning_rate == 0.3


def test_matches_keras_on_many_sequences():
    pytest.importorskip("keras")
    from keras.src.callbacks import ReduceLROnPlateau as KerasReduceLROnPlateau

    rs = np.random.RandomState(3)
    sequences = [list(np.round(rs.rand(15), 1)) for _ in range(6)]
    configs = itertools.product([0, 1, 2], [0, 1, 3], [0.0, 0.02], [0.0, 0.004], ["min", "max"])
    for values, (patience, cooldown, min_lr, min_delta, mode) in itertools.product(sequences, configs):
        kwargs = {"monitor": "val_loss", "factor": 0.5, "patience": patience, "cooldown": cooldown,
                  "min_lr": min_lr, "min_delta": min_delta, "mode": mode}
        ours, theirs = ReduceLROnPlateau(**kwargs), KerasReduceLROnPlateau(**kwargs)
        ours.set_model(fake_model(0.1))
        theirs.set_model(fake_model(0.1))
        ours.on_train_begin()
        theirs.on_train_begin()
        for epoch, value in enumerate(values):
            our_logs, their_logs = {"val_loss": float(value)}, {"val_loss": float(value)}
            ours.on_epoch_end(epoch, our_logs)
            theirs.on_epoch_end(epoch, their_logs)
            assert our_logs == their_logs, (kwargs, values, epoch)
            assert (ours.wait, ours.cooldown_counter) == (theirs.wait, theirs.cooldown_counter)
            assert ours.model.optimizer.learning_rate == theirs.model.optimizer.learning_rate


def test_float32_rounding_does_not_count_as_a_reduction():
    # 0.1 * 0.1 is 0.010000000000000002 in float64 but equals min_lr=0.01 in float32, as Keras
    # stores rates: no second "reduction" to the same value.
    reduce = ReduceLROnPlateau(monitor="loss", factor=0.1, patience=0, min_lr=0.01, min_delta=1e9)
    reduce.set_model(fake_model(0.1))
    reduce.on_train_begin()
    for epoch in range(4):
        reduce.on_epoch_end(epoch, {"loss": 1.0})
    assert reduce.model.optimizer.learning_rate == 0.1 * 0.1  # one reduction only
    assert reduce.wait == 2  # a second "reduction" would have reset it


def test_plain_torch_optimizer_is_refused_with_the_alternative():
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=3)])
    model.compile(loss="mse", optimizer=torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1))
    reduce = ReduceLROnPlateau(monitor="loss")
    reduce.set_model(model)
    with pytest.raises(ValueError, match=r"learning_rate.*torch\.optim\.lr_scheduler\.ReduceLROnPlateau"):
        reduce.on_epoch_end(0, {"loss": 1.0})


def test_legacy_epsilon_is_min_delta():
    with pytest.warns(UserWarning, match="epsilon"):
        reduce = ReduceLROnPlateau(epsilon=0.5)
    assert reduce.min_delta == 0.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"factor": 1.0}, r"factor.*\[0, 1\).*Received: factor=1.0"),
        ({"factor": 2}, r"factor.*Received: factor=2 \(of type int\)"),
        ({"factor": -0.5}, r"factor.*Received: factor=-0.5"),
        ({"min_lr": -1.0}, r"min_lr.*Received: min_lr=-1.0"),
        ({"patience": -2}, r"patience.*Received: patience=-2"),
        ({"cooldown": 0.5}, r"cooldown.*Received: cooldown=0.5"),
        ({"mode": "up"}, r"mode.*Received: mode='up'"),
        ({"min_deltaa": 0.1}, r"'min_deltaa' \(did you mean 'min_delta'\?\)"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReduceLROnPlateau(**kwargs)
