"""VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015), as `keras.applications.vgg16` builds it, with the same weights.

`build_vgg` builds both VGG depths; `vgg19` passes it four convolutions per deep block
instead of three.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kfit import backend, layers
from kfit.applications import imagenet_utils
from kfit.applications.imagenet_utils import decode_predictions
from kfit.models import Model

__all__ = ["VGG16", "decode_predictions", "preprocess_input"]

WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5"
)
WEIGHTS_PATH_NO_TOP = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
#: MD5 of the files (with the top, without it), as Keras checks them.
WEIGHTS_HASHES = ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc")

# Filters and number of 3x3 convolutions of each of the five blocks.
_BLOCKS_16 = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def build_vgg(
    blocks: Sequence[tuple[int, int]],
    weights_files: tuple[tuple[str, str, str], tuple[str, str, str]],
    include_top: bool,
    weights: Any,
    input_tensor: Any,
    input_shape: Sequence[int | None] | None,
    pooling: str | None,
    classes: int,
    classifier_activation: Any,
    name: str,
) -> Model:
    """Builds a VGG network: five blocks of 3x3 convolutions, each closed by 2x2 max pooling,
    then either the three dense layers of the classifier or the `pooling` head.

    Args:
        blocks: (filters, convolutions) of each block.
        weights_files: (file name, URL, MD5) of the ImageNet weights with and without the top.
        The others: as for `VGG16`.

    Example:
        >>> files = (("top.h5", "", ""), ("notop.h5", "", ""))
        >>> tiny = build_vgg([(8, 1)] * 5, files, False, None, None, (32, 32, 3), "avg", 1000, None, "tiny")
        >>> tiny.output_shape, tiny.count_params()
        ((None, 8), 2560)
    """
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
    x = img_input
    for block, (filters, convolutions) in enumerate(blocks, start=1):
        for conv in range(1, convolutions + 1):
            x = layers.Conv2D(
                filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{conv}"
            )(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled(x, pooling)
    inputs = imagenet_utils.source_inputs(input_tensor) if input_tensor is not None else img_input
    model = Model(inputs, x, name=name)
    file_name, origin, file_hash = weights_files[0 if include_top else 1]
    imagenet_utils.load_weights(model, weights, file_name, origin, file_hash)
    return model


def VGG16(
    include_top: bool = True,
    weights: Any = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str = "vgg16",
) -> Model:
    """Builds VGG16, optionally with its ImageNet weights (Keras's published file).

    Inputs are 224x224 RGB images by default, preprocessed with `preprocess_input` (RGB to BGR,
    minus ImageNet's mean pixel). The weights are downloaded once into the cache's `models/`
    folder (`$KERAS_HOME`, `~/.keras` by default), where Keras keeps them too.

    Args:
        include_top: Whether to end with the three dense layers of the classifier.
        weights: None (random initialization), `"imagenet"`, or the path of a weights file
            to load (any file `model.load_weights` reads).
        input_tensor: A `kfit.Input` (or a tensor computed from one) to build the model on.
        input_shape: The image shape without the batch, e.g. `(200, 200, 3)`; at least 32x32.
            With `include_top=True` and ImageNet weights it must be `(224, 224, 3)`.
        pooling: Without the top: None (the last block's 4D feature map), `"avg"` or `"max"`
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

    Example:
        >>> model = VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
        >>> model.output_shape, len(model.layers)
        ((None, 1, 1, 512), 19)
    """
    return build_vgg(
        _BLOCKS_16,
        (
            ("vgg16_weights_tf_dim_ordering_tf_kernels.h5", WEIGHTS_PATH, WEIGHTS_HASHES[0]),
            ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", WEIGHTS_PATH_NO_TOP, WEIGHTS_HASHES[1]),
        ),
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    )


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Prepares 0-255 RGB images for VGG16: RGB to BGR, minus ImageNet's mean pixel (no scaling).

    See `imagenet_utils.preprocess_input` (mode `"caffe"`); a float numpy array is changed in
    place.

    Example:
        >>> import numpy as np
        >>> preprocess_input(np.full((1, 1, 3), 128.0)).round(3).tolist()
        [[[24.061, 11.221, 4.32]]]
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")
