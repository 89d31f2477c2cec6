"""`History`: records each epoch's logs; `fit` returns it."""

from __future__ import annotations

from typing import Any

from kfit.callbacks.callback import Callback

__all__ = ["History"]


class History(Callback):
    """Records the logs of every epoch into `history` (key -> list) and `epoch` (indices).

    `fit` adds one automatically, after the user's callbacks, returns it, and stores it as
    `model.history`.

    Example:
        >>> h = History()
        >>> h.on_train_begin()
        >>> h.on_epoch_end(0, {"loss": 0.5})
        >>> h.on_epoch_end(1, {"loss": 0.25})
        >>> h.epoch, h.history
        ([0, 1], {'loss': [0.5, 0.25]})
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
