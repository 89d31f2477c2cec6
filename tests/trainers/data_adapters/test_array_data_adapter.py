"""ArrayDataAdapter: conversion once, index batching, shuffling, class weights, state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.trainers.data_adapters import ArrayDataAdapter, split_validation


def test_arrays_share_memory_and_float64_becomes_float32():
    x = np.zeros((4, 2), "float32")
    adapter = ArrayDataAdapter(x, np.zeros(4), batch_size=2)
    assert adapter.x.data_ptr() == x.ctypes.data  # no copy
    assert adapter.y.dtype == torch.float32


def test_shuffle_permutes_rows_each_pass_and_state_replays_order():
    x = np.arange(20.0)[:, None]
    adapter = ArrayDataAdapter(x, batch_size=5, shuffle=True)
    state = adapter.get_state()
    first = torch.cat([b[0] for b in adapter.iter_pass()])[:, 0].tolist()
    second = torch.cat([b[0] for b in adapter.iter_pass()])[:, 0].tolist()
    assert sorted(first) == list(range(20)) and first != second
    adapter.set_state(state)
    assert torch.cat([b[0] for b in adapter.iter_pass()])[:, 0].tolist() == first


def test_batch_shuffle_keeps_rows_of_a_batch_together():
    adapter = ArrayDataAdapter(np.arange(12.0)[:, None], batch_size=4, shuffle="batch")
    batches = [b[0][:, 0].tolist() for b in adapter.iter_pass()]
    assert sorted(map(tuple, batches)) == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11)]


def test_dict_inputs_and_sample_weights_are_batched_together():
    x = {"a": np.arange(6.0)[:, None], "b": np.arange(6.0)[:, None] * 10}
    adapter = ArrayDataAdapter(x, np.arange(6.0), np.arange(6.0) / 10, batch_size=4, shuffle=False)
    bx, by, bsw = next(adapter.iter_pass())
    assert bx["b"][:, 0].tolist() == [0, 10, 20, 30] and by.tolist() == [0, 1, 2, 3]
    assert bsw.tolist() == pytest.approx([0, 0.1, 0.2, 0.3])


def test_class_weight_from_sparse_and_one_hot_labels():
    y_sparse = np.array([0, 1, 1, 2])
    adapter = ArrayDataAdapter(np.zeros((4, 1)), y_sparse, class_weight={0: 1.0, 1: 2.0, 2: 5.0})
    assert adapter.sample_weight.tolist() == [1, 2, 2, 5]
    one_hot = np.eye(3)[y_sparse]
    adapter = ArrayDataAdapter(np.zeros((4, 1)), one_hot, np.full(4, 0.5), class_weight={1: 2.0})
    assert adapter.sample_weight.tolist() == [0.5, 1.0, 1.0, 0.5]


def test_split_validation_takes_the_last_rows():
    train, val = split_validation(np.arange(10), 0.25)
    assert train.tolist() == list(range(7)) and val.tolist() == [7, 8, 9]
