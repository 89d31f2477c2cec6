"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
CVPR 2018), as `keras.applications.mobilenet_v2` builds it, with the same weights.

`alpha` scales every layer's width (rounded to multiples of 8). ImageNet weights exist for
`alpha` in 0.35, 0.5, 0.75, 1.0, 1.3, 1.4 and square inputs of 96, 128, 160, 192 or 224
pixels; other input sizes get the 224-pixel weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from kfit import backend, layers
from kfit.applications import imagenet_utils
from kfit.applications.imagenet_utils import decode_predictions
from kfit.layers.symbolic import KerasTensor, is_keras_tensor
from kfit.models import Model
from kfit.utils.errors import received

__all__ = ["MobileNetV2", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"

_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_SIZES = (96, 128, 160, 192, 224)
# (filters, stride, expansion) of the 17 inverted residual blocks, block 0 first.
_BLOCKS = (
    (16, 1, 1),
    (24, 2, 6), (24, 1, 6),
    (32, 2, 6), (32, 1, 6), (32, 1, 6),
    (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6),
    (96, 1, 6), (96, 1, 6), (96, 1, 6),
    (160, 2, 6), (160, 1, 6), (160, 1, 6),
    (320, 1, 6),
)  # fmt: skip


def _batch_norm(axis: int, name: str) -> layers.BatchNormalization:
    # The published weights were trained with these settings.
    return layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999, name=name)


def _make_divisible(value: float, divisor: int = 8) -> int:
    """`value` rounded to the nearest multiple of `divisor`, but never more than 10% below it."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _spatial(shape: Sequence[int | None]) -> tuple[int | None, int | None]:
    """(rows, cols) of a shape without the batch."""
    if backend.image_data_format() == "channels_first":
        return shape[1], shape[2]
    return shape[0], shape[1]


def _default_size(input_shape: Sequence[int | None] | None, input_tensor: Any) -> int:
    """The input size the weights are chosen for: the given square size when weights exist for
    it, else 224."""
    if input_shape is not None:
        rows, cols = _spatial(input_shape)
    elif input_tensor is not None:
        rows, cols = _spatial(tuple(input_tensor.shape)[1:])
    else:
        return 224
    return rows if rows is not None and rows == cols and rows in _SIZES else 224


def _inverted_res_block(
    inputs: KerasTensor, expansion: int, stride: int, alpha: float, filters: int, block_id: int
) -> KerasTensor:
    """Expand (1x1) -> depthwise 3x3 (stride) -> project (1x1, linear), plus the input when the
    shapes allow. Block 0 has no expansion and its layers are named `expanded_conv_*`."""
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1
    in_channels = int(inputs.shape[channel_axis])  # type: ignore[arg-type]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    if block_id:
        x = layers.Conv2D(
            expansion * in_channels, kernel_size=1, padding="same", use_bias=False,
            activation=None, name=f"{prefix}expand",
        )(x)  # fmt: skip
        x = _batch_norm(channel_axis, f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(
        kernel_size=3, strides=stride, activation=None, use_bias=False,
        padding="same" if stride == 1 else "valid", name=f"{prefix}depthwise",
    )(x)  # fmt: skip
    x = _batch_norm(channel_axis, f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(
        pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
        name=f"{prefix}project",
    )(x)  # fmt: skip
    x = _batch_norm(channel_axis, f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def MobileNetV2(
    input_shape: Sequence[int | None] | None = None,
    alpha: float = 1.0,
    include_top: bool = True,
    weights: Any = "imagenet",
    input_tensor: Any = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str | None = None,
) -> Model:
    """Builds MobileNetV2, optionally with its ImageNet weights (Keras's published file).

    Inputs are RGB images, 224x224 by default, preprocessed with `preprocess_input` (scaled
    to -1..1). The weights are downloaded once into the cache's `models/` folder
    (`$KERAS_HOME`, `~/.keras` by default), where Keras keeps them too.

    Args:
        input_shape: The image shape without the batch, e.g. `(160, 160, 3)`; at least
            32x32. With `include_top=True` and ImageNet weights it must be square.
        alpha: The width multiplier: below 1 thins every layer, above 1 widens it.
        include_top: Whether to end with global average pooling and the classifier.
        weights: None (random initialization), `"imagenet"`, or the path of a weights file
            to load (any file `model.load_weights` reads).
        input_tensor: A `kfit.Input` (or a tensor computed from one) to build the model on.
        pooling: Without the top: None (the last 4D feature map), `"avg"` or `"max"`.
        classes: The classifier's size; must be 1000 with ImageNet weights.
        classifier_activation: The classifier's activation; only None or `"softmax"` with
            pre-trained weights.
        name: The model's name; by default `mobilenetv2_<alpha>_<rows>`.

    Returns:
        A functional `kfit.Model`.

    Raises:
        ValueError: For an unknown `weights` value, `classes` other than 1000 with ImageNet
            weights and the top, an `alpha` without ImageNet weights, an input shape the
            model cannot take, or an `input_tensor` that is not symbolic or does not match
            `input_shape`.

    Example:
        >>> model = MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None)
        >>> model.name, model.output_shape
        ('mobilenetv2_0.35_96', (None, 1000))
    """
    imagenet_utils.check_arguments(weights, include_top, classes)
    imagenet = isinstance(weights, str) and weights == "imagenet"
    if input_tensor is not None and not is_keras_tensor(input_tensor):
        raise ValueError(
            "Expected `input_tensor` to be a symbolic tensor, such as the output of kfit.Input(...). "
            f"{received('input_tensor', input_tensor)} Pass input_shape=... instead."
        )
    if (
        input_shape is not None
        and input_tensor is not None
        and _spatial(tuple(input_tensor.shape)[1:]) != _spatial(input_shape)
    ):
        raise ValueError(
            f"Expected `input_tensor` to have the height and width of `input_shape` "
            f"{tuple(input_shape)}. Received: input_tensor of shape {tuple(input_tensor.shape)}. "
            "Pass only one of them, or make them agree."
        )
    shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=_default_size(input_shape, input_tensor),
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    rows, cols = _spatial(shape)
    if imagenet:
        if alpha not in _ALPHAS:
            raise ValueError(
                f"Expected `alpha` to be one of {_ALPHAS} with weights='imagenet': only those "
                f"widths were trained. {received('alpha', alpha)} Use one of them, or weights=None."
            )
        if rows != cols or rows not in _SIZES:
            rows = 224
            warnings.warn(
                f"ImageNet weights exist for square inputs of {_SIZES} pixels; this input "
                f"shape {shape} is not one of them, so the weights for 224x224 are loaded.",
                stacklevel=2,
            )
    img_input = imagenet_utils.image_input(input_tensor, shape)
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1

    x = layers.Conv2D(
        _make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same",
        use_bias=False, name="Conv1",
    )(img_input)  # fmt: skip
    x = _batch_norm(channel_axis, "bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    # The last convolution is only ever widened, never thinned (as in the paper).
    last_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = _batch_norm(channel_axis, "Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled(x, pooling)
    inputs = imagenet_utils.source_inputs(input_tensor) if input_tensor is not None else img_input
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"
    model = Model(inputs, x, name=name)
    suffix = "" if include_top else "_no_top"
    file_name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{suffix}.h5"
    # Keras publishes no hashes for these files, so none is checked.
    imagenet_utils.load_weights(model, weights, file_name, BASE_WEIGHT_PATH + file_name, None)
    return model


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Prepares 0-255 RGB images for MobileNetV2: scales them to -1..1.

    See `imagenet_utils.preprocess_input` (mode `"tf"`); a float numpy array is changed in
    place.

    Example:
        >>> import numpy as np
        >>> preprocess_input(np.array([0.0, 127.5, 255.0])).tolist()
        [-1.0, 0.0, 1.0]
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")
