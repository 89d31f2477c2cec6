"""RepeatVector and Permute against Keras 3: values, gradients, shapes, configs, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.reshaping.permute import Permute
from kfit.layers.reshaping.repeat_vector import RepeatVector

keras = pytest.importorskip("keras")


def _run(layer, x):
    inputs = torch.tensor(x, requires_grad=True)
    out = layer(inputs)
    weights = torch.linspace(-1.0, 2.0, out.numel()).reshape(out.shape)
    (out * weights).sum().backward()
    return out.detach().numpy(), inputs.grad.numpy()


def _assert_parity(ours, theirs, x):
    for a, b in zip(_run(ours, x), _run(theirs, x)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_repeat_vector_matches_keras():
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    _assert_parity(RepeatVector(3), keras.layers.RepeatVector(3), x)
    out = RepeatVector(3)(torch.tensor(x))
    assert out.shape == (2, 3, 4)
    out += 1  # a fresh tensor, not an expanded view
    assert RepeatVector(5).compute_output_shape((None, 4)) == keras.layers.RepeatVector(5).compute_output_shape(
        (None, 4)
    )


@pytest.mark.parametrize("dims", [(2, 1), (1, 2), (3, 1, 2), (2, 3, 1)])
def test_permute_matches_keras(dims):
    shape = (2, 5, 3) if len(dims) == 2 else (2, 5, 3, 4)
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    _assert_parity(Permute(dims), keras.layers.Permute(dims), x)
    symbolic = (None, *shape[1:])
    assert Permute(dims).compute_output_shape(symbolic) == keras.layers.Permute(dims).compute_output_shape(symbolic)
    assert Permute(dims)(torch.tensor(x)).shape[1:] == Permute(dims).compute_output_shape(symbolic)[1:]


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: RepeatVector(4), lambda: keras.layers.RepeatVector(4)),
        (lambda: Permute([2, 1]), lambda: keras.layers.Permute([2, 1])),
    ],
)
def test_config_equals_keras_and_no_masking(ours, theirs):
    layer, reference = ours(), theirs()
    config, expected = layer.get_config(), reference.get_config()
    assert set(config) - {"dtype"} == set(expected) - {"dtype"}
    args = set(config) - {"name", "trainable", "dtype"}
    assert {k: config[k] for k in args} == {k: expected[k] for k in args}
    assert type(layer).from_config(config).get_config() == config
    assert layer.supports_masking is reference.supports_masking is False


@pytest.mark.parametrize(
    "n, error, match",
    [
        (0, ValueError, "Received: n=0"),
        (-1, ValueError, "Received: n=-1"),
        (2.0, TypeError, "Received: n=2.0"),
        (True, TypeError, "Received: n=True"),
    ],
)
def test_repeat_vector_rejects_bad_n(n, error, match):
    with pytest.raises(error, match=match):
        RepeatVector(n)


def test_rank_and_permutation_errors():
    with pytest.raises(ValueError, match="expected ndim=2, found ndim=3"):
        RepeatVector(2)(torch.ones(2, 3, 4))
    for dims in [(0, 1), (1, 1), (1, 3)]:
        with pytest.raises(ValueError, match=r"Invalid permutation argument `dims`.*Received: dims="):
            Permute(dims)
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=4"):
        Permute((2, 1))(torch.ones(2, 3, 4, 5))
