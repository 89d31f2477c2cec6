"""`text_dataset_from_directory`: batches of texts (and labels) from a folder per class.

Keras returns a `tf.data.Dataset` of byte strings; kfit returns a `DirectoryDataset` (a
`kfit.utils.PyDataset`, see `kfit.utils.directory_dataset`) whose batches are numpy arrays of
dtype object holding Python `str`, read (UTF-8) only when the batch is asked for. Such an
array is refused by a model's numeric layers rather than silently converted, so map it to
numbers first (a tokenizer inside a `PyDataset`, or `kfit.utils.pad_sequences`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from kfit.utils.directory_dataset import (
    DirectoryDataset,
    build_subsets,
    check_directory_args,
    check_validation_split,
    index_directory,
)
from kfit.utils.errors import received

__all__ = ["read_text", "text_dataset_from_directory"]


def read_text(path: str, max_length: int | None = None) -> str:
    """The UTF-8 text of `path`, cut to its first `max_length` characters when given.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "a.txt")
        >>> _ = open(path, "w", encoding="utf-8").write("hello world")
        >>> read_text(path, max_length=5)
        'hello'
        >>> folder.cleanup()
    """
    with open(path, encoding="utf-8") as f:
        text = f.read() if max_length is None else f.read(max_length)
    return text


class _TextDataset(DirectoryDataset):
    def _stack(self, samples: list[Any]) -> np.ndarray:
        # np.array(list_of_str) would make a fixed-width "<U" array; Keras's strings are objects.
        batch = np.empty(len(samples), dtype=object)
        batch[:] = samples
        return batch


def text_dataset_from_directory(
    directory: str | os.PathLike[str],
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: Sequence[str] | None = None,
    batch_size: int | None = 32,
    max_length: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    follow_links: bool = False,
    verbose: bool = True,
) -> DirectoryDataset | tuple[DirectoryDataset, DirectoryDataset]:
    """A dataset of the `.txt` files under `directory`, labelled by subfolder (`keras.utils`).

    File discovery, labels, shuffling and splitting are those of
    `image_dataset_from_directory`, for files ending in `.txt`.

    Args:
        directory: The root folder.
        labels: `"inferred"`, None (texts only), or a list of integer labels, one per `.txt`
            file under `directory` in sorted path order.
        label_mode: `"int"`, `"categorical"`, `"binary"` (exactly two classes) or None.
        class_names: With `labels="inferred"`, the subfolders to use, in label order.
        batch_size: Texts per batch; None yields single texts (`str`).
        max_length: Cut each text to at most this many characters; None keeps it whole.
        shuffle: Whether to shuffle the files (seeded), and again after each pass.
        seed: The shuffle's seed (needed with `validation_split` and `shuffle`).
        validation_split: The fraction of files kept for validation (the last ones).
        subset: `"training"`, `"validation"`, or `"both"` for a `(training, validation)` pair.
        follow_links: Whether to walk into symlinked subfolders.
        verbose: Whether to print the number of files and classes found.

    Returns:
        A `DirectoryDataset` yielding `(texts, labels)` (texts alone without labels), texts
        as an object array of `str`, with `class_names` and `file_paths`; a pair of them for
        `subset="both"`.

    Raises:
        ValueError: for bad arguments (before any file is read), labels that do not match the
            files, or an empty (sub)set.
        FileNotFoundError: if `directory` is not a folder.

    Example:
        >>> import os, tempfile
        >>> root = tempfile.TemporaryDirectory()
        >>> for name, text in (("neg", "bad"), ("pos", "good")):
        ...     os.makedirs(os.path.join(root.name, name))
        ...     _ = open(os.path.join(root.name, name, "1.txt"), "w").write(text)
        >>> ds = text_dataset_from_directory(root.name, shuffle=False, verbose=False)
        >>> texts, labels = ds[0]
        >>> texts.tolist(), labels.tolist(), ds.class_names
        (['bad', 'good'], [0, 1], ['neg', 'pos'])
        >>> root.cleanup()
    """
    check_directory_args(labels, label_mode, class_names, batch_size)
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) or max_length < 0
    ):
        raise ValueError(
            "Expected `max_length` to be a non-negative integer or None. "
            f"{received('max_length', max_length)} Pass e.g. max_length=1000."
        )
    check_validation_split(validation_split, subset, shuffle, seed)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = int(np.random.randint(1_000_000))
    paths, label_array, names = index_directory(
        directory, labels, (".txt",), class_names, shuffle, seed, follow_links, verbose
    )
    if label_mode == "binary" and len(names or ()) != 2:
        raise ValueError(
            f"Expected exactly 2 classes with label_mode='binary'. {received('class_names', names)} "
            "Use label_mode='categorical' or 'int' for more classes."
        )
    load = functools.partial(read_text, max_length=max_length)

    return build_subsets(
        paths,
        label_array,
        validation_split,
        subset,
        shuffle,
        lambda files, file_labels, reshuffle: _TextDataset(
            files, file_labels, label_mode, names, load, batch_size, reshuffle, seed
        ),
        f"text files under {os.fspath(directory)!r} (extension: .txt)",
    )
