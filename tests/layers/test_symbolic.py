"""KerasTensor, Node and symbolic calls: shapes and dtypes inferred without real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kfit
from kfit.layers.dense import Dense
from kfit.layers.input_layer import Input, InputLayer
from kfit.layers.layer import Layer
from kfit.layers.symbolic import (
    KerasTensor,
    Operation,
    any_symbolic,
    inbound_nodes,
    is_keras_tensor,
    layer_input,
    layer_output,
    symbolic_call,
)


class RealDataGuard(Layer):
    """Fails if its call ever sees a tensor with real data."""

    def call(self, x):
        if x.device.type != "meta":
            raise AssertionError("called on real data")
        return x * 2


def test_input_returns_a_keras_tensor_with_keras_shape_dtype_and_name():
    x = Input(shape=(3,))
    assert isinstance(x, KerasTensor) and is_keras_tensor(x)
    assert x.shape == (None, 3) and x.dtype == "float32" and x.ndim == 2
    assert x.name.startswith("keras_tensor")
    assert Input(shape=(3,), batch_size=4).shape == (4, 3)
    assert Input((None, 5)).shape == (None, None, 5)
    assert Input((2,), dtype="int32").dtype == "int32"
    named = Input((2,), name="pixels")
    assert named.name == "pixels" and named._keras_history.operation.name == "pixels"
    assert repr(Input((2,), name="r")) == (
        "<KerasTensor shape=(None, 2), dtype=float32, sparse=False, ragged=False, name=r>"
    )
    assert isinstance(x._keras_history.operation, InputLayer)


def test_input_layer_config_has_keras_keys():
    layer = InputLayer(shape=(4,), name="img")
    assert layer.get_config() == {
        "batch_shape": [None, 4],
        "dtype": "float32",
        "sparse": False,
        "ragged": False,
        "name": "img",
        "optional": False,
    }
    rebuilt = InputLayer.from_config(layer.get_config())
    assert rebuilt.batch_shape == (None, 4) and rebuilt.output.shape == (None, 4)
    with pytest.raises(ValueError, match="sparse=False"):
        InputLayer(shape=(4,), sparse=True)
    with pytest.raises(ValueError, match="either `shape` or `batch_shape`"):
        InputLayer(shape=(4,), batch_shape=(None, 4))


def test_a_keras_tensor_has_no_value():
    x = Input((2,))
    with pytest.raises(TypeError, match="cannot be used as a boolean"):
        bool(x)
    with pytest.raises(NotImplementedError, match="Iterating over a symbolic KerasTensor"):
        iter(x)
    with pytest.raises(TypeError, match="NumPy array"):
        np.asarray(x)


def test_any_symbolic_looks_inside_lists_tuples_and_dicts():
    x = Input((2,))
    assert any_symbolic(([1.0, (x,)],), {})
    assert any_symbolic((torch.ones(1),), {"other": {"k": x}})
    assert not any_symbolic((torch.ones(1), [2.0]), {"training": True})


def test_a_symbolic_call_builds_the_layer_and_infers_shapes_on_meta_tensors():
    guard = RealDataGuard()
    y = guard(Input((None, 5)))
    assert y.shape == (None, None, 5) and y.dtype == "float32"
    dense = Dense(4)
    out = dense(Input((3,)))
    assert dense.built and dense.kernel.shape == (3, 4) and dense.kernel.device.type == "cpu"
    # The weights were created by build, not replaced by meta copies.
    assert torch.isfinite(dense.kernel).all()
    assert out.shape == (None, 4)


def test_unknown_dimensions_stay_unknown_and_known_ones_are_computed():
    class Flat(Layer):
        def call(self, x):
            return x.reshape(-1)

    class SumTime(Layer):
        def call(self, x):
            return x.sum(dim=1)

    assert Flat()(Input((3, 4))).shape == (None,)
    assert Flat()(Input((3, 4), batch_size=2)).shape == (24,)
    assert SumTime()(Input((None, 7))).shape == (None, 7)
    assert kfit.layers.Flatten()(Input((3, 4))).shape == (None, 12)


def test_compute_output_shape_is_preferred_and_call_is_not_run():
    calls = []

    class Declared(Layer):
        def call(self, x):
            calls.append(x)
            return x

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 7)

    y = Declared()(Input((3,), dtype="int32"))
    assert y.shape == (None, 7) and y.dtype == "int32" and calls == []


def test_dtype_follows_the_computation():
    class ToFloat(Layer):
        def call(self, x):
            return x.float() / 255.0

    x = Input((4,), dtype="uint8")
    assert ToFloat()(x).dtype == "float32"
    assert (x > 3).dtype == "bool"
    assert Dense(2)(x).dtype == "float32"


def test_several_outputs_and_keyword_tensors():
    class Split(Layer):
        def call(self, x, other=None):
            return [x[:, :2], x[:, 2:] + other]

    x, z = Input((5,)), Input((3,))
    split = Split()
    first, second = split(x, other=z)
    assert first.shape == (None, 2) and second.shape == (None, 3)
    node = inbound_nodes(split)[0]
    assert node.input_tensors == [x, z] and node.output_tensors == [first, second]
    assert second._keras_history == (split, 0, 1)


def test_build_with_one_shape_per_call_argument():
    class Attend(Layer):
        def build(self, query_shape, value_shape):
            self.seen = (query_shape, value_shape)
            self.w = self.add_weight(shape=(value_shape[-1], query_shape[-1]), name="w")

        def call(self, query, value):
            return query + value @ self.w

    layer = Attend()
    out = layer(Input((3, 4)), Input((3, 6)))
    assert layer.seen == ((None, 3, 4), (None, 3, 6)) and out.shape == (None, 3, 4)


def test_sublayers_built_inside_call_keep_real_weights():
    class Block(Layer):
        def __init__(self):
            super().__init__()
            self.inner = Dense(3)

        def call(self, x):
            return torch.relu(self.inner(x))

    block = Block()
    y = block(Input((5,)))
    assert y.shape == (None, 3)
    assert block.inner.built and block.inner.kernel.device.type == "cpu"
    assert torch.isfinite(block.inner.kernel).all() and block.inner.kernel.abs().sum() > 0


def test_a_layer_that_reads_values_is_inferred_from_zeros():
    class ReadsValues(Layer):
        def call(self, x):
            scale = float(x.abs().max().item()) + 1.0
            return x[:, :2] * scale

    assert ReadsValues()(Input((4,))).shape == (None, 2)


def test_a_symbolic_call_leaves_modes_and_losses_as_they_were():
    class Penalized(Layer):
        def call(self, x):
            self.add_loss(x.sum())
            return x

    layer = Penalized()
    layer.train()
    layer(Input((2,)))
    assert layer.training and layer.losses == []


def test_plain_torch_modules_can_be_called_symbolically():
    y = symbolic_call(torch.nn.Linear(3, 2), (Input((3,)),), {})
    assert y.shape == (None, 2)


def test_layer_input_and_output_follow_the_first_call():
    dense = Dense(2)
    with pytest.raises(AttributeError):
        layer_output(dense)
    x1, x2 = Input((3,)), Input((3,))
    y1, y2 = dense(x1), dense(x2)
    assert len(inbound_nodes(dense)) == 2 and y2._keras_history.node_index == 1
    assert layer_input(dense) is x1 and layer_output(dense) is y1


OPERATORS = [
    ("Add", lambda x: x + 1.0, (None, 4), "float32"),
    ("Add", lambda x: 1.0 + x, (None, 4), "float32"),
    ("Subtract", lambda x: 1.0 - x, (None, 4), "float32"),
    ("Multiply", lambda x: x * x, (None, 4), "float32"),
    ("TrueDivide", lambda x: x / 2, (None, 4), "float32"),
    ("FloorDivide", lambda x: x // 2, (None, 4), "float32"),
    ("Mod", lambda x: x % 2, (None, 4), "float32"),
    ("Power", lambda x: x**2, (None, 4), "float32"),
    ("Negative", lambda x: -x, (None, 4), "float32"),
    ("Absolute", abs, (None, 4), "float32"),
    ("Matmul", lambda x: x @ torch.ones(4, 3), (None, 3), "float32"),
    ("Less", lambda x: x < 0, (None, 4), "bool"),
    ("NotEqual", lambda x: x != 0, (None, 4), "bool"),
    ("LogicalNot", lambda x: ~(x > 0), (None, 4), "bool"),
    ("LogicalAnd", lambda x: (x > 0) & (x < 1), (None, 4), "bool"),
    ("GetItem", lambda x: x[:, 1], (None,), "float32"),
    ("GetItem", lambda x: x[:, None, 1:3], (None, 1, 2), "float32"),
    ("Reshape", lambda x: x.reshape((-1, 2, 2)), (None, 2, 2), "float32"),
    ("Round", round, (None, 4), "float32"),
]


@pytest.mark.parametrize(("class_name", "fn", "shape", "dtype"), OPERATORS)
def test_python_operators_are_recorded_as_keras_ops(class_name, fn, shape, dtype):
    x = Input((4,))
    y = fn(x)
    op = y._keras_history.operation
    assert isinstance(op, Operation) and op.class_name == class_name
    assert y.shape == shape and y.dtype == dtype
    model = kfit.Model(x, y)
    data = torch.randn(3, 4)
    # Tensors do not support round(); the op rounds as torch.round does.
    expected = torch.round(data) if class_name == "Round" else fn(data)
    torch.testing.assert_close(model(data), expected)


def test_torch_functions_on_keras_tensors_are_recorded():
    a, b = Input((2,)), Input((3,))
    joined = torch.cat([a, b], dim=1)
    assert joined.shape == (None, 5) and joined._keras_history.operation.class_name == "Cat"
    activated = torch.nn.functional.relu(joined)
    model = kfit.Model([a, b], activated)
    xa, xb = torch.randn(4, 2), torch.randn(4, 3)
    torch.testing.assert_close(model([xa, xb]), torch.relu(torch.cat([xa, xb], 1)))


def test_symbolic_masks_follow_compute_mask_and_stop_at_layers_without_masking():
    inputs = kfit.Input(shape=(None,), dtype="int32")
    embedded = kfit.layers.Embedding(10, 4, mask_zero=True)(inputs)
    assert embedded._keras_mask.shape == (None, None) and embedded._keras_mask.dtype == "bool"
    # Dense passes the mask on; an LSTM without return_sequences drops it.
    assert kfit.layers.Dense(3)(embedded)._keras_mask.shape == (None, None)
    assert kfit.layers.LSTM(2)(embedded)._keras_mask is None
    assert inputs._keras_mask is None


def test_a_call_that_takes_mask_gets_one_while_the_graph_is_built():
    seen = []

    class Reader(kfit.layers.Layer):
        def call(self, x, mask=None):
            seen.append(mask)
            return x

    inputs = kfit.Input(shape=(5,), dtype="int32")
    Reader()(kfit.layers.Embedding(10, 4, mask_zero=True)(inputs))
    assert seen and all(m is not None and m.dtype == torch.bool for m in seen)
