"""`History`: records each epoch's logs; `fit` returns it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from kfit.callbacks.callback import Callback

__all__ = ["History"]


def _plain(value: Any) -> Any:
    # Epoch logs hold Python floats, but a callback may have added a NumPy or torch value.
    return value.tolist() if hasattr(value, "tolist") else value


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
        self._resumed = False

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self._resumed:
            # set_state (BackupAndRestore) came first: the epochs so far belong to this run.
            self._resumed = False
        else:
            self.epoch = []

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # Every on_train_begin of this fit has run: a later fit starts afresh again.
        self._resumed = False

    def get_state(self) -> dict[str, Any]:
        """`{"history": {key: [values]}, "epoch": [indices]}`, as plain Python values."""
        return {
            "history": {key: [_plain(v) for v in values] for key, values in self.history.items()},
            "epoch": list(self.epoch),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `history` and `epoch`; the resumed `fit` appends to them."""
        self.history = {key: list(values) for key, values in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]
        self._resumed = True
        if self.model is not None:
            self.model.history = self

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def plot(self, metrics: Sequence[str] | None = None, to_file: str | os.PathLike[str] | None = None,
             **kwargs: Any) -> Any:
        """Plots the recorded curves: `kfit.utils.plot_history(self, metrics, to_file, **kwargs)`.

        One axis per metric with its `val_` twin, the best epoch marked; needs matplotlib
        (`pip install kfit[plot]`). Returns the `matplotlib.figure.Figure`.

        Example:
            >>> h = History()
            >>> h.on_train_begin()
            >>> for epoch, (loss, val_loss) in enumerate([(0.9, 1.0), (0.5, 0.7), (0.4, 0.8)]):
            ...     h.on_epoch_end(epoch, {"loss": loss, "val_loss": val_loss})
            >>> [line.get_label() for line in h.plot().axes[0].get_lines()][-1]
            'best val_loss: 0.7 (epoch 2)'
        """
        from kfit.utils.plotting import plot_history

        return plot_history(self, metrics, to_file, **kwargs)
