"""`set_random_seed`: one call that makes Python, NumPy and torch draws repeatable (`keras.utils.set_random_seed`)."""

from __future__ import annotations

import random

import numpy as np
import torch

from kfit.backend.distributed import get_rank
from kfit.utils.errors import received

__all__ = ["set_random_seed"]


def set_random_seed(seed: int) -> None:
    """Seeds Python's `random`, NumPy's global generator and torch (every device) with `seed`.

    Afterwards unseeded `kfit.random` ops, weight initializers, dropout and data shuffling
    repeat from run to run, and `SeedGenerator(seed=None)` picks the same seeds. (Some
    GPU kernels stay non-deterministic unless `torch.use_deterministic_algorithms(True)`.)

    In data-parallel training each rank seeds with `seed + rank`, so its dropout masks differ
    from the other ranks' and repeat from run to run; the ranks still share one shuffle order
    (the data adapters take rank 0's seed) and start from rank 0's weights.

    Args:
        seed: The seed, an int.

    Raises:
        ValueError: if `seed` is not an int.

    Example:
        >>> set_random_seed(7); a = torch.rand(2)
        >>> set_random_seed(7); bool(torch.equal(a, torch.rand(2)))
        True
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"Expected an int `seed`. {received('seed', seed)} Pass e.g. seed=1337.")
    seed += get_rank()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
