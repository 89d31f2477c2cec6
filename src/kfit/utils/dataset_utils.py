"""`split_dataset`: a train/test split of arrays or a torch `Dataset`, as torch Datasets."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from kfit.utils.errors import received

__all__ = ["split_dataset"]


class _Rows(Dataset):
    """Arrays (one, a tuple/list, or a dict) seen as a dataset of rows, as tensors.

    A lone array gives 1-tuples `(x_i,)`, as torch's `TensorDataset` (and Keras's torch
    backend) does; a tuple or list gives a tuple, a dict a dict.
    """

    def __init__(self, data: Any) -> None:
        self.data = data

    def __len__(self) -> int:
        return int(_leaves(self.data)[0].shape[0])

    def __getitem__(self, index: int) -> Any:
        data = self.data
        if isinstance(data, Mapping):
            return {key: value[index] for key, value in data.items()}
        if isinstance(data, (tuple, list)):
            return tuple(value[index] for value in data)
        return (data[index],)


def _leaves(data: Any) -> list[torch.Tensor]:
    if isinstance(data, Mapping):
        return list(data.values())
    if isinstance(data, (tuple, list)):
        return list(data)
    return [data]


def _as_rows(dataset: Any) -> Dataset:
    """The dataset to split: a torch Dataset as it is, arrays as a dataset of their rows."""
    if isinstance(dataset, Dataset):
        if not hasattr(dataset, "__len__"):
            raise TypeError(
                "Expected a torch Dataset with a length (a map-style dataset) to split. "
                f"{received('dataset', dataset)} An IterableDataset cannot be split by index: "
                "collect its samples into arrays first."
            )
        return dataset

    def tensor(value: Any) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, np.ndarray):
            return torch.from_numpy(value)
        raise TypeError(
            "Expected `dataset` to be a torch Dataset, an array or tensor, or a tuple, list or "
            f"dict of arrays of the same length. {received('dataset', dataset)} "
            f"(holding a {type(value).__name__}). Convert it with np.asarray()."
        )

    if isinstance(dataset, Mapping):
        data: Any = {key: tensor(value) for key, value in dataset.items()}
    elif isinstance(dataset, (tuple, list)):
        data = tuple(tensor(value) for value in dataset)
    else:
        data = tensor(dataset)
    leaves = _leaves(data)
    lengths = {int(leaf.shape[0]) if leaf.dim() else -1 for leaf in leaves}
    if not leaves or len(lengths) != 1 or -1 in lengths:
        raise ValueError(
            "Expected the arrays of `dataset` to have the same, non-zero number of rows. "
            f"Received: arrays of shapes {[tuple(leaf.shape) for leaf in leaves]}. Pass arrays "
            "with one row per sample."
        )
    return _Rows(data)


def _size(value: Any, name: str, total: int) -> int | None:
    """A split size as a number of samples (None when not given)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Expected `{name}` to be an int, a float or None. {received(name, value)} "
            f"Pass e.g. {name}=0.8 (a fraction) or {name}=100 (a number of samples)."
        )
    if isinstance(value, numbers.Integral):
        count = int(value)
        if not 0 < count < total:
            raise ValueError(
                f"Expected `{name}` to be a positive integer smaller than {total} (the number "
                f"of samples), or a float in (0, 1). {received(name, value)} Pass a size "
                "that leaves samples on both sides."
            )
        return count
    fraction = float(value)
    if not 0.0 < fraction < 1.0:
        raise ValueError(
            f"Expected `{name}` as a float to be a fraction in (0, 1). {received(name, value)} "
            f"Pass e.g. {name}=0.8, or an integer number of samples."
        )
    return round(fraction * total)


def split_dataset(
    dataset: Any,
    left_size: float | None = None,
    right_size: float | None = None,
    shuffle: bool = False,
    seed: int | None = None,
) -> tuple[Subset, Subset]:
    """Splits a dataset into a left part and a right part (e.g. train and test).

    As Keras 3 does with the torch backend, the parts are `torch.utils.data.Subset`s, which
    `fit`, `evaluate` and `predict` take (with `batch_size`). A lone array gives samples
    `(x_i,)`, a tuple or list of arrays gives tuples `(x_i, y_i, ...)`, a dict gives dicts.
    Unlike Keras's torch path, which always shuffles, `shuffle=False` keeps the order: the
    left part is the first samples, the right part the last ones.

    Args:
        dataset: A map-style torch `Dataset`, or a numpy array or tensor, or a tuple, list or
            dict of them with the same number of rows.
        left_size: The left part's size: a fraction in (0, 1) or a number of samples.
            Default: what `right_size` leaves.
        right_size: The right part's size, the same way. Default: what `left_size` leaves.
            When both are given and leave samples over, those are in neither part.
        shuffle: Whether to shuffle the samples before splitting them.
        seed: The shuffle's seed; by default drawn from torch's global RNG (so
            `kfit.utils.set_random_seed` makes it reproducible).

    Returns:
        `(left, right)`, two `torch.utils.data.Subset`s.

    Raises:
        ValueError: when neither size is given, a size is out of range, the sizes add up
            to more than the dataset, a part would be empty, or the arrays' lengths differ.
        TypeError: for a size that is not a number, or a dataset of another type.

    Example:
        >>> import numpy as np
        >>> x, y = np.arange(10.0).reshape(10, 1), np.arange(10)
        >>> train, test = split_dataset((x, y), left_size=0.8)
        >>> len(train), len(test)
        (8, 2)
        >>> [int(label) for _, label in test]
        [8, 9]
    """
    if left_size is None and right_size is None:
        raise ValueError(
            "Expected `left_size` or `right_size` (or both). Received: left_size=None and "
            "right_size=None. Pass e.g. left_size=0.8."
        )
    rows = _as_rows(dataset)
    total = len(rows)  # type: ignore[arg-type]
    if (
        isinstance(left_size, float) and isinstance(right_size, float) and left_size + right_size > 1
    ):
        raise ValueError(
            "Expected `left_size` and `right_size` to add up to at most 1. Received: "
            f"left_size={left_size!r} and right_size={right_size!r}. Lower one of them."
        )
    left, right = _size(left_size, "left_size", total), _size(right_size, "right_size", total)
    left = total - right if left is None else left  # type: ignore[operator]
    right = total - left if right is None else right
    if left + right > total or not (left and right):
        raise ValueError(
            f"Expected both parts to be non-empty and to fit in the {total} samples. Received: "
            f"left_size={left_size!r} and right_size={right_size!r}, which give {left} and "
            f"{right} samples. Adjust the sizes."
        )
    if shuffle:
        generator = torch.Generator()
        generator.manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**62, (1,)).item()))
        order = torch.randperm(total, generator=generator).tolist()
    else:
        order = list(range(total))
    return Subset(rows, order[:left]), Subset(rows, order[total - right:])
