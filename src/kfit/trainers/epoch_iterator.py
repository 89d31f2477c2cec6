"""`EpochIterator`: cuts an adapter's passes of batches into epochs of `steps_per_epoch`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import torch

from kfit.trainers.data_adapters import DataAdapter, WeightedBatch, to_device
from kfit.trainers.resume import capture_global_rng, global_rng_to_json, restore_global_rng

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

    For exact resumption it records, each time a pass starts, the RNG states just before
    (the global ones and the adapter's own generator: they decide the shuffle order) and
    counts the batches taken from the pass. `state()` returns that; `resume(state)` in a
    new process restores those RNG states, starts the pass again and skips the batches
    already taken. For arrays the skip only slices the permutation; for a `DataLoader`
    (which draws its shuffle order and worker seeds from torch's RNG) or a `Dataset` the
    skipped batches are loaded and discarded, so a resume costs up to one pass of loading;
    a loader that saves its own position (torchdata's `StatefulDataLoader`, with
    `state_dict`/`load_state_dict`) is resumed from that instead, loading nothing twice.
    A generator cannot be replayed: its skipped batches are drawn from it again, which
    gives the same batches only if the generator itself restarts at the same place.

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
        # The RNG states just before the current pass began, and the batches taken from it.
        self._pass_rng: dict[str, Any] | None = None
        self._pass_position = 0

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch, or None when the data's length is unknown."""
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return self.adapter.num_batches

    def peek(self) -> Batch | None:
        """The next batch, held back so that the next epoch still yields it first."""
        if self._held is None:
            current = self._pass if self._pass is not None else self._start_pass()
            self._held = next(current, None)
        return None if self._held is None else self._place(self._held)

    def _next(self, current: Iterator[Batch]) -> Batch | None:
        """The held batch if any, else the next of `current` (the pass in progress)."""
        if self._held is not None:
            held, self._held = self._held, None
            self._pass_position += 1
            return held
        batch = next(current, None)
        if batch is not None:
            self._pass_position += 1
        return batch

    def _start_pass(self) -> Iterator[Batch]:
        """Starts a new pass, first recording the RNG states that decide its order.

        Besides the global states, the adapter's own generator and a user DataLoader's
        (`DataLoader(generator=...)`, or its sampler's) are recorded.
        """
        self._pass_rng = {"global": capture_global_rng(), "adapter": self._adapter_rng()}
        self._pass_position = 0
        self._pass = self.adapter.iter_pass()
        return self._pass

    def _generators(self) -> list[torch.Generator]:
        """The torch generators that decide the adapter's order: its own, and a DataLoader's."""
        loader = getattr(self.adapter, "loader", None)
        candidates = [
            getattr(self.adapter, "generator", None),
            getattr(loader, "generator", None),
            getattr(getattr(loader, "sampler", None), "generator", None),
            getattr(getattr(getattr(loader, "batch_sampler", None), "sampler", None), "generator", None),
        ]
        found: list[torch.Generator] = []
        for generator in candidates:
            if isinstance(generator, torch.Generator) and not any(generator is g for g in found):
                found.append(generator)
        return found

    def _adapter_rng(self) -> list[torch.Tensor]:
        return [generator.get_state() for generator in self._generators()]

    def state(self) -> dict[str, Any]:
        """The data position: the RNG states before the current pass and batches taken from it.

        JSON-able values and tensors only; `resume` in another process restores it.
        """
        has_pass = self._pass is not None and self._pass_rng is not None
        state: dict[str, Any] = {
            "has_pass": has_pass,
            "exhausted": self.exhausted,
            "pass_position": 0,
            # Between passes, the next one's order comes from these (drawn when it starts).
            "generators": self._adapter_rng(),
            # A DistributedSampler's order comes from the pass count (`set_epoch`).
            "passes": int(getattr(self.adapter, "passes", 0)),
        }
        if has_pass:
            assert self._pass_rng is not None
            state["pass_position"] = self._pass_position
            state["pass_rng"] = {"global": global_rng_to_json(self._pass_rng["global"])}
            state["pass_rng"]["adapter"] = list(self._pass_rng["adapter"])
            loader = self._stateful_loader()
            if loader is not None and self._held is None:
                # torchdata's StatefulDataLoader knows its own position: resuming from it
                # skips the consumed batches without loading them.
                state["loader_state"] = loader.state_dict()
        return state

    def _stateful_loader(self) -> Any:
        """The adapter's DataLoader when it can save and load its position (`state_dict`)."""
        loader = getattr(self.adapter, "loader", None)
        if callable(getattr(loader, "state_dict", None)) and callable(getattr(loader, "load_state_dict", None)):
            return loader
        return None

    def resume(self, state: dict[str, Any]) -> None:
        """Puts the iterator where `state()` was taken: same pass order, same next batch.

        Restores the RNG states recorded before that pass, starts it, and skips the batches
        taken (see the class docstring for what skipping costs). The global RNG is left
        as the skipping leaves it: the caller restores the backup's "now" states after.
        """
        self.restart()
        self.exhausted = bool(state.get("exhausted", False))
        if hasattr(self.adapter, "passes"):
            # The count after the recorded pass started; starting it again below counts it again.
            passes = int(state.get("passes", 0))
            self.adapter.passes = max(0, passes - 1) if state.get("has_pass") else passes
        if not state.get("has_pass"):
            self._pass_rng = None
            self._pass_position = 0
            for generator, saved in zip(self._generators(), state.get("generators") or []):
                generator.set_state(torch.as_tensor(saved, dtype=torch.uint8))
            return
        rng = state["pass_rng"]
        restore_global_rng(rng["global"])
        for generator, saved in zip(self._generators(), rng.get("adapter") or []):
            generator.set_state(torch.as_tensor(saved, dtype=torch.uint8))
        loader = self._stateful_loader()
        if loader is not None and state.get("loader_state") is not None:
            loader.load_state_dict(state["loader_state"])
            self._start_pass()
            self._pass_position = int(state["pass_position"])
            return
        current = self._start_pass()
        # The pass's first batch is taken now even when none was done: an array pass draws
        # its permutation lazily, and must do so from these RNG states, not the later ones.
        self._held = next(current, None)
        for _ in range(int(state["pass_position"])):
            if self._next(current) is None:
                break

    def _place(self, batch: Batch) -> Batch:
        if self.device.type == "cpu":
            return batch
        placed = to_device(batch, self.device)
        if isinstance(batch, WeightedBatch):
            return WeightedBatch(placed, batch.weight)  # keeps this rank's loss weight
        return placed

    def epoch(self, start: int = 0) -> Iterator[tuple[int, Batch]]:
        """One epoch of `(step, batch)` pairs; `start` steps are already done (a resumed epoch)."""
        if self.steps_per_epoch is None:
            yield from self._full_pass(start)
            return
        step = start
        fresh = False
        while step < self.steps_per_epoch:
            if self._pass is None:
                if self.exhausted:
                    break
                self._start_pass()
                fresh = True
            assert self._pass is not None
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

    def _full_pass(self, start: int = 0) -> Iterator[tuple[int, Batch]]:
        if self.exhausted:
            self._ran_dry()
            return
        step = start - 1
        current = self._pass if self._pass is not None else self._start_pass()
        while (batch := self._next(current)) is not None:
            step += 1
            yield step, self._place(batch)
        self._pass = None
        if (start == 0 and step < 0) or not self.adapter.restartable:
            # A generator's single pass is over; a later epoch would find nothing.
            self.exhausted = not self.adapter.restartable
            if start == 0 and step < 0:
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
