"""What the two housing (regression) loaders share: reading `x` and `y`, the shuffle and split.

Keras's `boston_housing` and `california_housing` shuffle the rows with
`np.random.RandomState(seed)` and then take the first `int(n * (1 - test_split))` rows for
training; `shuffle_split` does exactly that, so the same seed gives the same split.
"""

from __future__ import annotations

import numpy as np

from kfit.utils.errors import received

__all__ = ["check_test_split", "load_npz_xy", "shuffle_split"]


def shuffle_split(
    x: np.ndarray, y: np.ndarray, test_split: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Shuffles `x` and `y` with `np.random.RandomState(seed)`, then cuts off the test split.

    The first `int(len(x) * (1 - test_split))` shuffled rows are the training split, as in
    Keras's regression datasets, so a seed gives the same split as Keras.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = shuffle_split(np.arange(5), np.arange(5), 0.4, seed=0)
        >>> sorted(x_train.tolist() + x_test.tolist()), len(x_test), bool((x_train == y_train).all())
        ([0, 1, 2, 3, 4], 2, True)
    """
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])


def load_npz_xy(local: str, path: str, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads arrays `x` and `y` from a regression dataset's `.npz` file (no pickles allowed).

    Example:
        >>> import os, tempfile
        >>> local = os.path.join(tempfile.mkdtemp(), "data.npz")
        >>> np.savez(local, x=np.ones((3, 2)), y=np.zeros(3))
        >>> [a.shape for a in load_npz_xy(local, "data.npz", "test")]
        [(3, 2), (3,)]
    """
    with np.load(local, allow_pickle=False) as data:
        missing = [key for key in ("x", "y") if key not in data.files]
        if missing:
            raise ValueError(
                f"Expected the file at {local} to be the {dataset} archive with arrays ('x', 'y'), "
                f"but it lacks {missing}. {received('path', path)} Delete the file so that it is "
                "downloaded again, or pass the right `path`."
            )
        return data["x"], data["y"]


def check_test_split(test_split: float) -> None:
    """Raises unless `0 <= test_split < 1`, the range Keras's regression datasets accept.

    Example:
        >>> check_test_split(1.0)
        Traceback (most recent call last):
        ...
        ValueError: Expected `test_split` to be at least 0 and below 1. Received: test_split=1.0 ...
    """
    if not 0 <= test_split < 1:
        raise ValueError(
            f"Expected `test_split` to be at least 0 and below 1. {received('test_split', test_split)} "
            "Pass e.g. test_split=0.2."
        )
