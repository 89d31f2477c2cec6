"""EpochIterator: epochs of steps_per_epoch, continuation, wrap-around, running dry, peeking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.trainers.data_adapters import ArrayDataAdapter, GeneratorDataAdapter, TorchDataLoaderAdapter
from kfit.trainers.epoch_iterator import EpochIterator


def _rows(epoch):
    return [b[0][:, 0].tolist() for _, b in epoch]


def test_full_passes_without_steps_per_epoch():
    it = EpochIterator(ArrayDataAdapter(np.arange(5.0)[:, None], batch_size=2, shuffle=False))
    assert it.num_batches == 3
    assert _rows(it.epoch()) == [[0, 1], [2, 3], [4]]
    assert _rows(it.epoch()) == [[0, 1], [2, 3], [4]]


def test_steps_per_epoch_continues_and_wraps_with_a_fresh_shuffle():
    torch.manual_seed(3)
    it = EpochIterator(ArrayDataAdapter(np.arange(6.0)[:, None], batch_size=2, shuffle=True), steps_per_epoch=2)
    epochs = [_rows(it.epoch()) for _ in range(3)]
    assert all(len(e) == 2 for e in epochs)
    first_pass = sorted(row for batch in epochs[0] + epochs[1][:1] for row in batch)
    assert first_pass == [0, 1, 2, 3, 4, 5]  # one pass covers every row once
    second_pass = [row for batch in epochs[1][1:] + epochs[2] for row in batch]
    assert sorted(second_pass) == [0, 1, 2, 3, 4, 5]


def test_generator_runs_dry_then_stays_exhausted():
    gen = ((np.zeros((2, 1)), np.zeros(2)) for _ in range(3))
    it = EpochIterator(GeneratorDataAdapter(gen), steps_per_epoch=2)
    assert len(list(it.epoch())) == 2
    with pytest.warns(UserWarning, match="ran out of data"):
        assert len(list(it.epoch())) == 1
    assert it.exhausted


def test_peek_holds_the_first_batch_back():
    ds = torch.utils.data.TensorDataset(torch.arange(4.0)[:, None], torch.zeros(4))
    it = EpochIterator(TorchDataLoaderAdapter(ds, batch_size=2, shuffle=False))
    assert it.peek()[0][:, 0].tolist() == [0, 1]
    assert _rows(it.epoch()) == [[0, 1], [2, 3]]


def test_restart_starts_a_new_pass():
    it = EpochIterator(ArrayDataAdapter(np.arange(4.0)[:, None], batch_size=1, shuffle=False), steps_per_epoch=1)
    assert _rows(it.epoch()) == [[0]]
    it.restart()
    assert _rows(it.epoch()) == [[0]]
