import os
import shutil

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import BackupAndRestore, CallbackList
from kfit.saving import load_state
from kfit.trainers import BatchLogs

X = np.random.RandomState(0).rand(48, 4).astype("float32")
Y = np.random.RandomState(1).rand(48, 1).astype("float32")



def _model(seed=0, built=True):
    torch.manual_seed(seed)
    first = kfit.layers.Dense(8, activation="relu", input_dim=4) if built else kfit.layers.Dense(8, activation="relu")
    model = kfit.Sequential([first, kfit.layers.Dense(1)])
    model.compile(optimizer=kfit.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


class Interrupt(kfit.callbacks.Callback):
    """Raises at the start of `epoch` (optionally at `batch` of it), like a crash would."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch = epoch, batch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch and self.batch is None:
            raise RuntimeError("interrupted")
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.batch is not None and self.current == self.epoch and batch == self.batch:
            raise RuntimeError("interrupted")


class CountBatches(kfit.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1


def _fit(model, callbacks, epochs=5, data=(X, Y), **kwargs):
    kwargs.setdefault("batch_size", 16)  # 3 batches per epoch
    return model.fit(*data, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks, **kwargs)


def _interrupted(model, callbacks, **kwargs):
    with pytest.raises(RuntimeError, match="interrupted"):
        _fit(model, callbacks, **kwargs)


# ------------------------------------------------------------------ construction
@pytest.mark.parametrize("backup_dir", ["", None])
def test_empty_backup_dir(backup_dir):
    with pytest.raises(ValueError, match="Empty `backup_dir` argument passed"):
        BackupAndRestore(backup_dir)


@pytest.mark.parametrize("save_freq", ["batch", 0.15, 0, -1, False, True])
def test_invalid_save_freq(tmp_path, save_freq):
    with pytest.raises(ValueError, match=r"`save_freq` to be .epoch. or an integer >= 1.*Received: save_freq="):
        BackupAndRestore(tmp_path, save_freq=save_freq)


def test_defaults_match_keras(tmp_path):
    cb = BackupAndRestore(tmp_path)
    assert (cb.save_freq, cb.double_checkpoint, cb.delete_checkpoint) == ("epoch", False, True)


# ------------------------------------------------------------------ the resume itself
def test_interrupted_fit_resumes_with_the_same_weights_and_optimizer_state(tmp_path):
    reference = _model()
    _fit(reference, [])

    model = _model()
    backup = BackupAndRestore(tmp_path / "backup")
    _interrupted(model, [backup, Interrupt(epoch=2)])
    assert os.path.exists(tmp_path / "backup" / "latest" / "checkpoint.safetensors")

    # A fresh process: a new model object with other initial weights, same backup folder.
    resumed = _model(seed=123)
    history = _fit(resumed, [BackupAndRestore(tmp_path / "backup")])
    assert history.epoch == [0, 1, 2, 3, 4]  # the interrupted run's History, continued
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    ref_state, new_state = reference.optimizer.state_dict(), resumed.optimizer.state_dict()
    assert new_state["iterations"] == ref_state["iterations"] == 15
    for index, slots in ref_state["state"].items():
        for slot, value in slots.items():
            torch.testing.assert_close(new_state["state"][index][slot], value, rtol=0, atol=1e-6)
    assert not os.path.exists(tmp_path / "backup")


def test_unbuilt_model_and_data_loader_input(tmp_path):
    def data():
        return torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=16)

    reference = _model(built=False)
    reference.fit(data(), epochs=4, verbose=0)
    model = _model(built=False)
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(data(), epochs=4, verbose=0, callbacks=[BackupAndRestore(tmp_path), Interrupt(epoch=3)])
    resumed = _model(seed=5, built=False)
    assert not resumed._is_built()
    history = resumed.fit(data(), epochs=4, verbose=0, callbacks=[BackupAndRestore(tmp_path)])
    assert history.epoch == [0, 1, 2, 3]
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_restored_epoch_does_not_leak_into_a_later_fit(tmp_path):
    model = _model()
    _interrupted(model, [BackupAndRestore(tmp_path), Interrupt(epoch=3)])
    # The History of the interrupted run is restored, so the epochs before 3 are in it.
    assert _fit(model, [BackupAndRestore(tmp_path)]).epoch == [0, 1, 2, 3, 4]
    assert _fit(model, [], epochs=2).epoch == [0, 1]
    assert model._resume_point is None


def test_keras_best_case_epoch(tmp_path):
    model = _model()
    _interrupted(model, [BackupAndRestore(tmp_path), Interrupt(epoch=2)])
    counter = CountBatches()
    history = _fit(model, [BackupAndRestore(tmp_path), counter])
    assert history.epoch == [0, 1, 2, 3, 4]  # restored, then continued
    assert counter.count == 9


def test_keras_best_case_step(tmp_path):
    backup = BackupAndRestore(tmp_path, save_freq=1)
    model = _model()
    counter = CountBatches()
    _interrupted(model, [backup, counter, Interrupt(epoch=0, batch=2)])
    assert os.path.exists(tmp_path / "latest" / "checkpoint.safetensors")
    _, state = load_state(tmp_path / "latest" / "checkpoint.safetensors")
    assert (state["training_state"]["epoch"], state["training_state"]["batch"]) == (0, 2)
    history = _fit(model, [backup, counter])
    # A mid-epoch backup resumes at the next batch (Keras redoes the epoch): 15 in all.
    assert history.epoch == [0, 1, 2, 3, 4]
    assert counter.count == 15


def test_on_train_begin_names_the_epoch_to_resume_at(tmp_path):
    model = _model()
    _interrupted(model, [BackupAndRestore(tmp_path), Interrupt(epoch=3)])
    fresh = _model(seed=1)
    cb = BackupAndRestore(tmp_path)
    cb.set_model(fresh)
    cb.on_train_begin()
    assert fresh._resume_point.epoch == 3
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(fresh.optimizer.iterations) == 9


def test_no_backup_means_no_override(tmp_path):
    model = _model()
    cb = BackupAndRestore(tmp_path / "none")
    cb.set_model(model)
    cb.on_train_begin()
    assert getattr(model, "_initial_epoch_override", None) is None


# ------------------------------------------------------------------ files
def test_backup_content_is_one_file_with_the_training_state(tmp_path):
    model = _model()
    _interrupted(model, [BackupAndRestore(tmp_path), Interrupt(epoch=2)])
    assert os.listdir(tmp_path) == ["latest"]
    tensors, document = load_state(tmp_path / "latest" / "checkpoint.safetensors")
    assert (document["training_state"]["epoch"], document["training_state"]["batch"]) == (2, 0)
    assert document["training_state"]["callbacks"][-1]["state"]["epoch"] == [0, 1]  # History
    assert "model/dense.kernel" in tensors and "optimizer/0/momentum" in tensors
    assert document["optimizer"]["iterations"] == 6


def test_backup_deleted_after_success_and_kept_on_request(tmp_path):
    _fit(_model(), [BackupAndRestore(tmp_path / "a")], epochs=2)
    assert not os.path.exists(tmp_path / "a")
    _fit(_model(), [BackupAndRestore(tmp_path / "b", delete_checkpoint=False)], epochs=2)
    assert os.listdir(tmp_path / "b") == ["latest"]


def test_only_its_own_files_are_deleted(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    _fit(_model(), [BackupAndRestore(tmp_path, double_checkpoint=True)], epochs=2)
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_exception_keeps_the_backup(tmp_path):
    _interrupted(_model(), [BackupAndRestore(tmp_path), Interrupt(epoch=1)])
    assert os.listdir(tmp_path) == ["latest"]


def test_double_checkpoint_keeps_the_previous_backup(tmp_path):
    model = _model()
    _interrupted(model, [BackupAndRestore(tmp_path, double_checkpoint=True), Interrupt(epoch=3)])
    assert sorted(os.listdir(tmp_path)) == ["latest", "previous"]
    assert load_state(tmp_path / "latest" / "checkpoint.safetensors")[1]["training_state"]["epoch"] == 3
    assert load_state(tmp_path / "previous" / "checkpoint.safetensors")[1]["training_state"]["epoch"] == 2


def _corrupt(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def test_corrupt_backup_falls_back_to_the_previous_one(tmp_path):
    model = _model()
    _interrupted(model, [BackupAndRestore(tmp_path, double_checkpoint=True), Interrupt(epoch=3)])
    _corrupt(tmp_path / "latest" / "checkpoint.safetensors")
    fresh = _model(seed=2)
    cb = BackupAndRestore(tmp_path, double_checkpoint=True)
    cb.set_model(fresh)
    with pytest.warns(UserWarning, match=r"could not read the backup.*latest/checkpoint\.safetensors.*previous"):
        cb.on_train_begin()
    assert fresh._resume_point.epoch == 2
    assert int(fresh.optimizer.iterations) == 6
    # The unreadable backup is gone and the good one is the latest again, so the next
    # backup cannot rotate the unreadable one over it.
    assert os.listdir(tmp_path) == ["latest"]
    cb.on_epoch_end(2)
    assert sorted(os.listdir(tmp_path)) == ["latest", "previous"]
    assert load_state(tmp_path / "previous" / "checkpoint.safetensors")[1]["training_state"]["epoch"] == 2


def test_corrupt_backup_resume_runs_from_the_previous_epoch(tmp_path):
    model = _model()
    _interrupted(model, [BackupAndRestore(tmp_path, double_checkpoint=True), Interrupt(epoch=3)])
    _corrupt(tmp_path / "latest" / "checkpoint.safetensors")
    with pytest.warns(UserWarning, match="previous"):
        history = _fit(_model(seed=2), [BackupAndRestore(tmp_path, double_checkpoint=True)])
    assert history.epoch == [0, 1, 2, 3, 4]


def test_corrupt_backup_without_a_previous_one_is_an_error_naming_it(tmp_path):
    model = _model()
    _interrupted(model, [BackupAndRestore(tmp_path), Interrupt(epoch=2)])
    _corrupt(tmp_path / "latest" / "checkpoint.safetensors")
    with pytest.raises(ValueError, match=r"latest/checkpoint\.safetensors.*To start over, remove the folder"):
        _fit(_model(), [BackupAndRestore(tmp_path)])


def test_crash_between_rotation_and_write_uses_the_previous_backup(tmp_path):
    model = _model()
    _interrupted(model, [BackupAndRestore(tmp_path, double_checkpoint=True), Interrupt(epoch=3)])
    # What a kill leaves after latest/ was renamed to previous/ and before the new one was
    # renamed to latest/ (an unfinished write has no COMPLETE marker).
    shutil.rmtree(tmp_path / "previous")
    os.replace(tmp_path / "latest", tmp_path / "previous")
    (tmp_path / ".kfit-tmp-unfinished").mkdir()
    fresh = _model(seed=2)
    cb = BackupAndRestore(tmp_path, double_checkpoint=True)
    cb.set_model(fresh)
    cb.on_train_begin()  # no warning: nothing is damaged
    assert fresh._resume_point.epoch == 3
    assert os.listdir(tmp_path) == ["latest"]


def test_backup_from_another_architecture_is_refused(tmp_path):
    _interrupted(_model(), [BackupAndRestore(tmp_path), Interrupt(epoch=1)])
    other = kfit.Sequential([kfit.layers.Dense(3, input_dim=4), kfit.layers.Dense(1)])
    other.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="expected shape"):
        _fit(other, [BackupAndRestore(tmp_path)])


# ------------------------------------------------------------------ per-batch cost
def test_epoch_backups_add_no_batch_hook(tmp_path):
    assert not CallbackList([BackupAndRestore(tmp_path)]).dispatches("on_train_batch_end")


def test_batch_backups_never_read_the_logs(tmp_path):
    model = _model()
    cb = BackupAndRestore(tmp_path, save_freq=2)
    callbacks = CallbackList([cb], model=model)
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)

    def read():
        raise AssertionError("the logs were read")

    for batch in range(5):
        callbacks.on_train_batch_end(batch, BatchLogs(read))
    _, state = load_state(tmp_path / "latest" / "checkpoint.safetensors")
    assert (state["training_state"]["epoch"], state["training_state"]["batch"]) == (0, 4)


def test_batch_backup_records_the_running_epoch_after_initial_epoch(tmp_path):
    model = _model()
    cb = BackupAndRestore(tmp_path, save_freq=4)
    _interrupted(model, [cb, Interrupt(epoch=4)], initial_epoch=2)
    _, state = load_state(tmp_path / "latest" / "checkpoint.safetensors")
    # 6 batches ran in epochs 2 and 3; the backup after the 4th batch was taken in epoch 3.
    assert (state["training_state"]["epoch"], state["training_state"]["batch"]) == (3, 1)


def test_a_backup_in_the_old_single_file_format_still_resumes_at_its_epoch(tmp_path):
    from kfit.saving.checkpoint import save_checkpoint

    model = _model()
    _fit(model, [], epochs=2)
    save_checkpoint(tmp_path / "latest.safetensors", model, {"epoch": 2, "batch": 1})
    history = _fit(_model(seed=3), [BackupAndRestore(tmp_path)])
    assert history.epoch == [2, 3, 4]  # the old format held no History, nor a data position
    assert not os.path.exists(tmp_path)  # deleted after the successful fit
