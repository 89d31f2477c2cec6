"""CIFAR-10: 60,000 32x32 colour images in 10 classes, from the archive and cache Keras uses."""

from __future__ import annotations

import os

import numpy as np

from kfit.backend.config import image_data_format
from kfit.datasets.cifar import load_batch
from kfit.utils.file_utils import get_file

__all__ = ["load_data"]

#: URL of the "python version" archive; Keras downloads the same file, so its copy is reused.
ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: SHA-256 of the archive, checked after every download and on cache hits.
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
#: Name of the extraction folder in `$KERAS_HOME/datasets/` (the archive is `<name>_archive`).
DIRNAME = "cifar-10-batches-py-target"


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads CIFAR-10: 50,000 training and 10,000 test colour images in 10 classes.

    The classes are 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse,
    8 ship, 9 truck. The archive is downloaded once into `$KERAS_HOME/datasets/`
    (`~/.keras/datasets/` by default) and extracted there, where an earlier Keras download is
    found and reused. The batch files inside are pickles; they are read without unpickling
    (see `kfit.datasets.pickle_reader`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `uint8` arrays; images have shape
        `(n, 32, 32, 3)` (`(n, 3, 32, 32)` when
        `kfit.backend.image_data_format()` is `"channels_first"`) with values 0-255, labels shape `(n, 1)`.

    Raises:
        Exception: When the archive is not cached and cannot be downloaded.
        ValueError: When the archive fails its hash check or holds no CIFAR-10 batches.

    Example:
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> if os.path.isdir(os.path.join(home, "datasets", DIRNAME)):  # doctests never download
        ...     (x_train, y_train), (x_test, y_test) = load_data()
        ...     assert x_train.shape == (50000, 32, 32, 3) and y_train.shape == (50000, 1)
    """
    extracted = get_file(fname=DIRNAME, origin=ORIGIN, extract=True, file_hash=FILE_HASH)
    folder = os.path.join(extracted, "cifar-10-batches-py")
    train = [load_batch(os.path.join(folder, f"data_batch_{i}")) for i in range(1, 6)]
    x_test, y_test = load_batch(os.path.join(folder, "test_batch"))
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.array([label for _, labels in train for label in labels], dtype=np.uint8)
    if image_data_format() == "channels_last":
        # Stored channels first; as in Keras, a transposed view rather than a copy.
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return (
        (x_train, y_train.reshape(-1, 1)),
        (x_test, np.array(y_test, dtype=np.uint8).reshape(-1, 1)),
    )
