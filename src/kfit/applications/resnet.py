"""ResNet50, ResNet101 and ResNet152 (He et al., "Deep Residual Learning for Image
Recognition", CVPR 2015), as `keras.applications.resnet` builds them, with the same weights.

The three differ only in how many bottleneck blocks each of the four stages repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kfit import backend, layers
from kfit.applications import imagenet_utils
from kfit.applications.imagenet_utils import decode_predictions

# ResNet prepares images as VGG does (Keras's "caffe" mode).
from kfit.applications.vgg16 import preprocess_input
from kfit.layers.symbolic import KerasTensor
from kfit.models import Model

__all__ = ["ResNet50", "ResNet101", "ResNet152", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
#: MD5 of Keras's weight files (with the top, without it), by model.
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}

# Blocks per stage (conv2 .. conv5); the bottleneck widths are 64, 128, 256 and 512.
_STAGES = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3)}
# Keras's BatchNormalization epsilon in these models (the published weights' statistics).
_BN_EPSILON = 1.001e-5


def _bn_axis() -> int:
    return 3 if backend.image_data_format() == "channels_last" else 1


def _bottleneck(x: KerasTensor, filters: int, stride: int, projection: bool, name: str) -> KerasTensor:
    """One block: 1x1 (stride) -> 3x3 -> 1x1 to `4 * filters`, added to the shortcut, then ReLU.

    The shortcut is the input itself, or (`projection`) a strided 1x1 convolution to the new
    width, for the first block of a stage.
    """
    axis = _bn_axis()
    if projection:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=axis, epsilon=_BN_EPSILON, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=_BN_EPSILON, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=_BN_EPSILON, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=_BN_EPSILON, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _stage(x: KerasTensor, filters: int, blocks: int, stride: int, name: str) -> KerasTensor:
    x = _bottleneck(x, filters, stride, projection=True, name=f"{name}_block1")
    for block in range(2, blocks + 1):
        x = _bottleneck(x, filters, 1, projection=False, name=f"{name}_block{block}")
    return x


def _resnet(
    model_key: str,
    include_top: bool,
    weights: Any,
    input_tensor: Any,
    input_shape: Sequence[int | None] | None,
    pooling: str | None,
    classes: int,
    classifier_activation: Any,
    name: str,
) -> Model:
    imagenet_utils.check_arguments(weights, include_top, classes)
    shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=224,
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    img_input = imagenet_utils.image_input(input_tensor, shape)
    axis = _bn_axis()
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=_BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), _STAGES[model_key]), start=2):
        # The first stage follows a strided max pooling already, so it keeps the resolution.
        x = _stage(x, filters, blocks, stride=1 if stage == 2 else 2, name=f"conv{stage}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled(x, pooling, name_prefix="")
    inputs = imagenet_utils.source_inputs(input_tensor) if input_tensor is not None else img_input
    model = Model(inputs, x, name=name)
    suffix = "" if include_top else "_notop"
    file_name = f"{model_key}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    file_hash = WEIGHTS_HASHES[model_key][0 if include_top else 1]
    imagenet_utils.load_weights(model, weights, file_name, BASE_WEIGHTS_PATH + file_name, file_hash)
    return model


_ARGS_DOC = """
    Inputs are 224x224 RGB images by default, preprocessed with `preprocess_input` (RGB to
    BGR, minus ImageNet's mean pixel). ImageNet weights are downloaded once into the cache's
    `models/` folder (`$KERAS_HOME`, `~/.keras` by default), where Keras keeps them too.

    Args:
        include_top: Whether to end with global average pooling and the classifier.
        weights: None (random initialization), `"imagenet"`, or the path of a weights file
            to load (any file `model.load_weights` reads).
        input_tensor: A `kfit.Input` (or a tensor computed from one) to build the model on.
        input_shape: The image shape without the batch, e.g. `(200, 200, 3)`; at least 32x32.
            With `include_top=True` and ImageNet weights it must be `(224, 224, 3)`.
        pooling: Without the top: None (the last stage's 4D feature map), `"avg"` or `"max"`
            (global pooling, a 2D output).
        classes: The classifier's size; must be 1000 with ImageNet weights.
        classifier_activation: The classifier's activation; only None or `"softmax"` with
            pre-trained weights.
        name: The model's name.

    Returns:
        A functional `kfit.Model`.

    Raises:
        ValueError: For an unknown `weights` value, `classes` other than 1000 with ImageNet
            weights and the top, an input shape the model cannot take, or another
            `classifier_activation` with pre-trained weights.
"""


def ResNet50(
    include_top: bool = True,
    weights: Any = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str = "resnet50",
) -> Model:
    return _resnet(
        "resnet50", include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name,
    )  # fmt: skip


def ResNet101(
    include_top: bool = True,
    weights: Any = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str = "resnet101",
) -> Model:
    return _resnet(
        "resnet101", include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name,
    )  # fmt: skip


def ResNet152(
    include_top: bool = True,
    weights: Any = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str = "resnet152",
) -> Model:
    return _resnet(
        "resnet152", include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name,
    )  # fmt: skip


ResNet50.__doc__ = (
    "Builds ResNet50 (3, 4, 6 and 3 bottleneck blocks), optionally with its ImageNet weights.\n"
    + _ARGS_DOC
    + """
    Example:
        >>> model = ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
        >>> model.output_shape, len(model.layers)
        ((None, 1, 1, 2048), 175)
"""
)
ResNet101.__doc__ = (
    "Builds ResNet101 (3, 4, 23 and 3 bottleneck blocks), optionally with its ImageNet weights.\n"
    + _ARGS_DOC
    + """
    Example:
        >>> ResNet101(weights="imagenet", classes=10)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Expected `classes` to be 1000 with weights='imagenet' and include_top=True...
"""
)
ResNet152.__doc__ = (
    "Builds ResNet152 (3, 8, 36 and 3 bottleneck blocks), optionally with its ImageNet weights.\n"
    + _ARGS_DOC
    + """
    Example:
        >>> ResNet152(weights=None, input_shape=(16, 16, 3))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Expected an input of at least 32x32 pixels...
"""
)
