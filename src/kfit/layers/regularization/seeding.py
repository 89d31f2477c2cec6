"""The random generator of a noise layer built with `seed=`: one per layer, on the input's device.

Without a seed the layers draw from torch's global generator, so `torch.manual_seed` governs
them. With a seed, each layer owns a `torch.Generator` started from it, so its draws repeat
from run to run whatever else consumes random numbers.
"""

from __future__ import annotations

import torch

__all__ = ["seeded_generator"]


def seeded_generator(seed: int | None, current: torch.Generator | None, device: torch.device) -> torch.Generator | None:
    """The generator to draw from on `device`: None without a seed, else `current` when it is
    already on that device, else a new one started from `seed`.

    Example:
        >>> g = seeded_generator(7, None, torch.device("cpu"))
        >>> seeded_generator(7, g, torch.device("cpu")) is g, seeded_generator(None, g, torch.device("cpu"))
        (True, None)
    """
    if seed is None:
        return None
    if current is not None and current.device == device:
        return current
    return torch.Generator(device=device).manual_seed(seed)
