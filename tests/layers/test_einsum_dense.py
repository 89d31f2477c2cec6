"""EinsumDense: Keras's weight shapes, outputs, gradients and config, for several equations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.einsum_dense import EinsumDense, analyze_einsum

# (equation, output_shape, bias_axes, input shape)
EQUATIONS = [
    ("ab,bc->ac", 4, "c", (3, 5)),
    ("abc,cd->abd", (None, 4), "d", (3, 7, 5)),
    ("abc,cde->abde", (None, 2, 4), "de", (3, 7, 5)),
    ("abc,cde->abde", (7, 2, 4), "e", (3, 7, 5)),
    ("abcd,cde->abe", (None, 6), "e", (3, 7, 2, 4)),
    ("...b,bc->...c", 4, "c", (3, 7, 2, 5)),
    ("ab...,bc->ac...", 4, "c", (3, 5, 6)),
    ("abc,cd->abd", (None, 4), None, (3, 7, 5)),
]


def _pair(keras, equation, output_shape, bias_axes, input_shape, **kwargs):
    theirs = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, **kwargs)
    theirs.build(input_shape)
    ours = EinsumDense(equation, output_shape, bias_axes=bias_axes, **kwargs)
    ours(torch.zeros(input_shape))
    ours.set_weights(theirs.get_weights())
    return theirs, ours


@pytest.mark.parametrize(("equation", "output_shape", "bias_axes", "input_shape"), EQUATIONS)
def test_weights_outputs_and_gradients_match_keras(equation, output_shape, bias_axes, input_shape):
    keras = pytest.importorskip("keras")
    theirs, ours = _pair(keras, equation, output_shape, bias_axes, input_shape, activation="tanh")
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    x = torch.randn(input_shape)
    expected = theirs(x)
    got = ours(x)
    assert tuple(got.shape) == tuple(expected.shape)
    assert ours.compute_output_shape(input_shape) == tuple(expected.shape)
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    upstream = torch.randn(expected.shape)
    (expected * upstream).sum().backward()
    (got * upstream).sum().backward()
    for mine, reference in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(mine.grad.numpy(), reference.value.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_get_config_has_keras_keys_and_round_trips():
    keras = pytest.importorskip("keras")
    theirs = keras.layers.EinsumDense("abc,cde->abde", (None, 2, 4), bias_axes="de", activation="relu")
    ours = EinsumDense("abc,cde->abde", (None, 2, 4), bias_axes="de", activation="relu")
    config = ours.get_config()
    # `dtype` belongs to the base Layer's config.
    assert set(config) - {"dtype"} == set(theirs.get_config()) - {"dtype"}
    for key in ("output_shape", "equation", "activation", "bias_axes", "kernel_initializer", "bias_initializer"):
        assert config[key] == theirs.get_config()[key], key
    clone = EinsumDense.from_config(config)
    assert clone(torch.ones(2, 3, 5)).shape == (2, 3, 2, 4)
    assert clone.activation is ours.activation


def test_kernel_fans_follow_the_equation_axes():
    # A (16, 4, 32) kernel: fan-in 16, fan-out 128; glorot's limit is sqrt(6 / 144) ~ 0.204.
    # The rank-3 (convolution) rule would give sqrt(6 / (64 + 512)) ~ 0.102.
    layer = EinsumDense("abc,cde->abde", (None, 4, 32))
    layer(torch.zeros(1, 1, 16))
    limit = np.sqrt(6 / (16 + 128))
    kernel = layer.kernel.detach().abs()
    assert kernel.max() <= limit and kernel.max() > 0.9 * limit
    assert layer.kernel_initializer.input_axes is None  # the configured initializer is unchanged


def test_regularizers_constraints_and_integer_inputs():
    layer = EinsumDense("ab,bc->ac", 3, bias_axes="c", kernel_regularizer="l2", bias_constraint="non_neg")
    out = layer(torch.arange(4).reshape(2, 2))
    assert out.dtype == torch.float32 and out.shape == (2, 3)
    assert len(layer.losses) == 1
    assert layer.bias.constraint is not None
    assert [w.path for w in layer.weights] == [f"{layer.name}/kernel", f"{layer.name}/bias"]


def test_analyze_einsum_shapes_and_errors():
    shapes = analyze_einsum("ab...,bc->ac...", "c", (3, 5, 6, 2), (4,))
    assert shapes.kernel == (5, 4) and shapes.bias == (4, 1, 1) and shapes.output == (3, 4, 6, 2)
    assert shapes.input_axes == [0] and shapes.output_axes == [1]
    with pytest.raises(ValueError, match="Received: equation='ab->b'"):
        analyze_einsum("ab->b", None, (2, 3), (3,))
    with pytest.raises(ValueError, match="bias_axes='x'"):
        analyze_einsum("ab,bc->ac", "x", (2, 3), (4,))
    with pytest.raises(ValueError, match="output axis 'd'"):
        analyze_einsum("ab,bc->ad", None, (2, 3), (4,))
    with pytest.raises(ValueError, match="shared axis 'b'"):
        analyze_einsum("abc,cd->abd", None, (2, 3, 5), (4, 6))
    with pytest.raises(ValueError, match="give 2 sizes"):
        analyze_einsum("abc,cd->abd", None, (2, 3, 5), (6,))
    with pytest.raises(ValueError, match="input of rank 2"):
        analyze_einsum("ab,bc->ac", None, (2, 3, 4), (4,))
    with pytest.raises(ValueError, match="quantization_config=None"):
        EinsumDense("ab,bc->ac", 3, quantization_config={"mode": "int8"})
