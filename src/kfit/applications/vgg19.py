"""VGG19 (Simonyan & Zisserman, ICLR 2015), as `keras.applications.vgg19` builds it, with the
same weights: VGG16 with a fourth convolution in each of the last three blocks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kfit.applications.imagenet_utils import decode_predictions

# VGG19 prepares images as VGG16 does (Keras's "caffe" mode).
from kfit.applications.vgg16 import build_vgg, preprocess_input
from kfit.models import Model

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]

WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5"
)
WEIGHTS_PATH_NO_TOP = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
#: MD5 of the files (with the top, without it), as Keras checks them.
WEIGHTS_HASHES = ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")

_BLOCKS_19 = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def VGG19(
    include_top: bool = True,
    weights: Any = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    name: str = "vgg19",
) -> Model:
    """Builds VGG19, optionally with its ImageNet weights (Keras's published file).

    The arguments, defaults and checks are those of `kfit.applications.VGG16`; inputs are
    preprocessed with `preprocess_input` (RGB to BGR, minus ImageNet's mean pixel).

    Args:
        include_top: Whether to end with the three dense layers of the classifier.
        weights: None (random initialization), `"imagenet"`, or the path of a weights file.
        input_tensor: A `kfit.Input` (or a tensor computed from one) to build the model on.
        input_shape: The image shape without the batch; at least 32x32. With
            `include_top=True` and ImageNet weights it must be `(224, 224, 3)`.
        pooling: Without the top: None (4D feature map), `"avg"` or `"max"`.
        classes: The classifier's size; must be 1000 with ImageNet weights.
        classifier_activation: The classifier's activation; only None or `"softmax"` with
            pre-trained weights.
        name: The model's name.

    Returns:
        A functional `kfit.Model`.

    Raises:
        ValueError: As for `VGG16`.

    Example:
        >>> model = VGG19(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max")
        >>> model.output_shape, len(model.layers)
        ((None, 512), 23)
    """
    return build_vgg(
        _BLOCKS_19,
        (
            ("vgg19_weights_tf_dim_ordering_tf_kernels.h5", WEIGHTS_PATH, WEIGHTS_HASHES[0]),
            ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", WEIGHTS_PATH_NO_TOP, WEIGHTS_HASHES[1]),
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
