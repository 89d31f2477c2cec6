"""Bad input gets an early error naming the argument, the expectation, the value and the fix."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from conftest import guide_model

import kfit


def _model():
    return guide_model()


def _data(n=20):
    return np.zeros((n, 784), "float32"), np.zeros(n, "float32")


def _weights_unchanged(model, before):
    return all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_x_y_length_mismatch():
    model = _model()
    before = model.get_weights()
    x, y = _data()
    with pytest.raises(ValueError, match=r"same number of samples.*x has 20, y has 19"):
        model.fit(x, y[:19], verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight has 5"):
        model.fit(x, y, sample_weight=np.ones(5), verbose=0)
    assert _weights_unchanged(model, before)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "32", True])
def test_batch_size_must_be_positive_int(bad):
    x, y = _data()
    with pytest.raises(ValueError, match=r"`batch_size`.*positive integer.*Received: batch_size="):
        _model().fit(x, y, batch_size=bad, verbose=0)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "0.2"])
def test_validation_split_range(bad):
    x, y = _data()
    with pytest.raises(ValueError, match=r"`validation_split`.*\[0, 1\).*Received: validation_split="):
        _model().fit(x, y, validation_split=bad, verbose=0)


def test_validation_split_with_generator_or_dataloader():
    x, y = _data()
    gen = ((x[:4], y[:4]) for _ in range(3))
    with pytest.raises(ValueError, match=r"validation_split.*Received: x of type generator.*validation_data"):
        _model().fit(gen, validation_split=0.2, verbose=0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(8, 784), torch.zeros(8)))
    with pytest.raises(ValueError, match=r"Received: x of type DataLoader"):
        _model().fit(loader, validation_split=0.2, verbose=0)


def test_y_with_dataloader():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(8, 784), torch.zeros(8)))
    with pytest.raises(ValueError, match=r"`y` to be None when `x` is a DataLoader.*Received: y of type ndarray"):
        _model().fit(loader, np.zeros(8), verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_fit_and_evaluate_before_compile(method):
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=784)])
    x, y = _data()
    with pytest.raises(RuntimeError, match=rf"compiled model before `{method}\(\)`.*Call `model\.compile"):
        getattr(model, method)(x, y, verbose=0)


@pytest.mark.parametrize(
    "kwargs, close",
    [({"optimizer": "adma", "loss": "mse"}, "adam"),
     ({"optimizer": "sgd", "loss": "mean_sqared_error"}, "mean_squared_error"),
     ({"optimizer": "sgd", "loss": "mse", "metrics": ["accuracyy"]}, "accuracy")],
)
def test_unknown_identifiers_suggest_close_matches(kwargs, close):
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=784)])
    x, y = _data()
    with pytest.raises(ValueError, match=re.escape(close)):
        model.compile(**kwargs)
        model.fit(x, y, verbose=0)


def test_feature_size_mismatch_names_expected_and_got():
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"\(None, 784\).*Received: x with shape \(20, 100\)"):
        model.fit(np.zeros((20, 100), "float32"), np.zeros(20), verbose=0)
    with pytest.raises(ValueError, match=r"\(None, 784\)"):
        model.predict(np.zeros((20, 100), "float32"), verbose=0)
    assert _weights_unchanged(model, before)


def test_set_weights_count_and_shapes():
    model = _model()
    kernel, bias = model.get_weights()
    with pytest.raises(ValueError, match=r"list of 2 arrays.*Received: a list of 1"):
        model.set_weights([kernel])
    with pytest.raises(ValueError, match=r"shape \(784, 1\).*Received: an array of shape \(1, 784\)"):
        model.set_weights([kernel.T, bias])
    assert np.array_equal(model.get_weights()[0], kernel)


def test_callback_that_is_not_a_callback():
    x, y = _data()
    with pytest.raises(TypeError, match=r"callbacks\[1\]=.*of type function.*LambdaCallback"):
        _model().fit(x, y, verbose=0, callbacks=[kfit.callbacks.Callback(), lambda: None])
    with pytest.raises(TypeError, match=r"instance rather than the class"):
        _model().fit(x, y, verbose=0, callbacks=[kfit.callbacks.History])


def test_epochs_less_than_initial_epoch():
    x, y = _data()
    with pytest.raises(ValueError, match=r"epochs=2, initial_epoch=5.*epochs=7"):
        _model().fit(x, y, epochs=2, initial_epoch=5, verbose=0)


def test_generator_running_dry_warns_and_ends_the_epoch():
    x, y = _data(40)
    gen = ((x[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10))
    ends = []

    class Count(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(epoch)

    with pytest.warns(UserWarning, match="ran out of data"):
        history = _model().fit(gen, steps_per_epoch=3, epochs=5, verbose=0, callbacks=[Count()])
    assert ends == [0, 1]  # 3 batches, then 1 batch and the warning; no further epoch
    assert history.epoch == [0, 1]


def test_verbose_value():
    x, y = _data()
    with pytest.raises(ValueError, match=r"`verbose`.*Received: verbose=3"):
        _model().fit(x, y, verbose=3)
