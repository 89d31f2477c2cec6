"""split_dataset: Keras 3's sizes and (seeded) shuffle, torch Subsets out, clear errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch.utils.data import Subset, TensorDataset

import kfit
from kfit.utils import split_dataset

os.environ.setdefault("KERAS_BACKEND", "torch")

X = np.arange(20, dtype="float32").reshape(10, 2)
Y = np.arange(10)


def _rows(subset):
    return [subset[i] for i in range(len(subset))]


@pytest.mark.parametrize(
    ("left_size", "right_size"),
    [(0.8, None), (None, 0.25), (3, None), (None, 4), (0.33, None), (6, 4), (0.5, 0.5)],
)
def test_sizes_and_seeded_order_match_keras(left_size, right_size):
    keras = pytest.importorskip("keras")
    theirs = keras.utils.split_dataset((X, Y), left_size, right_size, shuffle=True, seed=7)
    ours = split_dataset((X, Y), left_size, right_size, shuffle=True, seed=7)
    for a, b in zip(ours, theirs):
        assert isinstance(a, Subset)
        assert len(a) == len(b)
        assert [int(y) for _, y in _rows(a)] == [int(y) for _, y in _rows(b)]


def test_without_shuffle_the_left_part_comes_first_and_leftovers_are_dropped():
    left, right = split_dataset((X, Y), left_size=3, right_size=2)
    assert [int(y) for _, y in _rows(left)] == [0, 1, 2]
    assert [int(y) for _, y in _rows(right)] == [8, 9]
    x_row, y_row = left[1]
    assert torch.equal(x_row, torch.tensor([2.0, 3.0])) and int(y_row) == 1


def test_array_dict_tensor_and_dataset_inputs():
    left, right = split_dataset(X, left_size=0.5)
    assert isinstance(left[0], tuple) and len(left[0]) == 1  # as TensorDataset gives
    assert torch.equal(right[0][0], torch.from_numpy(X[5]))
    left, _ = split_dataset({"a": X, "b": Y}, right_size=0.2)
    assert sorted(left[0]) == ["a", "b"] and len(left) == 8
    left, right = split_dataset(torch.arange(6), left_size=2)
    assert [int(v[0]) for v in _rows(right)] == [2, 3, 4, 5]
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    left, right = split_dataset(dataset, left_size=0.6)
    assert left.dataset is dataset and (len(left), len(right)) == (6, 4)


def test_shuffle_without_seed_follows_torchs_global_rng():
    torch.manual_seed(0)
    first = [int(y) for _, y in _rows(split_dataset((X, Y), left_size=5, shuffle=True)[0])]
    torch.manual_seed(0)
    again = [int(y) for _, y in _rows(split_dataset((X, Y), left_size=5, shuffle=True)[0])]
    assert first == again and first != [0, 1, 2, 3, 4]


def test_parts_train_with_fit():
    train, test = split_dataset((X, Y.astype("float32")), left_size=0.8, shuffle=True, seed=1)
    model = kfit.Sequential([kfit.Input((2,)), kfit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(train, batch_size=4, epochs=1, verbose=0, validation_data=test)
    assert sorted(history.history) == ["loss", "val_loss"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "left_size` or `right_size"),
        ({"left_size": 0}, ValueError, "positive integer smaller than 10"),
        ({"left_size": 10}, ValueError, "positive integer smaller than 10"),
        ({"left_size": 1.5}, ValueError, r"fraction in \(0, 1\)"),
        ({"left_size": 0.7, "right_size": 0.6}, ValueError, "add up to at most 1"),
        ({"left_size": 7, "right_size": 5}, ValueError, "fit in the 10 samples"),
        ({"left_size": 0.01}, ValueError, "non-empty"),
        ({"left_size": "half"}, TypeError, "int, a float or None"),
        ({"left_size": True}, TypeError, "int, a float or None"),
    ],
)
def test_bad_sizes_are_reported(kwargs, error, match):
    with pytest.raises(error, match=match):
        split_dataset((X, Y), **kwargs)


def test_bad_datasets_are_reported():
    with pytest.raises(ValueError, match="same, non-zero number of rows"):
        split_dataset((X, Y[:5]), left_size=2)
    with pytest.raises(TypeError, match=r"np\.asarray"):
        split_dataset([[1, 2], [3, 4]], left_size=1)

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(TypeError, match="IterableDataset"):
        split_dataset(Stream(), left_size=1)
