"""Dense keeps Keras's kernel layout and initialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kfit


def test_kernel_layout_and_glorot_uniform_zeros_init():
    layer = kfit.layers.Dense(300, input_dim=784)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (784, 300) and kernel.dtype == np.float32 and bias.shape == (300,)
    limit = np.sqrt(6 / (784 + 300))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert abs(kernel.std() - limit / np.sqrt(3)) < 0.01 * limit
    assert not bias.any()


def test_kernel_is_column_major_like_linear_weight_and_keeps_that_layout_through_training():
    model = kfit.Sequential([kfit.Input((5,)), kfit.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    kernel = model.layers[0].kernel
    assert kernel.shape == (5, 3) and kernel.stride() == (1, 5)
    model.fit(np.random.rand(8, 5).astype("float32"), np.random.rand(8, 3).astype("float32"), verbose=0)
    assert kernel.grad is None or kernel.grad.stride() == (1, 5)
    assert all(t.stride() == (1, 5) for t in model.optimizer.state[kernel].values())
    weights = np.arange(15, dtype="float32").reshape(5, 3)
    model.layers[0].set_weights([weights, np.zeros(3, "float32")])
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], weights)
    assert kernel.stride() == (1, 5)


def test_forward_matches_numpy_and_casts_integer_inputs():
    layer = kfit.layers.Dense(3, activation="relu", input_dim=4)
    kernel, bias = layer.get_weights()
    x = np.arange(8, dtype=np.uint8).reshape(2, 4)
    out = layer(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, np.maximum(x @ kernel + bias, 0), rtol=1e-6)


def test_lazy_build_on_first_call_and_3d_inputs():
    layer = kfit.layers.Dense(2, use_bias=False)
    assert not layer.built
    out = layer(torch.ones(5, 3, 4))
    assert layer.built and out.shape == (5, 3, 2) and len(layer.get_weights()) == 1


def test_weights_match_keras_layout():
    keras = pytest.importorskip("keras")
    ours = kfit.layers.Dense(3, input_dim=4)
    theirs = keras.layers.Dense(3)
    theirs.build((None, 4))
    theirs.set_weights(ours.get_weights())
    x = np.random.rand(2, 4).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(theirs(x)), ours(torch.from_numpy(x)).detach().numpy(), rtol=1e-6
    )


@pytest.mark.parametrize("units", [0, -1, 1.5])
def test_bad_units(units):
    with pytest.raises(ValueError, match="Received: units="):
        kfit.layers.Dense(units)


def test_none_initializers_default_to_glorot_uniform_as_in_keras():
    layer = kfit.layers.Dense(3, kernel_initializer=None, bias_initializer=None, input_dim=4)
    kernel, bias = layer.get_weights()
    limit = np.sqrt(6 / (4 + 3))
    assert kernel.shape == (4, 3) and np.abs(kernel).max() <= limit
    assert bias.shape == (3,) and bias.any()
    config = layer.get_config()
    assert config["kernel_initializer"] is None and config["bias_initializer"] is None
    assert kfit.layers.Dense.from_config(config).kernel.shape == (4, 3)


def test_unknown_last_input_dimension():
    with pytest.raises(ValueError, match="last dimension of the input shape"):
        kfit.layers.Dense(3, input_shape=(None,))
