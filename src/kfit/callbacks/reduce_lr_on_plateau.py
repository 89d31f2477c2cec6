"""`ReduceLROnPlateau`: lowers the learning rate when a monitored quantity stops improving."""

from __future__ import annotations

import difflib
import math
import warnings
from typing import Any

import numpy as np

from kfit.callbacks.learning_rate_scheduler import optimizer_with_learning_rate
from kfit.callbacks.monitor_callback import MonitorCallback
from kfit.utils import io_utils

__all__ = ["ReduceLROnPlateau"]

Logs = dict[str, Any]


def _received(name: str, value: Any) -> str:
    return f"Received: {name}={value!r} (of type {type(value).__name__})."


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and not math.isnan(value)
    )


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"Expected `{name}` to be an integer >= 0. {_received(name, value)} "
            f"Pass a number of epochs, e.g. {name}=2."
        )
    return int(value)


class ReduceLROnPlateau(MonitorCallback):
    """Multiplies the learning rate by `factor` when `monitor` stops improving.

    At every epoch end the current learning rate is first written to the logs as
    `logs["learning_rate"]` (a Python float, so `History` records it), then the monitored
    value is checked. After `patience` epochs without an improvement larger than
    `min_delta`, the rate becomes `max(lr * factor, min_lr)`, and the following `cooldown`
    epochs neither count as waits nor trigger a reduction. A rate already at `min_lr` is
    left alone. `best`, `wait` and the cooldown reset in `on_train_begin`.

    Args:
        monitor: The logs key to watch. Defaults to `"val_loss"`.
        factor: The multiplier applied to the rate, in `[0, 1)`.
        patience: Non-improving epochs to allow before reducing.
        verbose: 1 prints a line at each reduction.
        mode: `"min"`, `"max"` or `"auto"` (see `MonitorCallback`).
        min_delta: The smallest change that counts as an improvement.
        cooldown: Epochs to wait after a reduction before counting again.
        min_lr: The lowest rate to reduce to.
        **kwargs: Only the legacy `epsilon` (an old name of `min_delta`) is accepted.

    Raises:
        ValueError: for `factor >= 1` (or negative), or a negative `min_lr`.
        TypeError: (at the first reduction) when the optimizer's learning rate is a
            `LearningRateSchedule`, which cannot be set to a number.

    Differences from Keras:
        Unknown keyword arguments raise a `ValueError` (Keras swallows them silently);
        `epsilon` is still honoured, with a warning, as `min_delta`. The rate is kept as a
        Python float by kfit's optimizers, so the logged value is the exact rate (Keras logs
        its float32 rounding); the "already at `min_lr`" test still compares in float32.
        The optimizer needs a `learning_rate` attribute: for a plain `torch.optim`
        optimizer, use `torch.optim.lr_scheduler.ReduceLROnPlateau` instead.

    Example:
        >>> import numpy as np, kfit
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer=kfit.optimizers.SGD(learning_rate=0.5), loss="mse")
        >>> # A huge min_delta: no epoch after the first counts as an improvement.
        >>> reduce = kfit.callbacks.ReduceLROnPlateau(monitor="loss", patience=1,
        ...                                           min_delta=1e9, factor=0.5)
        >>> history = model.fit(np.ones((8, 2)), np.zeros(8), epochs=3, verbose=0,
        ...                     callbacks=[reduce])
        >>> history.history["learning_rate"]  # the rate each epoch ran with
        [0.5, 0.5, 0.25]
        >>> float(model.optimizer.learning_rate)
        0.125
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        **kwargs: Any,
    ) -> None:
        if "epsilon" in kwargs:
            min_delta = kwargs.pop("epsilon")
            warnings.warn(
                "`epsilon` is an old name of `min_delta` in ReduceLROnPlateau; it is used as "
                "`min_delta`. Pass min_delta=... instead.",
                UserWarning,
                stacklevel=2,
            )
        if kwargs:
            valid = [
                "monitor", "factor", "patience", "verbose", "mode",
                "min_delta", "cooldown", "min_lr",
            ]
            hints = [
                f"{k!r} (did you mean {close[0]!r}?)" if close else repr(k)
                for k in sorted(kwargs)
                for close in [difflib.get_close_matches(k, valid, n=1)]
            ]
            raise ValueError(
                f"ReduceLROnPlateau got unexpected argument(s) {', '.join(hints)}. "
                f"Expected only {valid}. Remove or rename them."
            )
        super().__init__(monitor, mode, min_delta=min_delta)
        if not _is_real(factor) or not 0 <= factor < 1:
            raise ValueError(
                "Expected `factor` to be a number in [0, 1): ReduceLROnPlateau only lowers "
                f"the learning rate. {_received('factor', factor)} Pass e.g. factor=0.1 (a "
                "factor >= 1 would never reduce it)."
            )
        if not _is_real(min_lr) or min_lr < 0:
            raise ValueError(
                f"Expected `min_lr` to be a number >= 0. {_received('min_lr', min_lr)} "
                "Pass e.g. min_lr=1e-6, or 0.0 for no floor."
            )
        self.factor = float(factor)
        self.patience = _check_count("patience", patience)
        self.cooldown = _check_count("cooldown", cooldown)
        self.min_lr = float(min_lr)
        self.verbose = verbose
        self.cooldown_counter = 0
        self.wait = 0
        self._resumed = False

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        """Whether the epochs after the last reduction are still being skipped."""
        return self.cooldown_counter > 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self._resumed:
            # set_state (BackupAndRestore) came first: keep the interrupted run's counters.
            self._resumed = False
        else:
            self._reset()

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        # Every on_train_begin of this fit has run: a later fit starts afresh again.
        self._resumed = False

    def get_state(self) -> dict[str, Any]:
        """`wait`, `cooldown_counter` and `best` (the rate itself lives in the optimizer).

        Example:
            >>> reduce = ReduceLROnPlateau(monitor="loss", patience=4, cooldown=2)
            >>> reduce.set_state({"wait": 3, "cooldown_counter": 0, "best": 0.25})
            >>> reduce.get_state()
            {'wait': 3, 'cooldown_counter': 0, 'best': 0.25}
        """
        return {"wait": self.wait, "cooldown_counter": self.cooldown_counter, "best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `get_state()`'s values; the resumed `fit` keeps counting from them."""
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.best = None if state["best"] is None else float(state["best"])
        self._resumed = True

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        optimizer = optimizer_with_learning_rate(
            self.model, "ReduceLROnPlateau", "torch.optim.lr_scheduler.ReduceLROnPlateau"
        )
        logs["learning_rate"] = float(optimizer.learning_rate)
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, optimizer: Any, epoch: int) -> bool:
        old_lr = float(optimizer.learning_rate)
        # Compared in float32, as Keras stores the rate, so that a rate that reached
        # `min_lr` through float rounding is not "reduced" to itself again.
        if np.float32(old_lr) <= np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            io_utils.print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
        return True

