"""set_random_seed makes Python, NumPy and torch draws repeat, as keras.utils.set_random_seed does."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from kfit.utils.rng_utils import set_random_seed


def _draws() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_set_random_seed_repeats_every_generator() -> None:
    set_random_seed(123)
    first = _draws()
    set_random_seed(123)
    assert _draws() == first
    set_random_seed(124)
    assert _draws() != first


def test_set_random_seed_accepts_seeds_beyond_numpy_range_and_rejects_non_ints() -> None:
    set_random_seed(2**40)
    with pytest.raises(ValueError, match=r"Received: seed=1\.5"):
        set_random_seed(1.5)
    with pytest.raises(ValueError, match="int"):
        set_random_seed(True)
