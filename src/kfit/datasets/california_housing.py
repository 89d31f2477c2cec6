"""California house prices (1990 census): 20,640 block groups with 8 features, as Keras loads them."""

from __future__ import annotations

import numpy as np

from kfit.datasets.tabular import check_test_split, load_npz_xy, shuffle_split
from kfit.utils.errors import received
from kfit.utils.file_utils import get_file

__all__ = ["load_data"]

#: URL of the file; Keras downloads the same one, so its cached copy is reused.
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz"
#: SHA-256 of the file at `ORIGIN`.
FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"
#: Rows of the `"small"` version: the first rows of the file, before shuffling.
SMALL_SIZE = 600

_VERSIONS = ("large", "small")


def load_data(
    version: str = "large", path: str = "california_housing.npz", test_split: float = 0.2, seed: int = 113
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the California Housing regression data: 8 features per block group, prices in $.

    The features are the median income, median house age, average rooms, average bedrooms,
    population, average occupancy, latitude and longitude of a census block group. The file is
    downloaded once into `$KERAS_HOME/datasets/` (`~/.keras/datasets/` by default), where a
    Keras download is reused.

    Args:
        version: `"large"` for all 20,640 rows, `"small"` for the first 600 (a stand-in for
            the Boston Housing data).
        path: File name of the dataset in the cache's `datasets` folder.
        test_split: Fraction of the rows, taken after shuffling, for the test split.
        seed: Seed of the shuffle (`np.random.RandomState`), giving the same split as Keras.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` of shape `(n, 8)`, `y` of shape `(n,)`
        (median house values, mostly 25,000-500,000), with the file's dtypes.

    Raises:
        ValueError: When `version` or `test_split` is invalid, or the file fails its hash check.
        Exception: When the file is not cached and cannot be downloaded.

    Example:
        >>> import os
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> if os.path.exists(os.path.join(home, "datasets", "california_housing.npz")):  # never download
        ...     (x_train, y_train), (x_test, y_test) = load_data(version="small")
        ...     assert x_train.shape == (480, 8) and y_test.shape == (120,)
    """
    check_test_split(test_split)
    if version not in _VERSIONS:
        raise ValueError(f'Expected `version` to be "large" or "small". {received("version", version)}')
    local = get_file(path, origin=ORIGIN, file_hash=FILE_HASH)
    x, y = load_npz_xy(local, path, "California Housing")
    if version == "small":
        x, y = x[:SMALL_SIZE], y[:SMALL_SIZE]
    return shuffle_split(x, y, test_split, seed)
