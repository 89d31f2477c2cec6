"""The functional API: graphs of layer calls as models, checked against Keras 3 where it runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kfit
from kfit.layers.dense import Dense
from kfit.layers.input_layer import Input
from kfit.layers.layer import Layer
from kfit.layers.symbolic import layer_output
from kfit.models.functional import Functional


def _two_branch(lib):
    """Two inputs, a shared Dense on both, a sum and two outputs: the same code for both libraries."""
    a = lib.Input((4,), name="a")
    b = lib.Input((4,), name="b")
    shared = lib.layers.Dense(3, activation="tanh", name="shared")
    summed = shared(a) + shared(b)
    return [a, b], [lib.layers.Dense(2, name="cls")(summed), lib.layers.Dense(1, name="reg")(summed)]


def test_model_of_inputs_and_outputs_is_a_functional_torch_module():
    x = Input((4,))
    y = Dense(2)(Dense(3, activation="relu")(x))
    model = kfit.Model(x, y)
    assert isinstance(model, Functional) and isinstance(model, torch.nn.Module)
    assert model.name.startswith("functional")
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense", "Dense"]
    assert list(dict(model.named_children())) == ["input_layer", "dense", "dense_1"]
    assert model(torch.ones(5, 4)).shape == (5, 2)
    assert [w.shape for w in model.get_weights()] == [(4, 3), (3,), (3, 2), (2,)]
    assert kfit.Model(inputs=x, outputs=y, name="named").name == "named"


def test_state_dict_keys_match_between_two_instances_whatever_the_names():
    def build(prefix):
        x = Input((4,), name=f"{prefix}_in")
        return kfit.Model(x, Dense(1, name=f"{prefix}_out")(Dense(3, name=f"{prefix}_hidden")(x)))

    first, second = build("first"), build("second")
    assert list(first.state_dict()) == list(second.state_dict()) == [
        "dense.kernel", "dense.bias", "dense_1.kernel", "dense_1.bias"
    ]
    second.load_state_dict(first.state_dict())
    data = torch.randn(3, 4)
    torch.testing.assert_close(first(data), second(data))


def test_layers_are_in_depth_order_with_shared_layers_once():
    a, b = Input((2,), name="a"), Input((2,), name="b")
    second, first = Dense(2, name="second"), Dense(2, name="first")
    model = kfit.Model([b, a], second(first(a)) + Dense(2, name="other")(b))
    # Measured in Keras 3: depth first (a input two calls deep comes before b), then walk order.
    assert [layer.name for layer in model.layers] == ["a", "first", "b", "second", "other"]
    assert [t.name for t in model.inputs] == ["b", "a"]
    shared = Dense(2, name="twice")
    x = Input((2,))
    model = kfit.Model(x, shared(shared(x)))
    assert [layer.name for layer in model.layers][1:] == ["twice"]


def test_inputs_and_outputs_structures():
    x1, x2 = Input((2,), name="x1"), Input((3,), name="x2")
    model = kfit.Model({"q": x2, "p": x1}, {"sum": Dense(1, name="s")(x1), "diff": Dense(1, name="d")(x2)})
    assert [t.name for t in model.inputs] == ["x1", "x2"]
    assert model.output_names == ["d", "s"]
    p, q = torch.ones(4, 2), torch.ones(4, 3)
    out = model({"p": p, "q": q})
    assert list(out) == ["diff", "sum"]
    torch.testing.assert_close(model([p, q])["sum"], out["sum"])
    with pytest.raises(ValueError, match="Missing data for input 'p'"):
        model({"x1": p, "x2": q})
    listed = kfit.Model([x1, x2], [Dense(1)(x2)])
    assert isinstance(listed([p, q]), torch.Tensor)
    torch.testing.assert_close(listed({"x1": p, "x2": q}), listed([p, q]))
    with pytest.raises(ValueError, match=r"Expected 2 inputs.*Received: 3 inputs"):
        listed([p, q, q])
    with pytest.raises(ValueError, match=r"Expected 2 inputs.*Received: 1 input"):
        listed(p)


def test_inputs_are_converted_to_the_declared_dtype_and_rank():
    x = Input((1,))
    model = kfit.Model(x, x * 2)
    out = model(np.ones(3, dtype="float64"))
    assert out.shape == (3, 1) and out.dtype == torch.float32
    ids = Input((2,), dtype="int32")
    assert kfit.Model(ids, ids + 1)(torch.ones(3, 2, dtype=torch.int64)).dtype == torch.int32
    with pytest.raises(ValueError, match=r"Expected an input of shape \(None, 1\)"):
        model(torch.ones(3, 4, 5))


def test_graph_errors_are_named():
    a, b = Input((2,), name="left"), Input((2,), name="right")
    with pytest.raises(ValueError, match=r"Graph disconnected.*'right'"):
        kfit.Model(a, a + b)
    x = Input((2,))
    with pytest.raises(ValueError, match='The name "q" is used 2 times in the model'):
        kfit.Model(x, Dense(2, name="q")(Dense(2, name="q")(x)))
    with pytest.raises(ValueError, match="Expected `outputs` to be a KerasTensor"):
        kfit.Model(x, torch.ones(2))


def test_get_layer_by_name_or_index():
    x = Input((2,), name="in")
    model = kfit.Model(x, Dense(1, name="out")(x))
    assert model.get_layer("out") is model.get_layer(index=1) is model.layers[1]
    with pytest.raises(ValueError, match=r"No such layer: nope. Existing layers are: \['in', 'out'\]"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="Was asked to retrieve layer at index 5 but model only has 2 layers"):
        model.get_layer(index=5)
    with pytest.raises(ValueError, match="Provide either a layer name or layer index"):
        model.get_layer()
    with pytest.raises(ValueError, match="Provide only a layer name or a layer index"):
        model.get_layer("out", 1)


def test_shapes_names_and_symbolic_attributes():
    inputs, outputs = _two_branch(kfit)
    model = kfit.Model(inputs, outputs)
    assert model.input_shape == [(None, 4), (None, 4)] and model.output_shape == [(None, 2), (None, 1)]
    assert model.output_names == ["cls", "reg"]
    assert model.inputs == inputs and model.outputs == outputs and model.output == outputs
    x = Input((4,))
    single = kfit.Model(x, Dense(2)(x))
    assert single.input_shape == (None, 4) and single.input is x and single.output_shape == (None, 2)
    plain = kfit.Model(torch.nn.Linear(2, 1))
    assert not hasattr(plain, "inputs") and plain.output_names is None


def test_nested_model_is_one_layer_and_feature_extraction_works():
    x = Input((4,))
    inner = kfit.Model(x, Dense(2)(Dense(3)(x)), name="inner")
    z = Input((4,))
    outer = kfit.Model(z, Dense(1)(inner(z)))
    assert [(layer.name, type(layer).__name__) for layer in outer.layers][1:] == [
        ("inner", "Functional"),
        (outer.layers[2].name, "Dense"),
    ]
    assert list(outer.state_dict())[:2] == ["functional.dense.kernel", "functional.dense.bias"]
    data = torch.randn(3, 4)
    torch.testing.assert_close(outer(data), outer.layers[2](inner(data)))
    features = kfit.Model(outer.inputs, [layer_output(layer) for layer in outer.layers[1:]])
    hidden, final = features(data)
    torch.testing.assert_close(hidden, inner(data))
    torch.testing.assert_close(final, outer(data))


def test_training_flag_reaches_the_layers():
    seen = []

    class Spy(Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    x = Input((2,))
    model = kfit.Model(x, Spy()(x))
    model(torch.ones(1, 2), training=True)
    model(torch.ones(1, 2), training=False)
    assert seen[-2:] == [True, False]
    y = kfit.layers.Dropout(0.5)(x, training=True)
    forced = kfit.Model(x, y)
    forced.eval()
    out = forced(torch.ones(1000, 2))
    assert (out == 0).any()


def test_subclass_built_from_inputs_and_outputs_runs_its_graph_and_own_step():
    steps = []

    class Custom(kfit.Model):
        def train_step(self, data):
            steps.append(1)
            return super().train_step(data)

    x = Input((3,))
    model = Custom(x, Dense(1)(x))
    assert type(model) is Custom and model.layers[1].built
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), batch_size=4, verbose=0)
    assert len(steps) == 2 and model.get_config()["input_layers"] == [model.layers[0].name, 0, 0]


def test_trainable_false_freezes_every_layer():
    x = Input((3,))
    model = kfit.Model(x, Dense(1)(x), trainable=False)
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 2


def test_summary_of_a_graph_has_connected_to_and_byte_sizes():
    inputs, outputs = _two_branch(kfit)
    model = kfit.Model(inputs, outputs, name="branches")
    lines = []
    model.summary(line_length=108, print_fn=lines.append)
    text = lines[0]
    assert len(lines) == 1 and text.startswith('Model: "branches"\n')
    assert "Connected to" in text and "│ shared (Dense)" in text and "a[0][0]" in text
    assert "shared[0][0], shared[1][0]" in text
    assert " Total params: 27 (108.00 B)\n" in text and " Non-trainable params: 0 (0.00 B)\n" in text
    chain = kfit.Model(inputs[0], Dense(1)(inputs[0]))
    chain_lines = []
    chain.summary(print_fn=chain_lines.append)
    assert "Connected to" not in chain_lines[0]


def test_summary_counts_optimizer_variables_once_built():
    x = Input((3,))
    model = kfit.Model(x, Dense(1)(x))
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"), verbose=0)
    lines = []
    model.summary(print_fn=lines.append)
    # Keras's Adam: the iteration count, the learning rate, then two slots per weight.
    assert " Optimizer params: 10 (40.00 B)" in lines[0] and " Total params: 14 (56.00 B)" in lines[0]


def test_multi_output_fit_logs_losses_and_metrics_by_output_layer():
    x = Input((3,))
    hidden = Dense(4)(x)
    model = kfit.Model(x, [Dense(3, name="cls")(hidden), Dense(1, name="reg")(hidden)])
    model.compile(
        optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"], metrics=[["accuracy"], ["mae"]]
    )
    data = np.random.rand(8, 3).astype("float32")
    labels, targets = np.random.randint(0, 3, 8), np.random.rand(8, 1).astype("float32")
    history = model.fit(data, {"cls": labels, "reg": targets}, epochs=1, verbose=0)
    assert sorted(history.history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    # Caught at compile, since a functional model's outputs are known then (issue 10).
    with pytest.raises(ValueError, match=r"Invalid `metrics`.*\['cls', 'reg'\]"):
        model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"], metrics=["mae"])


def test_sequential_starting_with_input_has_a_graph_but_runs_a_plain_loop():
    model = kfit.Sequential([kfit.Input(shape=(4,)), Dense(3), Dense(2)])
    assert model.built and [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    assert model.inputs[0].shape == (None, 4) and model.outputs[0].shape == (None, 2)
    assert model.output_shape == (None, 2)
    assert layer_output(model.layers[0]).shape == (None, 3)
    assert "_graph" not in dict(model.named_children())
    features = kfit.Model(inputs=model.inputs, outputs=[layer_output(layer) for layer in model.layers])
    data = torch.randn(2, 4)
    hidden, out = features(data)
    torch.testing.assert_close(hidden, model.layers[0](data))
    torch.testing.assert_close(out, model(data))
    other = kfit.Sequential()
    other.add(kfit.Input((4,)))
    other.add(Dense(1))
    assert other.layers[0].kernel.shape == (4, 1)
    with pytest.raises(ValueError, match=r"come from `kfit\.Input`"):
        kfit.Sequential([Dense(1)(kfit.Input((2,)))])


def test_sequential_builds_symbolically_from_its_first_batch_or_build():
    model = kfit.Sequential([Dense(3), Dense(2)])
    assert not model.built and not hasattr(model, "inputs")
    model(torch.ones(5, 7))
    assert model.built and model.input_shape == (None, 7) and model.output_shape == (None, 2)
    built = kfit.Sequential([Dense(3)])
    built.build((None, 4))
    assert built.layers[0].kernel.shape == (4, 3) and built.inputs[0].shape == (None, 4)
    declared = kfit.Sequential([Dense(3, input_shape=(6,)), Dense(1)])
    assert declared.inputs[0].shape == (None, 6)
    declared.pop()
    assert declared.output_shape == (None, 3)


def test_summary_of_a_subclassed_model_shows_built_shapes_with_unknown_batch():
    class TwoLayer(kfit.Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(8, activation="relu")
            self.out = Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))

    model = TwoLayer()
    before = []
    model.summary(print_fn=before.append)
    assert before[0].count("0 (unbuilt)") == 2 and "│ ?" in before[0]
    model(torch.ones(8, 4))
    after = []
    model.summary(print_fn=after.append)
    assert "(None, 8)" in after[0] and "(None, 1)" in after[0] and "40 │" in after[0] and "9 │" in after[0]
