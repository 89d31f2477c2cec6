"""`EpochIterator`: cuts an adapter's passes of batches into epochs of `steps_per_epoch`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import torch

from kfit.trainers.data_adapters import DataAdapter, to_device

__all__ = ["EpochIterator"]

Batch = tuple[Any, Any, Any]


class EpochIterator:
    """Yields `(step, batch)` for one epoch at a time, with batches on `device`.

    Without `steps_per_epoch` an epoch is one pass over the data. With it, every epoch runs
    exactly `steps_per_epoch` batches (as the Keras guide's output shows): the next epoch
    continues where the last one stopped, and a new pass (reshuffled) starts when the data ends.
    A generator cannot start a new pass; when it runs dry the epoch ends early with a warning
    and `exhausted` becomes True.

    It fires no hooks: the trainer owns every callback call.

    Example:
        >>> import numpy as np
        >>> from kfit.trainers.data_adapters import ArrayDataAdapter
        >>> adapter = ArrayDataAdapter(np.zeros((5, 1)), batch_size=2, shuffle=False)
        >>> it = EpochIterator(adapter, steps_per_epoch=2)
        >>> [[tuple(b[0].shape) for _, b in it.epoch()] for _ in range(2)]
        [[(2, 1), (2, 1)], [(1, 1), (2, 1)]]
    """

    def __init__(
        self,
        adapter: DataAdapter,
        steps_per_epoch: int | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.adapter = adapter
        self.steps_per_epoch = steps_per_epoch
        self.device = torch.device(device)
        self._pass: Iterator[Batch] | None = None
        self._held: Batch | None = None
        self.exhausted = False

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch, or None when the data's length is unknown."""
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return self.adapter.num_batches

    def peek(self) -> Batch | None:
        """The next batch, held back so that the next epoch still yields it first."""
        if self._held is None:
            if self._pass is None:
                self._pass = self.adapter.iter_pass()
            self._held = next(self._pass, None)
        return None if self._held is None else self._place(self._held)

    def _next(self, current: Iterator[Batch]) -> Batch | None:
        """The held batch if any, else the next of `current` (the pass in progress)."""
        if self._held is not None:
            batch, self._held = self._held, None
            return batch
        return next(current, None)

    def _place(self, batch: Batch) -> Batch:
        if self.device.type == "cpu":
            return batch
        return to_device(batch, self.device)

    def epoch(self) -> Iterator[tuple[int, Batch]]:
        """One epoch of `(step, batch)` pairs."""
        if self.steps_per_epoch is None:
            yield from self._full_pass()
            return
        step = 0
        fresh = False
        while step < self.steps_per_epoch:
            if self._pass is None:
                if self.exhausted:
                    break
                self._pass = self.adapter.iter_pass()
                fresh = True
            batch = self._next(self._pass)
            if batch is None:
                self._pass = None
                if fresh or not self.adapter.restartable:
                    self._ran_dry()
                    break
                continue
            fresh = False
            yield step, self._place(batch)
            step += 1

    def _full_pass(self) -> Iterator[tuple[int, Batch]]:
        if self.exhausted:
            self._ran_dry()
            return
        step = -1
        if self._pass is None:
            self._pass = self.adapter.iter_pass()
        while (batch := self._next(self._pass)) is not None:
            step += 1
            yield step, self._place(batch)
        self._pass = None
        if step < 0 or not self.adapter.restartable:
            # A generator's single pass is over; a later epoch would find nothing.
            self.exhausted = not self.adapter.restartable
            if step < 0:
                self._ran_dry()

    def restart(self) -> None:
        """Drops the pass in progress, so that the next epoch starts a new one."""
        self._pass = None
        self._held = None

    def _ran_dry(self) -> None:
        self.exhausted = True
        self.warn_exhausted()

    def warn_exhausted(self) -> None:
        warnings.warn(
            "Your input ran out of data; interrupting training. Make sure that your dataset "
            "or generator can generate at least `steps_per_epoch * epochs` batches. "
            "You may need to use `.repeat()` or an infinite generator, or lower `steps_per_epoch`.",
            UserWarning,
            stacklevel=3,
        )
