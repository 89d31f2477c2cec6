"""GRU and GRUCell against Keras 3 (reset_after True and False): weights, outputs, masks,
states, gradients and config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.backend import torch_compat
from kfit.layers.rnn.gru import GRU, GRUCell

keras = pytest.importorskip("keras")

RS = np.random.RandomState(1)
X = RS.randn(3, 6, 4).astype("float32")
MASKS = {
    "none": None,
    "post": np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]], bool),
    "pre": np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]], bool),
    "holes": np.array([[1, 0, 1, 1, 0, 1], [0, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0]], bool),
}


def _np(t):
    return keras.ops.convert_to_numpy(t) if not isinstance(t, torch.Tensor) else t.detach().cpu().numpy()


def _pair(keras_layer, ours, x=X):
    keras_layer(x)
    ours(torch.from_numpy(x))
    ours.set_weights(keras_layer.get_weights())
    return keras_layer, ours


def _assert_close(theirs, mine, atol=1e-5):
    theirs = theirs if isinstance(theirs, (list, tuple)) else [theirs]
    mine = mine if isinstance(mine, (list, tuple)) else [mine]
    assert len(theirs) == len(mine)
    for a, b in zip(theirs, mine):
        np.testing.assert_allclose(_np(a), _np(b), atol=atol, rtol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_weights_have_keras_names_and_shapes(reset_after):
    layer = GRU(4, reset_after=reset_after, name="gru")
    layer(torch.ones(2, 5, 3))
    bias_shape = (2, 12) if reset_after else (12,)
    assert [(w.path, tuple(w.shape)) for w in layer.weights] == [
        ("gru/gru_cell/kernel", (3, 12)),
        ("gru/gru_cell/recurrent_kernel", (4, 12)),
        ("gru/gru_cell/bias", bias_shape),
    ]


def test_update_gate_weighs_the_old_state():
    # All weights zero except the update gate's bias, so z = sigmoid(b) and h~ = tanh(0) = 0:
    # h' = z * h, which only holds when z multiplies the *old* state.
    layer = GRU(1, kernel_initializer="zeros", recurrent_initializer="zeros", return_sequences=True)
    layer(torch.zeros(1, 2, 1))
    with torch.no_grad():
        layer.cell.bias.zero_()
        layer.cell.bias[0, 0] = 2.0
    out = layer(torch.zeros(1, 2, 1), initial_state=torch.ones(1, 1))
    z = torch.sigmoid(torch.tensor(2.0))
    torch.testing.assert_close(out.flatten(), torch.stack([z, z * z]))


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("mask_name", list(MASKS))
def test_outputs_match_keras(reset_after, mask_name):
    mask = MASKS[mask_name]
    kfit_mask = None if mask is None else torch.from_numpy(mask)
    for return_sequences in (False, True):
        for go_backwards in (False, True):
            options = {
                "return_sequences": return_sequences,
                "return_state": True,
                "go_backwards": go_backwards,
                "reset_after": reset_after,
            }
            theirs, ours = _pair(keras.layers.GRU(5, **options), GRU(5, **options))
            got = ours(torch.from_numpy(X), mask=kfit_mask)
            assert len(got) == 2  # [output, h]
            _assert_close(theirs(X, mask=mask), got)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("use_cudnn", ["auto", False])
def test_gradients_match_keras(reset_after, use_cudnn):
    theirs, ours = _pair(
        keras.layers.GRU(5, return_sequences=True, reset_after=reset_after),
        GRU(5, return_sequences=True, reset_after=reset_after, use_cudnn=use_cudnn),
    )
    weight = torch.from_numpy(RS.randn(3, 6, 5).astype("float32"))
    for mask in (None, MASKS["holes"]):
        expected = torch.autograd.grad(
            (theirs(torch.from_numpy(X), mask=mask) * weight).sum(), [w.value for w in theirs.weights]
        )
        kfit_mask = None if mask is None else torch.from_numpy(mask)
        got = torch.autograd.grad((ours(torch.from_numpy(X), mask=kfit_mask) * weight).sum(), ours.weights)
        _assert_close(list(expected), list(got))


def test_initial_state_stateful_and_fused_use(monkeypatch):
    h0 = RS.randn(3, 5).astype("float32")
    theirs, ours = _pair(keras.layers.GRU(5, return_state=True), GRU(5, return_state=True))
    mask = MASKS["post"]
    _assert_close(
        theirs(X, initial_state=h0, mask=mask),
        ours(torch.from_numpy(X), initial_state=torch.from_numpy(h0), mask=torch.from_numpy(mask)),
    )
    calls = []
    original = torch_compat.fused_rnn
    monkeypatch.setattr(torch_compat, "fused_rnn", lambda *a: calls.append(a[0]) or original(*a))
    ours(torch.from_numpy(X))
    GRU(2, reset_after=False)(torch.ones(1, 2, 3))
    assert calls == ["gru"]
    stateful = GRU(2, stateful=True)
    first = stateful(torch.ones(1, 3, 2))
    second = stateful(torch.ones(1, 3, 2))
    assert not torch.allclose(first, second)
    stateful.reset_states()
    torch.testing.assert_close(stateful(torch.ones(1, 3, 2)), first)


def test_dropout_draws_one_mask_per_gate_with_recurrent_dropout():
    assert GRUCell(3, dropout=0.5).dropout_mask_count is None
    cell = GRUCell(3, dropout=0.5, recurrent_dropout=0.5, seed=0)
    assert cell.dropout_mask_count == 3
    layer = GRU(3, dropout=0.5, recurrent_dropout=0.5, seed=0)
    out = layer(torch.ones(2, 4, 3), training=True)
    out.sum().backward()
    assert layer.cell.kernel.grad is not None
    assert layer.cell.__dict__["_recurrent_dropout_mask"] is None


def test_config_matches_keras_and_round_trips():
    ours = GRU(3, reset_after=False, go_backwards=True, name="g")
    theirs = keras.layers.GRU(3, reset_after=False, go_backwards=True)
    config = ours.get_config()
    assert set(config) | {"dtype"} == set(theirs.get_config())
    assert config["reset_after"] is False and config["go_backwards"] is True
    assert GRU.from_config(config).get_config() == config
    assert set(GRUCell(3).get_config()) | {"dtype"} == set(keras.layers.GRUCell(3).get_config())
    assert GRU(3, return_state=True).compute_output_shape((None, 4, 2)) == ((None, 3), (None, 3))
