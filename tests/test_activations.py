"""Parity of kfit.activations with keras.activations (torch backend)."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np
import pytest
import torch

from kfit import activations

keras = pytest.importorskip("keras")

X = np.random.default_rng(0).normal(scale=5.0, size=(6, 8)).astype("float32")
X[0, :4] = [0.0, 6.0, -3.0, 3.0]  # boundaries of relu6 / hard_sigmoid


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


NAMES = [
    "relu",
    "leaky_relu",
    "relu6",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "softplus",
    "softsign",
    "sigmoid",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "log_sigmoid",
    "tanh",
    "hard_tanh",
    "tanh_shrink",
    "soft_shrink",
    "hard_shrink",
    "softmax",
    "log_softmax",
    "glu",
    "exponential",
    "linear",
]


@pytest.mark.parametrize("name", NAMES)
def test_default_arguments_match_keras(name):
    x = X / 5.0 if name == "exponential" else X
    assert_close(getattr(activations, name)(torch.tensor(x)), getattr(keras.activations, name)(x))


@pytest.mark.parametrize("negative_slope", [0.0, 0.1])
@pytest.mark.parametrize("max_value", [None, 6.0, 2.5])
@pytest.mark.parametrize("threshold", [0.0, 1.5, -1.0])
def test_relu_arguments_match_keras(negative_slope, max_value, threshold):
    kwargs = {"negative_slope": negative_slope, "max_value": max_value, "threshold": threshold}
    assert_close(activations.relu(torch.tensor(X), **kwargs), keras.activations.relu(X, **kwargs))


def test_gelu_default_is_exact_as_in_keras():
    exact = activations.gelu(torch.tensor(X))
    approximate = activations.gelu(torch.tensor(X), approximate=True)
    assert_close(exact, keras.activations.gelu(X))
    assert_close(approximate, keras.activations.gelu(X, approximate=True))
    assert not torch.equal(exact, approximate)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "glu"])
def test_axis_argument_matches_keras(name):
    assert_close(
        getattr(activations, name)(torch.tensor(X), axis=0),
        getattr(keras.activations, name)(X, axis=0),
    )


def test_parameterised_activations_match_keras():
    x = torch.tensor(X)
    assert_close(
        activations.leaky_relu(x, negative_slope=0.05),
        keras.activations.leaky_relu(X, negative_slope=0.05),
    )
    assert_close(activations.elu(x, alpha=0.5), keras.activations.elu(X, alpha=0.5))
    assert_close(activations.celu(x, alpha=2.0), keras.activations.celu(X, alpha=2.0))
    assert_close(
        activations.soft_shrink(x, threshold=1.0), keras.activations.soft_shrink(X, threshold=1.0)
    )
    assert_close(
        activations.hard_shrink(x, threshold=1.0), keras.activations.hard_shrink(X, threshold=1.0)
    )


def test_numpy_input_is_converted():
    assert_close(activations.sigmoid(X), keras.activations.sigmoid(X))


def test_activations_keep_the_autograd_graph():
    x = torch.tensor(X, requires_grad=True)
    activations.relu(x, negative_slope=0.1, max_value=4.0, threshold=0.5).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_get_resolves_names_like_keras(name):
    ours = activations.get(name)
    assert ours.__name__ == keras.activations.get(name).__name__
    assert activations.serialize(ours) == keras.activations.serialize(keras.activations.get(name))


def test_get_none_and_callables():
    assert activations.get(None) is activations.linear
    assert activations.get(torch.tanh) is torch.tanh
    assert activations.deserialize("relu") is activations.relu
    assert activations.deserialize({"config": "gelu"}) is activations.gelu


def test_get_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match="'relu'") as info:
        activations.get("rellu")
    assert "identifier='rellu' (of type str)" in str(info.value)
    with pytest.raises(ValueError, match="of type int"):
        activations.get(3)


def test_a_registered_custom_activation_survives_get_config_and_a_keras_archive(tmp_path):
    # The saving guide's pattern: a function registered with a package, used by a Dense layer.
    import kfit

    @kfit.saving.register_keras_serializable(package="act_test", name="squared")
    def squared(x):
        return x * x

    layer = kfit.layers.Dense(2, activation=squared)
    record = layer.get_config()["activation"]
    assert record == {"module": "builtins", "class_name": "function", "config": "act_test>squared",
                      "registered_name": "function"}
    assert kfit.layers.Dense.from_config(layer.get_config()).activation is squared
    inputs = kfit.Input((3,))
    model = kfit.Model(inputs, kfit.layers.Dense(2, activation=squared)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = kfit.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[1].activation is squared
    x = np.ones((1, 3), dtype="float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # Keras writes the same record for the same function.
    def keras_squared(x):
        return x * x

    registered = keras.saving.register_keras_serializable(package="act_test", name="squared")(keras_squared)
    keras_layer = keras.layers.Dense(2, activation=registered)
    assert keras_layer.get_config()["activation"] == record
