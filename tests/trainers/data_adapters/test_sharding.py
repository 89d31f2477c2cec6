"""Each rank's share of a global batch (`sharding.py`), checked without a process group."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, SubsetRandomSampler, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from kfit.trainers.data_adapters import ArrayDataAdapter
from kfit.trainers.data_adapters.sharding import Shard, ShardedBatchSampler, WeightedBatch, reshard_loader


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [1, 2, 5, 8, 13])
def test_slices_cover_the_global_batch_once_and_weights_average_to_one(world, size):
    slices = [Shard(rank, world).slice_of(10, 10 + size) for rank in range(world)]
    rows = [row for lo, hi, _ in slices for row in range(lo, hi)]
    assert rows == list(range(10, 10 + size))  # contiguous, in rank order, no row twice
    sizes = [hi - lo for lo, hi, _ in slices]
    assert max(sizes) - min(sizes) <= 1
    # DDP averages the ranks' gradients: weights rows/size*world make that the global mean.
    assert sum(weight for _, _, weight in slices) == pytest.approx(world)
    for lo, hi, weight in slices:
        assert weight == pytest.approx((hi - lo) * world / size)


def test_arrays_yield_each_ranks_slice_of_one_shared_permutation():
    x = np.arange(22, dtype="float32").reshape(11, 2)
    y = np.arange(11)
    seen = []
    for rank in range(2):
        adapter = ArrayDataAdapter(x, y, batch_size=4, shuffle=True, seed=7, shard=Shard(rank, 2))
        seen.append(list(adapter.iter_pass()))
    reference = list(ArrayDataAdapter(x, y, batch_size=4, shuffle=True, seed=7).iter_pass())
    assert len(seen[0]) == len(seen[1]) == len(reference) == 3
    for (x0, y0, _), (x1, y1, _), (xr, yr, _) in zip(seen[0], seen[1], reference):
        # Rank 0's rows then rank 1's are the single-process batch.
        assert torch.equal(torch.cat([y0, y1]), yr) and torch.equal(torch.cat([x0, x1]), xr)
    last0, last1 = seen[0][-1], seen[1][-1]  # 3 rows over 2 ranks: 2 and 1, weighted
    assert isinstance(last0, WeightedBatch) and last0.weight == pytest.approx(4 / 3)
    assert isinstance(last1, WeightedBatch) and last1.weight == pytest.approx(2 / 3)


def test_an_empty_slice_becomes_one_padding_row_of_weight_zero():
    x = np.arange(5, dtype="float32").reshape(5, 1)
    batches = list(ArrayDataAdapter(x, batch_size=4, shuffle=False, shard=Shard(1, 2)).iter_pass())
    assert [b[0].ravel().tolist() for b in batches] == [[2.0, 3.0], [4.0]]
    assert isinstance(batches[1], WeightedBatch) and batches[1].weight == 0.0


def test_a_dataset_is_cut_into_the_same_slices_as_arrays():
    sampler = ShardedBatchSampler(11, 4, True, torch.Generator().manual_seed(3), Shard(1, 2))
    order = torch.randperm(11, generator=torch.Generator().manual_seed(3)).tolist()
    assert list(sampler) == [order[2:4], order[6:8], order[10:11]]
    assert [sampler.weight(i) for i in range(3)] == [1.0, 1.0, pytest.approx(2 / 3)]


def test_a_default_loader_gets_a_distributed_sampler_that_keeps_its_settings():
    data = TensorDataset(torch.arange(10.0))
    for shuffle, kind in ((True, RandomSampler), (False, SequentialSampler)):
        loader = DataLoader(data, batch_size=3, shuffle=shuffle, drop_last=True)
        assert isinstance(loader.sampler, kind)
        resharded = reshard_loader(loader, Shard(1, 2), seed=5)
        assert isinstance(resharded.sampler, DistributedSampler)
        assert resharded.sampler.shuffle is shuffle and resharded.sampler.rank == 1
        assert resharded.batch_size == 3 and resharded.drop_last
    already = DataLoader(data, sampler=DistributedSampler(data, num_replicas=2, rank=0))
    assert reshard_loader(already, Shard(0, 2), seed=0) is already


def test_a_custom_sampler_is_refused_with_the_fix():
    loader = DataLoader(TensorDataset(torch.arange(10.0)), sampler=SubsetRandomSampler(range(5)))
    with pytest.raises(ValueError, match=r"SubsetRandomSampler.*DistributedSampler\(dataset\)"):
        reshard_loader(loader, Shard(0, 2), seed=0)
