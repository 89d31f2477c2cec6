"""Fashion-MNIST: Zalando's 28x28 grey clothing images, from the files and cache that Keras uses."""

from __future__ import annotations

import gzip
import os

import numpy as np

from kfit.utils.file_utils import get_file

__all__ = ["load_data"]

#: Folder of the four files; Keras downloads the same ones, so its cached copies are reused.
ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
#: Cache folder under `$KERAS_HOME`, as in Keras.
CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")
#: The four gzipped IDX files: train labels, train images, test labels, test images.
FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
# Keras pins no hash for these files, and the published SHA-256s are for Zalando's own copies,
# so none is pinned here either; gzip's CRC and the IDX header checks below catch a damaged file.
_LABELS_MAGIC, _IMAGES_MAGIC = 2049, 2051


def _read_idx(path: str, magic: int, item_shape: tuple[int, ...]) -> np.ndarray:
    """Reads a gzipped IDX file: a big-endian header (magic number, then sizes), then uint8s."""
    with gzip.open(path, "rb") as f:
        content = f.read()
    header = 4 * (2 + len(item_shape))
    fields = np.frombuffer(content[:header], dtype=">u4").tolist() if len(content) >= header else []
    count = fields[1] if fields else 0
    if fields != [magic, count, *item_shape] or len(content) != header + count * int(np.prod(item_shape)):
        raise ValueError(
            f"Expected {path} to be a Fashion-MNIST IDX file (magic number {magic}, items of shape "
            f"{item_shape}), but its header reads {fields} for {len(content)} bytes. Delete the "
            "file so that it is downloaded again."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(count, *item_shape).copy()


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads Fashion-MNIST: 60,000 training and 10,000 test images of 10 kinds of clothing.

    The labels are 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
    7 Sneaker, 8 Bag, 9 Ankle boot. The four files are downloaded once into
    `$KERAS_HOME/datasets/fashion-mnist/` (`~/.keras/...` by default), where earlier Keras
    downloads are found and reused.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `uint8` arrays; images have shape `(n, 28, 28)`
        with pixel values 0-255, labels shape `(n,)`.

    Raises:
        Exception: When a file is not cached and cannot be downloaded.
        ValueError: When a cached file is not a Fashion-MNIST IDX file.

    Example:
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> cached = [os.path.join(home, CACHE_SUBDIR, name) for name in FILES]
        >>> if all(os.path.exists(path) for path in cached):  # doctests never download
        ...     (x_train, y_train), (x_test, y_test) = load_data()
        ...     assert x_train.shape == (60000, 28, 28) and y_test.shape == (10000,)
    """
    labels_train, images_train, labels_test, images_test = (
        get_file(name, origin=ORIGIN_FOLDER + name, cache_subdir=CACHE_SUBDIR) for name in FILES
    )
    y_train = _read_idx(labels_train, _LABELS_MAGIC, ())
    x_train = _read_idx(images_train, _IMAGES_MAGIC, (28, 28))
    y_test = _read_idx(labels_test, _LABELS_MAGIC, ())
    x_test = _read_idx(images_test, _IMAGES_MAGIC, (28, 28))
    return (x_train, y_train), (x_test, y_test)
