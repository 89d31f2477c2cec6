"""`TerminateOnNaN`: stops training when the loss becomes NaN or infinite, without a sync per step.

How it watches the loss without reading it back every step: the trainer's loss tracker (the
metric named `"loss"`) keeps a running, sample-weighted total on the device, and a total
that has absorbed one NaN or Inf stays non-finite for the rest of the epoch. So the total
after batch `b` is non-finite exactly when some batch up to `b` had a non-finite loss, which
is also exactly when Keras's running-mean `logs["loss"]` is.

After every batch the callback queues a copy of that 0-d total into a small host buffer
(pinned memory on CUDA, `non_blocking=True`) and records a device event, then looks at the oldest
queued copies whose events have completed. Nothing waits for the device: on an accelerator
the answer for batch `b` is read as soon as the device has finished batch `b`, typically a
step or two later. On the CPU the copy is done at once, so the check is immediate.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import torch

from kfit.callbacks.callback import Callback
from kfit.utils import io_utils

__all__ = ["TerminateOnNaN"]

Logs = dict[str, Any]


class _Probe:
    """One queued read of the loss total: a host buffer, its numpy view and the device event."""

    __slots__ = ("batch", "buffer", "event", "view")

    def __init__(self, buffer: torch.Tensor, event: Any) -> None:
        self.buffer = buffer
        # Reading a host tensor through numpy involves no torch call, hence no sync.
        self.view = buffer.numpy()
        self.event = event
        self.batch = -1

    def ready(self) -> bool:
        return self.event is None or self.event.query()

    def wait(self) -> None:
        if self.event is not None:
            self.event.synchronize()


class TerminateOnNaN(Callback):
    """Stops training when the training loss becomes NaN or Inf.

    By default it sets `model.stop_training`, so the current epoch is closed as Keras does
    (validation, `on_epoch_end` and `on_train_end` still run, and `History` gets one row
    with a non-finite loss). With `raise_error=True` it raises a `RuntimeError` naming the
    batch instead: the exception leaves `fit` at once, so no callback's `on_train_end` runs
    (a `BackupAndRestore` backup survives, and `EarlyStopping` restores nothing).

    The check costs no device-to-host sync (see the module docstring): it reads the loss
    tracker's running total through a queue of asynchronous copies.

    Args:
        raise_error: raise a `RuntimeError` instead of stopping gracefully.

    Differences from Keras:
        Keras reads `logs["loss"]` after every batch, which forces a device sync per step.
        kfit checks the same quantity on the device and reads the answer asynchronously; on
        an accelerator, training therefore stops (or raises) a few batches after the bad
        one, as soon as the device has computed it, while the message still names the
        first bad batch. On the CPU the check happens right after the bad batch, as in
        Keras. The batches run in between see non-finite weights, so they change nothing
        that was not already lost, but a callback listed before this one may act on them
        (as it would in Keras within the bad batch itself).

    Example:
        >>> import numpy as np, kfit
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((4, 1)), np.array([1.0, 1.0, np.inf, 1.0])
        >>> history = model.fit(x, y, batch_size=1, epochs=3, shuffle=False, verbose=0,
        ...                     callbacks=[kfit.callbacks.TerminateOnNaN()])
        Batch 2: Invalid loss, terminating training
        >>> history.epoch, bool(np.isfinite(history.history["loss"][0]))
        ([0], False)
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        if not isinstance(raise_error, bool):
            raise ValueError(
                f"Expected `raise_error` to be a bool. Received: raise_error={raise_error!r} "
                f"(of type {type(raise_error).__name__}). Pass True or False."
            )
        self.raise_error = raise_error
        self._total: torch.Tensor | None = None
        self._device: torch.device | None = None
        self._pending: deque[_Probe] = deque()
        self._free: list[_Probe] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._recycle_pending()
        tracker = next((m for m in getattr(self.model, "metrics", []) if m.name == "loss"), None)
        self._total = getattr(tracker, "total", None)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        # `logs` is left untouched: any access to the batch logs reads them from the device.
        total = self._total
        if total is None:
            return
        if total.device != self._device:
            # The tracker's state moves to the training device on its first update.
            self._recycle_pending()
            self._free.clear()
            self._device = total.device
        probe = self._free.pop() if self._free else self._new_probe(total)
        probe.buffer.copy_(total, non_blocking=True)
        if probe.event is not None:
            probe.event.record()
        probe.batch = batch
        self._pending.append(probe)
        self._check(block=False)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self._total is None:
            # A model whose `metrics` hide kfit's loss tracker: only the epoch mean is known.
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(loss):
                self._terminate(f"epoch {epoch}", float(loss))
            return
        # The trainer has just read the epoch logs (a sync), so this does not wait.
        self._check(block=True)

    def _new_probe(self, total: torch.Tensor) -> _Probe:
        device = total.device
        if device.type == "cpu":
            return _Probe(torch.empty((), dtype=total.dtype), None)
        # Only a copy into pinned memory is truly asynchronous on CUDA.
        buffer = torch.empty((), dtype=total.dtype, pin_memory=device.type == "cuda")
        return _Probe(buffer, torch.Event(device=device))

    def _check(self, block: bool) -> None:
        pending = self._pending
        while pending:
            probe = pending[0]
            if not probe.ready():
                if not block:
                    return
                probe.wait()
            pending.popleft()
            self._free.append(probe)
            value = float(probe.view)
            if not math.isfinite(value):
                # Totals are cumulative, so this is the first bad batch; later ones add nothing.
                self._recycle_pending()
                self._terminate(f"batch {probe.batch}", value)
                return

    def _recycle_pending(self) -> None:
        # Probes still in flight can be reused: their copies are ordered before any new one.
        self._free.extend(self._pending)
        self._pending.clear()

    def _terminate(self, position: str, value: float) -> None:
        """Raises or stops; `position` is "batch 3" (or "epoch 0" when batches are unknown)."""
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at {position} (running loss: {value}). "
                "Training stopped immediately; no callback's on_train_end ran. Lower the "
                "learning rate, clip gradients (e.g. clipnorm=1.0), or check the data for "
                "NaN/Inf values."
            )
        io_utils.print_msg(f"{position.capitalize()}: Invalid loss, terminating training")
        self.model.stop_training = True
