"""Activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax) against Keras 3."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.activations.elu import ELU
from kfit.layers.activations.leaky_relu import LeakyReLU
from kfit.layers.activations.prelu import PReLU
from kfit.layers.activations.relu import ReLU
from kfit.layers.activations.softmax import Softmax

keras = pytest.importorskip("keras")

X = np.array([[-3.0, -1.0, -0.2, 0.3, 0.5, 0.7, 2.0, 8.0]], dtype="float32")


def _run(layer, x, **kwargs):
    inputs = torch.tensor(x, requires_grad=True)
    out = layer(inputs, **kwargs)
    weights = torch.linspace(-1.0, 2.0, out.numel()).reshape(out.shape)
    (out * weights).sum().backward()
    return out.detach().numpy(), inputs.grad.numpy()


def _assert_parity(ours, theirs, x, **kwargs):
    for a, b in zip(_run(ours, x, **kwargs), _run(theirs, x, **kwargs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_value": 6.0},
        {"negative_slope": 0.1},
        {"threshold": 0.5},
        {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.5},
    ],
)
def test_relu_matches_keras(kwargs):
    _assert_parity(ReLU(**kwargs), keras.layers.ReLU(**kwargs), X)


@pytest.mark.parametrize("kwargs", [{}, {"negative_slope": 0.05}])
def test_leaky_relu_matches_keras_with_the_layer_default_of_0_3(kwargs):
    _assert_parity(LeakyReLU(**kwargs), keras.layers.LeakyReLU(**kwargs), X)
    assert LeakyReLU()(torch.tensor([-1.0])).item() == pytest.approx(-0.3)


def test_leaky_relu_accepts_keras_2_alpha_with_a_warning():
    with pytest.warns(UserWarning, match="`alpha` is deprecated"):
        layer = LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_elu_matches_keras(alpha):
    _assert_parity(ELU(alpha=alpha), keras.layers.ELU(alpha=alpha), X)
    assert ELU()(torch.tensor([-1.0])).item() == pytest.approx(-0.632, abs=1e-3)


@pytest.mark.parametrize("axis", [-1, 1, 0, (0, 1), [1]])
def test_softmax_matches_keras(axis):
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    _assert_parity(Softmax(axis=axis), keras.layers.Softmax(axis=axis), x)


@pytest.mark.parametrize(
    "mask",
    [
        [[True, True, False], [False, False, False]],
        [[1.0, 0.0, 1.0], [0.2, 0.9, 0.6]],
        [True, False, True],
    ],
    ids=["bool", "float", "broadcast"],
)
def test_softmax_mask_matches_keras(mask):
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]], dtype="float32")
    m = torch.tensor(mask)
    _assert_parity(Softmax(), keras.layers.Softmax(), x, mask=m)
    out = Softmax()(torch.tensor(x), mask=m)
    kept = m.bool() if m.dtype == torch.bool else m > 0.5
    assert (out[~kept.expand(out.shape)] == 0).all()


def test_softmax_fully_masked_row_is_zero_and_the_rest_renormalises():
    mask = torch.tensor([[True, True, False], [False] * 3])
    out = Softmax()(torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 9.0]]), mask=mask)
    assert out[0].tolist() == pytest.approx([0.2689414, 0.7310586, 0.0])
    assert out[1].tolist() == [0.0, 0.0, 0.0]


def test_softmax_rejects_a_mask_that_does_not_broadcast():
    with pytest.raises(ValueError, match=r"Received: inputs.shape=\(2, 3\), mask.shape=\(2, 4\)"):
        Softmax()(torch.ones(2, 3), mask=torch.ones(2, 4, dtype=torch.bool))


@pytest.mark.parametrize(
    "shared_axes, expected",
    [(None, (5, 3)), ([1], (1, 3)), (2, (5, 1)), ([1, 2], (1, 1))],
)
def test_prelu_alpha_shape_path_and_zero_init_match_keras(shared_axes, expected):
    ours = PReLU(shared_axes=shared_axes)
    ours(torch.ones(2, 5, 3))
    theirs = keras.layers.PReLU(shared_axes=shared_axes)
    theirs.build((None, 5, 3))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()] == [expected]
    assert not ours.get_weights()[0].any()
    assert ours.alpha.name == "alpha" and ours.alpha.path.endswith("/alpha")
    assert ours.get_config()["shared_axes"] == theirs.get_config()["shared_axes"]


@pytest.mark.parametrize("shared_axes", [None, [1]])
def test_prelu_outputs_and_gradients_match_keras(shared_axes):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    ours = PReLU(shared_axes=shared_axes)
    ours(torch.tensor(x))
    ours.set_weights([rng.uniform(0.1, 0.5, size=ours.alpha.shape).astype("float32")])
    theirs = keras.layers.PReLU(shared_axes=shared_axes)
    theirs.build((None, 5, 3))
    theirs.set_weights(ours.get_weights())
    _assert_parity(ours, theirs, x)
    ours.alpha.grad = None
    theirs.alpha.value.grad = None
    _run(ours, x)
    _run(theirs, x)
    np.testing.assert_allclose(ours.alpha.grad.numpy(), theirs.alpha.value.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_prelu_regularizer_and_constraint_are_attached_to_alpha():
    layer = PReLU(alpha_initializer="ones", alpha_regularizer="l2", alpha_constraint="non_neg")
    layer(torch.ones(2, 3))
    assert [float(v.detach()) for v in layer.losses] == pytest.approx([0.03])  # 0.01 * sum(1²) over 3 slopes
    assert layer.alpha.constraint is not None
    theirs = keras.layers.PReLU(alpha_regularizer="l2", alpha_constraint="non_neg").get_config()
    ours = layer.get_config()
    assert ours["alpha_regularizer"] == theirs["alpha_regularizer"]
    assert ours["alpha_constraint"] == theirs["alpha_constraint"]


def test_prelu_rejects_bad_shared_axes_and_unknown_sizes():
    with pytest.raises(ValueError, match=r"Received: shared_axes=\[3\]"):
        PReLU(shared_axes=3).build((None, 5, 3))
    with pytest.raises(ValueError, match="known on every axis that is not shared"):
        PReLU().build((None, None, 3))
    PReLU(shared_axes=1).build((None, None, 3))


LAYERS = {
    "ReLU": (ReLU, {"max_value": 6.0, "negative_slope": 0.1, "threshold": 0.5}),
    "LeakyReLU": (LeakyReLU, {"negative_slope": 0.2}),
    "PReLU": (PReLU, {"shared_axes": [1]}),
    "ELU": (ELU, {"alpha": 0.5}),
    "Softmax": (Softmax, {"axis": 1}),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_defaults_config_keys_masking_and_round_trip_match_keras(name):
    cls, kwargs = LAYERS[name]
    theirs_default = getattr(keras.layers, name)().get_config()
    ours_default = cls().get_config()
    assert set(ours_default) - {"dtype"} == set(theirs_default) - {"dtype"}
    for key in set(ours_default) - {"name", "dtype", "trainable"}:
        assert ours_default[key] == theirs_default[key], key
    layer = cls(**kwargs)
    assert layer.supports_masking
    rebuilt = cls.from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    assert layer.compute_output_shape((None, 5, 3)) == (None, 5, 3)


def test_activation_layers_pass_the_mask_through():
    m = torch.tensor([[True, False]])
    for layer in (ReLU(), LeakyReLU(), ELU(), PReLU()):
        assert layer(torch.ones(1, 2, 4), mask=m)._keras_mask is m
    scores_mask = torch.tensor([[[True, False, True]]])
    assert Softmax()(torch.ones(1, 1, 3), mask=scores_mask)._keras_mask is scores_mask


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ReLU(max_value=-1.0), "Received: max_value=-1.0"),
        (lambda: ReLU(negative_slope=-1.0), "Received: negative_slope=-1.0"),
        (lambda: ReLU(threshold=None), "Received: threshold=None"),
        (lambda: LeakyReLU(-0.1), "Received: negative_slope=-0.1"),
    ],
)
def test_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_weightless_layers_are_built_at_construction_as_in_keras(name):
    cls, _ = LAYERS[name]
    assert cls().built is getattr(keras.layers, name)().built
