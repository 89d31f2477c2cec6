"""IMDB movie reviews labelled by sentiment, as word-index lists, loaded as Keras loads them."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from kfit.datasets.pickle_reader import load_npz
from kfit.datasets.text_sequences import (
    as_sequences,
    drop_long,
    limit_vocabulary,
    read_word_index,
    shift_indices,
    to_object_array,
)
from kfit.utils.errors import received
from kfit.utils.file_utils import get_file

__all__ = ["get_word_index", "load_data"]

#: Folder of `imdb.npz` and `imdb_word_index.json`; Keras downloads the same files.
ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
#: SHA-256 of `imdb.npz`.
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
#: MD5 of `imdb_word_index.json` (the hash Keras pins).
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"

_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(
    path: str = "imdb.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    **kwargs: Any,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the IMDB reviews: 25,000 training and 25,000 test reviews, positive (1) or not (0).

    Each review is a list of word indices, where a word's rank by frequency (1 = most frequent)
    is shifted by `index_from`; 0 is left for padding. Both splits are shuffled with
    `np.random.RandomState(seed)`, so a seed gives the same order as Keras. The file is
    downloaded once into `$KERAS_HOME/datasets/` (`~/.keras/datasets/` by default), where an
    earlier Keras download is reused; its ragged arrays are read without unpickling.

    Args:
        path: File name of the dataset in the cache's `datasets` folder.
        num_words: Keep only words whose index is below this (the `num_words - index_from` most
            frequent); the others become `oov_char`. `None` keeps all but the largest index,
            as Keras does.
        skip_top: Replace words whose index is below this by `oov_char` as well.
        maxlen: Drop the reviews of `maxlen` or more indices (start mark included). `None`
            keeps all; nothing is truncated.
        seed: Seed of the shuffle.
        start_char: Index put at the start of every review; `None` for none.
        oov_char: Index that replaces the words cut by `num_words` or `skip_top`; `None`
            removes them instead.
        index_from: Offset added to every word rank.
        **kwargs: Accepted for compatibility with Keras, which ignores them; ignored with a
            warning.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` are 1-D object arrays of lists of ints,
        `y` arrays of 0/1 labels.

    Raises:
        ValueError: When `maxlen` leaves a split empty, or the file fails its hash check.
        Exception: When the file is not cached and cannot be downloaded.

    Example:
        >>> import os
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> if os.path.exists(os.path.join(home, "datasets", "imdb.npz")):  # doctests never download
        ...     (x_train, y_train), _ = load_data(num_words=10000)
        ...     assert len(x_train) == 25000 and max(max(x) for x in x_train) < 10000
    """
    if kwargs:
        warnings.warn(
            f"kfit.datasets.imdb.load_data ignores these arguments, as Keras does: {sorted(kwargs)}.",
            stacklevel=2,
        )
    local = get_file(fname=path, origin=f"{ORIGIN_FOLDER}imdb.npz", file_hash=FILE_HASH)
    arrays = load_npz(local)
    missing = [key for key in _KEYS if key not in arrays]
    if missing:
        raise ValueError(
            f"Expected the file at {local} to be the IMDB archive with arrays {_KEYS}, but it "
            f"lacks {missing}. {received('path', path)} Delete the file so that it is downloaded "
            "again, or pass the right `path`."
        )
    x_train, x_test = (as_sequences(arrays[key], key, local) for key in ("x_train", "x_test"))
    labels_train, labels_test = arrays["y_train"], arrays["y_test"]

    # One generator, drawn for the training split and then the test split, as in Keras.
    rng = np.random.RandomState(seed)
    order = np.arange(len(x_train))
    rng.shuffle(order)
    x_train, labels_train = [x_train[i] for i in order], labels_train[order]
    order = np.arange(len(x_test))
    rng.shuffle(order)
    x_test, labels_test = [x_test[i] for i in order], labels_test[order]

    x_train, y_train = drop_long(shift_indices(x_train, start_char, index_from), labels_train, maxlen)
    x_test, y_test = drop_long(shift_indices(x_test, start_char, index_from), labels_test, maxlen)
    if not x_train or not x_test:
        raise ValueError(
            f"Expected `maxlen` to keep some reviews of each split, but none is shorter than it. "
            f"{received('maxlen', maxlen)} Pass a larger `maxlen`, or None to keep all reviews."
        )
    sequences = limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([np.asarray(y_train), np.asarray(y_test)])
    split = len(x_train)
    return (to_object_array(sequences[:split]), labels[:split]), (to_object_array(sequences[split:]), labels[split:])


def get_word_index(path: str = "imdb_word_index.json") -> dict[str, int]:
    """Returns the `{word: rank}` dict of the IMDB reviews (ranks start at 1).

    In `load_data`'s sequences a word's index is its rank plus `index_from` (3 by default).

    Args:
        path: File name in the cache's `datasets` folder.

    Returns:
        The word index.

    Example:
        >>> import os
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> if os.path.exists(os.path.join(home, "datasets", "imdb_word_index.json")):
        ...     assert get_word_index()["the"] == 1
    """
    local = get_file(fname=path, origin=f"{ORIGIN_FOLDER}imdb_word_index.json", file_hash=WORD_INDEX_HASH)
    return read_word_index(local)
