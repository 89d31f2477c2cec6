import os
import warnings

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import CallbackList, ModelCheckpoint
from kfit.trainers import BatchLogs

X = np.random.RandomState(0).rand(40, 4).astype("float32")
Y = np.random.RandomState(1).rand(40, 1).astype("float32")



def _model(seed=0):
    torch.manual_seed(seed)
    model = kfit.Sequential([kfit.layers.Dense(4, activation="relu", input_dim=4), kfit.layers.Dense(1)])
    model.compile(optimizer=kfit.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return model


class Drive(kfit.callbacks.Callback):
    """Overwrites logs[key] at each epoch end, so later callbacks see a chosen sequence."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def _fit(model, callbacks, epochs=4, validation=True, **kwargs):
    kwargs.setdefault("batch_size", 8)  # 5 batches per epoch
    if validation:
        kwargs.setdefault("validation_data", (X[:8], Y[:8]))
    return model.fit(X, Y, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks, **kwargs)


def _saved_epochs(folder):
    return sorted(int(name.split(".")[0]) for name in os.listdir(folder))


# ------------------------------------------------------------------ construction
@pytest.mark.parametrize(
    "filepath, weights_only",
    [("m.weights.h5", False), ("m.safetensors", False), ("m.h5", False), ("m", False),
     ("m.keras", True), ("m.h5", True), ("m", True)],
)
def test_extension_is_validated_at_construction(filepath, weights_only):
    with pytest.raises(ValueError, match="Expected `filepath` to end in one of"):
        ModelCheckpoint(filepath, save_weights_only=weights_only)


def test_filepath_must_be_a_path():
    with pytest.raises(TypeError, match="filepath"):
        ModelCheckpoint(3)


@pytest.mark.parametrize("save_freq", ["batch", "Epoch", 0, -3, 0.5, True, None])
def test_invalid_save_freq(save_freq):
    with pytest.raises(ValueError, match=r"`save_freq` to be .epoch. or an integer >= 1.*Received: save_freq="):
        ModelCheckpoint("m.keras", save_freq=save_freq)


def test_invalid_mode_raises():
    with pytest.raises(ValueError, match="mode"):
        ModelCheckpoint("m.keras", mode="unknown")


def test_defaults_match_keras():
    cb = ModelCheckpoint("m.keras")
    assert (cb.monitor, cb.verbose, cb.save_best_only, cb.save_weights_only, cb.mode, cb.save_freq) == (
        "val_loss", 0, False, False, "auto", "epoch")
    assert cb.best is None


# ------------------------------------------------------------------ epoch-level saving
def test_every_epoch_with_placeholders_and_nested_folder(tmp_path):
    pattern = str(tmp_path / "a" / "b" / "{epoch:02d}-{loss:.3f}-{val_mae:.2f}.weights.h5")
    history = _fit(_model(), [ModelCheckpoint(pattern, save_weights_only=True)], epochs=3)
    names = sorted(os.listdir(tmp_path / "a" / "b"))
    expected = [
        f"{e + 1:02d}-{history.history['loss'][e]:.3f}-{history.history['val_mae'][e]:.2f}.weights.h5"
        for e in range(3)
    ]
    assert names == expected


def test_missing_placeholder_names_it_and_lists_keys(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "{epoch}-{val_acc}.weights.h5"), save_weights_only=True)
    available = r"Available keys: \['epoch', 'loss', 'mae', 'val_loss', 'val_mae'\]"
    # Found in on_train_begin, before any training step (it was a KeyError at the first save).
    with pytest.raises(ValueError, match=r"\{val_acc\}.*" + available):
        _fit(_model(), [cb], epochs=1)


def test_positional_placeholder_is_a_value_error(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "{}.weights.h5"), save_weights_only=True)
    cb.set_model(_model())
    with pytest.raises(ValueError, match="Failed to format"):
        cb.on_epoch_end(0, {"loss": 1.0})


def test_existing_folder_as_filepath(tmp_path):
    (tmp_path / "dir.keras").mkdir()
    cb = ModelCheckpoint(str(tmp_path / "dir.keras"))
    cb.set_model(_model())
    with pytest.raises(IsADirectoryError, match="non-directory"):
        cb.on_epoch_end(0, {"val_loss": 1.0})


@pytest.mark.parametrize(
    "mode, monitor, values, saved",
    [
        ("min", "val_loss", [3.0, 2.0, 4.0, 1.0], [1, 2, 4]),
        ("max", "val_acc", [0.1, 0.3, 0.2, 0.5], [1, 2, 4]),
        ("auto", "val_loss", [3.0, 2.0, 4.0, 1.0], [1, 2, 4]),
        ("auto", "val_mae", [3.0, 3.5, 1.0, 1.0], [1, 3]),  # a metric whose direction is "down"
    ],
)
def test_save_best_only(tmp_path, mode, monitor, values, saved):
    cb = ModelCheckpoint(str(tmp_path / "{epoch}.weights.h5"), monitor=monitor, mode=mode,
                         save_best_only=True, save_weights_only=True)
    _fit(_model(), [Drive(monitor, values), cb])
    assert _saved_epochs(tmp_path) == saved
    assert cb.best == (max(values) if mode == "max" else min(values))


def test_save_best_only_keeps_the_best_weights_in_one_file(tmp_path):
    path = tmp_path / "best.weights.h5"
    snapshots = {}

    class Snapshot(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = self.model.get_weights()

    model = _model()
    _fit(model, [Drive("val_loss", [3.0, 1.0, 2.0, 5.0]), Snapshot(),
                 ModelCheckpoint(str(path), save_best_only=True, save_weights_only=True)])
    restored = _model(seed=9)
    restored.load_weights(path)
    for a, b in zip(restored.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(a, b)


def test_min_delta_is_zero_strict_improvement(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "{epoch}.weights.h5"), save_best_only=True, save_weights_only=True)
    _fit(_model(), [Drive("val_loss", [1.0, 1.0, 0.5, 0.5]), cb])
    assert _saved_epochs(tmp_path) == [1, 3]


def test_missing_monitor_warns_once_with_keys_and_never_saves(tmp_path):
    # Keras saves every such epoch as if it were the best; kfit saves nothing.
    cb = ModelCheckpoint(str(tmp_path / "{epoch}.weights.h5"), monitor="val_unknown",
                         save_best_only=True, save_weights_only=True)
    keys = r"\['loss', 'mae', 'val_loss', 'val_mae'\]"
    with pytest.warns(UserWarning, match=r"`val_unknown`.*Available keys: " + keys) as record:
        _fit(_model(), [cb], epochs=3)
    assert sum("val_unknown" in str(w.message) for w in record) == 1
    assert _saved_epochs(tmp_path) == []


def test_non_scalar_monitor_warns_and_saves(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "{epoch}.weights.h5"), monitor="val_vec",
                         save_best_only=True, save_weights_only=True)
    with pytest.warns(UserWarning, match="scalar"):
        _fit(_model(), [Drive("val_vec", [np.ones(3)] * 2), cb], epochs=2)
    assert _saved_epochs(tmp_path) == [1, 2]


def test_unknown_direction_raises_at_the_first_epoch(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "m.weights.h5"), monitor="val_custom", save_best_only=True,
                         save_weights_only=True)
    with pytest.raises(ValueError, match="mode='min'"):
        _fit(_model(), [Drive("val_custom", [1.0]), cb], epochs=1)


def test_direction_is_not_needed_without_save_best_only(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "m.weights.h5"), monitor="custom", save_weights_only=True)
    _fit(_model(), [cb], epochs=1)
    assert os.listdir(tmp_path) == ["m.weights.h5"]


@pytest.mark.parametrize(
    "mode, monitor, threshold, values, saved",
    [
        ("max", "val_acc", -0.01, [0.0, 0.0], [1]),  # Keras: max/val_acc with -0.01 saves
        ("min", "val_loss", 0.0, [0.5, 0.1], []),  # min/val_loss with 0 does not
        ("auto", "val_loss", 0.0, [0.5, 0.1], []),  # auto/val_loss with 0 does not
        ("max", "val_acc", 0.5, [0.4, 0.6], [2]),
        ("auto", "val_mae", 0.3, [0.4, 0.2], [2]),
    ],
)
def test_initial_value_threshold(tmp_path, mode, monitor, threshold, values, saved):
    cb = ModelCheckpoint(str(tmp_path / "{epoch}.weights.h5"), monitor=monitor, mode=mode,
                         save_best_only=True, save_weights_only=True, initial_value_threshold=threshold)
    _fit(_model(), [Drive(monitor, values), cb], epochs=2)
    assert _saved_epochs(tmp_path) == saved


def test_best_resets_for_each_fit(tmp_path):
    folder = tmp_path / "run"
    cb = ModelCheckpoint(str(folder / "{epoch}.weights.h5"), save_best_only=True, save_weights_only=True)
    model = _model()
    _fit(model, [Drive("val_loss", [1.0, 0.5]), cb], epochs=2)
    assert _saved_epochs(folder) == [1, 2]
    for name in os.listdir(folder):
        os.remove(folder / name)
    # A second fit with worse values: Keras would compare with 0.5 and save nothing.
    _fit(model, [Drive("val_loss", [2.0, 3.0]), cb], epochs=2)
    assert _saved_epochs(folder) == [1]
    assert cb.best == 2.0


def test_verbose_messages(tmp_path, capsys):
    path = str(tmp_path / "m.weights.h5")
    cb = ModelCheckpoint(path, save_best_only=True, save_weights_only=True, verbose=1)
    _fit(_model(), [Drive("val_loss", [2.0, 3.0]), cb], epochs=2)
    out = capsys.readouterr().out
    assert f"Epoch 1: val_loss improved from None to 2.00000, saving model to {path}" in out
    assert "Epoch 2: val_loss did not improve from 2.00000" in out
    cb = ModelCheckpoint(path, save_weights_only=True, verbose=1)
    _fit(_model(), [cb], epochs=1)
    assert f"Epoch 1: saving model to {path}" in capsys.readouterr().out


# ------------------------------------------------------------------ batch-level saving
def test_int_save_freq_counts_batches_across_epochs(tmp_path):
    # Keras's scenario: 5 batches per epoch, save_freq=15 -> files after epochs 3, 6, 9.
    cb = ModelCheckpoint(str(tmp_path / "{epoch}.weights.h5"), save_freq=15, save_weights_only=True)
    _fit(_model(), [cb], epochs=10, validation=False)
    assert _saved_epochs(tmp_path) == [3, 6, 9]


def test_batch_placeholder_for_every_batch(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "e{epoch:02d}b{batch:02d}.weights.h5"), save_freq=1,
                         save_weights_only=True)
    _fit(_model(), [cb], epochs=2, batch_size=20, validation=False)
    assert sorted(os.listdir(tmp_path)) == [
        "e01b01.weights.h5", "e01b02.weights.h5", "e02b01.weights.h5", "e02b02.weights.h5"]


def test_batch_level_saves_format_with_running_logs(tmp_path):
    seen = []

    class Record(kfit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(round(logs["loss"], 4))

    cb = ModelCheckpoint(str(tmp_path / "{loss:.4f}.weights.h5"), save_freq=5, save_weights_only=True)
    _fit(_model(), [Record(), cb], epochs=2, validation=False)
    assert sorted(os.listdir(tmp_path)) == sorted(f"{seen[i]:.4f}.weights.h5" for i in (4, 9))


def test_batch_logs_are_read_only_when_saving(tmp_path):
    reads = []

    def read():
        reads.append(1)
        return {"loss": 0.5}

    cb = ModelCheckpoint(str(tmp_path / "b{batch}-{loss}.weights.h5"), save_freq=3, save_weights_only=True)
    callbacks = CallbackList([cb], model=_model())
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    for batch in range(7):
        callbacks.on_train_batch_end(batch, BatchLogs(read))
    assert len(reads) == 2  # batches 2 and 5, the saved ones
    assert sorted(os.listdir(tmp_path)) == ["b3-0.5.weights.h5", "b6-0.5.weights.h5"]


def test_epoch_level_checkpoint_adds_no_batch_hook():
    cb = ModelCheckpoint("m.keras")
    assert not CallbackList([cb]).dispatches("on_train_batch_end")
    assert CallbackList([ModelCheckpoint("m.keras", save_freq=2)]).dispatches("on_train_batch_end")


def test_save_freq_set_after_construction_applies_at_the_next_fit(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "{epoch}-{batch}.weights.h5"), save_weights_only=True)
    cb.save_freq = 5  # the filters are read when fit builds its CallbackList
    _fit(_model(), [cb], epochs=2, validation=False)
    assert sorted(os.listdir(tmp_path)) == ["1-5.weights.h5", "2-5.weights.h5"]


def test_batch_count_starts_afresh_with_each_fit(tmp_path):
    # 5 batches per epoch, save_freq=3: a one-epoch fit saves after its 3rd batch and leaves 2
    # batches counted. The next fit counts from 0, so it saves after its 3rd batch, not its 1st.
    cb = ModelCheckpoint(str(tmp_path / "f{epoch}-{batch}.weights.h5"), save_freq=3, save_weights_only=True)
    model = _model()
    _fit(model, [cb], epochs=1, validation=False)
    assert sorted(os.listdir(tmp_path)) == ["f1-3.weights.h5"]
    for name in os.listdir(tmp_path):
        os.remove(tmp_path / name)
    _fit(model, [cb], epochs=1, validation=False)
    assert sorted(os.listdir(tmp_path)) == ["f1-3.weights.h5"]


# ------------------------------------------------------------------ what is saved
def test_weights_reload_reproduces_the_trained_model(tmp_path):
    path = tmp_path / "w.safetensors"
    model = _model()
    _fit(model, [ModelCheckpoint(str(path), save_weights_only=True)], epochs=2)
    clone = _model(seed=4)
    clone.load_weights(path)
    for a, b in zip(model.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_full_model_reload_reproduces_the_trained_model(tmp_path):
    path = tmp_path / "ckpt" / "model-{epoch}.keras"
    model = _model()
    _fit(model, [ModelCheckpoint(str(path))], epochs=2)
    loaded = kfit.models.load_model(tmp_path / "ckpt" / "model-2.keras")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)


def test_full_model_with_int_save_freq(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "{epoch}.keras"), save_freq=15)
    _fit(_model(), [cb], epochs=6, validation=False)
    assert sorted(os.listdir(tmp_path)) == ["3.keras", "6.keras"]


def test_no_warning_in_a_normal_run(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit(_model(), [ModelCheckpoint(str(tmp_path / "m.weights.h5"), save_best_only=True,
                                         save_weights_only=True)], epochs=2)


def test_int_save_freq_counts_batches_under_steps_per_execution(tmp_path):
    """Keras's scenario with steps_per_execution: 5 batches per epoch, save_freq=15, spe=5."""
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=3)])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=5)
    path = str(tmp_path / "ckpt_{epoch}.weights.h5")
    cb = kfit.callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=15)
    model.fit(np.ones((50, 3), "float32"), np.ones(50, "float32"), batch_size=10, epochs=9, verbose=0,
              callbacks=[cb])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ckpt_{e}.weights.h5" for e in (3, 6, 9)]
