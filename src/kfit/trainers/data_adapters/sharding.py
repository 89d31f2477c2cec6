"""Each rank's share of the data in data-parallel training.

Arrays, tensors and a `Dataset` keep Keras's meaning of `batch_size`: the global batch. Every
rank draws the same permutation (its seed comes from rank 0) and takes its own contiguous
slice of every global batch, so steps per epoch, the learning-rate schedule and the results
are those of one process. When a global batch does not split evenly, the slices differ by one
row, and the batch carries a `weight` (`WeightedBatch`) that scales this rank's loss before the
backward pass, so that DDP's average of the gradients is the gradient of the global mean. A
rank whose slice is empty (a last global batch smaller than the world size) gets one row with
weight 0: it joins the gradient all-reduce and contributes nothing, to the gradient or to
the metrics.

A user's `DataLoader` keeps its own per-rank `batch_size`, as in Lightning: its default
sampler is replaced by a `DistributedSampler` with the same shuffle setting.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader, RandomSampler, Sampler, SequentialSampler
from torch.utils.data.distributed import DistributedSampler

__all__ = ["Shard", "ShardedBatchSampler", "WeightedBatch", "reshard_loader"]


@dataclasses.dataclass(frozen=True)
class Shard:
    """This rank's place among `world_size` ranks.

    Example:
        >>> [Shard(r, 2).slice_of(0, 5) for r in range(2)]
        [(0, 3, 1.2), (3, 5, 0.8)]
        >>> Shard(1, 2).slice_of(8, 9)  # one row for two ranks: rank 1 gets a padding row
        (9, 9, 0.0)
    """

    rank: int
    world_size: int

    def slice_of(self, start: int, stop: int) -> tuple[int, int, float]:
        """This rank's rows `lo:hi` of the global batch `start:stop`, and its loss weight.

        The weight is `rows here * world_size / rows in the global batch`: 1.0 for an even
        split, 0.0 for an empty slice.
        """
        size = stop - start
        base, extra = divmod(size, self.world_size)
        lo = start + self.rank * base + min(self.rank, extra)
        rows = base + (1 if self.rank < extra else 0)
        weight = rows * self.world_size / size if size else 0.0
        return lo, lo + rows, weight


class WeightedBatch(tuple[Any, Any, Any]):
    """An `(x, y, sample_weight)` batch whose loss this rank scales by `weight` (see the module)."""

    weight: float

    def __new__(cls, batch: tuple[Any, Any, Any], weight: float) -> WeightedBatch:
        made = super().__new__(cls, batch)
        made.weight = weight
        return made


class ShardedBatchSampler(Sampler[list[int]]):
    """Global batches of a map-style `Dataset`, cut to this rank's slice (see `Shard`).

    An empty slice yields the global batch's first index (the padding row); the adapter
    weights it 0 by `weight(index)`.

    Example:
        >>> import torch
        >>> sampler = ShardedBatchSampler(5, 4, False, torch.Generator(), Shard(1, 2))
        >>> list(sampler), [sampler.weight(i) for i in range(2)]
        ([[2, 3], [4]], [1.0, 0.0])
    """

    def __init__(self, num_samples: int, batch_size: int, shuffle: bool, generator: Any, shard: Shard) -> None:
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.shard = shard

    def __len__(self) -> int:
        return math.ceil(self.num_samples / self.batch_size)

    def weight(self, index: int) -> float:
        start = index * self.batch_size
        return self.shard.slice_of(start, min(start + self.batch_size, self.num_samples))[2]

    def __iter__(self) -> Iterator[list[int]]:
        import torch

        if self.shuffle:
            order = torch.randperm(self.num_samples, generator=self.generator).tolist()
        else:
            order = list(range(self.num_samples))
        for start in range(0, self.num_samples, self.batch_size):
            stop = min(start + self.batch_size, self.num_samples)
            lo, hi, _ = self.shard.slice_of(start, stop)
            yield order[lo:hi] if hi > lo else [order[start]]


def reshard_loader(loader: DataLoader, shard: Shard, seed: int) -> DataLoader:
    """`loader` rebuilt with a `DistributedSampler` for this rank (its shuffle setting kept).

    A loader that already has a `DistributedSampler` is returned as it is.

    Raises:
        ValueError: if the loader has a sampler of its own that is not distributed.
    """
    sampler = loader.sampler
    if isinstance(sampler, DistributedSampler) or (hasattr(sampler, "num_replicas") and hasattr(sampler, "rank")):
        return loader  # already one share per rank
    batch_sampler = loader.batch_sampler
    custom_batches = batch_sampler is not None and type(batch_sampler).__name__ != "BatchSampler"
    if custom_batches or not isinstance(sampler, (SequentialSampler, RandomSampler)):
        custom = type(batch_sampler if custom_batches else sampler).__name__
        raise ValueError(
            "Expected a DataLoader with the default sampler (or a DistributedSampler) in "
            f"data-parallel training, which gives each of the {shard.world_size} ranks its own "
            f"share. Received: a DataLoader with sampler {custom}, which would give every rank "
            "the same batches. Pass `sampler=torch.utils.data.distributed.DistributedSampler(dataset)` "
            "(or a sampler of yours with `num_replicas` and `rank` attributes that yields only this "
            "rank's indices), or leave the sampler out and use `shuffle=`."
        )
    shuffle = isinstance(sampler, RandomSampler)
    distributed: DistributedSampler[Any] = DistributedSampler(
        loader.dataset, num_replicas=shard.world_size, rank=shard.rank, shuffle=shuffle,
        seed=seed % 2**31, drop_last=loader.drop_last,
    )
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=distributed,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=loader.generator,
        prefetch_factor=loader.prefetch_factor if loader.num_workers else None,
        persistent_workers=loader.persistent_workers,
        pin_memory_device=loader.pin_memory_device,
    )
