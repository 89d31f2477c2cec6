"""`ProgbarLogger`: the progress bar that `verbose=1` and `verbose=2` print."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kfit.callbacks.callback import Callback
from kfit.utils import io_utils
from kfit.utils.progbar import Progbar

__all__ = ["ProgbarLogger"]

Logs = dict[str, Any]


class ProgbarLogger(Callback):
    """Prints a progress bar per epoch (fit), per evaluation and per prediction.

    `fit`, `evaluate` and `predict` add one when `verbose != 0`. `verbose="auto"` means 1; 2
    prints one line per epoch. During `fit`, validation draws no bar of its own: its results
    appear on the epoch's line as `val_` keys.

    It hands the batch logs to the bar unread; the bar reads them only when it redraws (at most
    every 50 ms on a terminal), so the batch logs, a `BatchLogs` that reads the device on first
    access, cost a sync a few times a second, not per step.

    Example:
        >>> import io, contextlib
        >>> bar = ProgbarLogger()
        >>> bar.set_params({"verbose": 2, "epochs": 1, "steps": 2})
        >>> out = io.StringIO()
        >>> with contextlib.redirect_stdout(out):
        ...     bar.on_train_begin()
        ...     bar.on_epoch_begin(0)
        ...     bar.on_train_batch_end(0, {"loss": 1.0})
        ...     bar.on_train_batch_end(1, {"loss": 0.5})
        ...     bar.on_epoch_end(0, {"loss": 0.5})
        >>> out.getvalue().startswith("2/2 - ")
        True
    """

    def __init__(self) -> None:
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target: int | None = None
        self.seen = 0
        self.progbar: Progbar | None = None
        self._in_fit = False

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _reset(self) -> None:
        self.seen = 0
        self.progbar = None

    def _bar(self) -> Progbar:
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step")
        return self.progbar

    def _batch_update(self, batch: int, logs: Mapping[str, Any] | None) -> None:
        self.seen = batch + 1
        # In data-parallel training only rank 0 draws a bar, at moments of its own, so it reads
        # this rank's running values (`BatchLogs.local_view`): reading the global ones is a
        # collective the other ranks would not join. Epoch and evaluation ends are global.
        local_view = getattr(logs, "local_view", None)
        self._bar().update(self.seen, logs if local_view is None else local_view(), finalize=False)

    def _finalize(self, logs: Logs | None) -> None:
        if self.target is None:
            # An unknown length is known once the loop has ended.
            self.target = self.seen
            self._bar().target = self.seen
        # An empty mapping rather than None: it replaces batch logs the bar still holds unread.
        self._bar().update(self.target, {} if logs is None else logs, finalize=True)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._in_fit = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._in_fit = False

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._reset()
        if self.verbose and self.epochs > 1:
            io_utils.print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._batch_update(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._finalize(logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        if not self._in_fit:
            self._reset()

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if not self._in_fit:
            self._batch_update(batch, logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        if not self._in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._reset()

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._batch_update(batch, None)

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._finalize(None)
