"""SimpleRNN and SimpleRNNCell against Keras 3: weights, outputs, masks, gradients, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.backend import torch_compat
from kfit.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell

keras = pytest.importorskip("keras")

RS = np.random.RandomState(2)
X = RS.randn(3, 6, 4).astype("float32")
MASK = np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1]], bool)


def _np(t):
    return keras.ops.convert_to_numpy(t) if not isinstance(t, torch.Tensor) else t.detach().cpu().numpy()


def _assert_close(theirs, mine, atol=1e-5):
    theirs = theirs if isinstance(theirs, (list, tuple)) else [theirs]
    mine = mine if isinstance(mine, (list, tuple)) else [mine]
    assert len(theirs) == len(mine)
    for a, b in zip(theirs, mine):
        np.testing.assert_allclose(_np(a), _np(b), atol=atol, rtol=1e-5)


def test_weights_have_keras_names_and_shapes():
    layer = SimpleRNN(4, name="simple_rnn")
    layer(torch.ones(2, 5, 3))
    assert [(w.path, tuple(w.shape)) for w in layer.weights] == [
        ("simple_rnn/simple_rnn_cell/kernel", (3, 4)),
        ("simple_rnn/simple_rnn_cell/recurrent_kernel", (4, 4)),
        ("simple_rnn/simple_rnn_cell/bias", (4,)),
    ]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_outputs_and_gradients_match_keras(activation):
    for mask in (None, MASK):
        for go_backwards in (False, True):
            options = {"return_sequences": True, "return_state": True, "go_backwards": go_backwards}
            theirs = keras.layers.SimpleRNN(5, activation=activation, **options)
            ours = SimpleRNN(5, activation=activation, **options)
            theirs(X)
            ours(torch.from_numpy(X))
            ours.set_weights(theirs.get_weights())
            expected = theirs(torch.from_numpy(X), mask=mask)
            got = ours(torch.from_numpy(X), mask=None if mask is None else torch.from_numpy(mask))
            _assert_close(expected, got)
            grads = torch.autograd.grad(expected[0].square().sum(), [w.value for w in theirs.weights])
            _assert_close(list(grads), list(torch.autograd.grad(got[0].square().sum(), ours.weights)))


def test_fused_kernel_for_tanh_and_relu_only(monkeypatch):
    calls = []
    original = torch_compat.fused_rnn
    monkeypatch.setattr(torch_compat, "fused_rnn", lambda *a: calls.append(a[0]) or original(*a))
    for activation in ("tanh", "relu", "sigmoid"):
        SimpleRNN(2, activation=activation)(torch.ones(1, 3, 2))
    assert calls == ["rnn_tanh", "rnn_relu"]


def test_config_matches_keras_without_seed():
    ours = SimpleRNN(3, activation="relu", dropout=0.2, seed=3)
    config = ours.get_config()
    assert set(config) | {"dtype"} == set(keras.layers.SimpleRNN(3).get_config())
    assert "seed" not in config and config["activation"] == "relu"
    assert SimpleRNN.from_config(config).get_config() == config
    cell_config = SimpleRNNCell(3, seed=3).get_config()
    assert set(cell_config) | {"dtype"} == set(keras.layers.SimpleRNNCell(3).get_config())
    assert cell_config["seed"] == 3
    assert SimpleRNNCell.from_config(cell_config).units == 3


def test_recurrent_dropout_uses_one_mask_for_the_sequence():
    layer = SimpleRNN(3, recurrent_dropout=0.5, seed=0, return_sequences=True)
    out = layer(torch.ones(2, 5, 3), training=True)
    assert out.shape == (2, 5, 3)
    assert layer.cell.dropout_mask_count is None
    with pytest.raises(ValueError, match="dropout"):
        SimpleRNN(3, dropout="half")
