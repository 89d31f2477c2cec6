"""LSTM and LSTMCell against Keras 3: weights, outputs, masks, states, gradients, config; and
torch_compat.fused_rnn's two branches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.backend import torch_compat
from kfit.layers.rnn.lstm import LSTM, LSTMCell

keras = pytest.importorskip("keras")

RS = np.random.RandomState(0)
X = RS.randn(3, 6, 4).astype("float32")
# Post-padded, pre-padded, holes in the middle.
MASKS = {
    "none": None,
    "post": np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]], bool),
    "pre": np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]], bool),
    "holes": np.array([[1, 0, 1, 1, 0, 1], [0, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0]], bool),
}


def _np(t):
    return keras.ops.convert_to_numpy(t) if not isinstance(t, torch.Tensor) else t.detach().cpu().numpy()


def _pair(keras_layer, ours, x=X):
    """Builds both layers on `x` and gives ours Keras's weights."""
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


def test_weights_have_keras_names_shapes_and_initial_values():
    layer = LSTM(4, name="lstm")
    layer(torch.ones(2, 5, 3))
    assert [(w.path, tuple(w.shape)) for w in layer.weights] == [
        ("lstm/lstm_cell/kernel", (3, 16)),
        ("lstm/lstm_cell/recurrent_kernel", (4, 16)),
        ("lstm/lstm_cell/bias", (16,)),
    ]
    assert layer.cell.name == "lstm_cell"
    # unit_forget_bias: only the forget gate's slice starts at 1.
    assert layer.cell.bias.tolist() == [0.0] * 4 + [1.0] * 4 + [0.0] * 8
    r = layer.cell.recurrent_kernel.detach()
    torch.testing.assert_close(r @ r.T, torch.eye(4), atol=1e-5, rtol=0)  # orthogonal rows
    assert list(layer.state_dict()) == ["cell.kernel", "cell.recurrent_kernel", "cell.bias"]
    no_forget = LSTM(2, unit_forget_bias=False, bias_initializer="ones")
    no_forget(torch.ones(1, 2, 3))
    assert no_forget.cell.bias.tolist() == [1.0] * 8


@pytest.mark.parametrize("use_cudnn", ["auto", False])
@pytest.mark.parametrize("mask_name", list(MASKS))
def test_outputs_match_keras(use_cudnn, mask_name):
    mask = MASKS[mask_name]
    kfit_mask = None if mask is None else torch.from_numpy(mask)
    for return_sequences in (False, True):
        for go_backwards in (False, True):
            options = {"return_sequences": return_sequences, "return_state": True, "go_backwards": go_backwards}
            theirs, ours = _pair(keras.layers.LSTM(5, **options), LSTM(5, use_cudnn=use_cudnn, **options))
            expected = theirs(X, mask=mask)
            got = ours(torch.from_numpy(X), mask=kfit_mask)
            assert len(got) == 3  # [output, h, c]
            _assert_close(expected, got)


@pytest.mark.parametrize("use_cudnn", ["auto", False])
def test_gradients_match_keras(use_cudnn):
    mask = MASKS["holes"]
    theirs, ours = _pair(
        keras.layers.LSTM(5, return_sequences=True, return_state=True),
        LSTM(5, return_sequences=True, return_state=True, use_cudnn=use_cudnn),
    )
    for mask_value in (None, mask):
        weight = torch.from_numpy(RS.randn(3, 6, 5).astype("float32"))
        losses = []
        for layer, m in ((theirs, mask_value), (ours, None if mask_value is None else torch.from_numpy(mask_value))):
            out, _, c = layer(torch.from_numpy(X), mask=m)
            losses.append((out * weight).sum() + (c * c).sum())
        expected = torch.autograd.grad(losses[0], [w.value for w in theirs.weights])
        got = torch.autograd.grad(losses[1], ours.weights)
        _assert_close(list(expected), list(got))


def test_initial_state_and_keras_mask_attribute():
    h0, c0 = RS.randn(3, 5).astype("float32"), RS.randn(3, 5).astype("float32")
    theirs, ours = _pair(keras.layers.LSTM(5, return_sequences=True), LSTM(5, return_sequences=True))
    mask = MASKS["pre"]
    expected = theirs(X, initial_state=[h0, c0], mask=mask)
    initial_state = [torch.from_numpy(h0), torch.from_numpy(c0)]
    got = ours(torch.from_numpy(X), initial_state=initial_state, mask=torch.from_numpy(mask))
    _assert_close(expected, got)
    # A mask carried by the input, as the previous layer (Embedding(mask_zero=True)) leaves it.
    x = torch.from_numpy(X)
    x._keras_mask = torch.from_numpy(mask)
    out = ours(x)
    _assert_close(theirs(X, mask=mask), out)
    # Masked steps repeat the previous output (zeros before the first valid step).
    assert torch.equal(out[0, 0], torch.zeros(5)) and torch.equal(out[0, 1], torch.zeros(5))
    assert out._keras_mask is x._keras_mask


def test_stateful_carries_states_until_reset():
    batches = [RS.randn(2, 4, 3).astype("float32") for _ in range(2)]
    theirs = keras.layers.LSTM(3, stateful=True, return_sequences=True)
    ours = LSTM(3, stateful=True, return_sequences=True)
    theirs(batches[0])
    theirs.reset_states()
    ours(torch.from_numpy(batches[0]))
    ours.set_weights(theirs.get_weights())
    ours.reset_states()
    for batch in batches:
        _assert_close(theirs(batch), ours(torch.from_numpy(batch)))
    theirs.reset_states()
    ours.reset_states()
    assert all(torch.equal(s, torch.zeros(2, 3)) for s in ours.states)
    _assert_close(theirs(batches[1]), ours(torch.from_numpy(batches[1])))
    with pytest.raises(ValueError, match="batch size"):
        ours(torch.ones(5, 4, 3))


def test_dropout_masks_are_shared_by_all_steps_and_reset_after_the_call():
    layer = LSTM(4, dropout=0.5, seed=1, return_sequences=True)
    x = torch.ones(2, 6, 3)
    layer(x, training=False)
    drawn = []
    original = layer.cell.get_dropout_mask

    def spy(step_input):
        mask = original(step_input)
        drawn.append(mask)
        return mask

    layer.cell.get_dropout_mask = spy
    out = layer(x, training=True)
    assert len(drawn) == 1 and drawn[0].shape == (2, 3)
    assert layer.cell.__dict__["_dropout_mask"] is None
    # At inference nothing is dropped: Keras's outputs.
    theirs = keras.layers.LSTM(4, return_sequences=True)
    theirs(x.numpy())
    theirs.set_weights(layer.get_weights())
    _assert_close(theirs(x.numpy()), layer(x, training=False))
    assert out.shape == (2, 6, 4)
    # Recurrent dropout runs step by step with per-gate masks, and gradients flow.
    recurrent = LSTM(4, recurrent_dropout=0.3, dropout=0.2, seed=0)
    loss = recurrent(x, training=True).sum()
    loss.backward()
    assert recurrent.cell.kernel.grad is not None and recurrent.cell.dropout_mask_count == 4


def test_config_matches_keras_and_round_trips():
    ours = LSTM(3, return_sequences=True, dropout=0.1, kernel_regularizer="l2", name="seq")
    theirs = keras.layers.LSTM(3, return_sequences=True, dropout=0.1, kernel_regularizer="l2")
    config = ours.get_config()
    assert set(config) | {"dtype"} == set(theirs.get_config())
    assert config["unit_forget_bias"] is True and config["activation"] == "tanh"
    assert config["kernel_regularizer"]["class_name"] == "L2"
    clone = LSTM.from_config(config)
    assert clone.get_config() == config and clone.name == "seq"
    cell_config = LSTMCell(3).get_config()
    assert set(cell_config) | {"dtype"} == set(keras.layers.LSTMCell(3).get_config())


def test_shapes_masks_and_errors():
    layer = LSTM(4, return_sequences=True, return_state=True)
    assert layer.compute_output_shape((None, 7, 3)) == ((None, 7, 4), (None, 4), (None, 4))
    mask = torch.ones(2, 7, dtype=torch.bool)
    assert layer.compute_mask(None, mask) == [mask, None, None]
    assert LSTM(4).compute_mask(None, mask) is None
    assert LSTM(4).compute_output_shape((2, 7, 3)) == (2, 4)
    with pytest.raises(ValueError, match="positive integer"):
        LSTM(0)
    with pytest.raises(ValueError, match="use_cudnn"):
        LSTM(2, use_cudnn="yes")
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        LSTM(2)(torch.ones(2, 3))


def test_fused_kernel_runs_with_integer_inputs_and_float64():
    layer = LSTM(2)
    layer(torch.ones(1, 3, 2))
    out = layer.double()(torch.ones(1, 3, 2, dtype=torch.int64))
    assert out.dtype == torch.float64


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("private", [True, False])
def test_fused_rnn_branches_match_torch_modules(mode, private):
    torch.manual_seed(0)
    module = {
        "lstm": torch.nn.LSTM(3, 4, batch_first=True),
        "gru": torch.nn.GRU(3, 4, batch_first=True),
        "rnn_tanh": torch.nn.RNN(3, 4, batch_first=True),
        "rnn_relu": torch.nn.RNN(3, 4, nonlinearity="relu", batch_first=True),
    }[mode]
    x = torch.randn(2, 5, 3)
    states = (torch.randn(1, 2, 4), torch.randn(1, 2, 4))[: 2 if mode == "lstm" else 1]
    expected, expected_final = module(x, states if mode == "lstm" else states[0])
    expected_final = expected_final if mode == "lstm" else (expected_final,)
    with torch_compat.use_private_kernels(private):
        out, final = torch_compat.fused_rnn(mode, x, states, list(module.parameters()), True)
    torch.testing.assert_close(out, expected)
    for a, b in zip(final, expected_final):
        torch.testing.assert_close(a, b)
    assert torch_compat.private_kernels_available()["fused_rnn"] in (True, False)


def test_fused_kernel_is_used_when_the_configuration_allows(monkeypatch):
    calls = []
    original = torch_compat.fused_rnn

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(torch_compat, "fused_rnn", counting)
    x = torch.ones(2, 5, 3)
    mask = torch.tensor([[True] * 5, [False, True, True, False, True]])
    cases = [
        (LSTM(4), {}, 1),
        (LSTM(4, return_state=True, go_backwards=True), {"mask": mask}, 1),
        (LSTM(4, dropout=0.5), {"training": True}, 1),
        (LSTM(4, recurrent_dropout=0.5), {"training": False}, 1),
        (LSTM(4, recurrent_dropout=0.5), {"training": True}, 0),
        (LSTM(4, use_cudnn=False), {}, 0),
        (LSTM(4, unroll=True), {}, 0),
        (LSTM(4, activation="relu"), {}, 0),
        (LSTM(4, recurrent_activation="hard_sigmoid"), {}, 0),
    ]
    for layer, kwargs, expected in cases:
        layer(x)
        calls.clear()
        layer(x, **kwargs)
        assert len(calls) == expected, (layer.get_config(), kwargs)


def test_embedding_mask_zero_feeds_the_mask_as_in_keras():
    from kfit.layers.embedding import Embedding

    ids = np.array([[3, 5, 2, 0, 0, 0], [0, 0, 0, 4, 1, 7], [0, 0, 0, 0, 0, 0]], dtype="int32")
    theirs_embedding, ours_embedding = keras.layers.Embedding(9, 4, mask_zero=True), Embedding(9, 4, mask_zero=True)
    theirs_embedding(ids)
    ours_embedding(torch.from_numpy(ids))
    ours_embedding.set_weights(theirs_embedding.get_weights())
    for return_sequences in (False, True):
        theirs_lstm = keras.layers.LSTM(5, return_sequences=return_sequences, return_state=True)
        ours_lstm = LSTM(5, return_sequences=return_sequences, return_state=True)
        expected = theirs_lstm(theirs_embedding(ids))
        embedded = ours_embedding(torch.from_numpy(ids))
        ours_lstm(embedded)
        ours_lstm.set_weights(theirs_lstm.get_weights())
        got = ours_lstm(embedded)
        _assert_close(expected, got)
        assert (getattr(got[0], "_keras_mask", None) is not None) == return_sequences


def test_nan_in_masked_steps_does_not_leak_into_outputs_or_states():
    x = X.copy()
    mask = MASKS["post"]
    x[~mask] = np.nan
    theirs, ours = _pair(keras.layers.LSTM(5, return_state=True), LSTM(5, return_state=True))
    got = ours(torch.from_numpy(x), mask=torch.from_numpy(mask))
    assert all(bool(torch.isfinite(t).all()) for t in got)
    _assert_close(theirs(x, mask=mask), got)
