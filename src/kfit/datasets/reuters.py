"""Reuters newswires labelled by topic (46 topics), as word-index lists, loaded as Keras does."""

from __future__ import annotations

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

__all__ = ["get_label_names", "get_word_index", "load_data"]

#: Folder of `reuters.npz` and `reuters_word_index.json`; Keras downloads the same files.
ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
#: SHA-256 of `reuters.npz`.
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
#: MD5 of `reuters_word_index.json` (the hash Keras pins).
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"

# The topic of each label, in label order.
_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)  # fmt: skip


def load_data(
    path: str = "reuters.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the 11,228 Reuters newswires, each labelled with one of 46 topics.

    Each newswire is a list of word indices, where a word's rank by frequency (1 = most
    frequent) is shifted by `index_from`; 0 is left for padding. The newswires are shuffled with
    `np.random.RandomState(seed)` and then split, so a seed gives the same split as Keras. The
    file is downloaded once into `$KERAS_HOME/datasets/` (`~/.keras/datasets/` by default),
    where an earlier Keras download is reused; its ragged arrays are read without unpickling.

    Args:
        path: File name of the dataset in the cache's `datasets` folder.
        num_words: Keep only words whose index is below this; the others become `oov_char`.
            `None` keeps all but the largest index, as Keras does.
        skip_top: Replace words whose index is below this by `oov_char` as well.
        maxlen: Drop the newswires of `maxlen` or more indices (start mark included), before
            the split. `None` keeps all; nothing is truncated.
        test_split: Fraction of the newswires, taken from the end, that form the test split.
        seed: Seed of the shuffle.
        start_char: Index put at the start of every newswire; `None` for none.
        oov_char: Index that replaces the words cut by `num_words` or `skip_top`; `None`
            removes them instead.
        index_from: Offset added to every word rank.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` are 1-D object arrays of lists of ints,
        `y` integer arrays of topics 0-45 (see `get_label_names`).

    Raises:
        ValueError: When `test_split` is not within [0, 1], or the file fails its hash check.
        Exception: When the file is not cached and cannot be downloaded.

    Example:
        >>> import os
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> if os.path.exists(os.path.join(home, "datasets", "reuters.npz")):  # doctests never download
        ...     (x_train, y_train), (x_test, y_test) = load_data(num_words=10000)
        ...     assert len(x_train) + len(x_test) == 11228 and int(y_train.max()) == 45
    """
    if not 0 <= test_split <= 1:
        raise ValueError(
            f"Expected `test_split` to be a fraction between 0 and 1. {received('test_split', test_split)} "
            "Pass e.g. test_split=0.2."
        )
    local = get_file(fname=path, origin=f"{ORIGIN_FOLDER}reuters.npz", file_hash=FILE_HASH)
    arrays = load_npz(local)
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise ValueError(
            f"Expected the file at {local} to be the Reuters archive with arrays ('x', 'y'), but "
            f"it lacks {missing}. {received('path', path)} Delete the file so that it is "
            "downloaded again, or pass the right `path`."
        )
    sequences, labels = as_sequences(arrays["x"], "x", local), arrays["y"]

    order = np.arange(len(sequences))
    np.random.RandomState(seed).shuffle(order)
    sequences, labels = [sequences[i] for i in order], labels[order]

    sequences, kept_labels = drop_long(shift_indices(sequences, start_char, index_from), labels, maxlen)
    sequences = limit_vocabulary(sequences, num_words, skip_top, oov_char)
    split = int(len(sequences) * (1 - test_split))
    return (
        (to_object_array(sequences[:split]), np.array(kept_labels[:split])),
        (to_object_array(sequences[split:]), np.array(kept_labels[split:])),
    )


def get_word_index(path: str = "reuters_word_index.json") -> dict[str, int]:
    """Returns the `{word: rank}` dict of the Reuters newswires (ranks start at 1).

    In `load_data`'s sequences a word's index is its rank plus `index_from` (3 by default).

    Args:
        path: File name in the cache's `datasets` folder.

    Returns:
        The word index.

    Example:
        >>> import os
        >>> home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        >>> if os.path.exists(os.path.join(home, "datasets", "reuters_word_index.json")):
        ...     assert get_word_index()["the"] == 1
    """
    local = get_file(fname=path, origin=f"{ORIGIN_FOLDER}reuters_word_index.json", file_hash=WORD_INDEX_HASH)
    return read_word_index(local)


def get_label_names() -> tuple[str, ...]:
    """Returns the 46 topic names, indexed by label.

    Example:
        >>> names = get_label_names()
        >>> len(names), names[3]
        (46, 'earn')
    """
    return _LABEL_NAMES
