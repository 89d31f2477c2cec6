"""Boston house prices (StatLib, 1970s): 506 districts with 13 features, as Keras loads them."""

from __future__ import annotations

import numpy as np

from kfit.datasets.tabular import check_test_split, load_npz_xy, shuffle_split
from kfit.utils.file_utils import get_file

__all__ = ["load_data"]

#: URL of the file; Keras downloads the same one, so its cached copy is reused.
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
#: SHA-256 of the file at `ORIGIN`.
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(
    path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the Boston Housing regression data: 13 features per district, prices in k$.

    Beware: one of the 13 features encodes the proportion of Black residents, a feature with a
    known ethical problem; Keras advises using this dataset only to discuss such problems
    (`kfit.datasets.california_housing` is a replacement). The file is downloaded once into
    `$KERAS_HOME/datasets/` (`~/.keras/datasets/` by default), where a Keras download is reused.

    Args:
        path: File name of the dataset in the cache's `datasets` folder.
        test_split: Fraction of the 506 rows, taken after shuffling, for the test split.
        seed: Seed of the shuffle (`np.random.RandomState`), giving the same split as Keras.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `float64` arrays, `x` of shape `(n, 13)`, `y` of
        shape `(n,)` (median house values, mostly 10-50).

    Raises:
        ValueError: When `test_split` is not in [0, 1), or the file fails its hash check.
        Exception: When the file is not cached and cannot be downloaded.

    Example:
        >>> import os
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> if os.path.exists(os.path.join(home, "datasets", "boston_housing.npz")):  # never download
        ...     (x_train, y_train), (x_test, y_test) = load_data()
        ...     assert x_train.shape == (404, 13) and y_test.shape == (102,)
    """
    check_test_split(test_split)
    local = get_file(path, origin=ORIGIN, file_hash=FILE_HASH)
    x, y = load_npz_xy(local, path, "Boston Housing")
    return shuffle_split(x, y, test_split, seed)
