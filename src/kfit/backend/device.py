"""Which device kfit trains on: cuda, then mps, then cpu, unless told otherwise."""

from __future__ import annotations

import os

import torch

__all__ = ["default_device"]


def default_device() -> torch.device:
    """The best available device; the `KFIT_DEVICE` environment variable overrides the choice.

    Example:
        >>> default_device().type in ("cpu", "cuda", "mps")
        True
    """
    override = os.environ.get("KFIT_DEVICE")
    if override:
        return torch.device(override)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
