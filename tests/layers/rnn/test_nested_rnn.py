"""RNN with nested inputs, states and outputs (the Keras RNN guide's `NestedCell`).

Keras 3's `RNN` layer itself rejects nested inputs (its `build` sees only the first input), so
the layer-level reference is Keras 3's own step loop, `keras.src.backend.torch.rnn.rnn`, which
takes nested inputs and states, driven by the same cell written against Keras. Training is
checked against a hand-written torch loop (full-batch SGD steps, per-output MSE summed).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

import kfit

keras = pytest.importorskip("keras")
keras_rnn = pytest.importorskip("keras.src.backend.torch.rnn")

U1, U2, U3 = 5, 3, 2
I1, I2, I3 = 3, 4, 2
BATCH, TIME = 6, 4
RS = np.random.RandomState(7)
X1 = RS.randn(BATCH, TIME, I1).astype("float32")
X2 = RS.randn(BATCH, TIME, I2, I3).astype("float32")
W1 = (RS.randn(I1, U1) * 0.3).astype("float32")
W23 = (RS.randn(I2, I3, U2, U3) * 0.3).astype("float32")
MASK = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 1, 0]], bool)


def nested_cell(lib: Any, dict_inputs: bool = False) -> type:
    """The guide's cell, written against `lib` (kfit or keras); optionally reading a dict."""
    ops = lib.ops

    class NestedCell(lib.layers.Layer):
        def __init__(self, unit_1: int, unit_2: int, unit_3: int, **kwargs: Any) -> None:
            self.unit_1, self.unit_2, self.unit_3 = unit_1, unit_2, unit_3
            self.state_size = [(unit_1,), (unit_2, unit_3)]
            self.output_size = [(unit_1,), (unit_2, unit_3)]
            super().__init__(**kwargs)

        def build(self, input_shapes: Any) -> None:
            if dict_inputs:
                input_shapes = (input_shapes["a"], input_shapes["b"])
            i1 = input_shapes[0][1]
            i2, i3 = input_shapes[1][1], input_shapes[1][2]
            self.kernel_1 = self.add_weight(shape=(i1, self.unit_1), initializer="uniform", name="kernel_1")
            self.kernel_2_3 = self.add_weight(
                shape=(i2, i3, self.unit_2, self.unit_3), initializer="uniform", name="kernel_2_3"
            )

        def call(self, inputs: Any, states: Any) -> Any:
            input_1, input_2 = (inputs["a"], inputs["b"]) if dict_inputs else inputs
            s1, s2 = states
            output_1 = ops.matmul(input_1, self.kernel_1)
            output_2_3 = ops.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
            return (output_1, output_2_3), [s1 + output_1, s2 + output_2_3]

        def get_config(self) -> dict[str, Any]:
            return {"unit_1": self.unit_1, "unit_2": self.unit_2, "unit_3": self.unit_3}

    return NestedCell


def _np(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return keras.ops.convert_to_numpy(value)


def _close(got: Any, expected: Any, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(_np(got), _np(expected), atol=atol, rtol=1e-5)


def _keras_reference(go_backwards: bool, mask: np.ndarray | None, zero_output_for_mask: bool) -> Any:
    """Keras 3's step loop over the guide's cell with the weights W1, W23."""
    cell = nested_cell(keras)(U1, U2, U3)
    cell.build(((None, I1), (None, I2, I3)))
    cell.kernel_1.assign(W1)
    cell.kernel_2_3.assign(W23)

    def step(inputs: Any, states: Any) -> Any:
        output, new_states = cell(inputs, states)
        return output, new_states

    states = [torch.zeros(BATCH, U1), torch.zeros(BATCH, U2, U3)]
    return keras_rnn.rnn(
        step,
        (torch.from_numpy(X1), torch.from_numpy(X2)),
        states,
        go_backwards=go_backwards,
        mask=None if mask is None else torch.from_numpy(mask),
        input_length=TIME,
        zero_output_for_mask=zero_output_for_mask,
        return_all_outputs=True,
    )


def _kfit_layer(batch: int | None = None, **kwargs: Any) -> Any:
    layer = kfit.layers.RNN(nested_cell(kfit)(U1, U2, U3), **kwargs)
    layer.build(((batch, TIME, I1), (batch, TIME, I2, I3)))
    layer.set_weights([W1, W23])
    return layer


def test_cell_is_built_with_nested_step_shapes():
    cell = nested_cell(kfit)(U1, U2, U3)
    layer = kfit.layers.RNN(cell)
    layer((torch.from_numpy(X1), torch.from_numpy(X2)))
    assert tuple(cell.kernel_1.shape) == (I1, U1)
    assert tuple(cell.kernel_2_3.shape) == (I2, I3, U2, U3)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_matches_keras_step_loop(go_backwards: bool, masked: bool, zero_output_for_mask: bool):
    mask = MASK if masked else None
    last, outputs, states = _keras_reference(go_backwards, mask, zero_output_for_mask)
    layer = _kfit_layer(
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
    )
    sequence, s1, s2 = layer(
        (torch.from_numpy(X1), torch.from_numpy(X2)), mask=None if mask is None else torch.from_numpy(mask)
    )
    assert isinstance(sequence, (list, tuple)) and len(sequence) == 2
    assert tuple(sequence[0].shape) == (BATCH, TIME, U1)
    assert tuple(sequence[1].shape) == (BATCH, TIME, U2, U3)
    _close(sequence[0], outputs[0])
    _close(sequence[1], outputs[1])
    _close(s1, states[0])
    _close(s2, states[1])
    plain = _kfit_layer(go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask)
    got_last = plain(
        (torch.from_numpy(X1), torch.from_numpy(X2)), mask=None if mask is None else torch.from_numpy(mask)
    )
    _close(got_last[0], last[0])
    _close(got_last[1], last[1])


def test_symbolic_call_gives_nested_shapes():
    cell_type = nested_cell(kfit)
    input_1, input_2 = kfit.Input((None, I1)), kfit.Input((None, I2, I3))
    outputs = kfit.layers.RNN(cell_type(U1, U2, U3))((input_1, input_2))
    assert [tuple(o.shape) for o in outputs] == [(None, U1), (None, U2, U3)]
    sequences, s1, s2 = kfit.layers.RNN(cell_type(U1, U2, U3), return_sequences=True, return_state=True)(
        (input_1, input_2)
    )
    assert [tuple(o.shape) for o in sequences] == [(None, None, U1), (None, None, U2, U3)]
    assert (tuple(s1.shape), tuple(s2.shape)) == ((None, U1), (None, U2, U3))


def test_nested_initial_state_is_used():
    layer = _kfit_layer(return_state=True)
    init = [torch.full((BATCH, U1), 0.5), torch.full((BATCH, U2, U3), -1.0)]
    zero = _kfit_layer(return_state=True)
    x = (torch.from_numpy(X1), torch.from_numpy(X2))
    _, s1, s2 = layer(x, initial_state=init)
    _, z1, z2 = zero(x)
    # The cell adds its outputs to the states: a start of c shifts each final state by c.
    _close(s1, z1 + 0.5)
    _close(s2, z2 - 1.0)


def test_dict_inputs_match_tuple_inputs():
    layer = kfit.layers.RNN(nested_cell(kfit, dict_inputs=True)(U1, U2, U3), return_sequences=True)
    layer.build({"a": (None, TIME, I1), "b": (None, TIME, I2, I3)})
    layer.set_weights([W1, W23])
    got = layer({"a": torch.from_numpy(X1), "b": torch.from_numpy(X2)})
    _, outputs, _ = _keras_reference(False, None, False)
    _close(got[0], outputs[0])
    _close(got[1], outputs[1])
    a, b = kfit.Input((None, I1), name="a"), kfit.Input((None, I2, I3), name="b")
    symbolic = kfit.layers.RNN(nested_cell(kfit, dict_inputs=True)(U1, U2, U3))({"a": a, "b": b})
    assert [tuple(o.shape) for o in symbolic] == [(None, U1), (None, U2, U3)]


def _torch_reference_fit(xs: list[np.ndarray], ys: list[np.ndarray], lr: float, batch_size: int) -> Any:
    """SGD over the guide's model, written out in torch: per-output MSE, summed."""
    w1 = torch.tensor(W1, requires_grad=True)
    w23 = torch.tensor(W23, requires_grad=True)
    losses = []
    for start in range(0, len(xs[0]), batch_size):
        x1 = torch.from_numpy(xs[0][start : start + batch_size])
        x2 = torch.from_numpy(xs[1][start : start + batch_size])
        s1 = torch.zeros(x1.shape[0], U1)
        s2 = torch.zeros(x1.shape[0], U2, U3)
        out = None
        for t in range(x1.shape[1]):
            o1 = x1[:, t] @ w1
            o23 = torch.einsum("bij,ijkl->bkl", x2[:, t], w23)
            s1, s2 = s1 + o1, s2 + o23
            out = (o1, o23)
        assert out is not None
        y1 = torch.from_numpy(ys[0][start : start + batch_size])
        y2 = torch.from_numpy(ys[1][start : start + batch_size])
        loss = ((out[0] - y1) ** 2).mean() + ((out[1] - y2) ** 2).mean()
        w1.grad = w23.grad = None
        loss.backward()
        with torch.no_grad():
            w1 -= lr * w1.grad
            w23 -= lr * w23.grad
        losses.append(loss.item())
    return float(np.mean(losses)), [w1.detach().numpy(), w23.detach().numpy()]


def test_guide_model_fits_like_a_torch_loop():
    input_1, input_2 = kfit.Input((None, I1)), kfit.Input((None, I2, I3))
    outputs = kfit.layers.RNN(nested_cell(kfit)(U1, U2, U3))((input_1, input_2))
    model = kfit.models.Model([input_1, input_2], outputs)
    model.set_weights([W1, W23])
    xs = [X1, X2]
    ys = [RS.randn(BATCH, U1).astype("float32"), RS.randn(BATCH, U2, U3).astype("float32")]
    predictions = model.predict(xs, verbose=0)
    last, _, _ = _keras_reference(False, None, False)
    _close(predictions[0], last[0])
    _close(predictions[1], last[1])
    model.compile(optimizer=kfit.optimizers.SGD(0.01), loss="mse")
    history = model.fit(xs, ys, batch_size=3, epochs=1, shuffle=False, verbose=0).history
    expected_loss, expected_weights = _torch_reference_fit(xs, ys, 0.01, 3)
    np.testing.assert_allclose(history["loss"][0], expected_loss, rtol=1e-5)
    for got, expected in zip(model.get_weights(), expected_weights):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_stateful_carries_nested_states():
    x = (torch.from_numpy(X1), torch.from_numpy(X2))
    stateful = _kfit_layer(BATCH, return_state=True, stateful=True)
    _, first_1, first_2 = stateful(x)
    _, second_1, second_2 = stateful(x)
    fresh = _kfit_layer(return_state=True)
    _, expected_1, expected_2 = fresh(x, initial_state=[first_1, first_2])
    _close(second_1, expected_1)
    _close(second_2, expected_2)
    stateful.reset_state()
    _, again_1, _ = stateful(x)
    _close(again_1, first_1)


class MatrixStateCell(kfit.layers.Layer):
    """One plain input, one state and output of shape (2, 3) per sample."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state_size = [(2, 3)]
        self.output_size = (2, 3)

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(shape=(input_shape[-1], 2, 3), initializer="uniform", name="kernel")

    def call(self, inputs: Any, states: Any) -> Any:
        new = states[0] + kfit.ops.einsum("bi,ijk->bjk", inputs, self.kernel)
        return new, [new]


def test_matrix_state_on_a_single_input():
    kernel = RS.randn(I1, 2, 3).astype("float32")
    layer = kfit.layers.RNN(MatrixStateCell(), return_sequences=True, return_state=True)
    layer.build((None, TIME, I1))
    layer.set_weights([kernel])
    mask = torch.from_numpy(MASK)
    sequence, state = layer(torch.from_numpy(X1), mask=mask)
    expected_state = torch.zeros(BATCH, 2, 3)
    previous = torch.zeros(BATCH, 2, 3)
    for t in range(TIME):
        new = expected_state + torch.einsum("bi,ijk->bjk", torch.from_numpy(X1[:, t]), torch.from_numpy(kernel))
        valid = mask[:, t].view(-1, 1, 1)
        expected_state = torch.where(valid, new, expected_state)
        previous = torch.where(valid, new, previous)
        _close(sequence[:, t], previous)
    _close(state, expected_state)
    outputs = kfit.layers.RNN(MatrixStateCell(), return_state=True)(kfit.Input((None, I1)))
    assert [tuple(o.shape) for o in outputs] == [(None, 2, 3), (None, 2, 3)]


def test_functional_mask_from_one_input_applies_to_every_leaf():
    x1 = X1.copy()
    x1[~MASK] = 0.0
    a, b = kfit.Input((None, I1)), kfit.Input((None, I2, I3))
    rnn = kfit.layers.RNN(nested_cell(kfit)(U1, U2, U3), return_sequences=True)
    model = kfit.models.Model([a, b], rnn((kfit.layers.Masking(0.0)(a), b)))
    model.set_weights([W1, W23])
    got = model.predict([x1, X2], verbose=0)
    expected = rnn((torch.from_numpy(x1), torch.from_numpy(X2)), mask=torch.from_numpy(MASK))
    unmasked = rnn((torch.from_numpy(x1), torch.from_numpy(X2)))
    for g, e, u in zip(got, expected, unmasked):
        _close(g, e)
        assert not np.allclose(g, _np(u))


def test_saved_model_reloads_with_nested_shapes(tmp_path: Any):
    cell_type = nested_cell(kfit)
    a, b = kfit.Input((None, I1)), kfit.Input((None, I2, I3))
    model = kfit.models.Model([a, b], kfit.layers.RNN(cell_type(U1, U2, U3))((a, b)))
    model.set_weights([W1, W23])
    path = str(tmp_path / "nested.keras")
    model.save(path)
    loaded = kfit.models.load_model(path, custom_objects={"NestedCell": cell_type})
    for got, expected in zip(loaded.predict([X1, X2], verbose=0), model.predict([X1, X2], verbose=0)):
        _close(got, expected)
