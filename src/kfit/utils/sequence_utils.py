"""`pad_sequences`: ragged sequences to one padded NumPy array (`keras.utils.pad_sequences`)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from kfit.utils.errors import received

__all__ = ["pad_sequences"]

_SIDES = ("pre", "post")


def pad_sequences(
    sequences: Any,
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pads (and truncates) a list of sequences to a NumPy array of shape `(num_samples, maxlen)`.

    Each sequence shorter than `maxlen` is filled with `value` before it (`padding="pre"`) or
    after it (`"post"`); a longer one loses its first (`truncating="pre"`) or last (`"post"`)
    elements. The items of a sequence may themselves be arrays of one shape (taken from the
    first non-empty sequence), which becomes the trailing shape of the result. Items and
    `value` are cast to `dtype` as NumPy casts them (a float `value` is truncated for an int
    `dtype`). For strings of varying length use `dtype=object`.

    Differences from Keras: `padding` and `truncating` are checked even when every sequence is
    empty; `maxlen=0` gives a zero-width array (Keras fails on non-empty sequences); and a
    string `value` is accepted with `dtype="object"` as it is with `dtype=object`.

    Args:
        sequences: A list (or any sized collection) of sequences: lists, tuples, arrays, tensors.
        maxlen: The length of every output row; `None` uses the longest sequence's length.
        dtype: The NumPy dtype of the result.
        padding: `"pre"` or `"post"`: on which side short sequences are padded.
        truncating: `"pre"` or `"post"`: from which side long sequences are cut.
        value: The fill value, a number or (with a string or object `dtype`) a string.

    Returns:
        A NumPy array of shape `(len(sequences), maxlen) + item_shape`.

    Raises:
        ValueError: if `sequences` has no length, one of its elements is not a sequence, items
            differ in shape, `padding`/`truncating` is not "pre" or "post", `maxlen` is negative
            or cannot be inferred (no sequences), or `value` is a string and `dtype` is neither
            a string nor an object dtype.
        TypeError: if `maxlen` is not an int or `dtype` is not a NumPy dtype.

    Example:
        >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
        array([[0, 0, 1],
               [0, 2, 3],
               [4, 5, 6]], dtype=int32)
        >>> pad_sequences([[1], [2, 3, 4]], maxlen=2, padding="post", truncating="post", value=-1)
        array([[ 1, -1],
               [ 2,  3]], dtype=int32)
    """
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in _SIDES:
            raise ValueError(
                f'Expected `{name}` to be "pre" or "post". {received(name, side)} Pass {name}="pre" or {name}="post".'
            )
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            f"Expected `sequences` to be a list of sequences (with a length). {received('sequences', sequences)} "
            "Pass a list, e.g. list(sequences) for a generator."
        )
    lengths = []
    item_shape: tuple[int, ...] | None = None
    for position, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise ValueError(
                "Expected `sequences` to hold sequences (lists, tuples, arrays), but the element at "
                f"position {position} has no length. {received(f'sequences[{position}]', sequence)} "
                "Pass a list of lists, e.g. [[1, 2], [3]]."
            ) from None
        if item_shape is None and lengths[-1]:
            item_shape = np.asarray(sequence).shape[1:]
    item_shape = item_shape or ()
    maxlen = _resolve_maxlen(maxlen, lengths)
    try:
        out_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"Expected `dtype` to be a NumPy dtype. {received('dtype', dtype)} Pass e.g. dtype='int32' or 'float32'."
        ) from None
    if isinstance(value, str) and out_dtype.kind not in "OSU":
        raise ValueError(
            f"Expected a string or object `dtype` for a string `value`. {received('value', value)} "
            f"The dtype is {out_dtype}: pass dtype=object for strings of varying length."
        )

    padded = np.full((len(lengths), maxlen, *item_shape), value, dtype=out_dtype)
    if maxlen == 0:
        return padded
    for row, (sequence, length) in enumerate(zip(sequences, lengths)):
        if not length:
            continue
        kept = np.asarray(sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen], dtype=out_dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(
                f"Expected every item of every sequence to have shape {item_shape} (that of the first "
                f"non-empty sequence), but the sequence at position {row} has items of shape "
                f"{kept.shape[1:]}. Pad or reshape the items to one shape."
            )
        if padding == "pre":
            padded[row, maxlen - len(kept) :] = kept
        else:
            padded[row, : len(kept)] = kept
    return padded


def _resolve_maxlen(maxlen: Any, lengths: list[int]) -> int:
    if maxlen is None:
        if not lengths:
            raise ValueError(
                "Expected at least one sequence to infer `maxlen` from. Received: sequences of length 0. "
                "Pass maxlen explicitly for an empty list."
            )
        return max(lengths)
    try:
        length = operator.index(maxlen)
    except TypeError:
        raise TypeError(
            f"Expected `maxlen` to be an int or None. {received('maxlen', maxlen)} Pass e.g. maxlen=100."
        ) from None
    if length < 0:
        raise ValueError(f"Expected `maxlen` to be >= 0. {received('maxlen', maxlen)} Pass e.g. maxlen=100.")
    return length
