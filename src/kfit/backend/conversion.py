"""The single place where values cross from the device to the host.

Every device-to-host transfer that kfit makes on its own goes through `to_host`, so that
a test can count them (and so that there is one line to read when a step is slow on a GPU:
each call is a sync that drains the device queue).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["to_host", "scalars_to_floats"]


def to_host(value: torch.Tensor) -> np.ndarray:
    """Copies a tensor to host memory as a numpy array (a device sync on accelerators).

    Example:
        >>> to_host(torch.ones(2)).tolist()
        [1.0, 1.0]
    """
    return value.detach().cpu().numpy()


def scalars_to_floats(values: Sequence[torch.Tensor]) -> list[float]:
    """Converts 0-d tensors to Python floats in one batched transfer.

    Stacking first makes N metrics cost one sync instead of N `.item()` calls.

    Example:
        >>> scalars_to_floats([torch.tensor(1.5), torch.tensor(2.0)])
        [1.5, 2.0]
    """
    if not values:
        return []
    scalars = [v.detach().reshape(()) for v in values]
    dtype = scalars[0].dtype
    if any(s.dtype != dtype for s in scalars):
        scalars = [s.to(torch.float64) for s in scalars]
    return to_host(torch.stack(scalars)).astype("float64").tolist()
