"""TerminateOnNaN: Keras's scenarios, the asynchronous device check, and its cost (no syncs)."""

from __future__ import annotations

import os
import shutil
import types

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import TerminateOnNaN
from kfit.trainers import BatchLogs


class CountBatches(kfit.callbacks.Callback):
    """Counts training batches (a batch-begin hook: it never asks for the logs)."""

    def __init__(self):
        super().__init__()
        self.batches = 0
        self.train_end_called = False
        self.epoch_ends = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_ends += 1

    def on_train_end(self, logs=None):
        self.train_end_called = True


def one_unit_model(learning_rate=0.01):
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=1)])
    model.compile(optimizer=kfit.optimizers.SGD(learning_rate), loss="mse")
    return model


def test_exploding_model_stops_after_one_epoch_with_a_non_finite_loss():
    rs = np.random.RandomState(1337)
    x, y = rs.random((10, 3)), np.eye(2)[rs.choice(2, size=10)]
    x_val, y_val = rs.random((10, 3)), np.eye(2)[rs.choice(2, size=10)]
    huge = kfit.initializers.Constant(1e5)
    model = kfit.Sequential(
        [kfit.layers.Dense(2, activation="relu", kernel_initializer=huge, input_dim=3)]
        + [kfit.layers.Dense(2, activation="relu", kernel_initializer=huge) for _ in range(4)]
        + [kfit.layers.Dense(2)]
    )
    model.compile(loss="mean_squared_error", optimizer="sgd")
    counter = CountBatches()
    history = model.fit(x, y, batch_size=4, validation_data=(x_val, y_val), epochs=20, verbose=0,
                        callbacks=[TerminateOnNaN(), counter])
    loss = history.history["loss"]
    assert len(loss) == 1 and not np.isfinite(loss[0])
    # The epoch is closed as in Keras: validation and on_epoch_end still ran.
    assert "val_loss" in history.history and counter.epoch_ends == 1
    assert counter.batches == 1  # on the CPU the check is immediate: stopped after batch 0


def test_huge_learning_rate_stops_mid_epoch(capsys):
    x = np.linspace(-1, 1, 64).reshape(-1, 1).astype("float32")
    model = one_unit_model(learning_rate=1e12)
    counter = CountBatches()
    history = model.fit(x, 3 * x, batch_size=4, epochs=5, shuffle=False, verbose=0,
                        callbacks=[TerminateOnNaN(), counter])
    assert len(history.epoch) == 1 and not np.isfinite(history.history["loss"][0])
    assert 1 < counter.batches < 16
    assert f"Batch {counter.batches - 1}: Invalid loss, terminating training" in capsys.readouterr().out


def test_graceful_stop_runs_only_up_to_the_bad_batch():
    counter = CountBatches()
    history = one_unit_model().fit(np.array([[1.0], [2.0]]), np.array([[np.inf], [np.inf]]), epochs=2,
                                   batch_size=1, verbose=0, callbacks=[TerminateOnNaN(), counter])
    assert len(history.history["loss"]) == 1 and counter.batches == 1
    assert counter.train_end_called


def test_raise_error_names_the_batch():
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        one_unit_model().fit(np.array([[1.0], [2.0]]), np.array([[np.inf], [np.inf]]), epochs=1,
                             batch_size=1, verbose=0, callbacks=[TerminateOnNaN(raise_error=True)])


def test_raise_error_on_a_later_batch_names_that_batch():
    with pytest.raises(RuntimeError, match="at batch 1 "):
        one_unit_model().fit(np.array([[1.0], [2.0]]), np.array([[1.0], [np.inf]]), epochs=1,
                             batch_size=1, shuffle=False, verbose=0, callbacks=[TerminateOnNaN(raise_error=True)])


def test_raise_error_skips_every_on_train_end():
    tracking = CountBatches()
    with pytest.raises(RuntimeError):
        one_unit_model().fit(np.array([[1.0]]), np.array([[np.inf]]), epochs=1, verbose=0,
                             callbacks=[tracking, TerminateOnNaN(raise_error=True)])
    assert not tracking.train_end_called and tracking.epoch_ends == 0


def test_raise_error_preserves_a_backup(tmp_path):
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    (backup_dir / "checkpoint.txt").write_text("last good state")

    class DeletesBackupOnTrainEnd(kfit.callbacks.Callback):
        """What BackupAndRestore does after a fit that it considers finished."""

        def on_train_end(self, logs=None):
            shutil.rmtree(backup_dir)

    with pytest.raises(RuntimeError):
        one_unit_model().fit(np.array([[1.0]]), np.array([[np.inf]]), epochs=1, verbose=0,
                             callbacks=[DeletesBackupOnTrainEnd(), TerminateOnNaN(raise_error=True)])
    assert (backup_dir / "checkpoint.txt").read_text() == "last good state"


def test_raise_error_preserves_a_real_backup_and_restore_backup(tmp_path):
    if not hasattr(kfit.callbacks, "BackupAndRestore"):
        pytest.skip("BackupAndRestore is not available")
    backup_dir = str(tmp_path / "backups")

    class PoisonWeightsAfterFirstEpoch(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            with torch.no_grad():
                for p in self.model.parameters():
                    p.fill_(float("inf"))

    # Epoch 0 trains normally and is backed up; epoch 1 starts from Inf weights.
    with pytest.raises(RuntimeError, match="at batch 0 "):
        one_unit_model().fit(np.ones((8, 1)), np.ones((8, 1)), epochs=3, batch_size=4, verbose=0,
                             callbacks=[kfit.callbacks.BackupAndRestore(backup_dir),
                                        TerminateOnNaN(raise_error=True), PoisonWeightsAfterFirstEpoch()])
    assert os.path.isdir(backup_dir) and os.listdir(backup_dir)


@pytest.mark.parametrize("raise_error", [False, True])
def test_normal_training_is_unaffected(raise_error):
    history = one_unit_model().fit(np.array([[1.0], [2.0]]), np.array([[1.0], [2.0]]), epochs=2, verbose=0,
                                   callbacks=[TerminateOnNaN(raise_error=raise_error)])
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))


def test_reused_instance_starts_fresh():
    callback = TerminateOnNaN()
    one_unit_model().fit(np.array([[1.0]]), np.array([[np.inf]]), epochs=3, verbose=0, callbacks=[callback])
    history = one_unit_model().fit(np.ones((4, 1)), np.ones((4, 1)), epochs=3, verbose=0, callbacks=[callback])
    assert history.epoch == [0, 1, 2]




def test_no_conversion_per_step(host_reads):
    x = np.random.RandomState(0).rand(200, 4).astype("float32")
    y = x.sum(axis=1)
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    callback = TerminateOnNaN()
    cbs = kfit.callbacks.CallbackList([callback], add_history=True)
    assert cbs.dispatches("on_train_batch_end")
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=cbs)  # 40 steps
    # One batched read per epoch (the epoch logs), none per step: the batch logs were never built.
    assert host_reads["n"] == 2


def test_the_batch_hook_checks_the_device_total_and_never_reads_the_logs(capsys):
    def read():
        raise AssertionError("the batch logs were read")

    callback = TerminateOnNaN()
    model = one_unit_model()
    callback.set_model(model)
    callback.on_train_begin()
    tracker = model.metrics[0]
    tracker.update_state(torch.tensor(0.5), sample_weight=4)
    callback.on_train_batch_end(3, BatchLogs(read))
    assert not model.stop_training
    tracker.update_state(torch.tensor(float("nan")), sample_weight=4)
    callback.on_train_batch_end(4, BatchLogs(read))
    assert model.stop_training
    assert "Batch 4: Invalid loss" in capsys.readouterr().out


class LaggingEvent:
    """Stands in for a device event: completes only when the fake device catches up."""

    def __init__(self, device):
        self.device, self.step = device, None

    def record(self):
        self.step = self.device.enqueued
        self.device.enqueued += 1

    def query(self):
        return self.step < self.device.finished

    def synchronize(self):
        self.device.finished = max(self.device.finished, self.step + 1)


class LaggingDevice:
    def __init__(self):
        self.enqueued = 0
        self.finished = 0


def lagging_callback(monkeypatch, raise_error=False):
    """A TerminateOnNaN whose probes complete only when told, like copies on a busy GPU."""
    device = LaggingDevice()
    callback = TerminateOnNaN(raise_error=raise_error)
    model = one_unit_model()
    tracker = model.metrics[0]  # the loss tracker, whose running total the callback probes
    callback.set_model(model)
    callback.on_train_begin()
    original = callback._new_probe

    def new_probe(total):
        probe = original(total)
        probe.event = LaggingEvent(device)
        return probe

    monkeypatch.setattr(callback, "_new_probe", new_probe)
    return callback, tracker, device


def test_late_completion_stops_later_but_names_the_first_bad_batch(monkeypatch, capsys):
    callback, tracker, device = lagging_callback(monkeypatch)
    losses = [1.0, 2.0, float("inf"), 3.0, 4.0, 5.0]
    for batch, loss in enumerate(losses):
        tracker.update_state(torch.tensor(loss), sample_weight=4)
        device.finished = max(0, batch - 1)  # the device is two steps behind the host
        callback.on_train_batch_end(batch, None)
        if callback.model.stop_training:
            break
    # Batch 2's copy completes during batch 4's hook: the answer comes two steps later than
    # on the CPU, but the message names batch 2.
    assert batch == 4
    assert "Batch 2: Invalid loss" in capsys.readouterr().out
    assert not callback._pending


def test_epoch_end_drains_what_the_device_has_not_reported(monkeypatch):
    callback, tracker, _ = lagging_callback(monkeypatch, raise_error=True)
    for batch, loss in enumerate([1.0, float("nan"), 2.0]):
        tracker.update_state(torch.tensor(loss), sample_weight=4)
        callback.on_train_batch_end(batch, None)  # the device never reports during the epoch
    assert len(callback._pending) == 3
    with pytest.raises(RuntimeError, match="at batch 1 "):
        callback.on_epoch_end(0, {"loss": float("nan")})


def test_finite_epochs_leave_no_pending_probes(monkeypatch):
    callback, tracker, _ = lagging_callback(monkeypatch)
    for batch in range(5):
        tracker.update_state(torch.tensor(1.0), sample_weight=4)
        callback.on_train_batch_end(batch, None)
    callback.on_epoch_end(0, {"loss": 1.0})
    assert not callback._pending and len(callback._free) == 5
    assert not callback.model.stop_training


def test_the_loss_trackers_total_stays_non_finite():
    # The contract the device check relies on: once a non-finite loss is absorbed, the
    # running total stays non-finite until the epoch resets it.
    tracker = one_unit_model().metrics[0]
    assert tracker.name == "loss"
    for bad in (float("inf"), float("-inf"), float("nan")):
        tracker.reset_state()
        tracker.update_state(torch.tensor(1.0), sample_weight=4)
        tracker.update_state(torch.tensor(bad), sample_weight=4)
        for loss in (-1e30, 0.0, 1e30, float("-inf") if bad > 0 else float("inf")):
            tracker.update_state(torch.tensor(loss), sample_weight=4)
            assert not torch.isfinite(tracker.total)
        tracker.reset_state()
        assert torch.isfinite(tracker.total)


def test_without_a_loss_tracker_the_epoch_mean_is_checked(capsys):
    callback = TerminateOnNaN()
    callback.set_model(types.SimpleNamespace(metrics=[], stop_training=False))
    callback.on_train_begin()
    callback.on_train_batch_end(0, None)  # nothing to probe
    callback.on_epoch_end(0, {"loss": 1.0})
    assert not callback.model.stop_training
    callback.on_epoch_end(1, {"loss": float("nan")})
    assert callback.model.stop_training
    assert "Epoch 1: Invalid loss" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="at epoch 2 "):
        strict = TerminateOnNaN(raise_error=True)
        strict.set_model(callback.model)
        strict.on_train_begin()
        strict.on_epoch_end(2, {"loss": float("inf")})


def test_raise_error_must_be_a_bool():
    with pytest.raises(ValueError, match=r"raise_error.*Received: raise_error='yes' \(of type str\)"):
        TerminateOnNaN(raise_error="yes")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_stops_within_the_epoch_and_names_the_first_bad_batch(capsys):
    x = np.ones((512, 1), dtype="float32")
    y = np.ones((512, 1), dtype="float32")
    y[100] = np.inf  # batch 25 with batch_size=4 and no shuffling
    model = one_unit_model()
    model.compile(optimizer=kfit.optimizers.SGD(0.01), loss="mse", device="cuda")
    counter = CountBatches()
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
                        callbacks=[TerminateOnNaN(), counter])
    assert len(history.epoch) == 1
    assert "Batch 25: Invalid loss" in capsys.readouterr().out
    assert 26 <= counter.batches <= 128
