"""CIFAR-100: 60,000 32x32 colour images in 100 classes (20 superclasses), as Keras loads them."""

from __future__ import annotations

import os

import numpy as np

from kfit.backend.config import image_data_format
from kfit.datasets.cifar import load_batch
from kfit.utils.errors import received
from kfit.utils.file_utils import get_file

__all__ = ["load_data"]

#: URL of the "python version" archive; Keras downloads the same file, so its copy is reused.
ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
#: SHA-256 of the archive, checked after every download and on cache hits.
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
#: Name of the extraction folder in `$KERAS_HOME/datasets/` (the archive is `<name>_archive`).
DIRNAME = "cifar-100-python-target"

_LABEL_MODES = ("fine", "coarse")


def load_data(label_mode: str = "fine") -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads CIFAR-100: 50,000 training and 10,000 test colour images in 100 classes.

    The archive is downloaded once into `$KERAS_HOME/datasets/` (`~/.keras/datasets/` by
    default) and extracted there, where an earlier Keras download is found and reused. Its
    files are pickles; they are read without unpickling (see `kfit.datasets.pickle_reader`).

    Args:
        label_mode: `"fine"` for the 100 classes (labels 0-99), `"coarse"` for the 20
            superclasses (labels 0-19).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: images are `uint8` arrays of shape
        `(n, 32, 32, 3)` (`(n, 3, 32, 32)` when
        `kfit.backend.image_data_format()` is `"channels_first"`) with values 0-255; labels are `int64` arrays of shape
        `(n, 1)`, as Keras returns them.

    Raises:
        ValueError: When `label_mode` is unknown, or the archive fails its hash check.
        Exception: When the archive is not cached and cannot be downloaded.

    Example:
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> if os.path.isdir(os.path.join(home, "datasets", DIRNAME)):  # doctests never download
        ...     (x_train, y_train), _ = load_data(label_mode="coarse")
        ...     assert x_train.shape == (50000, 32, 32, 3) and int(y_train.max()) == 19
    """
    if label_mode not in _LABEL_MODES:
        raise ValueError(f'Expected `label_mode` to be "fine" or "coarse". {received("label_mode", label_mode)}')
    extracted = get_file(fname=DIRNAME, origin=ORIGIN, extract=True, file_hash=FILE_HASH)
    folder = os.path.join(extracted, "cifar-100-python")
    x_train, y_train = load_batch(os.path.join(folder, "train"), label_key=f"{label_mode}_labels")
    x_test, y_test = load_batch(os.path.join(folder, "test"), label_key=f"{label_mode}_labels")
    if image_data_format() == "channels_last":
        # Stored channels first; as in Keras, a transposed view rather than a copy.
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return (
        (x_train, np.array(y_train).reshape(-1, 1)),
        (x_test, np.array(y_test).reshape(-1, 1)),
    )
