"""The word-index processing shared by the IMDB and Reuters loaders, done as Keras does it.

Both files store each text as a list of word ranks (1 = the most frequent word). Loading then
(1) shifts every rank by `index_from` and puts `start_char` in front, (2) drops the texts that
are too long, and (3) replaces the words outside `[skip_top, num_words)` by `oov_char` (or
drops them). The same options give the same lists as `keras.datasets.imdb` and `.reuters`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["as_sequences", "drop_long", "limit_vocabulary", "read_word_index", "shift_indices", "to_object_array"]


def as_sequences(array: Any, name: str, path: str) -> list[list[int]]:
    """Checks that `array` (an array of the file) is a 1-D array of sequences, and returns them.

    Each sequence may be stored as a list of ints or as a 1-D integer array; arrays become
    lists of Python ints, equal to the numpy integers Keras would keep.

    Example:
        >>> ragged = np.empty(2, dtype=object)
        >>> ragged[0], ragged[1] = [5, 6], [7]
        >>> as_sequences(ragged, "x", "data.npz")
        [[5, 6], [7]]
    """
    if isinstance(array, np.ndarray) and array.ndim == 1:
        sequences = [_as_list(s) for s in array]
        if all(s is not None for s in sequences):
            return [s for s in sequences if s is not None]
    raise ValueError(
        f"Expected array {name!r} of {path} to be a 1-D array of word-index lists, but it is "
        f"{type(array).__name__} of shape {getattr(array, 'shape', None)}. Delete the file so that "
        "it is downloaded again."
    )


def _as_list(sequence: Any) -> list[int] | None:
    if isinstance(sequence, list):
        return sequence
    if isinstance(sequence, np.ndarray) and sequence.ndim == 1 and sequence.dtype.kind in "iu":
        return sequence.tolist()
    return None


def shift_indices(sequences: Sequence[Sequence[int]], start_char: int | None, index_from: int) -> list[list[int]]:
    """Adds `index_from` to every index and puts `start_char` (unless `None`) in front.

    Example:
        >>> shift_indices([[1, 2], [3]], start_char=1, index_from=3)
        [[1, 4, 5], [1, 6]]
    """
    if start_char is not None:
        return [[start_char] + [w + index_from for w in s] for s in sequences]
    return [[w + index_from for w in s] for s in sequences]


def drop_long(
    sequences: list[list[int]], labels: Sequence[Any] | np.ndarray, maxlen: int | None
) -> tuple[list[list[int]], Any]:
    """Keeps only the sequences shorter than `maxlen` (all of them when `maxlen` is falsy).

    As in Keras, a sequence of exactly `maxlen` indices is dropped, and nothing is truncated.
    The labels come back as given without `maxlen`, else as a list (which matters to Keras's
    dtype of an empty split).

    Example:
        >>> drop_long([[1, 2, 3], [4]], ["a", "b"], maxlen=3)
        ([[4]], ['b'])
    """
    if not maxlen:
        return sequences, labels
    kept = [i for i, s in enumerate(sequences) if len(s) < maxlen]
    return [sequences[i] for i in kept], [labels[i] for i in kept]


def limit_vocabulary(
    sequences: list[list[int]], num_words: int | None, skip_top: int, oov_char: int | None
) -> list[list[int]]:
    """Replaces each index outside `[skip_top, num_words)` by `oov_char`, or drops it if `None`.

    Without `num_words`, the bound is the largest index present, which, as in Keras, is itself
    outside the range.

    Example:
        >>> limit_vocabulary([[1, 4, 9], [5]], num_words=6, skip_top=2, oov_char=2)
        [[2, 4, 2], [5]]
    """
    if not num_words:
        num_words = max((max(s) for s in sequences if s), default=0)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in s] for s in sequences]
    return [[w for w in s if skip_top <= w < num_words] for s in sequences]


def to_object_array(sequences: Sequence[list[int]]) -> np.ndarray:
    """A 1-D object array holding the lists (also when they happen to have equal lengths).

    Example:
        >>> to_object_array([[1, 2], [3, 4]]).shape
        (2,)
    """
    array = np.empty(len(sequences), dtype=object)
    for i, sequence in enumerate(sequences):
        array[i] = sequence
    return array


def read_word_index(path: str | os.PathLike[str]) -> dict[str, int]:
    """Reads a `{word: rank}` JSON file (`imdb_word_index.json`, `reuters_word_index.json`).

    Example:
        >>> import tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "words.json")
        >>> with open(path, "w") as f:
        ...     _ = f.write('{"the": 1, "a": 2}')
        >>> read_word_index(path)
        {'the': 1, 'a': 2}
    """
    with open(path, encoding="utf-8") as f:
        word_index = json.load(f)
    if not isinstance(word_index, dict):
        raise ValueError(
            f"Expected {path} to hold a JSON object mapping words to indices, but it holds a "
            f"{type(word_index).__name__}. Delete the file so that it is downloaded again."
        )
    return word_index
