"""Datasets of files found in a folder tree: the shared half of `image_dataset_from_directory`
and `text_dataset_from_directory`.

Keras returns a `tf.data.Dataset` from these; kfit has no TensorFlow, so it returns a
`DirectoryDataset`, a `kfit.utils.PyDataset` whose batch `i` is read from disk when asked
for (by `fit`, possibly in worker threads, or by `for x, y in dataset:`).

What follows Keras exactly: which files are found (the allowed extensions, case-insensitive;
class folders and files in alphanumeric order; hidden class folders skipped), the labels they
get, the seeded shuffle of the file list (`numpy.random.RandomState(seed)`, so `file_paths`
comes out in Keras's order), the split (the last `int(validation_split * n)` files are the
validation set) and the messages printed. Where Keras's `tf.data` shuffles again through a
buffer on every pass, a shuffled dataset here draws a fresh permutation of its files after
each pass (`on_epoch_end`), from the same seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kfit.utils import io_utils
from kfit.utils.errors import received
from kfit.utils.py_dataset import PyDataset

__all__ = [
    "DirectoryDataset",
    "build_subsets",
    "check_directory_args",
    "check_validation_split",
    "encode_labels",
    "index_directory",
    "split_files",
]

LABEL_MODES = ("int", "categorical", "binary", None)


def check_directory_args(labels: Any, label_mode: Any, class_names: Any, batch_size: Any) -> None:
    """Raises for `labels`, `label_mode`, `class_names` or `batch_size` values Keras refuses."""
    if not (isinstance(labels, str) and labels == "inferred") and labels is not None:
        if not isinstance(labels, (list, tuple, np.ndarray)) or isinstance(labels, str):
            raise ValueError(
                "Expected `labels` to be 'inferred' (one class per subfolder), None (no labels) "
                f"or a list of integer labels, one per file in sorted path order. "
                f"{received('labels', labels)} Pass labels='inferred' to use the subfolder names."
            )
        if class_names:
            raise ValueError(
                "Expected `class_names` only with labels='inferred' (it names subfolders). "
                f"{received('class_names', class_names)} Remove `class_names`; with a list of "
                "labels the class names are the sorted distinct labels."
            )
    if label_mode not in LABEL_MODES:
        raise ValueError(
            f"Expected `label_mode` to be one of {LABEL_MODES}. {received('label_mode', label_mode)} "
            "Use 'int' for sparse_categorical_crossentropy, 'categorical' for "
            "categorical_crossentropy, 'binary' for binary_crossentropy."
        )
    if class_names is not None and (
        isinstance(class_names, str) or not all(isinstance(name, str) for name in class_names)
    ):
        raise ValueError(
            "Expected `class_names` to be a list of subfolder names (strings). "
            f"{received('class_names', class_names)} Pass e.g. class_names=['cats', 'dogs']."
        )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise ValueError(
            "Expected `batch_size` to be a positive integer, or None for single samples. "
            f"{received('batch_size', batch_size)} Pass e.g. batch_size=32."
        )


def check_validation_split(validation_split: Any, subset: Any, shuffle: bool, seed: Any) -> None:
    """Raises when `validation_split`, `subset`, `shuffle` and `seed` do not go together.

    Example:
        >>> check_validation_split(0.2, "both", shuffle=True, seed=1)
        >>> try:
        ...     check_validation_split(None, "training", shuffle=True, seed=1)
        ... except ValueError:
        ...     print("refused")
        refused
    """
    if validation_split is not None and (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float, np.floating))
        or (validation_split and not 0 < validation_split < 1)
    ):
        raise ValueError(
            "Expected `validation_split` to be a float strictly between 0 and 1. "
            f"{received('validation_split', validation_split)} Pass e.g. validation_split=0.2."
        )
    if subset not in ("training", "validation", "both", None):
        raise ValueError(
            f"Expected `subset` to be 'training', 'validation', 'both' or None. {received('subset', subset)}"
        )
    if bool(validation_split) != bool(subset):
        raise ValueError(
            "Expected `validation_split` and `subset` to be set together. Received: "
            f"validation_split={validation_split!r}, subset={subset!r}. Pass both (e.g. "
            "validation_split=0.2, subset='both') or neither."
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "Expected a `seed` with `validation_split` and shuffle=True, so that the training "
            "and validation calls shuffle the files alike and do not overlap. Received: seed=None. "
            "Pass e.g. seed=1337 to every call."
        )


def _walk_files(folder: str, follow_links: bool, formats: tuple[str, ...]) -> list[str]:
    """Paths under `folder` with an allowed extension, relative to it, in Keras's order."""
    found = []
    # Keras sorts the walk by folder path, then the files of each folder by name.
    for root, _, files in sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                found.append(os.path.relpath(os.path.join(root, name), folder))
    return found


def index_directory(
    directory: str | os.PathLike[str],
    labels: Any,
    formats: tuple[str, ...],
    class_names: Sequence[str] | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    follow_links: bool = False,
    verbose: bool = True,
) -> tuple[list[str], np.ndarray | None, list[str] | None]:
    """Lists the files under `directory` with their labels, as Keras's `index_directory` does.

    Args:
        directory: The root folder.
        labels: `"inferred"` (the subfolder is the class), None, or one integer label per file
            in sorted path order.
        formats: Allowed extensions, lower case with the dot, e.g. `(".txt",)`.
        class_names: With `labels="inferred"`, the subfolders to use, in label order.
        shuffle: Whether to shuffle the files (and labels alike) with `seed`; else sorted.
        seed: The shuffle's seed; None draws one.
        follow_links: Whether to walk into symlinked subfolders.
        verbose: Whether to print how many files and classes were found.

    Returns:
        `(file_paths, labels, class_names)`: paths joined to `directory`, an int32 array of
        labels (None without labels) and the class names (None without labels).

    Raises:
        FileNotFoundError: if `directory` is not a folder.
        ValueError: if `class_names` names missing subfolders, or `labels` has the wrong length.

    Example:
        >>> import os, tempfile
        >>> root = tempfile.TemporaryDirectory()
        >>> for path in ("b/2.txt", "b/1.txt", "a/x.txt", "a/skip.csv"):
        ...     os.makedirs(os.path.dirname(os.path.join(root.name, path)), exist_ok=True)
        ...     open(os.path.join(root.name, path), "w").close()
        >>> paths, labels, names = index_directory(root.name, "inferred", (".txt",), shuffle=False)
        Found 3 files belonging to 2 classes.
        >>> [os.path.relpath(p, root.name) for p in paths], labels.tolist(), names
        (['a/x.txt', 'b/1.txt', 'b/2.txt'], [0, 1, 1], ['a', 'b'])
        >>> root.cleanup()
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Expected `directory` to be an existing folder. {received('directory', directory)} Check the path."
        )
    inferred = isinstance(labels, str) and labels == "inferred"
    if inferred:
        subfolders = [
            name
            for name in sorted(os.listdir(directory))
            if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")
        ]
        if class_names is not None:
            missing = sorted(set(class_names) - set(subfolders))
            if missing:
                raise ValueError(
                    f"Expected `class_names` to name subfolders of {directory!r} ({subfolders}). "
                    f"{received('class_names', class_names)} Not found: {missing}."
                )
            subfolders = list(class_names)
    else:
        if class_names is not None:
            raise ValueError(
                f"Expected no `class_names` unless labels='inferred'. {received('class_names', class_names)} Remove it."
            )
        subfolders = [""]
    file_paths: list[str] = []
    label_list: list[int] = []
    for index, sub in enumerate(subfolders):
        for relative in _walk_files(os.path.join(directory, sub), follow_links, formats):
            file_paths.append(os.path.join(directory, sub, relative) if sub else os.path.join(directory, relative))
            label_list.append(index)
    names: list[str] | None
    label_array: np.ndarray | None
    if inferred:
        label_array = np.asarray(label_list, dtype="int32")
        names = list(subfolders)
    elif labels is None:
        label_array, names = None, None
    else:
        if len(labels) != len(file_paths):
            raise ValueError(
                f"Expected one label per file: {len(file_paths)} files were found under "
                f"{directory!r}. Received: len(labels)={len(labels)}. Pass one integer label per "
                "file, in sorted path order."
            )
        label_array = np.array(labels, dtype="int32")  # a copy: the shuffle below is in place
        names = [str(label) for label in sorted(set(label_array.tolist()))]
    if verbose:
        if names is None:
            io_utils.print_msg(f"Found {len(file_paths)} files.")
        else:
            io_utils.print_msg(f"Found {len(file_paths)} files belonging to {len(names)} classes.")
    if shuffle:
        if seed is None:
            seed = int(np.random.randint(1_000_000))
        # Keras shuffles paths and labels with two generators of the same seed.
        np.random.RandomState(seed).shuffle(file_paths)
        if label_array is not None:
            np.random.RandomState(seed).shuffle(label_array)
    return file_paths, label_array, names


def split_files(
    paths: list[str],
    labels: np.ndarray | None,
    validation_split: float | None,
    subset: str | None,
    verbose: bool = True,
) -> tuple[list[str], np.ndarray | None]:
    """The training (all but the last `int(validation_split * n)`) or validation files.

    Example:
        >>> split_files(list("abcde"), None, 0.4, "validation")
        Using 2 files for validation.
        (['d', 'e'], None)
    """
    if not validation_split:
        return paths, labels
    num_val = int(validation_split * len(paths))
    cut = len(paths) - num_val
    keep = slice(None, cut) if subset == "training" else slice(cut, None)
    if verbose:
        count = cut if subset == "training" else num_val
        io_utils.print_msg(f"Using {count} files for {subset}.")
    return paths[keep], None if labels is None else labels[keep]


def build_subsets(
    paths: list[str],
    labels: np.ndarray | None,
    validation_split: float | None,
    subset: str | None,
    shuffle: bool,
    build: Callable[[list[str], np.ndarray | None, bool], DirectoryDataset],
    found: str,
) -> DirectoryDataset | tuple[DirectoryDataset, DirectoryDataset]:
    """The dataset of `subset`, or `(training, validation)` for `subset="both"`.

    `build(paths, labels, reshuffle)` makes each one; `found` describes the files looked for in
    the error raised when a subset gets none (e.g. "images under 'data' (extensions: ...)").
    """

    def make(which: str | None, reshuffle: bool) -> DirectoryDataset:
        subset_paths, subset_labels = split_files(paths, labels, validation_split, which)
        if not subset_paths:
            part = f"{which} " if which else ""
            raise ValueError(
                f"Expected {part}{found}: none were found. Check the folder, or lower "
                "`validation_split` so that both subsets get files."
            )
        return build(subset_paths, subset_labels, reshuffle)

    if subset == "both":
        # As in Keras, the validation half is never reshuffled.
        return make("training", shuffle), make("validation", False)
    return make(subset, shuffle)


def encode_labels(labels: np.ndarray, label_mode: str, num_classes: int) -> np.ndarray:
    """Integer labels as Keras's `label_mode` encodes them.

    `"int"`: int32 `(n,)`; `"binary"`: float32 `(n, 1)`; `"categorical"`: float32 one-hot
    `(n, num_classes)` (a label outside `[0, num_classes)` gets a row of zeros, as
    `one_hot` gives).

    Example:
        >>> encode_labels(np.array([1, 0]), "categorical", 3).tolist()
        [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """
    if label_mode == "binary":
        return labels.astype("float32").reshape(-1, 1)
    if label_mode == "categorical":
        return (labels.reshape(-1, 1) == np.arange(num_classes)).astype("float32")
    return labels.astype("int32")


class DirectoryDataset(PyDataset):
    """Batches of files read by `load` (one path to one sample) and their encoded labels.

    Args:
        file_paths: The files, in the order of the first pass.
        labels: Their int labels, or None to yield samples alone.
        label_mode: How labels are encoded (see `encode_labels`).
        class_names: The class names (None without labels).
        load: Reads one file into one numpy sample; must be picklable for worker processes.
        batch_size: Samples per batch; None yields single samples.
        shuffle: Whether each later pass uses a fresh permutation of the files.
        seed: The seed of those permutations.

    Attributes:
        class_names: As in Keras: the class names in label order (None without labels).
        file_paths: The files, in the order of the first pass.

    Example:
        >>> ds = DirectoryDataset(["a", "bb", "ccc"], np.array([0, 1, 1]), "int", ["x", "y"],
        ...                       load=len, batch_size=2, shuffle=False, seed=None)
        >>> [(x.tolist(), y.tolist()) for x, y in ds]
        [([1, 2], [0, 1]), ([3], [1])]
    """

    def __init__(
        self,
        file_paths: list[str],
        labels: np.ndarray | None,
        label_mode: str | None,
        class_names: list[str] | None,
        load: Callable[[str], Any],
        batch_size: int | None,
        shuffle: bool,
        seed: int | None,
    ) -> None:
        super().__init__()
        self.file_paths = list(file_paths)
        self.class_names = class_names
        self.batch_size = batch_size
        self._labels = labels
        self._label_mode = label_mode
        self._load = load
        self._order = np.arange(len(self.file_paths))
        self._rng = np.random.RandomState(seed) if shuffle else None

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.file_paths)
        return (len(self.file_paths) + self.batch_size - 1) // self.batch_size

    def _stack(self, samples: list[Any]) -> np.ndarray:
        return np.stack(samples)

    def __getitem__(self, index: int) -> Any:
        if not -len(self) <= index < len(self):
            raise IndexError(f"Expected a batch index below {len(self)}. {received('index', index)}")
        index %= len(self)
        size = 1 if self.batch_size is None else self.batch_size
        chosen = self._order[index * size : (index + 1) * size]
        samples = [self._load(self.file_paths[i]) for i in chosen]
        x = samples[0] if self.batch_size is None else self._stack(samples)
        if self._labels is None or self._label_mode is None:
            return x
        y = encode_labels(self._labels[chosen], self._label_mode, len(self.class_names or ()))
        return x, (y[0] if self.batch_size is None else y)

    def on_epoch_end(self) -> None:
        if self._rng is not None:
            self._order = self._rng.permutation(len(self.file_paths))
