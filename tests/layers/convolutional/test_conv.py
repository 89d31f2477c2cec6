"""Convolution layers against Keras 3: outputs, gradients, weights, shapes and configs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import kfit
from kfit.layers.convolutional.conv1d import Conv1D
from kfit.layers.convolutional.conv1d_transpose import Conv1DTranspose
from kfit.layers.convolutional.conv2d import Conv2D
from kfit.layers.convolutional.conv2d_transpose import Conv2DTranspose
from kfit.layers.convolutional.conv3d import Conv3D
from kfit.layers.convolutional.conv3d_transpose import Conv3DTranspose
from kfit.layers.convolutional.depthwise_conv1d import DepthwiseConv1D
from kfit.layers.convolutional.depthwise_conv2d import DepthwiseConv2D
from kfit.layers.convolutional.separable_conv1d import SeparableConv1D
from kfit.layers.convolutional.separable_conv2d import SeparableConv2D
from kfit.regularizers import L2

CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose, Conv3DTranspose,
        DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
    )
}

# (class name, constructor arguments, channels-last input shape)
CASES = [
    ("Conv1D", {"filters": 4, "kernel_size": 3}, (2, 10, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 9, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (2, 10, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 2, "strides": 3, "padding": "causal"}, (2, 10, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "groups": 2, "activation": "relu"}, (2, 8, 6)),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, (2, 8, 8, 3)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 9, 9, 3)),
    ("Conv2D", {"filters": 4, "kernel_size": (4, 2), "strides": (2, 3), "padding": "same"}, (2, 8, 7, 3)),
    ("Conv2D", {"filters": 4, "kernel_size": 2, "padding": "same", "use_bias": False}, (2, 5, 6, 3)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same", "dilation_rate": 2}, (2, 7, 7, 3)),
    ("Conv2D", {"filters": 6, "kernel_size": 3, "groups": 3, "activation": "tanh"}, (2, 6, 6, 3)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": (2, 1)}, (2, 9, 8, 3)),
    ("Conv3D", {"filters": 2, "kernel_size": 3}, (2, 5, 5, 5, 3)),
    ("Conv3D", {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same"}, (2, 5, 4, 3, 3)),
    ("Conv1DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2}, (2, 6, 3)),
    ("Conv1DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 6, 3)),
    ("Conv1DTranspose", {"filters": 4, "kernel_size": 1, "strides": 3}, (2, 5, 3)),
    ("Conv1DTranspose", {"filters": 4, "kernel_size": 3, "padding": "same", "dilation_rate": 2}, (2, 6, 3)),
    ("Conv1DTranspose", {"filters": 4, "kernel_size": 4, "strides": 3, "output_padding": 2}, (2, 5, 3)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2}, (2, 5, 5, 3)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 5, 4, 3)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 4, 5, 3)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same",
                         "output_padding": 1}, (2, 4, 4, 3)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 2, "strides": (3, 1), "padding": "same",
                         "output_padding": (2, 0)}, (2, 4, 4, 3)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 2, "strides": 3, "activation": "relu"}, (2, 4, 4, 3)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 3, 3, 2, 3)),
    ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2}, (2, 9, 3)),
    ("DepthwiseConv2D", {"kernel_size": 3}, (2, 8, 8, 3)),
    ("DepthwiseConv2D", {"kernel_size": 3, "strides": 2, "padding": "same", "depth_multiplier": 2}, (2, 8, 7, 3)),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 3, "padding": "same", "depth_multiplier": 2}, (2, 9, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, (2, 8, 8, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 2, "strides": 2, "padding": "same",
                         "depth_multiplier": 2, "activation": "relu"}, (2, 7, 7, 3)),
]


@pytest.fixture
def keras() -> Any:
    return pytest.importorskip("keras")


def _channels_first(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], shape[-1], *shape[1:-1])


def _grads(layer: Any, weights: list[torch.Tensor], x: np.ndarray) -> tuple[torch.Tensor, list[torch.Tensor]]:
    inputs = torch.tensor(x, requires_grad=True)
    out = layer(inputs)
    grads = torch.autograd.grad((out**2).sum(), [inputs, *weights])
    return out.detach(), list(grads)


def assert_matches_keras(ours: Any, theirs: Any, x: np.ndarray) -> None:
    """Same weights in, then the same outputs, input and weight gradients, shapes and config."""
    theirs(torch.tensor(x))
    ours(torch.tensor(x))
    rng = np.random.default_rng(1)
    # Random biases too: Keras starts them at zero, which would hide a misplaced bias.
    theirs.set_weights([rng.standard_normal(w.shape).astype("float32") for w in theirs.get_weights()])
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    ours.set_weights(theirs.get_weights())

    want, want_grads = _grads(theirs, [w.value for w in theirs.trainable_weights], x)
    got, got_grads = _grads(ours, list(ours.trainable_weights), x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5, rtol=1e-5)
    for g, w in zip(got_grads, want_grads):
        np.testing.assert_allclose(g.numpy(), w.numpy(), atol=1e-4, rtol=1e-5)

    symbolic = (None, *x.shape[1:])
    assert ours.compute_output_shape(symbolic) == tuple(theirs.compute_output_shape(symbolic))
    assert ours.compute_output_shape(x.shape) == tuple(want.shape)
    got_config, want_config = ours.get_config(), theirs.get_config()
    for config in (got_config, want_config):
        config.pop("name")
        config.pop("dtype", None)
    assert got_config == want_config


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_keras(keras, name, kwargs, shape, data_format):
    if data_format == "channels_first":
        shape = _channels_first(shape)
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    ours = CLASSES[name](**kwargs, data_format=data_format)
    theirs = getattr(keras.layers, name)(**kwargs, data_format=data_format)
    assert_matches_keras(ours, theirs, x)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_defaults_match_keras_signature(keras, name):
    import inspect

    ours = inspect.signature(CLASSES[name].__init__).parameters
    theirs = inspect.signature(getattr(keras.layers, name).__init__).parameters
    assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()]


def test_kernels_keep_keras_shapes_in_torch_memory_order():
    conv = Conv2D(5, (3, 2))
    conv(torch.zeros(1, 6, 6, 4))
    assert conv.kernel.shape == (3, 2, 4, 5)
    assert conv.kernel.permute(3, 2, 0, 1).is_contiguous()
    assert list(conv.state_dict()) == ["kernel", "bias"]
    assert conv.kernel.path == f"{conv.name}/kernel"

    transpose = Conv2DTranspose(5, 3)
    transpose(torch.zeros(1, 6, 6, 4))
    assert transpose.kernel.shape == (3, 3, 5, 4)
    assert transpose.kernel.permute(3, 2, 0, 1).is_contiguous()

    depthwise = DepthwiseConv2D(3, depth_multiplier=2)
    depthwise(torch.zeros(1, 6, 6, 4))
    assert list(depthwise.state_dict()) == ["kernel", "bias"]
    assert depthwise.kernel.shape == (3, 3, 4, 2) and depthwise.bias.shape == (8,)

    separable = SeparableConv2D(5, 3)
    separable(torch.zeros(1, 6, 6, 4))
    assert list(separable.state_dict()) == ["depthwise_kernel", "pointwise_kernel", "bias"]


def test_channels_last_runs_in_torch_channels_last_memory_without_copies():
    conv = Conv2D(8, 3, padding="same", activation="relu")
    x = torch.rand(2, 10, 10, 4)
    y = conv(x)
    # The output is a view of NHWC memory: the (batch, h, w, c) tensor is plainly contiguous.
    assert y.is_contiguous()
    assert y.permute(0, 3, 1, 2).is_contiguous(memory_format=torch.channels_last)


def test_integer_images_are_cast_to_the_weight_dtype():
    conv = Conv2D(2, 3)
    pixels = torch.randint(0, 255, (1, 5, 5, 1), dtype=torch.uint8)
    out = conv(pixels)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, conv(pixels.float()))


def test_input_shape_builds_at_construction():
    conv = Conv2D(4, 3, input_shape=(8, 8, 3))
    assert conv.built and conv.kernel.shape == (3, 3, 3, 4)


def test_from_config_round_trips():
    layer = SeparableConv2D(
        4, 3, strides=2, padding="same", depth_multiplier=2, activation="relu",
        depthwise_regularizer=L2(0.5), pointwise_constraint="non_neg",
    )
    rebuilt = SeparableConv2D.from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config() | {"name": rebuilt.name}
    transpose = Conv2DTranspose(3, 2, strides=2, output_padding=1, data_format="channels_first")
    assert Conv2DTranspose.from_config(transpose.get_config()).output_padding == (1, 1)


def test_regularizer_losses_match_keras(keras):
    ours = Conv2D(3, 2, kernel_regularizer=L2(0.5), bias_regularizer="l1", activity_regularizer="l2")
    theirs = keras.layers.Conv2D(
        3, 2, kernel_regularizer=keras.regularizers.L2(0.5), bias_regularizer="l1", activity_regularizer="l2"
    )
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 2)).astype("float32")
    theirs(x)
    ours(torch.tensor(x))
    theirs.set_weights([w + 0.5 for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    theirs(x)
    ours(torch.tensor(x))
    want = sorted(float(keras.ops.convert_to_numpy(v)) for v in theirs.losses)
    got = sorted(float(v.detach()) for v in ours.losses)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert ours.kernel.regularizer is ours.kernel_regularizer


def test_adam_steps_on_a_convnet_match_keras(keras):
    """One short fit of a small channels-last convnet: the same weights as Keras afterwards."""
    def build_theirs() -> Any:
        return keras.Sequential([
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ])

    def build_ours() -> Any:
        return kfit.Sequential([
            kfit.Input((6, 6, 2)),
            Conv2D(3, 3, padding="same", activation="relu"),
            kfit.layers.Flatten(),
            kfit.layers.Dense(2),
        ])

    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 6, 6, 2)).astype("float32")
    y = rng.standard_normal((8, 2)).astype("float32")
    theirs, ours = build_theirs(), build_ours()
    ours.set_weights(theirs.get_weights())
    for model, lib in ((theirs, keras), (ours, kfit)):
        model.compile(optimizer=lib.optimizers.Adam(0.01), loss="mse")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Conv2D(0, 3), "filters"),
        (lambda: Conv2D(4, 0), "kernel_size"),
        (lambda: Conv2D(4, (3, 3, 3)), "kernel_size"),
        (lambda: Conv2D(4, 3, padding="causal"), "padding"),
        (lambda: Conv1D(4, 3, padding="full"), "padding"),
        (lambda: Conv2D(4, 3, strides=2, dilation_rate=2), "strides"),
        (lambda: Conv2D(5, 3, groups=2), "groups"),
        (lambda: Conv2DTranspose(4, 3, strides=2, output_padding=2), "output_padding"),
        (lambda: Conv2D(4, 3, data_format="channels_middle"), "data_format"),
        (lambda: DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
    ],
)
def test_bad_arguments_raise_before_any_work(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match="multiple of `groups`"):
        Conv2D(4, 3, groups=2)(torch.zeros(1, 5, 5, 3))
    with pytest.raises(ValueError, match="4 dimensions"):
        Conv2D(4, 3)(torch.zeros(1, 5, 3))
    with pytest.raises(ValueError, match="channel dimension"):
        Conv2D(4, 3).build((None, 5, 5, None))
    with pytest.raises(ValueError, match="at least one window"):
        Conv2D(4, 3).compute_output_shape((None, 2, 5, 3))  # Keras raises too
