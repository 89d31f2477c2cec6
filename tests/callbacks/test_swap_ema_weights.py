"""SwapEMAWeights: evaluation, prediction and (optionally) epoch ends see the optimizer's EMA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import Callback, SwapEMAWeights


def _data():
    rs = np.random.RandomState(2023)
    x = rs.rand(24, 3).astype("float32")
    y = rs.rand(24, 2).astype("float32")
    return x, y


def _model(use_ema: bool = True):
    model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3, kernel_initializer="ones", use_bias=False)])
    model.compile(
        optimizer=kfit.optimizers.SGD(learning_rate=0.1, use_ema=use_ema, ema_momentum=0.9),
        loss="mse",
        metrics=["mse"],
    )
    return model


def _weights(model) -> list[np.ndarray]:
    return [w.copy() for w in model.get_weights()]


def _ema(model) -> list[np.ndarray]:
    return [a.detach().cpu().numpy().copy() for a in model.optimizer.ema_weights]


def _trained_with_distinct_averages():
    """Data, a model trained without finalizing, its weights, and moving averages that differ."""
    x, y = _data()
    model = _model()
    _train_steps(model, x, y)
    trained, ema = _weights(model), _ema(model)
    assert not np.allclose(trained[0], ema[0])
    return x, y, model, trained, ema


def _train_steps(model, x, y) -> None:
    # train_on_batch, unlike fit, does not finalize: the trained weights stay in the model.
    for start in range(0, len(x), 8):
        model.train_on_batch(x[start : start + 8], y[start : start + 8])


def _mse(x, y, kernel) -> float:
    return float(np.mean((x.astype(np.float64) @ kernel.astype(np.float64) - y) ** 2))


def test_invalid_optimizer_raises_at_train_begin():
    x, y = _data()
    model = _model(use_ema=False)
    with pytest.raises(ValueError, match=r"use_ema=True.*Received: use_ema=False"):
        model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y), callbacks=[SwapEMAWeights()])


def test_plain_torch_optimizer_raises():
    x, y = _data()
    model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss="mse")
    with pytest.raises(ValueError, match="use_ema=True"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[SwapEMAWeights()])


def test_invalid_optimizer_raises_at_first_evaluate_or_predict():
    x, y = _data()
    model = _model(use_ema=False)
    with pytest.raises(ValueError, match="use_ema=True"):
        model.evaluate(x, y, verbose=0, callbacks=[SwapEMAWeights()])
    with pytest.raises(ValueError, match="use_ema=True"):
        model.predict(x, verbose=0, callbacks=[SwapEMAWeights()])


def test_last_validation_metric_equals_post_fit_evaluate():
    x, y = _data()
    model = _model()
    history = model.fit(
        x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x, y), callbacks=[SwapEMAWeights()]
    )
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert history.history["val_mse"][-1] == logs["mse"]
    # The model ends fit with the averaged weights, as Keras's fit leaves it.
    np.testing.assert_array_equal(model.get_weights()[0], _ema(model)[0])


def test_without_callback_validation_used_trained_weights_but_fit_ends_with_ema():
    x, y = _data()
    model = _model()
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x, y))
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert history.history["val_mse"][-1] != logs["mse"]


def test_validation_runs_with_ema_weights_and_training_with_trained_ones():
    x, y = _data()
    seen = {}

    class Spy(Callback):
        def on_test_begin(self, logs=None):
            seen.setdefault("test", []).append((_weights(self.model)[0], _ema(self.model)[0]))

        def on_epoch_end(self, epoch, logs=None):
            seen.setdefault("epoch_end", []).append(_weights(self.model)[0])
            seen.setdefault("val_mse", []).append(logs["val_mse"])
            seen.setdefault("ema", []).append(_ema(self.model)[0])

    model = _model()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x, y), callbacks=[SwapEMAWeights(), Spy()])
    for (weights, ema), val_mse in zip(seen["test"], seen["val_mse"]):
        np.testing.assert_array_equal(weights, ema)
        np.testing.assert_allclose(val_mse, _mse(x, y, ema), rtol=1e-5)
    # By the epoch end the trained weights are back, and differ from the average.
    for weights, ema in zip(seen["epoch_end"], seen["ema"]):
        assert not np.allclose(weights, ema)


def test_training_is_unaffected_by_the_swaps():
    x, y = _data()
    runs = []
    for callbacks in ([], [SwapEMAWeights()], [SwapEMAWeights(swap_on_epoch=True)]):
        torch.manual_seed(0)
        model = _model()
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False, callbacks=callbacks)
        runs.append((history.history["loss"], _ema(model)))
    for loss, ema in runs[1:]:
        assert loss == runs[0][0]
        np.testing.assert_array_equal(ema[0], runs[0][1][0])


def test_swap_on_epoch_lets_later_callbacks_save_ema_weights(tmp_path):
    x, y = _data()
    saved = []

    class Saver(Callback):
        def on_epoch_end(self, epoch, logs=None):
            path = tmp_path / f"{epoch + 1}.safetensors"
            self.model.save_weights(path)
            saved.append((path, _ema(self.model)[0]))

    model = _model()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x, y),
              callbacks=[SwapEMAWeights(swap_on_epoch=True), Saver()])
    for path, ema in saved:
        restored = _model()
        restored.load_weights(path)
        np.testing.assert_array_equal(restored.get_weights()[0], ema)
    # The last checkpoint evaluates exactly like the model fit returns.
    restored = _model()
    restored.load_weights(saved[-1][0])
    assert restored.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_swap_on_epoch_puts_trained_weights_back_at_next_epoch_begin():
    _, _, model, trained, ema = _trained_with_distinct_averages()
    cb = SwapEMAWeights(swap_on_epoch=True)
    cb.set_model(model)
    cb.on_epoch_end(0)
    np.testing.assert_array_equal(model.get_weights()[0], ema[0])
    # An evaluation inside the epoch-end window leaves the EMA weights in place.
    cb.on_test_begin()
    cb.on_test_end()
    np.testing.assert_array_equal(model.get_weights()[0], ema[0])
    cb.on_epoch_begin(1)
    np.testing.assert_array_equal(model.get_weights()[0], trained[0])
    np.testing.assert_array_equal(_ema(model)[0], ema[0])


def test_early_stop_after_epoch_end_swap_keeps_averages_correct():
    x, y = _data()

    class StopAtOnce(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    model = _model()
    model.fit(x, y, batch_size=8, epochs=5, verbose=0, shuffle=False,
              callbacks=[SwapEMAWeights(swap_on_epoch=True), StopAtOnce()])
    reference = _model()  # the same single epoch, without swaps
    reference.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    # An in-place exchange (Keras) would leave the trained weights in the averages here, and
    # fit's finalization would then put them into the model.
    np.testing.assert_array_equal(_ema(model)[0], _ema(reference)[0])
    np.testing.assert_array_equal(model.get_weights()[0], reference.get_weights()[0])


def test_evaluate_and_predict_use_ema_then_restore_trained_weights():
    x, y, model, trained, ema = _trained_with_distinct_averages()

    result = model.evaluate(x, y, verbose=0, return_dict=True, callbacks=[SwapEMAWeights()])
    np.testing.assert_allclose(result["mse"], _mse(x, y, ema[0]), rtol=1e-5)
    np.testing.assert_array_equal(model.get_weights()[0], trained[0])

    predictions = model.predict(x, verbose=0, callbacks=[SwapEMAWeights()])
    np.testing.assert_allclose(predictions, x @ ema[0], rtol=1e-5)
    # Keras's inverted on_predict_end left the EMA weights in the model here.
    np.testing.assert_array_equal(model.get_weights()[0], trained[0])
    np.testing.assert_array_equal(_ema(model)[0], ema[0])


def test_nothing_is_swapped_before_the_first_step():
    x, y = _data()
    model = _model()
    plain = model.evaluate(x, y, verbose=0)
    assert model.evaluate(x, y, verbose=0, callbacks=[SwapEMAWeights()]) == plain
    np.testing.assert_array_equal(model.get_weights()[0], np.ones((3, 2), "float32"))
