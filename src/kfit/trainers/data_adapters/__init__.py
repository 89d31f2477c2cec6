"""Data adapters: turn whatever the user passed to fit/evaluate/predict into passes of batches.

Every adapter has `iter_pass()` (one pass of `(x, y, sample_weight)` batches), `num_batches`
(per pass, or None when unknown) and `restartable` (whether a second pass yields data again).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader, Dataset

from kfit.trainers.data_adapters.array_data_adapter import ArrayDataAdapter, split_validation
from kfit.trainers.data_adapters.batch_checks import check_label_range, sample_signature
from kfit.trainers.data_adapters.generator_data_adapter import GeneratorDataAdapter
from kfit.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter, adapt_py_dataset
from kfit.trainers.data_adapters.sharding import Shard, WeightedBatch
from kfit.trainers.data_adapters.structures import (
    batch_size_of,
    flatten,
    map_structure,
    pack_x_y_sample_weight,
    to_device,
    to_tensor,
    unpack_x_y_sample_weight,
)
from kfit.trainers.data_adapters.torch_data_adapter import TorchDataLoaderAdapter
from kfit.utils.py_dataset import PyDataset

if TYPE_CHECKING:
    from kfit.backend.distributed import DataParallel

__all__ = [
    "ArrayDataAdapter",
    "DataAdapter",
    "GeneratorDataAdapter",
    "PyDatasetAdapter",
    "Shard",
    "TorchDataLoaderAdapter",
    "WeightedBatch",
    "batch_size_of",
    "check_label_range",
    "flatten",
    "get_data_adapter",
    "is_array_like",
    "map_structure",
    "pack_x_y_sample_weight",
    "sample_signature",
    "split_validation",
    "to_device",
    "to_tensor",
    "unpack_x_y_sample_weight",
]

DataAdapter = ArrayDataAdapter | TorchDataLoaderAdapter | GeneratorDataAdapter | PyDatasetAdapter


def is_array_like(data: Any) -> bool:
    """True for numpy arrays, tensors, lists of numbers and nested tuples/lists/dicts of them."""
    leaves = flatten(data)
    return bool(leaves) and all(
        isinstance(v, (torch.Tensor, list, int, float)) or hasattr(v, "__array__") for v in leaves
    )


def get_data_adapter(
    x: Any,
    y: Any = None,
    sample_weight: Any = None,
    batch_size: int | None = None,
    shuffle: bool | str = False,
    class_weight: dict[int, float] | None = None,
    device: torch.device | str = "cpu",
    distributed: DataParallel | None = None,
) -> DataAdapter:
    """Picks the adapter for `x` and checks the arguments that do not fit it.

    `distributed` (data-parallel training) gives the adapter this rank's share of the data and
    the shuffle seed of rank 0 (see `sharding`); a generator must yield each rank's own shard.

    Example:
        >>> import numpy as np
        >>> type(get_data_adapter(np.zeros((4, 2)), np.zeros(4), batch_size=2)).__name__
        'ArrayDataAdapter'
    """
    shard = None if distributed is None else Shard(distributed.rank, distributed.world_size)
    # Every rank draws the seed (keeping the RNG streams in step); rank 0's is used.
    seed = None if distributed is None else distributed.shared_seed()
    if isinstance(x, PyDataset):
        return adapt_py_dataset(x, y, sample_weight, shuffle=shuffle, class_weight=class_weight)
    if isinstance(x, (DataLoader, Dataset)) or inspect.isgenerator(x) or (
        isinstance(x, Iterator) and not is_array_like(x)
    ):
        kind = "DataLoader" if isinstance(x, DataLoader) else (
            "Dataset" if isinstance(x, Dataset) else "generator"
        )
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(
                    f"Expected `{name}` to be None when `x` is a {kind}, which yields "
                    f"`(x, y[, sample_weight])` itself. Received: {name} of type "
                    f"{type(value).__name__}. Put the targets into the {kind}'s items instead."
                )
        if isinstance(x, DataLoader):
            if batch_size is not None:
                raise ValueError(
                    "Expected `batch_size` to be None when `x` is a DataLoader, which batches "
                    f"itself. Received: batch_size={batch_size!r}. Set the batch size on the "
                    "DataLoader, or pass its Dataset instead."
                )
            return TorchDataLoaderAdapter(x, class_weight=class_weight, shard=shard, seed=seed)
        if isinstance(x, Dataset):
            return TorchDataLoaderAdapter(
                x, batch_size=batch_size, shuffle=bool(shuffle), class_weight=class_weight, shard=shard, seed=seed
            )
        return GeneratorDataAdapter(x, class_weight=class_weight)
    if not is_array_like(x):
        raise TypeError(
            "Expected `x` to be a numpy array, a torch tensor, a tuple/list/dict of them, a "
            "torch Dataset or DataLoader, or a generator. "
            f"Received: x of type {type(x).__name__}. Convert the data to one of these."
        )
    return ArrayDataAdapter(
        x, y, sample_weight, batch_size=batch_size or 32, shuffle=shuffle,
        class_weight=class_weight, device=device, seed=seed, shard=shard,
    )
