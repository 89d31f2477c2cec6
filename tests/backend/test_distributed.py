"""`kfit.backend.distributed` outside a process group: the single-process answers."""

from __future__ import annotations

import torch.distributed as dist

from kfit.backend import distributed


def test_one_process_has_no_context_and_rank_zero():
    assert distributed.active() is None
    assert distributed.get_rank() == 0 and distributed.get_world_size() == 1
    assert distributed.is_main_process() and not distributed.is_distributed()
    distributed.barrier()  # nothing to wait for


def test_torchrun_rank_is_known_before_the_group_exists(monkeypatch):
    # set_random_seed runs before fit joins the group, and must already seed by rank.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    distributed.initialize()  # no rendezvous address: not a torchrun launch, nothing joined
    assert not dist.is_initialized()
    assert distributed.get_rank() == 1 and not distributed.is_main_process()


def test_set_random_seed_seeds_each_rank_differently(monkeypatch):
    import torch

    import kfit

    kfit.utils.set_random_seed(7)
    rank0 = torch.rand(3)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    kfit.utils.set_random_seed(7)
    rank1 = torch.rand(3)
    torch.manual_seed(8)  # seed + rank
    assert torch.equal(rank1, torch.rand(3)) and not torch.equal(rank0, rank1)
