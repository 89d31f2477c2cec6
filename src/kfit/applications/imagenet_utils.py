"""What the ImageNet models share: input preprocessing, decoding predictions, and building.

`preprocess_input` and `decode_predictions` are Keras's public pair
(`keras.applications.imagenet_utils`); each model module wraps `preprocess_input` with the
mode its weights were trained with ("caffe" for VGG and ResNet, "tf" for MobileNetV2).

The other functions are the steps every model constructor takes, in order:
`check_arguments` (the `weights`/`classes` combination), `obtain_input_shape` (the input
shape Keras would pick or accept), `image_input` (the model's input tensor),
`validate_activation` (before the classifier), `pooled` (the `pooling` head),
`source_inputs` (the model's inputs) and `load_weights` (the published file, by layer name).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from kfit import activations, backend, layers
from kfit.layers.symbolic import KerasTensor, inbound_nodes, is_keras_tensor
from kfit.saving import legacy_h5
from kfit.utils.errors import received
from kfit.utils.file_utils import get_file

__all__ = ["decode_predictions", "preprocess_input"]

#: Where Keras downloads the ImageNet class names from (into the cache's `models/` folder).
CLASS_INDEX_PATH = (
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
)
#: MD5 of the file at `CLASS_INDEX_PATH`, as Keras checks it.
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

# Read once per process, as Keras does: {"0": ["n01440764", "tench"], ...}.
CLASS_INDEX: dict[str, list[str]] | None = None

_MODES = ("caffe", "tf", "torch")
_DATA_FORMATS = ("channels_first", "channels_last")
# ImageNet's per-channel statistics: BGR means in 0-255 units for "caffe", RGB means and
# standard deviations in 0-1 units for "torch".
_CAFFE_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def preprocess_input(x: Any, data_format: str | None = None, mode: str = "caffe") -> Any:
    """Scales a batch of 0-255 RGB images the way an ImageNet model's weights expect.

    - `"caffe"`: reorders the channels RGB -> BGR and subtracts ImageNet's mean pixel; no scaling.
    - `"tf"`: maps 0..255 to -1..1.
    - `"torch"`: maps 0..255 to 0..1, then normalises each channel by ImageNet's mean and std.

    A float numpy array is changed in place (as in Keras; pass `np.copy(x)` to keep it), other
    numpy arrays are converted to float32 first. A torch tensor or a `KerasTensor` (inside a
    functional model) gives a new tensor.

    Args:
        x: Images, 3D (one image) or 4D (a batch), with 3 channels and values in [0, 255].
        data_format: `"channels_last"` or `"channels_first"`; None means
            `kfit.backend.image_data_format()`.
        mode: `"caffe"`, `"tf"` or `"torch"`.

    Returns:
        The preprocessed images, float.

    Raises:
        ValueError: If `mode` or `data_format` is unknown.

    Example:
        >>> pixel = np.array([[[255.0, 0.0, 127.5]]])
        >>> preprocess_input(pixel.copy(), mode="tf").tolist()
        [[[1.0, -1.0, 0.0]]]
        >>> preprocess_input(pixel.copy(), mode="caffe").round(3).tolist()
        [[[23.561, -116.779, 131.32]]]
    """
    if mode not in _MODES:
        raise ValueError(
            f"Expected `mode` to be one of {_MODES}. {received('mode', mode)} Use 'caffe' for "
            "VGG and ResNet, 'tf' for MobileNetV2, 'torch' for models trained with torchvision."
        )
    if data_format is None:
        data_format = backend.image_data_format()
    elif data_format not in _DATA_FORMATS:
        raise ValueError(
            f"Expected `data_format` to be one of {_DATA_FORMATS}. "
            f"{received('data_format', data_format)} Pass 'channels_last' for (height, width, "
            "channels) images."
        )
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _channel_axis(ndim: int, data_format: str) -> int:
    if data_format == "channels_last":
        return ndim - 1
    # A single channels-first image has its channels first, a batch has them second.
    return 0 if ndim == 3 else 1


def _preprocess_numpy(x: np.ndarray, data_format: str, mode: str) -> np.ndarray:
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(backend.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    axis = _channel_axis(x.ndim, data_format)
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        # A reversed view, as Keras takes: the in-place updates below reach the caller's array.
        x = np.flip(x, axis=axis)
        mean, std = _CAFFE_MEAN, None
    shape = [1] * x.ndim
    shape[axis] = 3
    x -= np.asarray(mean, dtype=x.dtype).reshape(shape)
    if std is not None:
        x /= np.asarray(std, dtype=x.dtype).reshape(shape)
    return x


def _preprocess_tensor(x: Any, data_format: str, mode: str) -> Any:
    from kfit import ops

    if not isinstance(x, (torch.Tensor, KerasTensor)):
        x = ops.convert_to_tensor(x)
    if not str(x.dtype).replace("torch.", "").startswith(("float", "bfloat")):
        x = ops.cast(x, backend.floatx())
    if mode == "tf":
        return x / 127.5 - 1.0
    axis = _channel_axis(len(x.shape), data_format)
    shape = [1] * len(x.shape)
    shape[axis] = 3

    def constant(values: tuple[float, ...]) -> Any:
        if isinstance(x, torch.Tensor):
            # On the images' device: a CPU constant cannot join a GPU tensor.
            return torch.tensor(values, dtype=x.dtype, device=x.device).reshape(shape)
        return ops.reshape(ops.convert_to_tensor(values, dtype=x.dtype), shape)

    if mode == "torch":
        return (x / 255.0 - constant(_TORCH_MEAN)) / constant(_TORCH_STD)
    return ops.flip(x, axis=axis) - constant(_CAFFE_MEAN)


def decode_predictions(preds: Any, top: int = 5) -> list[list[tuple[str, str, Any]]]:
    """Turns a batch of 1000-class ImageNet scores into the `top` class names for each sample.

    The class names come from `imagenet_class_index.json`, downloaded once into the cache's
    `models/` folder (where Keras keeps it too).

    Args:
        preds: Scores of shape `(samples, 1000)`: a numpy array or tensor.
        top: How many classes to return per sample.

    Returns:
        One list per sample of `(class_id, class_name, score)` tuples, highest score first.

    Raises:
        ValueError: If `preds` is not of shape `(samples, 1000)`.

    Example:
        >>> scores = np.zeros((1, 1000), "float32")
        >>> decode_predictions(scores[:, :10])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Expected `preds` to be a batch of ImageNet scores, of shape (samples, 1000)...
    """
    shape = tuple(getattr(preds, "shape", ()))
    if len(shape) != 2 or shape[1] != 1000:
        raise ValueError(
            "Expected `preds` to be a batch of ImageNet scores, of shape (samples, 1000). "
            f"Received: preds of shape {shape} (of type {type(preds).__name__}). Pass the "
            "output of a model with its 1000-class top, e.g. model.predict(images)."
        )
    global CLASS_INDEX
    if CLASS_INDEX is None:
        path = get_file(
            "imagenet_class_index.json",
            CLASS_INDEX_PATH,
            cache_subdir="models",
            file_hash=CLASS_INDEX_HASH,
        )
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    from kfit import ops

    scores = ops.convert_to_numpy(preds)
    results = []
    for row in scores:
        best = row.argsort()[-top:][::-1]
        found = [(*CLASS_INDEX[str(i)], row[i]) for i in best]
        found.sort(key=lambda item: item[2], reverse=True)
        results.append(found)
    return results


# --------------------------------------------------------------------- building the models


def check_arguments(weights: Any, include_top: bool, classes: int) -> None:
    """Raises for a `weights` value that is not None, "imagenet" or an existing file, and for
    ImageNet weights with a top of other than 1000 classes.

    Example:
        >>> check_arguments(None, include_top=True, classes=10)
        >>> check_arguments("imagenet", include_top=True, classes=10)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Expected `classes` to be 1000 with weights='imagenet' and include_top=True...
    """
    if not (
        weights is None
        or (isinstance(weights, str) and weights == "imagenet")
        or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))
    ):
        raise ValueError(
            "Expected `weights` to be None (random initialization), 'imagenet' (pre-trained "
            f"on ImageNet) or the path to an existing weights file. {received('weights', weights)}"
            " Check the spelling, or the path of the file."
        )
    if isinstance(weights, str) and weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            "Expected `classes` to be 1000 with weights='imagenet' and include_top=True: the "
            f"pre-trained classifier has ImageNet's 1000 classes. {received('classes', classes)} "
            "Pass include_top=False and add your own classifier, or weights=None."
        )


def obtain_input_shape(
    input_shape: Sequence[int | None] | None,
    default_size: int,
    min_size: int,
    data_format: str,
    require_flatten: bool,
    weights: Any = None,
) -> tuple[int | None, ...]:
    """The input shape (without the batch) a model is built for, checked as Keras checks it.

    Args:
        input_shape: What the user asked for, or None.
        default_size: The model's usual image height and width.
        min_size: The smallest height and width the model accepts.
        data_format: `"channels_last"` or `"channels_first"`.
        require_flatten: Whether a classifier on top needs a fixed shape.
        weights: The `weights` argument; ImageNet weights need 3 channels.

    Returns:
        The shape, e.g. `(224, 224, 3)`, or `(None, None, 3)` when sizes may vary.

    Raises:
        ValueError: If the shape does not suit the model or the weights.

    Example:
        >>> obtain_input_shape(None, 224, 32, "channels_last", require_flatten=False)
        (None, None, 3)
        >>> obtain_input_shape((16, 16, 3), 224, 32, "channels_last", False)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Expected an input of at least 32x32 pixels...
    """
    imagenet = isinstance(weights, str) and weights == "imagenet"
    channels_first = data_format == "channels_first"
    if not imagenet and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if channels_first else input_shape[-1]
        if channels not in (1, 3):
            warnings.warn(
                "These models usually take 1 or 3 input channels. Received: input_shape="
                f"{tuple(input_shape)!r} with {channels} channels.",
                stacklevel=3,
            )
        if channels_first:
            default_shape: tuple[int | None, ...] = (channels, default_size, default_size)
        else:
            default_shape = (default_size, default_size, channels)
    elif channels_first:
        default_shape = (3, default_size, default_size)
    else:
        default_shape = (default_size, default_size, 3)
    if imagenet and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(
                f"Expected `input_shape` to be {default_shape} (or None) with "
                "weights='imagenet' and include_top=True: the pre-trained classifier needs "
                f"that size. {received('input_shape', input_shape)} Pass include_top=False "
                "to use another size."
            )
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError(
                "Expected `input_shape` to be a tuple of three integers (height, width, channels). "
                f"{received('input_shape', input_shape)} Leave out the batch dimension."
            )
        channels = input_shape[0] if channels_first else input_shape[-1]
        if imagenet and channels != 3:
            raise ValueError(
                "Expected an input with 3 channels with weights='imagenet'. "
                f"{received('input_shape', input_shape)} Pass RGB images, or weights=None."
            )
        sizes = input_shape[1:] if channels_first else input_shape[:2]
        if any(size is not None and size < min_size for size in sizes):
            raise ValueError(
                f"Expected an input of at least {min_size}x{min_size} pixels. "
                f"{received('input_shape', input_shape)} Resize the images, e.g. with "
                "kfit.layers.Resizing or before feeding them."
            )
        shape = tuple(input_shape)
    elif require_flatten:
        shape = default_shape
    else:
        shape = (3, None, None) if channels_first else (None, None, 3)
    if require_flatten and None in shape:
        raise ValueError(
            "Expected a fixed `input_shape` with include_top=True: the classifier needs a known "
            f"size. {received('input_shape', input_shape)} Give every size, e.g. (224, 224, 3)."
        )
    return shape


def image_input(input_tensor: Any, input_shape: Sequence[int | None]) -> KerasTensor:
    """The tensor a model starts from: `input_tensor` when given, else a new `kfit.Input`.

    Raises:
        ValueError: If `input_tensor` is not a symbolic tensor.

    Example:
        >>> image_input(None, (32, 32, 3)).shape
        (None, 32, 32, 3)
    """
    if input_tensor is None:
        return layers.Input(shape=tuple(input_shape))
    if not is_keras_tensor(input_tensor):
        raise ValueError(
            "Expected `input_tensor` to be a symbolic tensor, such as the output of "
            f"kfit.Input(...). {received('input_tensor', input_tensor)} Pass "
            "input_shape=... instead, or call the model on the tensor once it is built."
        )
    return input_tensor


def source_inputs(tensor: KerasTensor) -> list[KerasTensor]:
    """The `kfit.Input` tensors that `tensor` was computed from, in the order they are met.

    A model built on `input_tensor` takes these as its inputs, so that layers applied before
    `input_tensor` are part of it.

    Example:
        >>> import kfit
        >>> x = kfit.Input((4,))
        >>> source_inputs(kfit.layers.Dense(2)(x)) == [x]
        True
    """
    found: list[KerasTensor] = []
    seen: set[int] = set()
    pending = [tensor]
    while pending:
        current = pending.pop()
        history = current._keras_history
        if history is None:
            continue
        node = inbound_nodes(history.operation)[history.node_index]
        if node.is_input:
            if id(current) not in seen:
                seen.add(id(current))
                found.append(current)
            continue
        # Reversed so that the first argument's inputs are met first.
        pending.extend(reversed(node.input_tensors))
    return found


def validate_activation(classifier_activation: Any, weights: Any) -> None:
    """Raises when pre-trained weights are loaded under a classifier activation they were not
    trained for (only softmax and none, which give the same ranking, are allowed).

    Example:
        >>> validate_activation("softmax", "imagenet")
        >>> validate_activation("relu", "imagenet")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Expected `classifier_activation` to be None or 'softmax'...
    """
    if weights is None:
        return
    if activations.get(classifier_activation) not in (activations.softmax, activations.linear):
        raise ValueError(
            "Expected `classifier_activation` to be None or 'softmax' when loading pre-trained "
            f"weights with include_top=True. {received('classifier_activation', classifier_activation)}"
            " Use None for the logits and apply your activation to them."
        )


def pooled(x: KerasTensor, pooling: str | None, name_prefix: str | None = None) -> KerasTensor:
    """Applies the `pooling` head of a model without its top: None, "avg" or "max".

    `name_prefix`, when given, names the layers `<prefix>avg_pool` / `<prefix>max_pool` (as
    ResNet does); otherwise they get default names.

    Example:
        >>> import kfit
        >>> pooled(kfit.Input((4, 4, 8)), "max").shape
        (None, 8)
    """
    if pooling == "avg":
        name = f"{name_prefix}avg_pool" if name_prefix is not None else None
        return layers.GlobalAveragePooling2D(name=name)(x)
    if pooling == "max":
        name = f"{name_prefix}max_pool" if name_prefix is not None else None
        return layers.GlobalMaxPooling2D(name=name)(x)
    return x


def correct_pad(
    inputs: KerasTensor, kernel_size: int | tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The zero padding before a stride-2 "valid" convolution that makes it match "same" padding
    as TensorFlow computes it (one pixel less at the top/left for even sizes).

    Example:
        >>> import kfit
        >>> correct_pad(kfit.Input((32, 32, 8)), 3)
        ((0, 1), (0, 1))
    """
    axis = 2 if backend.image_data_format() == "channels_first" else 1
    rows, cols = inputs.shape[axis : axis + 2]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if rows is None else (1 - rows % 2, 1 - (cols or 0) % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def load_weights(
    model: Any,
    weights: Any,
    file_name: str,
    origin: str,
    file_hash: str | None,
) -> None:
    """Loads `weights` into a freshly built model: for "imagenet", Keras's published file
    (downloaded once into the cache's `models/` folder), matched to the layers by name; for a
    path, whatever `model.load_weights` reads; for None, nothing.

    Args:
        model: The model just built.
        weights: The constructor's `weights` argument.
        file_name: The published file's name in the cache.
        origin: Its URL.
        file_hash: Its MD5 (or SHA-256), or None when Keras publishes none.

    Raises:
        ValueError: If the file does not match the model (every mismatch is listed).

    Example:
        >>> import kfit
        >>> x = kfit.Input((2,))
        >>> model = kfit.Model(x, kfit.layers.Dense(1)(x))
        >>> load_weights(model, None, "unused.h5", "https://example.com/unused.h5", None)
    """
    if weights is None:
        return
    if isinstance(weights, str) and weights == "imagenet":
        path = get_file(file_name, origin, cache_subdir="models", file_hash=file_hash)
        legacy_h5.load_legacy_weights(model, path, by_name=True, require_all=True)
        return
    model.load_weights(weights)
