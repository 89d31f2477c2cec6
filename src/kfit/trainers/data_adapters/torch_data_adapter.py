"""`torch.utils.data.Dataset` and `DataLoader` inputs."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset
from torch.utils.data.distributed import DistributedSampler

from kfit.trainers.data_adapters.array_data_adapter import check_class_weight, class_weight_to_sample_weight
from kfit.trainers.data_adapters.batch_checks import BatchChecker
from kfit.trainers.data_adapters.sharding import Shard, ShardedBatchSampler, WeightedBatch, reshard_loader
from kfit.trainers.data_adapters.structures import map_structure, to_tensor, unpack_x_y_sample_weight

__all__ = ["TorchDataLoaderAdapter"]

Batch = tuple[Any, Any, Any]


class TorchDataLoaderAdapter:
    """Serves batches from a `DataLoader`, or from a `Dataset` batched with `batch_size`.

    Each pass iterates the loader anew, so a map-style dataset is reshuffled every pass by its
    sampler. Items are `x`, `(x, y)` or `(x, y, sample_weight)`.

    Example:
        >>> ds = torch.utils.data.TensorDataset(torch.zeros(5, 2), torch.zeros(5))
        >>> adapter = TorchDataLoaderAdapter(ds, batch_size=2, shuffle=False)
        >>> adapter.num_batches, [tuple(x.shape) for x, y, sw in adapter.iter_pass()]
        (3, [(2, 2), (2, 2), (1, 2)])
    """

    restartable = True

    def __init__(
        self,
        data: Dataset | DataLoader,
        batch_size: int | None = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        shard: Shard | None = None,
        seed: int | None = None,
    ) -> None:
        # Passes started so far: a DistributedSampler reshuffles by it (`set_epoch`).
        self.passes = 0
        self.batch_weight: ShardedBatchSampler | None = None
        if isinstance(data, DataLoader):
            self.loader = data if shard is None else reshard_loader(data, shard, seed or 0)
        else:
            self.generator = torch.Generator()
            self.generator.manual_seed(int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed)
            iterable = isinstance(data, IterableDataset)
            if shard is not None and not iterable:
                # `batch_size` is the global batch, as for arrays (see `sharding`).
                sampler = ShardedBatchSampler(
                    len(data), batch_size or 32, bool(shuffle), self.generator, shard  # type: ignore[arg-type]
                )
                self.batch_weight = sampler
                self.loader = DataLoader(data, batch_sampler=sampler)
            else:
                self.loader = DataLoader(
                    data,
                    batch_size=batch_size or 32,
                    shuffle=bool(shuffle) and not iterable,
                    generator=None if iterable else self.generator,
                )
        if class_weight is not None:
            check_class_weight(class_weight)
        self.class_weight = class_weight
        self.checker = BatchChecker("DataLoader")
        try:
            self.num_batches: int | None = len(self.loader)
        except TypeError:
            self.num_batches = None

    def iter_pass(self) -> Iterator[Batch]:
        sampler = getattr(self.loader, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(self.passes)
        self.passes += 1
        weights = self.batch_weight
        for index, item in enumerate(self.loader):
            batch = self._convert(index, item)
            if weights is not None and (weight := weights.weight(index)) != 1.0:
                batch = WeightedBatch(batch, weight)
            yield batch

    def _convert(self, index: int, item: Any) -> Batch:
        x, y, sw = unpack_x_y_sample_weight(item)
        x, y, sw = _tensors(x, "x"), _tensors(y, "y"), _tensors(sw, "sample_weight")
        self.checker.check(index, x, y)
        if self.class_weight is not None:
            sw = class_weight_to_sample_weight(self.class_weight, y, sw)
        return x, y, sw


def _tensors(data: Any, name: str) -> Any:
    return map_structure(functools.partial(to_tensor, name=name), data)
