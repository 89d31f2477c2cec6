"""Bidirectional, TimeDistributed, the generic RNN with a user cell, and StackedRNNCells,
against Keras 3."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.dense import Dense
from kfit.layers.layer import Layer
from kfit.layers.rnn.bidirectional import Bidirectional
from kfit.layers.rnn.gru import GRU, GRUCell
from kfit.layers.rnn.lstm import LSTM, LSTMCell
from kfit.layers.rnn.rnn import RNN
from kfit.layers.rnn.stacked_rnn_cells import StackedRNNCells
from kfit.layers.rnn.time_distributed import TimeDistributed

keras = pytest.importorskip("keras")

RS = np.random.RandomState(3)
X = RS.randn(3, 6, 4).astype("float32")
MASK = np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1]], bool)


def _np(t):
    return keras.ops.convert_to_numpy(t) if not isinstance(t, torch.Tensor) else t.detach().cpu().numpy()


def _flat(values):
    if isinstance(values, (list, tuple)):
        return [leaf for v in values for leaf in _flat(v)]
    return [values]


def _assert_close(theirs, mine, atol=1e-5):
    theirs, mine = _flat(theirs), _flat(mine)
    assert len(theirs) == len(mine)
    for a, b in zip(theirs, mine):
        np.testing.assert_allclose(_np(a), _np(b), atol=atol, rtol=1e-5)


def _pair(keras_layer, ours, x=X):
    keras_layer(x)
    ours(torch.from_numpy(x))
    ours.set_weights(keras_layer.get_weights())
    return keras_layer, ours


# ---------------------------------------------------------------------- Bidirectional
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_matches_keras(merge_mode):
    for inner, theirs_inner in ((LSTM, keras.layers.LSTM), (GRU, keras.layers.GRU)):
        for return_sequences in (False, True):
            for mask in (None, MASK):
                options = {"return_sequences": return_sequences, "return_state": True}
                theirs, ours = _pair(
                    keras.layers.Bidirectional(theirs_inner(5, **options), merge_mode=merge_mode),
                    Bidirectional(inner(5, **options), merge_mode=merge_mode),
                )
                got = ours(torch.from_numpy(X), mask=None if mask is None else torch.from_numpy(mask))
                _assert_close(theirs(X, mask=mask), got)
    # LSTM with return_state: [merged, forward h, forward c, backward h, backward c].
    assert len(got) == 3 + (merge_mode is None) and len(
        Bidirectional(LSTM(2, return_state=True), merge_mode=merge_mode)(torch.ones(1, 3, 2))
    ) == 5 + (merge_mode is None)


def test_bidirectional_weights_gradients_and_initial_state():
    theirs, ours = _pair(
        keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True, name="enc")),
        Bidirectional(LSTM(3, return_sequences=True, name="enc"), name="bidirectional"),
    )
    assert [w.path for w in ours.weights] == [
        "bidirectional/forward_enc/lstm_cell/kernel",
        "bidirectional/forward_enc/lstm_cell/recurrent_kernel",
        "bidirectional/forward_enc/lstm_cell/bias",
        "bidirectional/backward_enc/lstm_cell/kernel",
        "bidirectional/backward_enc/lstm_cell/recurrent_kernel",
        "bidirectional/backward_enc/lstm_cell/bias",
    ]
    assert ours.forward_layer.name == "forward_enc" and ours.backward_layer.go_backwards
    # Keras zeroes the masked steps of both directions when returning sequences.
    assert ours.forward_layer.zero_output_for_mask and ours.backward_layer.zero_output_for_mask
    states = [RS.randn(3, 3).astype("float32") for _ in range(4)]
    expected = theirs(X, initial_state=states, mask=MASK)
    got = ours(torch.from_numpy(X), initial_state=[torch.from_numpy(s) for s in states], mask=torch.from_numpy(MASK))
    _assert_close(expected, got)
    expected_grads = torch.autograd.grad(expected.square().sum(), [w.value for w in theirs.weights])
    _assert_close(list(expected_grads), list(torch.autograd.grad(got.square().sum(), ours.weights)))
    mask = torch.from_numpy(MASK)
    assert ours.compute_mask(None, mask) is mask
    assert Bidirectional(LSTM(3)).compute_mask(None, mask) is None
    assert ours.compute_output_shape((None, 6, 4)) == (None, 6, 6)


def test_bidirectional_config_weights_argument_and_errors():
    ours = Bidirectional(GRU(3), merge_mode="sum", name="bi")
    config = ours.get_config()
    assert set(config) | {"dtype"} == set(keras.layers.Bidirectional(keras.layers.GRU(3)).get_config())
    clone = Bidirectional.from_config(config)
    assert clone.merge_mode == "sum" and clone.forward_layer.name == ours.forward_layer.name
    assert clone.backward_layer.go_backwards
    source = Bidirectional(GRU(2))
    source(torch.ones(1, 3, 2))
    preset = Bidirectional(GRU(2), weights=source.get_weights())
    preset(torch.ones(1, 3, 2))
    for a, b in zip(source.get_weights(), preset.get_weights()):
        np.testing.assert_array_equal(a, b)
    custom_backward = Bidirectional(LSTM(2), backward_layer=GRU(2, go_backwards=True))
    assert custom_backward(torch.ones(1, 3, 2)).shape == (1, 4)
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match="return_sequences"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, go_backwards=True, return_sequences=True))
    with pytest.raises(AttributeError, match="stateful"):
        Bidirectional(LSTM(2)).reset_states()


# ---------------------------------------------------------------------- TimeDistributed
def test_time_distributed_dense_matches_keras():
    theirs, ours = _pair(
        keras.layers.TimeDistributed(keras.layers.Dense(3)),
        TimeDistributed(Dense(3, name="dense"), name="time_distributed"),
    )
    _assert_close(theirs(X), ours(torch.from_numpy(X)))
    assert [(w.path, tuple(w.shape)) for w in ours.weights] == [
        ("time_distributed/dense/kernel", (4, 3)),
        ("time_distributed/dense/bias", (3,)),
    ]
    assert set(ours.get_config()) | {"dtype"} == set(theirs.get_config())
    assert TimeDistributed.from_config(ours.get_config()).layer.units == 3
    assert ours.compute_output_shape((None, 6, 4)) == (None, 6, 3)
    mask = torch.from_numpy(MASK)
    assert ours.compute_mask(None, mask) is mask
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        TimeDistributed(Dense(2))(torch.ones(2, 3))
    with pytest.raises(ValueError, match="mask"):
        ours(torch.from_numpy(X), mask=torch.ones(3, 5, dtype=torch.bool))


def test_time_distributed_passes_the_folded_mask_and_training():
    seen = {}

    class Probe(Layer):
        def call(self, inputs, training=None, mask=None):
            seen["mask"], seen["training"] = mask, training
            return inputs * 2

    layer = TimeDistributed(Probe())
    mask = torch.from_numpy(MASK)
    out = layer(torch.from_numpy(X), mask=mask, training=True)
    torch.testing.assert_close(out, torch.from_numpy(X) * 2)
    assert seen["mask"].shape == (18,) and seen["training"] is True
    assert torch.equal(seen["mask"], mask.reshape(18))


# ---------------------------------------------------------------------- RNN with a user cell
class KerasMinimalCell(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        out = keras.ops.tanh(inputs @ self.kernel + states[0] @ self.recurrent_kernel)
        return out, [out]


class MinimalCell(Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        out = torch.tanh(inputs @ self.kernel + states[0] @ self.recurrent_kernel)
        return out, [out]


def test_rnn_with_a_user_cell_matches_keras():
    for go_backwards in (False, True):
        for zero_output_for_mask in (False, True):
            options = {
                "return_sequences": True,
                "return_state": True,
                "go_backwards": go_backwards,
                "zero_output_for_mask": zero_output_for_mask,
            }
            theirs, ours = _pair(keras.layers.RNN(KerasMinimalCell(3), **options), RNN(MinimalCell(3), **options))
            for mask in (None, MASK):
                got = ours(torch.from_numpy(X), mask=None if mask is None else torch.from_numpy(mask))
                _assert_close(theirs(X, mask=mask), got)
    # The same behaviour from a built-in cell through the generic layer.
    theirs, ours = _pair(
        keras.layers.RNN(keras.layers.LSTMCell(3), return_sequences=True, zero_output_for_mask=True),
        RNN(LSTMCell(3), return_sequences=True, zero_output_for_mask=True),
    )
    _assert_close(theirs(X, mask=MASK), ours(torch.from_numpy(X), mask=torch.from_numpy(MASK)))


def test_rnn_config_errors_and_unroll():
    layer = RNN(GRUCell(2), unroll=True, name="r")
    config = layer.get_config()
    assert set(config) | {"dtype"} == set(keras.layers.RNN(keras.layers.GRUCell(2)).get_config())
    clone = RNN.from_config(config)
    assert isinstance(clone.cell, GRUCell) and clone.unroll
    assert layer(torch.ones(2, 3, 4)).shape == (2, 2)
    with pytest.raises(ValueError, match="state_size"):
        RNN(Dense(2))
    with pytest.raises(ValueError, match="fixed batch size"):
        RNN(GRUCell(2), stateful=True).build((None, 3, 2))


def test_stacked_cells_match_keras():
    theirs, ours = _pair(
        keras.layers.RNN([keras.layers.LSTMCell(4), keras.layers.GRUCell(3)], return_sequences=True, return_state=True),
        RNN([LSTMCell(4, name="lstm_cell"), GRUCell(3, name="gru_cell")], return_sequences=True, return_state=True,
            name="rnn"),
    )
    expected = theirs(X, mask=MASK)
    got = ours(torch.from_numpy(X), mask=torch.from_numpy(MASK))
    assert len(got) == 3 and len(got[1]) == 2  # output, [h1, c1], [h2]
    _assert_close(expected, got)
    assert [w.path for w in ours.weights][::3] == [
        "rnn/stacked_rnn_cells/lstm_cell/kernel",
        "rnn/stacked_rnn_cells/gru_cell/kernel",
    ]
    cell_config = ours.cell.get_config()
    assert [c["class_name"] for c in cell_config["cells"]] == ["LSTMCell", "GRUCell"]
    assert isinstance(StackedRNNCells.from_config(cell_config).cells[1], GRUCell)
    assert ours.compute_output_shape((None, 6, 4)) == ((None, 6, 3), [(None, 4), (None, 4)], (None, 3))


def test_keras_weights_file_loads_into_the_same_kfit_model(tmp_path):
    import kfit

    theirs = keras.Sequential(
        [
            keras.Input((5, 3)),
            keras.layers.RNN([keras.layers.LSTMCell(4), keras.layers.GRUCell(2)], return_sequences=True),
            keras.layers.Bidirectional(keras.layers.LSTM(2, return_sequences=True)),
            keras.layers.TimeDistributed(keras.layers.Dense(2)),
            keras.layers.GRU(3),
        ]
    )
    ours = kfit.Sequential(
        [
            kfit.Input((5, 3)),
            RNN([LSTMCell(4), GRUCell(2)], return_sequences=True),
            Bidirectional(LSTM(2, return_sequences=True)),
            TimeDistributed(Dense(2)),
            GRU(3),
        ]
    )
    x = RS.rand(2, 5, 3).astype("float32")
    ours(torch.from_numpy(x))
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    ours.load_weights(tmp_path / "theirs.weights.h5")
    _assert_close(theirs(x), ours(torch.from_numpy(x)))
    ours.save_weights(tmp_path / "ours.weights.h5")
    again = keras.models.clone_model(theirs)
    again.load_weights(tmp_path / "ours.weights.h5")
    _assert_close(again(x), ours(torch.from_numpy(x)))
