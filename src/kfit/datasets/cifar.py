"""Reads one batch file of Keras's CIFAR-10 and CIFAR-100 downloads (the "python version").

Each batch file is a Python 2 pickle of a dict: `data`, a `uint8` array with one flattened
image of 3,072 values per row (the red, then green, then blue 32x32 plane), the labels under
`labels` (CIFAR-10) or `fine_labels` and `coarse_labels` (CIFAR-100), and file names. The dict
is read with `kfit.datasets.pickle_reader.read_pickle`, which executes nothing from the file.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kfit.datasets.pickle_reader import read_pickle
from kfit.utils.errors import received

__all__ = ["load_batch"]

_IMAGE_SIZE = 3 * 32 * 32


def load_batch(path: str | os.PathLike[str], label_key: str = "labels") -> tuple[np.ndarray, list[int]]:
    """Reads the images and labels of one CIFAR batch file.

    Args:
        path: A batch file, e.g. `cifar-10-batches-py/data_batch_1` or `cifar-100-python/test`.
        label_key: The labels to return: `"labels"` for CIFAR-10, `"fine_labels"` or
            `"coarse_labels"` for CIFAR-100.

    Returns:
        `(images, labels)`: a `uint8` array of shape `(n, 3, 32, 32)` (channels first, as
        stored) and a list of `n` integer labels.

    Raises:
        ValueError: When the file is not a CIFAR batch or lacks `label_key`.

    Example:
        >>> import pickle, tempfile
        >>> batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [4, 7]}
        >>> path = os.path.join(tempfile.mkdtemp(), "data_batch_1")
        >>> with open(path, "wb") as f:
        ...     pickle.dump(batch, f, protocol=2)
        >>> images, labels = load_batch(path)
        >>> images.shape, labels
        ((2, 3, 32, 32), [4, 7])
    """
    with open(path, "rb") as f:
        content = read_pickle(f.read())
    if not isinstance(content, dict):
        raise ValueError(
            f"Expected {path} to be a CIFAR batch (a pickled dict), but it holds a "
            f"{type(content).__name__}. Delete the file's folder so that it is downloaded again."
        )
    batch = {key.decode("utf-8") if isinstance(key, bytes) else key: value for key, value in content.items()}
    data: Any = batch.get("data")
    labels: Any = batch.get(label_key)
    is_images = isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
    if not (is_images and data.shape[1] == _IMAGE_SIZE):
        raise ValueError(
            f"Expected {path} to hold `data`, a uint8 array with {_IMAGE_SIZE} values per row, but "
            f"found {getattr(data, 'dtype', type(data).__name__)} of shape {getattr(data, 'shape', None)}. "
            "Delete the file's folder so that it is downloaded again."
        )
    if not (isinstance(labels, list) and len(labels) == len(data) and all(type(v) is int for v in labels)):
        raise ValueError(
            f"Expected {path} to hold {len(data)} integer labels under {label_key!r}; its keys are "
            f"{sorted(map(str, batch))}. {received('label_key', label_key)} Use "
            "'labels' for CIFAR-10 and 'fine_labels' or 'coarse_labels' for CIFAR-100."
        )
    return data.reshape(len(data), 3, 32, 32), labels

