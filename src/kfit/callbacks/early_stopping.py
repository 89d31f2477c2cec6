"""`EarlyStopping`: stops training when a monitored quantity stops improving."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kfit.callbacks.monitor_callback import MonitorCallback
from kfit.utils import io_utils

__all__ = ["EarlyStopping"]

Logs = dict[str, Any]


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"Expected `{name}` to be an integer >= 0. Received: {name}={value!r} (of type "
            f"{type(value).__name__}). Pass a number of epochs, e.g. {name}=3."
        )
    return int(value)


class EarlyStopping(MonitorCallback):
    """Stops training once `monitor` has not improved for `patience` epochs.

    At every epoch end the monitored value is compared with the best so far; an epoch whose
    value is not better by more than `min_delta` counts as a wait. Training stops at the end
    of the epoch where the wait reaches `patience` (`patience=0` stops after the first
    non-improving epoch, exactly as `patience=1` does, as in Keras). All state (`best`,
    `wait`, `stopped_epoch`, `best_epoch`, `best_weights`) is reset in `on_train_begin`, so
    one instance can serve several `fit` calls.

    Args:
        monitor: The logs key to watch. Defaults to `"val_loss"`.
        min_delta: The smallest change that counts as an improvement.
        patience: Non-improving epochs to allow before stopping.
        verbose: 1 prints a line when training stops and when weights are restored.
        mode: `"min"`, `"max"` or `"auto"` (see `MonitorCallback`).
        baseline: A value the monitored quantity has to beat. It is not the initial best:
            the first epoch is still the first best, but the wait is reset only by an epoch
            that beats both the best and the baseline, so an unbeaten baseline stops training
            after `patience` epochs.
        restore_best_weights: At the end of training, whatever ended it (this callback,
            another one, or the last epoch), put back the weights of the best epoch seen.
        start_from_epoch: Epochs to ignore entirely before monitoring starts (a warm-up).

    Attributes:
        stopped_epoch: The epoch at which this callback stopped training (0 if it did not).
        best_epoch: The epoch with the best monitored value.
        best_weights: The best epoch's `state_dict` copy (with `restore_best_weights`).

    Differences from Keras:
        The best weights are copied on the model's device with `torch` (a clone of the
        `state_dict` on the first improving epoch, then in-place copies) instead of
        `get_weights()`, which copies every weight to host memory on each improving epoch.
        The copy therefore costs no device-to-host transfer, but takes as much device
        memory as the model's parameters and buffers; it is kept until the next `fit`.
        A missing monitor key warns once per fit (listing the available keys) and skips
        the epochs that lack it (Keras warns at every such epoch). A `monitor` that is
        neither a loss nor a compiled metric, with `mode="auto"`, raises at the first epoch
        end. An invalid `mode` raises instead of falling back to `"auto"`.

    Example:
        >>> import numpy as np, kfit
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer=kfit.optimizers.SGD(learning_rate=0.0), loss="mse")
        >>> stopper = kfit.callbacks.EarlyStopping(monitor="loss", patience=2)
        >>> history = model.fit(np.ones((8, 2)), np.zeros(8), epochs=10, verbose=0,
        ...                     callbacks=[stopper])
        >>> len(history.epoch), stopper.stopped_epoch  # the loss never moves
        (3, 2)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__(monitor, mode, baseline=baseline, min_delta=min_delta)
        # The baseline gates resetting the wait; it is not the initial best.
        self.baseline = self.best
        self.best = None
        self.patience = _check_count("patience", patience)
        self.start_from_epoch = _check_count("start_from_epoch", start_from_epoch)
        self.verbose = verbose
        self.restore_best_weights = bool(restore_best_weights)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._resumed = False

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self._resumed:
            # set_state (BackupAndRestore) came first: keep the interrupted run's counters.
            self._resumed = False
        else:
            self.wait = 0
            self.stopped_epoch = 0
            self.best = None
            self.best_epoch = 0
            self.best_weights = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        # Counting first means an improvement resets to 0 and the first miss reads 1,
        # which is why patience 0 and 1 behave the same.
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self._snapshot_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            io_utils.print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                io_utils.print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.load_state_dict(self.best_weights)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        # Every on_train_begin of this fit has run: a later fit starts afresh again.
        self._resumed = False

    def get_state(self) -> dict[str, Any]:
        """`wait`, `best`, `stopped_epoch`, `best_epoch`, and `best_weights` (tensors) if kept.

        Example:
            >>> stopper = EarlyStopping(monitor="loss", patience=3)
            >>> stopper.on_epoch_end(0, {"loss": 0.5})
            >>> stopper.on_epoch_end(1, {"loss": 0.7})
            >>> stopper.get_state()
            {'wait': 1, 'best': 0.5, 'stopped_epoch': 0, 'best_epoch': 0}
        """
        state: dict[str, Any] = {
            "wait": self.wait,
            "best": self.best,
            "stopped_epoch": self.stopped_epoch,
            "best_epoch": self.best_epoch,
        }
        if self.best_weights is not None:
            state["best_weights"] = dict(self.best_weights)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `get_state()`'s values; the resumed `fit` keeps counting from them."""
        self.wait = int(state["wait"])
        self.best = None if state["best"] is None else float(state["best"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best_epoch = int(state["best_epoch"])
        weights = state.get("best_weights")
        self.best_weights = None
        if weights is not None:
            # Back on the device of the model's own tensors, where the snapshots are kept.
            current = self.model.state_dict() if self.model is not None else {}
            self.best_weights = {
                k: v.detach().to(current[k].device if k in current else v.device, copy=True)
                for k, v in weights.items()
            }
        self._resumed = True

    def _snapshot_weights(self) -> None:
        state = self.model.state_dict()
        saved = self.best_weights
        if saved is None or saved.keys() != state.keys():
            self.best_weights = {k: v.detach().clone() for k, v in state.items()}
            return
        with torch.no_grad():
            for key, value in state.items():
                saved[key].copy_(value)
