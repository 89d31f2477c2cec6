"""Folding indices that fall outside an axis back into it: one rule for `ops.pad` and for the
fill modes of `ops.image.affine_transform`."""

from __future__ import annotations

import torch

__all__ = ["fold_index"]


def fold_index(positions: torch.Tensor, length: int, mode: str) -> torch.Tensor:
    """Integer `positions` along an axis of `length`, each mapped into `[0, length)`.

    Modes, as NumPy's `pad` names them: `"edge"` clamps to the nearest end; `"wrap"` tiles the
    axis; `"reflect"` mirrors about the end samples (`... 2 1 0 1 2 ...`); `"symmetric"`
    mirrors about the ends themselves, repeating the end samples (`... 1 0 0 1 ...`).

    Example:
        >>> fold_index(torch.arange(-3, 4), 3, "reflect").tolist()
        [1, 2, 1, 0, 1, 2, 1]
        >>> fold_index(torch.arange(-3, 4), 3, "symmetric").tolist()
        [2, 1, 0, 0, 1, 2, 2]
    """
    if mode == "edge":
        return positions.clamp(0, length - 1)
    if mode == "wrap":
        return positions.remainder(length)
    if mode == "reflect":
        period = max(2 * (length - 1), 1)
        folded = positions.remainder(period)
        return torch.where(folded >= length, period - folded, folded)
    if mode == "symmetric":
        period = 2 * length
        folded = positions.remainder(period)
        return torch.where(folded >= length, period - 1 - folded, folded)
    raise ValueError(
        f"Expected `mode` to be 'edge', 'wrap', 'reflect' or 'symmetric'. Received: mode={mode!r} "
        f"(of type {type(mode).__name__}). Pass one of those names."
    )
