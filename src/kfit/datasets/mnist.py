"""MNIST handwritten digits, loaded from the same file and cache folder that Keras uses."""

from __future__ import annotations

import numpy as np

from kfit.utils.file_utils import get_file

__all__ = ["load_data"]

#: URL of the archive; Keras downloads the same file, so its cached copy is reused.
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
#: SHA-256 of the file at `ORIGIN`, checked after every download and on cache hits.
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(
    path: str = "mnist.npz",
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads MNIST: 60,000 training and 10,000 test images of handwritten digits.

    The file is downloaded once into `$KERAS_HOME/datasets/` (`~/.keras/datasets/` by default),
    where an earlier Keras download is found and reused. Without network access, copy
    `mnist.npz` into that folder by hand; the error raised then names the exact path.

    Args:
        path: File name of the dataset inside the cache's `datasets` folder.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `uint8` arrays; images have shape `(n, 28, 28)`
        with pixel values 0-255, labels shape `(n,)` with digits 0-9.

    Raises:
        Exception: When the file is not cached and cannot be downloaded.
        ValueError: When the cached file is not an MNIST archive.

    Example:
        >>> import os
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> cached = os.path.join(home, "datasets", "mnist.npz")
        >>> if os.path.exists(cached):  # doctests never download
        ...     (x_train, y_train), (x_test, y_test) = load_data()
        ...     assert x_train.shape == (60000, 28, 28) and y_test.dtype == np.uint8
    """
    local = get_file(fname=path, origin=ORIGIN, file_hash=FILE_HASH)
    with np.load(local, allow_pickle=False) as data:
        missing = [key for key in _KEYS if key not in data.files]
        if missing:
            raise ValueError(
                f"Expected the file at {local} to be an MNIST archive with arrays {_KEYS}, but "
                f"it lacks {missing}. Received: path={path!r} (of type {type(path).__name__}). "
                "Delete the file so that it is downloaded again, or pass the right `path`."
            )
        x_train, y_train, x_test, y_test = (data[key] for key in _KEYS)
    return (x_train, y_train), (x_test, y_test)
