"""`image_dataset_from_directory`: batches of images (and labels) from a folder per class.

Keras returns a `tf.data.Dataset`; kfit returns a `DirectoryDataset` (a `kfit.utils.PyDataset`,
see `kfit.utils.directory_dataset`) that `fit`, `evaluate` and `predict` take as it is, and that
decodes and resizes each batch's images only when the batch is asked for. Set
`dataset.workers = 4` to load batches in threads ahead of the training step.

Pixels follow Keras's TensorFlow-free path: the file is decoded with PIL, converted to the
color mode, cast to float32 (values 0..255) and resized with `kfit.ops.image.resize`, which
computes what Keras's `keras.ops.image.resize` does (half-pixel centres, no antialiasing, as
`tf.image.resize` too). The interpolations that only TensorFlow provides (`"area"`,
`"lanczos3"`, `"lanczos5"`, `"gaussian"`, `"mitchellcubic"`) are refused before any work.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from kfit.utils.directory_dataset import (
    DirectoryDataset,
    build_subsets,
    check_directory_args,
    check_validation_split,
    index_directory,
)
from kfit.utils.errors import received
from kfit.utils.image_utils import convert_color, pil_image

__all__ = ["ALLOWLIST_FORMATS", "image_dataset_from_directory", "load_image"]

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
INTERPOLATIONS = ("bilinear", "nearest", "bicubic")
_TENSORFLOW_ONLY = ("area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


def load_image(
    path: str,
    image_size: tuple[int, int],
    color_mode: str,
    interpolation: str,
    data_format: str,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
) -> np.ndarray:
    """One image file as a float32 array of `image_size`, values 0..255 (animated: first frame).

    Example:
        >>> import os, tempfile, numpy as np
        >>> from kfit.utils.image_utils import save_img
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "a.png")
        >>> save_img(path, np.full((4, 4, 3), 200), scale=False)
        >>> x = load_image(path, (2, 2), "rgb", "bilinear", "channels_last")
        >>> x.shape, x.dtype, float(x.max())
        ((2, 2, 3), dtype('float32'), 200.0)
        >>> folder.cleanup()
    """
    import torch

    from kfit.ops.image import resize

    image = pil_image()
    with image.open(path) as img:
        img.load()
        array = np.asarray(convert_color(img, color_mode), dtype="float32")
    if array.ndim == 2:
        array = array[..., np.newaxis]
    x = torch.from_numpy(np.ascontiguousarray(array))
    if data_format == "channels_first":
        x = x.permute(2, 0, 1)
    out = resize(
        x,
        tuple(image_size),
        interpolation=interpolation,
        crop_to_aspect_ratio=crop_to_aspect_ratio,
        pad_to_aspect_ratio=pad_to_aspect_ratio,
        data_format=data_format,
    )
    return np.asarray(out.numpy(), dtype="float32")


def _check_image_args(
    color_mode: Any, image_size: Any, interpolation: Any, crop_to_aspect_ratio: bool, pad_to_aspect_ratio: bool
) -> tuple[int, int]:
    if color_mode not in _CHANNELS:
        raise ValueError(f"Expected `color_mode` to be one of {tuple(_CHANNELS)}. {received('color_mode', color_mode)}")
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (list, tuple))
        or len(image_size) != 2
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in image_size)
    ):
        raise ValueError(
            "Expected `image_size` to be (height, width), two positive integers. "
            f"{received('image_size', image_size)} Pass e.g. image_size=(256, 256)."
        )
    name = interpolation.lower() if isinstance(interpolation, str) else interpolation
    if name in _TENSORFLOW_ONLY:
        raise ValueError(
            f"Expected `interpolation` to be one of {INTERPOLATIONS}: {name!r} needs TensorFlow's "
            f"resize, which kfit does not use (Keras's torch backend refuses it too). "
            f"{received('interpolation', interpolation)} Use 'bilinear' or 'bicubic'."
        )
    if name not in INTERPOLATIONS:
        raise ValueError(
            f"Expected `interpolation` to be one of {INTERPOLATIONS}. {received('interpolation', interpolation)}"
        )
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "Expected at most one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio`. Received: both True. Keep one."
        )
    return int(image_size[0]), int(image_size[1])


def image_dataset_from_directory(
    directory: str | os.PathLike[str],
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: Sequence[str] | None = None,
    color_mode: str = "rgb",
    batch_size: int | None = 32,
    image_size: tuple[int, int] | int = (256, 256),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    follow_links: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    data_format: str | None = None,
    verbose: bool = True,
) -> DirectoryDataset | tuple[DirectoryDataset, DirectoryDataset]:
    """A dataset of the images under `directory`, labelled by subfolder (`keras.utils`).

    With `labels="inferred"`, each subfolder of `directory` is a class (label 0 for the
    first in alphanumeric order, or in the order of `class_names`), and the `.bmp`, `.gif`,
    `.jpeg`, `.jpg` and `.png` files anywhere below it are its images.

    Args:
        directory: The root folder.
        labels: `"inferred"`, None (images only), or a list of integer labels, one per image
            file under `directory` in sorted path order.
        label_mode: `"int"` (int32 `(batch,)`), `"categorical"` (float32 one-hot
            `(batch, num_classes)`), `"binary"` (float32 `(batch, 1)`, exactly two classes) or
            None (images only).
        class_names: With `labels="inferred"`, the subfolders to use, in label order.
        color_mode: `"rgb"`, `"rgba"` or `"grayscale"` (3, 4 or 1 channels).
        batch_size: Images per batch; None yields single images.
        image_size: `(height, width)` every image is resized to (an int for a square).
        shuffle: Whether to shuffle the files (seeded), and again after each pass; else
            alphanumeric order.
        seed: The shuffle's seed (needed with `validation_split` and `shuffle`).
        validation_split: The fraction of files kept for validation (the last ones after
            shuffling).
        subset: `"training"`, `"validation"`, or `"both"` for a `(training, validation)` pair;
            only with `validation_split`.
        interpolation: `"bilinear"`, `"nearest"` or `"bicubic"`.
        follow_links: Whether to walk into symlinked subfolders.
        crop_to_aspect_ratio: Crop the largest centred box of the target aspect ratio first.
        pad_to_aspect_ratio: Pad (with zeros) to the target aspect ratio first.
        data_format: `"channels_last"` (`(batch, h, w, c)`), `"channels_first"` or None
            (`kfit.backend.image_data_format()`).
        verbose: Whether to print the number of files and classes found.

    Returns:
        A `DirectoryDataset` yielding `(images, labels)` (images alone without labels), with
        `class_names` and `file_paths`; a pair of them for `subset="both"`. Images are float32.

    Raises:
        ValueError: for bad arguments (before any file is read), `class_names` that are not
            subfolders, labels that do not match the files, or an empty (sub)set.
        FileNotFoundError: if `directory` is not a folder.

    Example:
        >>> import os, tempfile, numpy as np, kfit
        >>> root = tempfile.TemporaryDirectory()
        >>> for name in ("cat", "dog"):
        ...     for i in range(3):
        ...         kfit.utils.save_img(os.path.join(root.name, name, f"{i}.png"), np.random.rand(8, 8, 3))
        >>> ds = image_dataset_from_directory(root.name, image_size=(4, 4), batch_size=4, seed=1)
        Found 6 files belonging to 2 classes.
        >>> images, labels = ds[0]
        >>> ds.class_names, len(ds), images.shape, images.dtype, labels.dtype
        (['cat', 'dog'], 2, (4, 4, 4, 3), dtype('float32'), dtype('int32'))
        >>> root.cleanup()
    """
    from kfit.backend.config import standardize_data_format

    check_directory_args(labels, label_mode, class_names, batch_size)
    size = _check_image_args(color_mode, image_size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio)
    check_validation_split(validation_split, subset, shuffle, seed)
    data_format = standardize_data_format(data_format)
    pil_image()  # fail now, not at the first batch, when Pillow is missing
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = int(np.random.randint(1_000_000))
    paths, label_array, names = index_directory(
        directory, labels, ALLOWLIST_FORMATS, class_names, shuffle, seed, follow_links, verbose
    )
    if label_mode == "binary" and len(names or ()) != 2:
        raise ValueError(
            f"Expected exactly 2 classes with label_mode='binary'. {received('class_names', names)} "
            "Use label_mode='categorical' or 'int' for more classes."
        )
    load = functools.partial(
        load_image,
        image_size=size,
        color_mode=color_mode,
        interpolation=interpolation.lower(),
        data_format=data_format,
        crop_to_aspect_ratio=crop_to_aspect_ratio,
        pad_to_aspect_ratio=pad_to_aspect_ratio,
    )

    return build_subsets(
        paths,
        label_array,
        validation_split,
        subset,
        shuffle,
        lambda files, file_labels, reshuffle: DirectoryDataset(
            files, file_labels, label_mode, names, load, batch_size, reshuffle, seed
        ),
        f"images under {os.fspath(directory)!r} (extensions: {ALLOWLIST_FORMATS})",
    )
