"""`DropoutRNNCell`: the dropout masks a recurrent cell reuses at every time step of a sequence.

Keras drops the same units at every step of one sequence (variational dropout): a cell draws
its input mask and its recurrent mask the first time it needs them in a call of its RNN layer,
keeps them for the remaining steps, and the layer clears them when the sequence is done. Cells
whose gates each see their own copy of the input (Keras's `implementation=1`, which Keras picks
whenever `recurrent_dropout` is set) draw one mask per gate.
"""

from __future__ import annotations

import torch

__all__ = ["DropoutRNNCell"]


class DropoutRNNCell:
    """Mixin of the built-in cells: draws, caches and clears per-sequence dropout masks.

    A cell using it has `dropout`, `recurrent_dropout` and `seed` attributes and may set
    `dropout_mask_count` (a number of masks per draw; None for one mask).

    Example:
        >>> class Cell(DropoutRNNCell):
        ...     dropout, recurrent_dropout, seed, dropout_mask_count = 0.5, 0.0, 1, None
        >>> cell = Cell()
        >>> mask = cell.get_dropout_mask(torch.ones(2, 3))
        >>> cell.get_dropout_mask(torch.ones(2, 3)) is mask, sorted(set(mask.flatten().tolist())) <= [0.0, 2.0]
        (True, True)
        >>> cell.reset_dropout_mask()
    """

    dropout: float
    recurrent_dropout: float
    seed: int | None
    dropout_mask_count: int | None = None

    def _draw(self, like: torch.Tensor, rate: float) -> torch.Tensor | list[torch.Tensor]:
        generator = self.__dict__.get("_dropout_generator")
        if self.seed is not None and (generator is None or generator.device != like.device):
            generator = torch.Generator(device=like.device).manual_seed(self.seed)
            self.__dict__["_dropout_generator"] = generator

        def one() -> torch.Tensor:
            keep = torch.empty_like(like).bernoulli_(1.0 - rate, generator=generator)
            return keep / (1.0 - rate)

        if self.dropout_mask_count is None:
            return one()
        return [one() for _ in range(self.dropout_mask_count)]

    def get_dropout_mask(self, step_input: torch.Tensor) -> torch.Tensor | list[torch.Tensor] | None:
        """The input mask of the current sequence (drawn on first use), or None without dropout."""
        mask = self.__dict__.get("_dropout_mask")
        if mask is None and self.dropout > 0:
            mask = self._draw(step_input, self.dropout)
            self.__dict__["_dropout_mask"] = mask
        return mask

    def get_recurrent_dropout_mask(
        self, step_state: torch.Tensor
    ) -> torch.Tensor | list[torch.Tensor] | None:
        """The recurrent-state mask of the current sequence, or None without recurrent dropout."""
        mask = self.__dict__.get("_recurrent_dropout_mask")
        if mask is None and self.recurrent_dropout > 0:
            mask = self._draw(step_state, self.recurrent_dropout)
            self.__dict__["_recurrent_dropout_mask"] = mask
        return mask

    def reset_dropout_mask(self) -> None:
        """Forgets the input mask, so that the next sequence draws its own."""
        self.__dict__["_dropout_mask"] = None

    def reset_recurrent_dropout_mask(self) -> None:
        """Forgets the recurrent mask, so that the next sequence draws its own."""
        self.__dict__["_recurrent_dropout_mask"] = None
