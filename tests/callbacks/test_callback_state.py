"""The callback state protocol: `get_state()` / `set_state()` of `Callback` and the built-ins.

Each stateful built-in is run uninterrupted, and again "killed" part-way: its state is taken,
sent through JSON (tensors aside, as `BackupAndRestore` stores them in safetensors), given to
a fresh instance, and the fresh instance goes on. Both runs must behave identically. The
restore happens in another callback's `on_train_begin`, placed before or after the restored
callback, as `BackupAndRestore` does.
"""

from __future__ import annotations

import json
import math
import os
from typing import ClassVar

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)

X = np.random.RandomState(0).rand(16, 3).astype("float32")
Y = np.random.RandomState(1).rand(16, 1).astype("float32")


def _round_trip(state):
    """What a backup gives back: JSON values (tuples become lists) and CPU tensors."""
    tensors = {}

    def strip(value, path):
        if isinstance(value, torch.Tensor):
            tensors[path] = value.detach().cpu().clone()
            return {"__tensor__": path}
        if isinstance(value, dict):
            return {k: strip(v, f"{path}/{k}") for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [strip(v, f"{path}/{i}") for i, v in enumerate(value)]
        return value

    def put_back(value):
        if isinstance(value, dict):
            if set(value) == {"__tensor__"}:
                return tensors[value["__tensor__"]]
            return {k: put_back(v) for k, v in value.items()}
        if isinstance(value, list):
            return [put_back(v) for v in value]
        return value

    return put_back(json.loads(json.dumps(strip(state, ""))))


class _Restore(Callback):
    """Calls `target.set_state(state)` in its `on_train_begin`, as BackupAndRestore does."""

    def __init__(self, target, state):
        super().__init__()
        self.target, self.state = target, state

    def on_train_begin(self, logs=None):
        self.target.set_state(self.state)


def _restored_callbacks(target, state, restore_first):
    restore = _Restore(target, _round_trip(state))
    return [restore, target] if restore_first else [target, restore]


def _model(lr=0.05):
    torch.manual_seed(7)
    model = kfit.Sequential([kfit.layers.Dense(4, activation="relu"), kfit.layers.Dense(1)])
    model.compile(loss="mse", optimizer=kfit.optimizers.SGD(learning_rate=lr), metrics=["mae"])
    return model


class _FakeModel:
    def __init__(self):
        self.stop_training = False
        self.metrics = []


def test_the_defaults_are_an_empty_state_and_a_no_op():
    class Plain(Callback):
        pass

    callback = Plain()
    assert callback.get_state() == {}
    callback.set_state({"anything": 1})  # ignored
    assert callback.get_state() == {}


@pytest.mark.parametrize(
    "callback",
    [
        LambdaCallback(on_epoch_end=lambda epoch, logs: None),
        ProgbarLogger(),
        LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)),
        TerminateOnNaN(),
    ],
    ids=lambda c: type(c).__name__,
)
def test_callbacks_without_state_return_an_empty_one(callback):
    # Their behaviour depends on the epoch index and the model alone.
    assert callback.get_state() == {}


def test_a_user_callback_with_state_is_resumed():
    class CountBadEpochs(Callback):
        def __init__(self):
            super().__init__()
            self.bad = 0

        def on_epoch_end(self, epoch, logs=None):
            self.bad += logs["loss"] > 0.1

        def get_state(self):
            return {"bad": int(self.bad)}

        def set_state(self, state):
            self.bad = state["bad"]

    first = CountBadEpochs()
    for epoch, loss in enumerate([0.5, 0.05, 0.2]):
        first.on_epoch_end(epoch, {"loss": loss})
    resumed = CountBadEpochs()
    resumed.set_state(_round_trip(first.get_state()))
    resumed.on_epoch_end(3, {"loss": 0.3})
    assert resumed.bad == 3


# ---------------------------------------------------------------------------- History


@pytest.mark.parametrize("restore_first", [True, False])
def test_history_resumes_where_it_stopped(restore_first):
    full = _model().fit(X, Y, epochs=5, shuffle=False, verbose=0)

    model = _model()
    part = model.fit(X, Y, epochs=3, shuffle=False, verbose=0)
    state = part.get_state()
    assert json.loads(json.dumps(state)) == state  # plain JSON already
    assert set(state) == {"history", "epoch"}
    resumed = History()
    rest = model.fit(
        X, Y, epochs=5, initial_epoch=3, shuffle=False, verbose=0,
        callbacks=_restored_callbacks(resumed, state, restore_first),
    )
    # The restored History holds the whole run.
    assert resumed.epoch == full.epoch == [0, 1, 2, 3, 4]
    assert resumed.history == full.history
    assert rest is resumed  # fit returns the History passed in


def test_history_state_holds_plain_values():
    history = History()
    history.on_train_begin()
    history.on_epoch_end(0, {"loss": np.float32(0.5), "lr": torch.tensor(0.25)})
    assert _round_trip(history.get_state()) == {
        "history": {"loss": [0.5], "lr": [0.25]}, "epoch": [0]}


# ---------------------------------------------------------------------------- EarlyStopping

LOSSES = [1.0, 0.8, 0.85, 0.7, 0.75, 0.72, 0.71, 0.9, 0.95, 0.99, 1.2, 1.3]


def _drive(callback, model, epochs, losses=LOSSES, trace=None):
    for epoch in epochs:
        callback.on_epoch_begin(epoch, {})
        callback.on_epoch_end(epoch, {"loss": losses[epoch]})
        if trace is not None:
            trace.append(callback.get_state())
        if model.stop_training:
            return epoch
    return None


@pytest.mark.parametrize("cut", [1, 3, 5, 6])
@pytest.mark.parametrize("restore_first", [True, False])
def test_early_stopping_stops_at_the_same_epoch_after_a_resume(cut, restore_first):
    kwargs = {"monitor": "loss", "patience": 3, "min_delta": 0.01}
    model = _FakeModel()
    full = EarlyStopping(**kwargs)
    full.set_model(model)
    full.on_train_begin()
    full_trace = []
    stopped = _drive(full, model, range(len(LOSSES)), trace=full_trace)
    assert stopped == 6 and full.stopped_epoch == 6

    model = _FakeModel()
    first = EarlyStopping(**kwargs)
    first.set_model(model)
    first.on_train_begin()
    _drive(first, model, range(cut))
    state = first.get_state()
    assert set(state) == {"wait", "best", "stopped_epoch", "best_epoch"}

    resumed = EarlyStopping(**kwargs)
    resumed.set_model(model)
    if restore_first:
        resumed.set_state(_round_trip(state))
        resumed.on_train_begin()
    else:
        resumed.on_train_begin()
        resumed.set_state(_round_trip(state))
    trace = []
    assert _drive(resumed, model, range(cut, len(LOSSES)), trace=trace) == stopped
    assert trace == full_trace[cut : stopped + 1]


def test_early_stopping_resumes_best_weights_as_tensors():
    model = _model()
    model.fit(X, Y, epochs=1, verbose=0)  # builds the weights
    losses = [0.5, 0.3, 0.4, 0.6]

    def weights_for(epoch):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float(epoch))

    first = EarlyStopping(monitor="loss", patience=5, restore_best_weights=True)
    first.set_model(model)
    first.on_train_begin()
    for epoch in range(3):
        weights_for(epoch)
        first.on_epoch_end(epoch, {"loss": losses[epoch]})
    state = first.get_state()
    assert state["best_epoch"] == 1
    assert all(isinstance(v, torch.Tensor) for v in state["best_weights"].values())

    resumed = EarlyStopping(monitor="loss", patience=5, restore_best_weights=True)
    resumed.set_model(model)
    resumed.set_state(_round_trip(state))
    resumed.on_train_begin()
    weights_for(3)
    resumed.on_epoch_end(3, {"loss": losses[3]})
    resumed.on_train_end()
    # The best epoch came before the kill; its weights come back all the same.
    assert all(bool((p == 1.0).all()) for p in model.parameters())


def test_early_stopping_fit_resumes_with_the_same_stop(tmp_path):
    # A real fit: the restore runs inside fit's on_train_begin.
    def run(epochs, initial_epoch=0, callbacks=()):
        return model.fit(X, Y, epochs=epochs, initial_epoch=initial_epoch, shuffle=False,
                         verbose=0, callbacks=list(callbacks))

    kwargs = {"monitor": "loss", "patience": 1, "min_delta": 10.0}  # no epoch improves
    model = _model()
    full = EarlyStopping(**kwargs)
    run(10, callbacks=[full])
    model = _model()
    first = EarlyStopping(**kwargs)
    run(1, callbacks=[first])
    resumed = EarlyStopping(**kwargs)
    history = run(10, 1, _restored_callbacks(resumed, first.get_state(), restore_first=False))
    assert resumed.stopped_epoch == full.stopped_epoch == 1
    assert history.epoch == [1]


# ---------------------------------------------------------------------------- ReduceLROnPlateau


def _lr_trace(callback, model, epochs, losses):
    rates = []
    for epoch in epochs:
        callback.on_epoch_begin(epoch, {})
        logs = {"loss": losses[epoch]}
        callback.on_epoch_end(epoch, logs)
        rates.append((logs["learning_rate"], float(model.optimizer.learning_rate)))
    return rates


@pytest.mark.parametrize("cut", [2, 4, 6, 8])
@pytest.mark.parametrize("restore_first", [True, False])
def test_reduce_lr_on_plateau_reduces_at_the_same_epochs_after_a_resume(cut, restore_first):
    losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86]
    kwargs = {"monitor": "loss", "patience": 2, "cooldown": 1, "factor": 0.5, "min_delta": 0.0}
    model = _model(lr=1.0)
    full = ReduceLROnPlateau(**kwargs)
    full.set_model(model)
    full.on_train_begin()
    expected = _lr_trace(full, model, range(len(losses)), losses)
    assert len({lr for lr, _ in expected}) > 2  # it did reduce, more than once

    model = _model(lr=1.0)
    first = ReduceLROnPlateau(**kwargs)
    first.set_model(model)
    first.on_train_begin()
    before = _lr_trace(first, model, range(cut), losses)
    state = first.get_state()
    assert set(state) == {"wait", "cooldown_counter", "best"}

    # The rate lives in the optimizer, which the backup restores with the model.
    resumed_model = _model(lr=float(model.optimizer.learning_rate))
    resumed = ReduceLROnPlateau(**kwargs)
    resumed.set_model(resumed_model)
    if restore_first:
        resumed.set_state(_round_trip(state))
        resumed.on_train_begin()
    else:
        resumed.on_train_begin()
        resumed.set_state(_round_trip(state))
    after = _lr_trace(resumed, resumed_model, range(cut, len(losses)), losses)
    assert before + after == expected


def test_state_is_reset_by_a_later_fit():
    # A restored state is for the resumed fit only; the next fit starts afresh.
    reduce = ReduceLROnPlateau(monitor="loss", patience=3)
    model = _model()
    reduce.set_model(model)
    reduce.on_train_begin()
    reduce.set_state({"wait": 2, "cooldown_counter": 1, "best": 0.1})  # after on_train_begin
    reduce.on_epoch_begin(0)
    reduce.on_train_begin()  # the next fit
    assert reduce.get_state() == {"wait": 0, "cooldown_counter": 0, "best": None}


# ---------------------------------------------------------------------------- ModelCheckpoint


@pytest.mark.parametrize("restore_first", [True, False])
def test_model_checkpoint_best_only_saves_the_same_epochs_after_a_resume(tmp_path, restore_first):
    losses = [0.5, 0.4, 0.45, 0.3, 0.35, 0.2]
    model = _model()
    model.fit(X, Y, epochs=1, verbose=0)  # builds the weights

    def checkpoint(folder):
        pattern = os.path.join(folder, "w-{epoch:02d}.weights.h5")
        callback = ModelCheckpoint(pattern, monitor="loss", save_best_only=True,
                                   save_weights_only=True)
        callback.set_model(model)
        return callback

    def run(callback, folder, epochs):
        for epoch in epochs:
            callback.on_epoch_begin(epoch, {})
            callback.on_epoch_end(epoch, {"loss": losses[epoch]})
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []

    full = checkpoint(tmp_path / "full")
    full.on_train_begin()
    expected = run(full, tmp_path / "full", range(len(losses)))
    assert expected == ["w-01.weights.h5", "w-02.weights.h5", "w-04.weights.h5",
                        "w-06.weights.h5"]

    first = checkpoint(tmp_path / "cut")
    first.on_train_begin()
    run(first, tmp_path / "cut", range(2))
    state = first.get_state()
    assert state == {"best": 0.4}
    resumed = checkpoint(tmp_path / "cut")
    if restore_first:
        resumed.set_state(_round_trip(state))
        resumed.on_train_begin()
    else:
        resumed.on_train_begin()
        resumed.set_state(_round_trip(state))
    # Without the state, epoch 3 (0.45) would be saved as the "best" of the new run.
    assert run(resumed, tmp_path / "cut", range(2, len(losses))) == expected


# ---------------------------------------------------------------------------- TensorBoard


class _FakeWriter:
    calls: ClassVar[list] = []

    def __init__(self, log_dir):
        self.log_dir = log_dir

    def add_scalar(self, tag, value, step):
        _FakeWriter.calls.append((os.path.basename(self.log_dir), tag, step))

    def flush(self):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("restore_first", [True, False])
def test_tensorboard_batch_steps_go_on_after_a_resume(tmp_path, restore_first):
    pytest.importorskip("tensorboard")
    from kfit.callbacks import TensorBoard

    def board():
        tb = TensorBoard(tmp_path, update_freq=2, write_graph=False,
                         write_steps_per_second=False)
        tb._summary_writer = _FakeWriter
        return tb

    def drive(tb, epochs, steps=3):
        for epoch in epochs:
            tb.on_epoch_begin(epoch, {})
            for batch in range(steps):
                tb.on_train_batch_begin(batch, {})
                tb.on_train_batch_end(batch, {"loss": 0.5})
            tb.on_epoch_end(epoch, {"loss": 0.5})

    model = _model()
    _FakeWriter.calls = []
    full = board()
    full.set_model(model)
    full.on_train_begin()
    drive(full, range(4))
    full.on_train_end()
    expected = [c for c in _FakeWriter.calls if c[1] == "batch_loss"]
    assert [step for _, _, step in expected] == [2, 4, 6, 8, 10, 12]

    _FakeWriter.calls = []
    first = board()
    first.set_model(model)
    first.on_train_begin()
    drive(first, range(2))
    state = first.get_state()
    assert state == {"global_train_batch": 6}
    resumed = board()
    resumed.set_model(model)
    if restore_first:
        resumed.set_state(_round_trip(state))
        resumed.on_train_begin()
    else:
        resumed.on_train_begin()
        resumed.set_state(_round_trip(state))
    drive(resumed, range(2, 4))
    resumed.on_train_end()
    assert [c for c in _FakeWriter.calls if c[1] == "batch_loss"] == expected


# ---------------------------------------------------------------------------- CSVLogger


def _csv_run(path, epochs, initial_epoch=0, model=None, callbacks=None, append=False):
    model = model or _model()
    logger = CSVLogger(path, append=append)
    model.fit(X, Y, epochs=epochs, initial_epoch=initial_epoch, shuffle=False, verbose=0,
              validation_data=(X, Y), callbacks=callbacks or [logger])
    return model, logger


# Restored after its own on_train_begin, an appending logger has already seen (and warned
# about) the cut line that set_state then removes.
@pytest.mark.filterwarnings("ignore:The last line")
@pytest.mark.parametrize("append", [False, True])
@pytest.mark.parametrize("restore_first", [True, False])
def test_csv_logger_file_equals_an_uninterrupted_run(tmp_path, append, restore_first):
    old_run = b"epoch,loss,mae,val_loss,val_mae\r\n0,9.0,9.0,9.0,9.0\r\n"
    full_path, path = tmp_path / "full.csv", tmp_path / "log.csv"
    if append:
        full_path.write_bytes(old_run)
        path.write_bytes(old_run)
    _csv_run(full_path, 5, append=append)

    model, first = _csv_run(path, 3, append=append)
    state = first.get_state()
    # The killed run got further than its last backup: one more row, and half of another.
    with open(path, "ab") as f:
        f.write(b"3,0.1,0.1,0.1,0.1\r\n4,0.0")
    resumed = CSVLogger(path, append=append)
    _csv_run(path, 5, 3, model, _restored_callbacks(resumed, state, restore_first), append)
    assert path.read_bytes() == full_path.read_bytes()
    assert path.read_bytes().count(b"epoch") == 1


def test_csv_logger_state_before_the_first_row_restores_an_empty_log(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.on_train_begin()
    state = logger.get_state()  # a backup taken during the first epoch
    assert state == {"keys": None, "content": ""}
    logger.on_epoch_end(0, {"loss": 0.5})
    logger.on_train_end()
    resumed = CSVLogger(path)
    resumed.set_state(_round_trip(state))
    resumed.on_train_begin()
    resumed.on_epoch_end(0, {"loss": 0.5})
    resumed.on_train_end()
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,0.5,NA"]


def test_csv_logger_state_keeps_extended_columns(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.6})
    logger.on_epoch_end(1, {"loss": 0.4, "val_loss": 0.5, "learning_rate": 0.1})
    state = logger.get_state()
    assert state["keys"] == ["loss", "val_loss", "learning_rate"]
    logger.on_train_end()
    resumed = CSVLogger(path)
    resumed.set_state(_round_trip(state))
    resumed.on_train_begin()
    resumed.on_epoch_end(2, {"loss": 0.3, "val_loss": 0.4, "learning_rate": 0.05})
    resumed.on_train_end()
    assert path.read_text().splitlines() == [
        "epoch,loss,val_loss,learning_rate", "0,0.5,0.6,NA", "1,0.4,0.5,0.1", "2,0.3,0.4,0.05"]


def test_csv_logger_rejects_a_foreign_state(tmp_path):
    logger = CSVLogger(tmp_path / "log.csv")
    with pytest.raises(ValueError, match=r"Received: content=3 \(of type int\)"):
        logger.set_state({"keys": None, "content": 3})
    assert not (tmp_path / "log.csv").exists()  # raised before touching the file


def test_every_state_is_json_or_tensors():
    # What BackupAndRestore can store: JSON values and tensors only (nan/inf are floats).
    stopper = EarlyStopping(monitor="loss")
    stopper.on_epoch_end(0, {"loss": math.inf})
    state = stopper.get_state()
    assert json.loads(json.dumps(state)) == state


# ---------------------------------------------------------------------------- SwapEMAWeights


@pytest.mark.parametrize("restore_first", [True, False])
def test_swap_ema_weights_resumes_from_the_trained_weights(restore_first):
    from kfit.callbacks.swap_ema_weights import SwapEMAWeights

    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=3)])
    model.compile(optimizer=kfit.optimizers.SGD(learning_rate=0.1, use_ema=True), loss="mse")
    model.fit(X, Y, epochs=1, verbose=0)  # the optimizer has averages now
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(3.0)  # the trained weights, unlike the averages
    first = SwapEMAWeights(swap_on_epoch=True)
    first.set_model(model)
    first.on_train_begin()
    first.on_epoch_end(0)  # the averages go in; an epoch-end backup would save them
    averages = [p.detach().clone() for p in model.parameters()]
    assert not all(bool((a == 3.0).all()) for a in averages)
    state = first.get_state()
    assert sorted(state["trained_weights"]) == ["0", "1"]

    # The rerun: the model comes back with the averaged weights the backup held.
    resumed = SwapEMAWeights(swap_on_epoch=True)
    resumed.set_model(model)
    if restore_first:
        resumed.set_state(_round_trip(state))
        resumed.on_train_begin()
    else:
        resumed.on_train_begin()
        resumed.set_state(_round_trip(state))
    resumed.on_epoch_begin(1)
    # Training goes on from the trained weights, as it would have without the kill.
    assert all(bool((p == 3.0).all()) for p in model.parameters())
    assert resumed.get_state() == {}


def test_swap_ema_weights_has_no_state_outside_an_epoch_end_swap():
    from kfit.callbacks.swap_ema_weights import SwapEMAWeights

    assert SwapEMAWeights(swap_on_epoch=True).get_state() == {}
