"""The Layer API for subclassing: add_weight, weight order, losses, masks, inputs, against Keras 3."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kfit


def _keras():
    return pytest.importorskip("keras")


class Frozen(kfit.layers.Layer):
    """A non-trainable weight created first: Keras still lists it last."""

    def build(self, input_shape):
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
        self.kernel = self.add_weight(shape=(input_shape[-1], 2), initializer="ones", name="kernel")
        self.bias = self.add_weight(shape=(2,), initializer="zeros", name="bias")

    def call(self, x):
        return x @ self.kernel + self.bias


def test_weights_list_trainable_first_as_keras_does():
    keras = _keras()

    class KFrozen(keras.layers.Layer):
        def build(self, input_shape):
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
            self.kernel = self.add_weight(shape=(input_shape[-1], 2), initializer="ones", name="kernel")
            self.bias = self.add_weight(shape=(2,), initializer="zeros", name="bias")

        def call(self, x):
            return x @ self.kernel + self.bias

    ours, theirs = Frozen(), KFrozen()
    ours(np.ones((1, 3), dtype="float32"))
    theirs(np.ones((1, 3), dtype="float32"))
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert [w.name for w in ours.trainable_weights] == [w.name for w in theirs.trainable_weights]
    assert [w.name for w in ours.non_trainable_weights] == [w.name for w in theirs.non_trainable_weights]
    assert [a.shape for a in ours.get_weights()] == [a.shape for a in theirs.get_weights()]


def test_add_weight_defaults_match_keras():
    layer = kfit.layers.Layer(name="holder")
    w = layer.add_weight(shape=(300, 300))
    assert w.name == "variable" and w.path == "holder/variable"
    assert w.dtype == torch.float32 and w.trainable
    # Keras's default for a float weight is glorot-uniform: limit sqrt(6 / 600) = 0.1.
    assert 0.09 < float(w.detach().abs().max()) <= 0.1
    counter = layer.add_weight(shape=(2,), dtype="int32", name="counter")
    assert counter.dtype == torch.int32 and not counter.requires_grad
    assert counter.numpy().tolist() == [0, 0]
    second = layer.add_weight(shape=(1,))
    # Two unnamed weights share Keras's name; torch needs distinct keys.
    assert second.name == "variable" and list(layer.state_dict()) == ["variable", "counter", "variable_1"]


def test_assigning_an_added_weight_does_not_register_it_twice():
    layer = Frozen()
    layer(torch.ones(1, 3))
    layer.alias = layer.kernel
    assert list(layer.state_dict()) == ["count", "kernel", "bias"]
    assert layer.alias is layer.kernel


def test_layers_take_numpy_arrays_and_python_scalars():
    dense = kfit.layers.Dense(2, kernel_initializer="ones")
    out = dense(np.ones((4, 3)))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.tolist() == [[3.0, 3.0]] * 4

    class Double(kfit.layers.Layer):
        def call(self, x):
            return x * 2

    assert float(Double()(1.5)) == 3.0


class Penalty(kfit.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, x):
        self.add_loss(self.rate * x.abs().sum())
        return x


def test_add_loss_is_cleared_at_each_outermost_call():
    layer = Penalty(1.0)
    layer(torch.ones(2))
    layer(torch.ones(2))
    assert [float(v) for v in layer.losses] == [2.0]

    class Twice(kfit.layers.Layer):
        def __init__(self):
            super().__init__()
            self.inner = Penalty(1.0)

        def call(self, x):
            return self.inner(self.inner(x))

    outer = Twice()
    outer(torch.ones(3))
    outer(torch.ones(3))
    # One outer call: the inner layer's two losses survive together, as in Keras.
    assert [float(v) for v in outer.losses] == [3.0, 3.0]


def test_add_loss_rejects_python_numbers():
    with pytest.raises(ValueError, match="Expected `loss` to be a tensor"):
        kfit.layers.Layer().add_loss(2.0)


def test_losses_order_and_values_match_keras():
    keras = _keras()

    def build(lib):
        class Outer(lib.layers.Layer):
            def __init__(self):
                super().__init__()
                self.inner = lib.layers.Dense(
                    2,
                    kernel_initializer="ones",
                    kernel_regularizer=lib.regularizers.L2(0.5),
                    bias_regularizer=lib.regularizers.L1(0.1),
                    activity_regularizer=lib.regularizers.L1(1.0),
                )

            def call(self, x):
                self.add_loss(x.sum() * 0 + 2.0)
                return self.inner(x)

        return Outer()

    pytest.importorskip("kfit.regularizers")
    ours, theirs = build(kfit), build(keras)
    x = np.ones((4, 3), dtype="float32")
    ours(x)
    theirs(x)
    np.testing.assert_allclose([float(v) for v in ours.losses], [float(v) for v in theirs.losses], rtol=1e-6)


def test_fit_adds_the_layers_losses_to_the_loss_as_keras_does():
    keras = _keras()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 3)).astype("float32")

    def run(lib):
        penalty = Penalty(0.01) if lib is kfit else KerasPenalty(0.01)
        dense = lib.layers.Dense(3, kernel_initializer="ones")
        model = lib.Sequential([lib.Input(shape=(3,)), dense, penalty])
        model.compile(optimizer="sgd", loss="mse")
        return model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]

    class KerasPenalty(keras.layers.Layer):
        def __init__(self, rate):
            super().__init__()
            self.rate = rate

        def call(self, x):
            self.add_loss(self.rate * keras.ops.sum(keras.ops.abs(x)))
            return x

    np.testing.assert_allclose(run(kfit), run(keras), rtol=1e-5)


def test_masks_flow_from_compute_mask_to_the_next_layers_call():
    seen = {}

    class ZeroIsPadding(kfit.layers.Layer):
        def call(self, x):
            return x * 1.0

        def compute_mask(self, inputs, previous_mask=None):
            return inputs != 0

    class PassThrough(kfit.layers.Layer):
        def __init__(self):
            super().__init__()
            self.supports_masking = True

        def call(self, x):
            return x + 0

    class Reader(kfit.layers.Layer):
        def call(self, x, mask=None):
            seen["mask"] = mask
            return x

    x = torch.tensor([[1.0, 0.0, 2.0]])
    Reader()(PassThrough()(ZeroIsPadding()(x)))
    assert seen["mask"].tolist() == [[True, False, True]]
    # A layer that does not support masking drops the mask.
    seen.clear()

    class Plain(kfit.layers.Layer):
        def call(self, x):
            return x + 0

    Reader()(Plain()(ZeroIsPadding()(x)))
    assert seen["mask"] is None


def test_freezing_a_layer_is_recursive_and_restores_each_weights_choice():
    outer = kfit.Sequential([kfit.Input(shape=(3,)), Frozen(), kfit.layers.Dense(1)])
    assert len(outer.trainable_weights) == 4 and len(outer.non_trainable_weights) == 1
    outer.trainable = False
    assert len(outer.trainable_weights) == 0 and all(not layer.trainable for layer in outer.layers)
    outer.trainable = True
    # The weight created with trainable=False stays frozen.
    assert len(outer.trainable_weights) == 4 and len(outer.non_trainable_weights) == 1


def test_sublayer_weight_paths_include_the_parent_layer():
    class Block(kfit.layers.Layer):
        def __init__(self):
            super().__init__(name="block")
            self.proj = kfit.layers.Dense(2, name="proj")

        def call(self, x):
            return self.proj(x)

    block = Block()
    block(torch.ones(1, 3))
    assert [w.path for w in block.weights] == ["block/proj/kernel", "block/proj/bias"]
