import json
import os
import random
import signal
import threading

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import BackupAndRestore
from kfit.random import SeedGenerator
from kfit.trainers.data_adapters import ArrayDataAdapter
from kfit.trainers.epoch_iterator import EpochIterator
from kfit.trainers.resume import capture_rng, pack, restore_rng, unpack

X = np.random.RandomState(0).rand(100, 4).astype("float32")
Y = np.random.RandomState(1).randint(0, 3, 100)


# ------------------------------------------------------------------ RNG
def _draws(model=None):
    out = [random.random(), float(np.random.rand()), float(torch.rand(()))]
    if model is not None:
        out.append(float(torch.rand((), generator=model.layers[1]._generator)))
        out.append(model.layers[1].seed_generator.next().tolist())
    return out


def _seeded_model():
    model = kfit.Sequential([kfit.layers.Dense(2, input_dim=2), kfit.layers.GaussianNoise(0.1, seed=3)])
    model.layers[1]._generator = torch.Generator().manual_seed(5)
    model.layers[1].seed_generator = SeedGenerator(9)
    return model


def test_rng_round_trip_through_json_covers_global_and_layer_generators():
    model = _seeded_model()
    tensors = {}
    document = json.dumps(pack(capture_rng(model), "rng", tensors))  # no pickle: JSON + tensors
    expected = _draws(model)
    _draws(model)  # move every stream on
    restore_rng(unpack(json.loads(document), tensors), model)
    assert _draws(model) == expected


def test_rng_restore_recreates_a_layer_generator_made_after_the_capture():
    model = _seeded_model()
    state = capture_rng(model)
    expected = float(torch.rand((), generator=model.layers[1]._generator))
    model.layers[1]._generator = None  # a new process, before the layer's first call
    restore_rng(state, model)
    assert float(torch.rand((), generator=model.layers[1]._generator)) == expected


# ------------------------------------------------------------------ data position
def _iterator(steps=None, shuffle=True):
    torch.manual_seed(0)
    return EpochIterator(ArrayDataAdapter(torch.arange(50.0)[:, None], batch_size=4, shuffle=shuffle), steps)


def _firsts(it, epochs, start=0):
    out = []
    for e in range(epochs):
        out.append([float(b[0][0, 0]) for _, b in it.epoch(start if e == 0 else 0)])
    return out


@pytest.mark.parametrize("steps", [None, 5, 9])
@pytest.mark.parametrize("taken", [0, 3, 4])
def test_iterator_resume_continues_the_same_shuffled_order(steps, taken):
    reference = _firsts(_iterator(steps), 3)
    it = _iterator(steps)
    first = it.epoch()
    seen = [float(next(first)[1][0][0, 0]) for _ in range(taken)]
    state = json.loads(json.dumps(pack(it.state(), "it", tensors := {})))
    other = _iterator(steps)
    torch.manual_seed(123)  # the new process's RNG differs until resume restores it
    other.resume(unpack(state, tensors))
    rest = _firsts(other, 3, start=taken)
    assert [seen + rest[0], *rest[1:]] == reference


def test_iterator_state_after_a_peek_records_the_pass_before_it():
    it = _iterator()
    state = None
    it.peek()
    state = it.state()
    assert state["has_pass"] and state["pass_position"] == 0
    reference = _firsts(_iterator(), 1)
    other = _iterator()
    torch.manual_seed(7)
    other.resume(state)
    assert _firsts(other, 1) == reference


# ------------------------------------------------------------------ fit
def _model():
    kfit.utils.set_random_seed(0)
    model = kfit.Sequential(
        [
            kfit.layers.Dense(8, activation="relu", input_dim=4),
            kfit.layers.Dropout(0.5),
            kfit.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Crash(kfit.callbacks.Callback):
    def __init__(self, after):
        super().__init__()
        self.after, self.count = after, 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        if self.count == self.after:
            raise RuntimeError("crash")


class Batches(kfit.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((self.epoch, batch))


def _fit(model, callbacks, **kwargs):
    kwargs.setdefault("validation_data", (X[:20], Y[:20]))
    kwargs.setdefault("epochs", 3)
    return model.fit(X, Y, batch_size=16, verbose=0, callbacks=callbacks, **kwargs)


@pytest.mark.parametrize(
    "kwargs, first",
    [({}, (0, 4)), ({"steps_per_epoch": 4}, (1, 0)), ({"steps_per_epoch": 6}, (0, 4)), ({"shuffle": "batch"}, (0, 4))],
)
def test_mid_epoch_resume_equals_an_uninterrupted_fit(tmp_path, kwargs, first):
    reference = _model()
    ref_history = _fit(reference, [], **kwargs).history
    model = _model()
    with pytest.raises(RuntimeError, match="crash"):
        _fit(model, [BackupAndRestore(tmp_path, save_freq=2), Crash(after=5)], **kwargs)
    model = _model()
    batches = Batches()
    history = _fit(model, [BackupAndRestore(tmp_path, save_freq=2), batches], **kwargs)
    for a, b in zip(reference.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # The metric states of the interrupted epoch were restored: its logs are equal too.
    assert history.history == ref_history
    # Resumed after the 4th batch (the last backup), with the batch numbers going on (with
    # 4 steps per epoch that backup ended epoch 0: its end-of-epoch work was redone).
    assert batches.seen[0] == first


def test_an_early_stop_in_the_backup_is_kept(tmp_path):
    class StopAtOne(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch == 1

    class CrashAtTheEnd(kfit.callbacks.Callback):
        def on_train_end(self, logs=None):
            raise RuntimeError("crash")  # before BackupAndRestore deletes its backup

    with pytest.raises(RuntimeError):
        _fit(_model(), [CrashAtTheEnd(), BackupAndRestore(tmp_path), StopAtOne()])
    # The backup was written after every epoch-end hook, so it knows training stopped.
    batches = Batches()
    assert _fit(_model(), [BackupAndRestore(tmp_path), batches]).epoch == [0, 1]
    assert batches.seen == []


# ------------------------------------------------------------------ files
def _backup(tmp_path, **kwargs):
    model = _model()
    with pytest.raises(RuntimeError):
        _fit(model, [BackupAndRestore(tmp_path, save_freq=2, **kwargs), Crash(after=7)])


def test_a_backup_is_a_folder_with_a_completion_marker_and_no_leftovers(tmp_path):
    _backup(tmp_path)
    assert os.listdir(tmp_path) == ["latest"]
    assert sorted(os.listdir(tmp_path / "latest")) == ["COMPLETE", "checkpoint.safetensors"]


def test_a_kill_between_the_renames_resumes_from_the_temporary_folder(tmp_path):
    _backup(tmp_path)
    # What a kill leaves after `latest` was moved aside and before the new one was renamed.
    os.replace(tmp_path / "latest", tmp_path / ".kfit-tmp-abc")
    (tmp_path / ".kfit-tmp-unfinished").mkdir()  # a write killed before its marker
    model = _model()
    cb = BackupAndRestore(tmp_path, save_freq=2)
    cb.set_model(model)
    cb.on_train_begin()
    assert model._resume_point.batch == 6
    assert os.listdir(tmp_path) == ["latest"]  # adopted; the unfinished one cleaned up


def test_damaged_backup_without_fallback_is_an_error_naming_it(tmp_path):
    _backup(tmp_path)
    (tmp_path / "latest" / "checkpoint.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"latest/checkpoint\.safetensors.*remove the folder"):
        _fit(_model(), [BackupAndRestore(tmp_path)])
    assert os.path.exists(tmp_path / "latest")  # nothing was thrown away


def test_unmarked_backup_is_damaged_not_a_fresh_start(tmp_path):
    _backup(tmp_path)
    os.remove(tmp_path / "latest" / "COMPLETE")
    with pytest.raises(ValueError, match="COMPLETE"):
        _fit(_model(), [BackupAndRestore(tmp_path)])


def test_double_checkpoint_falls_back_with_a_warning_naming_the_file(tmp_path):
    _backup(tmp_path, double_checkpoint=True)
    assert sorted(os.listdir(tmp_path)) == ["latest", "previous"]
    (tmp_path / "latest" / "checkpoint.safetensors").write_bytes(b"garbage")
    model = _model()
    cb = BackupAndRestore(tmp_path, double_checkpoint=True)
    cb.set_model(model)
    with pytest.warns(UserWarning, match=r"latest/checkpoint\.safetensors.*previous"):
        cb.on_train_begin()
    assert model._resume_point.batch == 4


# ------------------------------------------------------------------ preemption
def test_sigterm_finishes_the_batch_backs_up_and_exits(tmp_path, capsys):
    class Term(kfit.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2:
                os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    model = _model()
    with pytest.raises(SystemExit) as exit_info:
        _fit(model, [BackupAndRestore(tmp_path), Term()])
    assert exit_info.value.code == 128 + signal.SIGTERM
    assert "SIGTERM" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before
    cb = BackupAndRestore(tmp_path)
    fresh = _model()
    cb.set_model(fresh)
    cb.on_train_begin()
    assert (fresh._resume_point.epoch, fresh._resume_point.batch) == (0, 3)  # batch 2 finished


def test_handlers_are_restored_after_a_failed_fit_and_not_installed_off_the_main_thread(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RuntimeError):
        _fit(_model(), [BackupAndRestore(tmp_path), Crash(after=1)])
    assert signal.getsignal(signal.SIGTERM) is before
    errors = []
    thread = threading.Thread(target=lambda: errors.append(_fit(_model(), [BackupAndRestore(tmp_path / "t")])))
    thread.start()
    thread.join()
    assert len(errors) == 1 and signal.getsignal(signal.SIGTERM) is before


def test_sigint_is_a_preemption_only_when_asked(tmp_path):
    class Interrupt(kfit.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        _fit(_model(), [BackupAndRestore(tmp_path / "a"), Interrupt()])
    with pytest.raises(SystemExit) as exit_info:
        _fit(_model(), [BackupAndRestore(tmp_path / "b", save_before_preemption=True), Interrupt()])
    assert exit_info.value.code == 128 + signal.SIGINT
    assert os.listdir(tmp_path / "b") == ["latest"]


def test_data_loader_resume_equals_an_uninterrupted_fit(tmp_path):
    def loader():
        data = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(Y))
        return torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)

    def fit(model, callbacks):
        return model.fit(loader(), epochs=2, verbose=0, callbacks=callbacks)

    reference = _model()
    fit(reference, [])
    with pytest.raises(RuntimeError, match="crash"):
        fit(_model(), [BackupAndRestore(tmp_path, save_freq=3), Crash(after=10)])
    model = _model()
    fit(model, [BackupAndRestore(tmp_path, save_freq=3)])
    for a, b in zip(reference.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_failed_backup_write_keeps_the_previous_backup(tmp_path, monkeypatch):
    import errno

    import kfit.callbacks.backup_and_restore as module

    real = module.save_checkpoint
    calls = []

    def full_disk(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(module, "save_checkpoint", full_disk)
    with pytest.raises(OSError, match=r"backup.*No space left on device.*previous backup"):
        _fit(_model(), [BackupAndRestore(tmp_path, save_freq=2)])
    assert os.listdir(tmp_path) == ["latest"]  # the first backup, whole; no temporary left
    monkeypatch.setattr(module, "save_checkpoint", real)
    model = _model()
    cb = BackupAndRestore(tmp_path)
    cb.set_model(model)
    cb.on_train_begin()
    assert model._resume_point.batch == 2


def test_a_backup_dir_that_is_a_file_fails_before_training(tmp_path):
    (tmp_path / "file").write_text("")
    batches = Batches()
    with pytest.raises(ValueError, match=r"backup_dir=.*file.*which is a file"):
        _fit(_model(), [BackupAndRestore(tmp_path / "file"), batches])
    assert batches.seen == []


def test_a_data_loader_with_its_own_generator_resumes_in_order():
    def iterator():
        data = torch.utils.data.TensorDataset(torch.arange(40.0)[:, None])
        loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=True,
                                             generator=torch.Generator().manual_seed(3))
        from kfit.trainers.data_adapters import get_data_adapter

        return EpochIterator(get_data_adapter(loader, None, None, batch_size=None, shuffle=True))

    reference = _firsts(iterator(), 2)
    it = iterator()
    first = it.epoch()
    seen = [float(next(first)[1][0][0, 0]) for _ in range(3)]
    state = it.state()
    other = iterator()
    other.adapter.loader.generator.manual_seed(99)  # a different order until resume
    other.resume(state)
    rest = _firsts(other, 2, start=3)
    assert [seen + rest[0], rest[1]] == reference


@pytest.mark.parametrize("epoch, resumes_at", [(0, 1), (2, 3)])
def test_sigterm_during_validation_backs_up_at_the_epoch_end(tmp_path, epoch, resumes_at):
    class TermInValidation(kfit.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None):
            self.e = e

        def on_test_batch_begin(self, batch, logs=None):
            if self.e == epoch and batch == 0:
                os.kill(os.getpid(), signal.SIGTERM)

    reference = _model()
    ref_history = _fit(reference, []).history
    with pytest.raises(SystemExit):
        _fit(_model(), [BackupAndRestore(tmp_path), TermInValidation()])
    assert os.listdir(tmp_path) == ["latest"]  # kept, even after the last epoch
    model = _model()
    cb = BackupAndRestore(tmp_path)
    batches = Batches()
    history = _fit(model, [cb, batches])
    assert history.history == ref_history
    assert (batches.seen[0][0] if batches.seen else 3) == resumes_at
    for a, b in zip(reference.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs", [{}, {"steps_per_epoch": 5}])
def test_epoch_backups_resume_with_the_next_shuffle_order(tmp_path, kwargs):
    class CrashAtTwo(kfit.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("crash")

    reference = _model()
    ref_history = _fit(reference, [], epochs=4, **kwargs).history
    with pytest.raises(RuntimeError):
        _fit(_model(), [BackupAndRestore(tmp_path), CrashAtTwo()], epochs=4, **kwargs)
    model = _model()
    assert _fit(model, [BackupAndRestore(tmp_path)], epochs=4, **kwargs).history == ref_history
    for a, b in zip(reference.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


class Saves(kfit.callbacks.Callback):
    """Records the batches an `Every(n)` batch hook is called on, as ModelCheckpoint's save_freq."""

    def __init__(self, n):
        super().__init__()
        self.n, self.seen = n, []

    def hook_filters(self):
        return {"on_train_batch_end": kfit.callbacks.Every(self.n)}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((self.epoch, batch))


@pytest.mark.parametrize("crash_after", [5, 9])
def test_every_n_batch_hooks_keep_their_rhythm_across_a_resume(tmp_path, crash_after):
    # 7 batches per epoch: a period of 3 crosses epoch ends, and the backups (every 2) fall
    # between its calls, so a counter restarted at the resume would call on other batches.
    reference = Saves(3)
    _fit(_model(), [reference], validation_data=None)
    with pytest.raises(RuntimeError, match="crash"):
        _fit(_model(), [BackupAndRestore(tmp_path, save_freq=2), Saves(3), Crash(after=crash_after)],
             validation_data=None)
    resumed = Saves(3)
    _fit(_model(), [BackupAndRestore(tmp_path, save_freq=2), resumed], validation_data=None)
    assert resumed.seen and resumed.seen == [s for s in reference.seen if s >= resumed.seen[0]]
    assert resumed.seen[0] > (0, 0)


class _CountingDataset(torch.utils.data.Dataset):
    def __init__(self):
        self.loads = 0

    def __len__(self):
        return len(X)

    def __getitem__(self, index):
        self.loads += 1
        return torch.from_numpy(X[index]), int(Y[index])


class _StatefulLoader(torch.utils.data.DataLoader):
    """The `state_dict`/`load_state_dict` protocol of torchdata's StatefulDataLoader, in small:
    its saved position is the batches yielded, and a loaded one skips their indices unloaded."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._yielded, self._skip = 0, 0

    def state_dict(self):
        return {"yielded": self._yielded, "pass_rng": self._pass_rng}

    def load_state_dict(self, state):
        self._skip = int(state["yielded"])
        self._pass_rng = torch.as_tensor(state["pass_rng"], dtype=torch.uint8)

    def __iter__(self):
        skip, self._skip = self._skip, 0
        if skip:
            # Rewind the sampler to its pass start: draw the same order, load only what is left.
            self.generator.set_state(self._pass_rng)
        else:
            self._pass_rng = self.generator.get_state()
        order = list(torch.utils.data.BatchSampler(
            torch.utils.data.RandomSampler(self.dataset, generator=self.generator), self.batch_size, False))
        self._yielded = skip
        for indices in order[skip:]:
            self._yielded += 1
            yield self.collate_fn([self.dataset[i] for i in indices])


def test_a_stateful_data_loader_resumes_from_its_own_position_without_reloading(tmp_path):
    def loader():
        generator = torch.Generator().manual_seed(5)
        return _StatefulLoader(_CountingDataset(), batch_size=16, generator=generator)

    reference = _model()
    reference.fit(loader(), epochs=2, verbose=0)
    model = _model()
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(loader(), epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path, save_freq=2), Crash(after=5)])
    model = _model()
    data = loader()
    model.fit(data, epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path, save_freq=2)])
    for a, b in zip(reference.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # 7 batches per epoch: the 4 done before the backup were not loaded again (the one batch
    # loaded twice is the first, peeked at fit start to check the data before the backup is read).
    assert data.dataset.loads == 2 * len(X) - 4 * 16 + 16
