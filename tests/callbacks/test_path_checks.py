"""Checkpoint and TensorBoard paths that cannot be written fail in on_train_begin, clearly.

Each case runs a real `fit` with a callback that counts training batches before the path's
callback, so the test proves the error came before any training step; the messages must
name the path the user gave (never a temporary file) and what is in the way.
"""

import errno
import os

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import ModelCheckpoint
from kfit.saving import atomic

X = np.random.RandomState(0).rand(16, 3).astype("float32")
Y = np.random.RandomState(1).rand(16, 1).astype("float32")


def _model():
    torch.manual_seed(0)
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=3)])
    model.compile(optimizer=kfit.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    return model


class CountSteps(kfit.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def _fit_fails_before_training(callback, error, match, count=True, **kwargs):
    # count=False leaves the user callback out (a user callback defers the template check).
    counter, model = CountSteps(), _model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(error, match=match) as info:
        callbacks = [counter, callback] if count else [callback]
        model.fit(X, Y, batch_size=4, epochs=2, verbose=0, callbacks=callbacks, **kwargs)
    assert counter.steps == 0 and int(model.optimizer.iterations) == 0
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    message = str(info.value)
    assert "kfit-tmp" not in message and "File exists" not in message
    return message


def _tensorboard(log_dir):
    pytest.importorskip("tensorboard")
    from kfit.callbacks.tensorboard import TensorBoard

    return TensorBoard(str(log_dir), write_graph=False)


def _read_only(monkeypatch, folder):
    """Makes `folder` unwritable as a read-only mount is: chmod does not stop root (CI's user)."""
    real_access, real_mkstemp = os.access, atomic.tempfile.mkstemp

    def access(path, mode, *args, **kwargs):
        if os.path.abspath(path) == os.path.abspath(folder) and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and os.path.abspath(dir) == os.path.abspath(folder):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), dir)
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(atomic.os, "access", access)
    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)


# ------------------------------------------------------------------ ModelCheckpoint
@pytest.mark.parametrize("template", ["m.keras", "sub/m.keras", "{epoch}.keras", "e{epoch}/m.keras"])
def test_checkpoint_under_a_file_names_the_file(tmp_path, template):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    message = _fit_fails_before_training(
        ModelCheckpoint(str(blocker / template)), NotADirectoryError, "is a file"
    )
    assert repr(str(blocker)) in message and "filepath=" in message


def test_checkpoint_at_an_existing_folder(tmp_path):
    (tmp_path / "dir.keras").mkdir()
    message = _fit_fails_before_training(
        ModelCheckpoint(str(tmp_path / "dir.keras")), IsADirectoryError, "existing folder"
    )
    assert str(tmp_path / "dir.keras") in message


@pytest.mark.parametrize("template", ["m.weights.h5", "{epoch}.weights.h5", "new/sub/m.weights.h5"])
def test_checkpoint_in_a_read_only_folder(tmp_path, monkeypatch, template):
    _read_only(monkeypatch, tmp_path)
    cb = ModelCheckpoint(str(tmp_path / template), save_weights_only=True)
    message = _fit_fails_before_training(cb, PermissionError, "read-only")
    assert repr(str(tmp_path)) in message


def test_access_saying_no_is_confirmed_by_a_probe(tmp_path, monkeypatch):
    # ACLs and some network file systems make os.access refuse folders that are writable.
    monkeypatch.setattr(atomic.os, "access", lambda *args, **kwargs: False)
    atomic.check_writable(tmp_path / "m.keras")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permission bits")
def test_checkpoint_in_a_chmod_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        _fit_fails_before_training(ModelCheckpoint(str(folder / "m.keras")), PermissionError, "read-only")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize(
    "template, save_freq, match",
    [("{}.keras", "epoch", "placeholders are named"),
     ("{0}.keras", "epoch", "placeholders are named"),
     ("{epoch}-{batch}.keras", "epoch", r"\{batch\} only with an integer `save_freq`")],
)
def test_malformed_template_fails_before_training(tmp_path, template, save_freq, match):
    cb = ModelCheckpoint(str(tmp_path / template), save_freq=save_freq)
    _fit_fails_before_training(cb, ValueError, match)
    assert os.listdir(tmp_path) == []


def _begin_inside_fit(model, cb, validation):
    # What fit does before on_train_begin: the running callbacks and the validation flag.
    model._fit_callbacks = [cb]
    model._fit_has_validation = validation
    cb.set_model(model)
    cb.on_train_begin()


def test_unknown_template_key_fails_at_train_begin_once_metrics_are_known(tmp_path):
    model = _model()
    model.fit(X, Y, epochs=1, verbose=0)  # builds the compiled metrics: their names are known
    cb = ModelCheckpoint(str(tmp_path / "{epoch}-{nope}.keras"))
    with pytest.raises(ValueError, match=r"\{nope\}.*Available keys: \['epoch', "
                                         r"'loss', 'mae', 'val_loss', 'val_mae'\]"):
        _begin_inside_fit(model, cb, validation=True)
    ok = ModelCheckpoint(str(tmp_path / "{epoch}-{val_mae:.2f}-{loss}.keras"))
    _begin_inside_fit(model, ok, validation=True)


def test_val_key_without_validation_fails_at_train_begin_of_the_first_fit(tmp_path):
    model = _model()  # metrics not built yet: only the missing val_ key is certain
    _begin_inside_fit(model, ModelCheckpoint(str(tmp_path / "{mae}.keras")), validation=False)
    with pytest.raises(ValueError, match=r"\{val_loss\}.*need validation data"):
        _begin_inside_fit(model, ModelCheckpoint(str(tmp_path / "{val_loss}.keras")), validation=False)


def test_learning_rate_is_a_key_when_a_learning_rate_callback_runs(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "{epoch}-{learning_rate:.3f}.keras"))
    with pytest.raises(ValueError, match=r"\{learning_rate\}"):
        _model().fit(X, Y, epochs=1, verbose=0, callbacks=[cb])
    _model().fit(X, Y, epochs=1, verbose=0,
                 callbacks=[kfit.callbacks.LearningRateScheduler(lambda epoch, lr: lr), cb])
    assert os.listdir(tmp_path) == ["1-0.100.keras"]


def test_user_callbacks_may_add_keys_so_the_first_save_checks_them(tmp_path):
    class AddKey(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["custom"] = 1.0

    model = _model()
    model.fit(X, Y, epochs=1, verbose=0)
    cb = ModelCheckpoint(str(tmp_path / "{custom}-{epoch}.keras"))
    model._fit_callbacks = [AddKey(), cb]
    model._fit_has_validation = False
    cb.set_model(model)
    cb.on_train_begin()  # no error: AddKey may add it
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[AddKey(), cb])
    assert os.listdir(tmp_path) == ["1.0-1.keras"]


@pytest.mark.parametrize("template", ["{epoch}-{nope}.keras", "{val_loss}.keras", "{val_mae}.keras"])
def test_unknown_template_key_fails_before_training_in_a_real_fit(tmp_path, template):
    # fit builds the compiled metrics from a sample before on_train_begin, so every key is known.
    cb = ModelCheckpoint(str(tmp_path / template))
    message = _fit_fails_before_training(cb, ValueError, "Available keys", count=False)
    assert template.split("{")[-1].split("}")[0] in message
    assert os.listdir(tmp_path) == []


def test_unknown_key_found_at_the_first_save_writes_nothing(tmp_path):
    # A user callback might add the key, so the check waits for the first save's logs.
    cb = ModelCheckpoint(str(tmp_path / "{nope}.keras"))
    with pytest.raises(KeyError, match=r"\{nope\}.*Available keys"):
        _model().fit(X, Y, epochs=1, verbose=0, callbacks=[CountSteps(), cb])
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ TensorBoard
def test_tensorboard_log_dir_is_a_file(tmp_path):
    log_dir = tmp_path / "logs"
    log_dir.write_text("x")
    message = _fit_fails_before_training(_tensorboard(log_dir), NotADirectoryError, "is a file")
    assert str(log_dir) in message


@pytest.mark.parametrize("run", ["train", "validation"])
def test_tensorboard_run_folder_is_a_file(tmp_path, run):
    (tmp_path / run).write_text("x")
    message = _fit_fails_before_training(
        _tensorboard(tmp_path), NotADirectoryError, "is a file", validation_split=0.25
    )
    assert str(tmp_path / run) in message


def test_tensorboard_under_a_file(tmp_path):
    (tmp_path / "blocker").write_text("x")
    message = _fit_fails_before_training(_tensorboard(tmp_path / "blocker" / "logs"), NotADirectoryError, "is a file")
    assert repr(str(tmp_path / "blocker")) in message


def test_tensorboard_read_only(tmp_path, monkeypatch):
    _read_only(monkeypatch, tmp_path)
    _fit_fails_before_training(_tensorboard(tmp_path / "logs"), PermissionError, "read-only")


# ------------------------------------------------------------------ a full disk mid-save
class FullDisk:
    """A file that accepts `room` bytes, then fails as a full disk does."""

    def __init__(self, f, room):
        self._f, self._room = f, room

    def write(self, data):
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.mark.parametrize("name, weights_only", [("m.keras", False), ("m.safetensors", True)])
def test_disk_full_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, name, weights_only):
    target = tmp_path / name
    epochs_saved = []

    class FillDiskAfterFirstSave(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs_saved.append(self.model.get_weights())
            if epoch == 1:  # the second save runs out of space half-way
                real = atomic.os.fdopen
                monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: FullDisk(real(*a, **k), 100))

    counter, model = CountSteps(), _model()
    cb = ModelCheckpoint(str(target), save_weights_only=weights_only)
    with pytest.raises(OSError) as info:
        model.fit(X, Y, batch_size=4, epochs=4, verbose=0, callbacks=[counter, FillDiskAfterFirstSave(), cb])
    error = info.value
    assert error.errno == errno.ENOSPC
    assert repr(str(target)) in str(error) and "ENOSPC" in str(error) and "unchanged" in str(error)
    assert "kfit-tmp" not in str(error)
    assert counter.steps == 8  # training stopped at the failed save, after epoch 2
    monkeypatch.undo()
    # The first epoch's checkpoint is intact, and no temporary file or folder is left.
    assert os.listdir(tmp_path) == [name]
    if weights_only:
        restored = _model()
        restored.load_weights(str(target))
    else:
        restored = kfit.saving.load_model(str(target))
    for a, b in zip(restored.get_weights(), epochs_saved[0]):
        np.testing.assert_array_equal(a, b)
