"""EarlyStopping: Keras's scenarios, driven by hand and through fit, plus parity with Keras."""

from __future__ import annotations

import itertools
import operator
import types

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import EarlyStopping

X = np.random.RandomState(0).rand(64, 4).astype("float32")
Y = X.sum(axis=1, keepdims=True)


class Drive(kfit.callbacks.Callback):
    """Overwrites `logs[key]` at each epoch end, so later callbacks see a chosen sequence."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Snapshots(kfit.callbacks.Callback):
    """Records the weights at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


def small_model(learning_rate=0.01):
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
    model.compile(optimizer=kfit.optimizers.SGD(learning_rate=learning_rate), loss="mse", metrics=["mae"])
    return model


def fake_model():
    return types.SimpleNamespace(stop_training=False)


def run_by_hand(stopper, values, stop_at=None, model=None):
    """Feeds `values` as epoch logs; returns the number of epochs run."""
    stopper.on_train_begin()
    for epoch, value in enumerate(values):
        if model is not None:
            with torch.no_grad():
                for p in model.parameters():
                    p.fill_(epoch)  # the weights say which epoch they come from
        stopper.on_epoch_end(epoch, {stopper.monitor: value})
        if epoch == stop_at:
            stopper.model.stop_training = True
        if stopper.model.stop_training:
            break
    stopper.on_train_end()
    return epoch + 1


def marked_model():
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=1)])
    model.stop_training = False
    return model


def epoch_mark(model):
    values = {float(v) for p in model.parameters() for v in p.detach().flatten()}
    assert len(values) == 1
    return values.pop()


@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_patience_zero_behaves_like_one(patience):
    stopper = EarlyStopping(monitor="loss", patience=patience)
    stopper.set_model(fake_model())
    run_by_hand(stopper, [10.0, 9.0, 8.0, 9.0, 8.9, 8.8, 8.7, 8.6, 8.5])
    assert stopper.stopped_epoch == max(patience, 1) + 2


def _state(cb):
    return (cb.wait, cb.stopped_epoch, cb.best_epoch, cb.model.stop_training)


def test_matches_keras_on_many_sequences():
    pytest.importorskip("keras")
    from keras.src.callbacks import EarlyStopping as KerasEarlyStopping

    rs = np.random.RandomState(1)
    sequences = [list(np.round(rs.rand(12), 1)) for _ in range(8)] + [[5.0, 4.0, 3.0, 2.0, 1.0, 0.5]]
    configs = itertools.product([0, 1, 3], [None, 0.3], [0, 0.05], [0, 2], ["min", "max"])
    for values, (patience, baseline, min_delta, start, mode) in itertools.product(sequences, configs):
        kwargs = {"monitor": "val_loss", "patience": patience, "baseline": baseline, "min_delta": min_delta,
                  "start_from_epoch": start, "mode": mode}
        ours, theirs = EarlyStopping(**kwargs), KerasEarlyStopping(**kwargs)
        ours.set_model(fake_model())
        theirs.set_model(fake_model())
        ours.on_train_begin()
        theirs.on_train_begin()
        for epoch, value in enumerate(values):
            ours.on_epoch_end(epoch, {"val_loss": float(value)})
            theirs.on_epoch_end(epoch, {"val_loss": float(value)})
            assert _state(ours) == _state(theirs), (kwargs, values, epoch)
            assert ours.best == (None if theirs.best is None else float(theirs.best))
            if theirs.model.stop_training:
                break


def test_restores_best_epoch_weights_when_it_stops():
    model = marked_model()
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    stopper.set_model(model)
    epochs = run_by_hand(stopper, [0.2, 0.15, 0.1, 0.11, 0.12], model=model)
    assert epochs == 5 and stopper.stopped_epoch == 4
    assert stopper.best_epoch == 2 and epoch_mark(model) == 2


def test_unbeaten_baseline_stops_after_patience_and_restores_best_of_them():
    model = marked_model()
    stopper = EarlyStopping(monitor="val_loss", patience=5, baseline=0.5, restore_best_weights=True)
    stopper.set_model(model)
    epochs = run_by_hand(stopper, [0.9, 0.8, 0.7, 0.71, 0.72, 0.73], model=model)
    assert epochs == 5  # the baseline is never beaten: patience epochs, not more
    assert stopper.best == 0.7 and epoch_mark(model) == 2


def test_baseline_is_not_the_initial_best():
    stopper = EarlyStopping(monitor="val_loss", patience=1, baseline=0.5)
    stopper.set_model(fake_model())
    stopper.on_train_begin()
    assert stopper.best is None
    stopper.on_epoch_end(0, {"val_loss": 0.9})
    assert stopper.best == 0.9  # worse than the baseline, yet the first best


def test_restores_when_another_callback_stops_training():
    model = marked_model()
    stopper = EarlyStopping(monitor="val_loss", patience=5, baseline=0.5, restore_best_weights=True)
    stopper.set_model(model)
    epochs = run_by_hand(stopper, [0.9, 0.8, 0.7, 0.71, 0.72, 0.73], stop_at=3, model=model)
    assert epochs == 4 and stopper.stopped_epoch == 0 and epoch_mark(model) == 2


def test_restores_when_the_epochs_run_out():
    model = marked_model()
    stopper = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    stopper.set_model(model)
    assert run_by_hand(stopper, [0.5, 0.3, 0.4], model=model) == 3
    assert epoch_mark(model) == 1


def test_best_weights_are_device_copies_not_views():
    model = marked_model()
    stopper = EarlyStopping(monitor="loss", restore_best_weights=True)
    stopper.set_model(model)
    stopper.on_train_begin()
    stopper.on_epoch_end(0, {"loss": 1.0})
    saved = stopper.best_weights
    assert set(saved) == set(model.state_dict())
    for key, tensor in model.state_dict().items():
        assert isinstance(saved[key], torch.Tensor) and saved[key].device == tensor.device
        assert saved[key].data_ptr() != tensor.data_ptr()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(7.0)
    first = {k: v.clone() for k, v in saved.items()}
    stopper.on_epoch_end(1, {"loss": 0.5})  # an improvement: copied in place, same tensors
    assert stopper.best_weights is saved
    assert all(torch.equal(v, torch.full_like(v, 7.0)) for v in saved.values())
    assert not any(torch.equal(first[k], saved[k]) for k in saved)


def test_on_train_begin_resets_all_state():
    stopper = EarlyStopping(monitor="loss", patience=3)
    stopper.set_model(fake_model())
    stopper.on_train_begin()
    stopper.best, stopper.wait, stopper.stopped_epoch, stopper.best_epoch = 0.1, 3, 5, 5
    stopper.best_weights = {"w": torch.zeros(1)}
    stopper.on_train_begin()
    assert stopper.best is None and stopper.wait == 0 and stopper.stopped_epoch == 0
    assert stopper.best_epoch == 0 and stopper.best_weights is None


def test_start_from_epoch_ignores_warm_up_epochs():
    stopper = EarlyStopping(monitor="loss", patience=1, start_from_epoch=2)
    stopper.set_model(fake_model())
    epochs = run_by_hand(stopper, [1.0, 2.0, 3.0, 4.0, 5.0])
    # Epochs 0 and 1 are ignored; 2 is the first best; 3 is the first miss.
    assert epochs == 4 and stopper.stopped_epoch == 3 and stopper.best == 3.0


def test_missing_monitor_warns_and_skips_the_epoch():
    stopper = EarlyStopping(monitor="val_loss", patience=0, mode="min")
    stopper.set_model(fake_model())
    stopper.on_train_begin()
    stopper.on_epoch_end(0, {"val_loss": 1.0})
    with pytest.warns(UserWarning, match=r"`val_loss`.*Available keys: \['loss'\]"):
        stopper.on_epoch_end(1, {"loss": 5.0})
    assert stopper.wait == 0 and not stopper.model.stop_training


def test_fit_without_validation_warns_once_per_fit_and_trains_on():
    model = small_model()
    stopper = EarlyStopping(patience=0)
    for _ in range(2):  # a second fit warns again
        with pytest.warns(UserWarning, match=r"val_loss.*Available keys: \['loss', 'mae'\]") as record:
            history = model.fit(X, Y, epochs=3, verbose=0, callbacks=[stopper])
        assert len(history.epoch) == 3
        assert sum("val_loss" in str(w.message) for w in record) == 1


@pytest.mark.parametrize("monitor, expected", [("val_mae", operator.lt), ("loss", operator.lt)])
def test_fit_resolves_auto_mode(monitor, expected):
    stopper = EarlyStopping(monitor=monitor)
    small_model().fit(X, Y, epochs=1, validation_split=0.25, verbose=0, callbacks=[stopper])
    assert stopper.monitor_op is expected


def test_fit_with_unknown_monitor_raises():
    with pytest.raises(ValueError, match=r"unknown.*mode='min'"):
        small_model().fit(X, Y, epochs=1, verbose=0, callbacks=[EarlyStopping(monitor="unknown")])


def test_fit_stops_and_restores_the_best_epoch(capsys):
    model = small_model()
    snapshots = Snapshots()
    stopper = EarlyStopping(patience=2, verbose=1, restore_best_weights=True)
    drive = Drive("val_loss", [0.5, 0.4, 0.3, 0.35, 0.36, 0.2, 0.1])
    history = model.fit(X, Y, epochs=7, validation_split=0.25, verbose=0,
                        callbacks=[drive, snapshots, stopper])
    assert history.epoch == [0, 1, 2, 3, 4]
    assert history.history["val_loss"] == [0.5, 0.4, 0.3, 0.35, 0.36]
    assert stopper.stopped_epoch == 4 and stopper.best_epoch == 2
    for restored, best in zip(model.get_weights(), snapshots.weights[2]):
        np.testing.assert_array_equal(restored, best)
    assert not np.array_equal(snapshots.weights[2][0], snapshots.weights[4][0])
    out = capsys.readouterr().out
    assert "Epoch 5: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 3." in out


def test_fit_restores_even_when_another_callback_stops():
    model = small_model()
    snapshots = Snapshots()
    stopper = EarlyStopping(patience=10, restore_best_weights=True)

    class StopAtTwo(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch == 2

    drive = Drive("val_loss", [0.5, 0.2, 0.3, 0.4])
    model.fit(X, Y, epochs=4, validation_split=0.25, verbose=0,
              callbacks=[drive, snapshots, stopper, StopAtTwo()])
    assert stopper.stopped_epoch == 0 and len(snapshots.weights) == 3
    for restored, best in zip(model.get_weights(), snapshots.weights[1]):
        np.testing.assert_array_equal(restored, best)


def test_reuse_across_fits_starts_fresh():
    model = small_model()
    stopper = EarlyStopping(monitor="loss", patience=3)
    # First fit: the loss is driven up so training stops early...
    first = model.fit(X, Y, epochs=20, verbose=0, callbacks=[Drive("loss", list(range(20))), stopper])
    assert len(first.epoch) == 4
    # ...and a stale `best` (0) would stop the second one as early; it must not.
    second = model.fit(X, Y, epochs=20, verbose=0,
                       callbacks=[Drive("loss", [9.0 - i * 0.1 for i in range(20)]), stopper])
    assert len(second.epoch) == 20 and stopper.stopped_epoch == 0


def test_fit_with_start_from_epoch_trains_at_least_that_long():
    for start, patience in [(2, 3), (2, 0)]:
        stopper = EarlyStopping(monitor="loss", patience=patience, start_from_epoch=start)
        history = small_model().fit(X, Y, epochs=20, verbose=0,
                                    callbacks=[Drive("loss", [1.0] * 20), stopper])
        assert len(history.epoch) == start + max(patience, 1) + 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"patience": -1}, r"patience.*Received: patience=-1"),
        ({"patience": 1.5}, r"patience.*Received: patience=1.5 \(of type float\)"),
        ({"start_from_epoch": "2"}, r"start_from_epoch.*Received: start_from_epoch='2'"),
        ({"mode": "minimum"}, r"mode.*Did you mean mode='min'"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)
