"""`LearningRateScheduler`: sets the learning rate at the start of every epoch from a function."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from kfit.backend import conversion
from kfit.callbacks.callback import Callback
from kfit.utils import io_utils

__all__ = ["LearningRateScheduler"]

Logs = dict[str, Any]


def _accepts(fn: Callable[..., Any], n: int) -> bool | None:
    """Whether `fn` can be called with `n` positional arguments (None: cannot tell)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*range(n))
    except TypeError:
        return False
    return True


class LearningRateScheduler(Callback):
    """Sets `model.optimizer.learning_rate` to `schedule(epoch, lr)` before every epoch.

    `epoch` is 0-based and `lr` is the current rate as a Python float. A schedule that takes
    only the epoch (`schedule(epoch)`, the older form) works too. The rate each epoch ran
    with is added to the epoch logs as `logs["learning_rate"]`, so `History` records it.

    Args:
        schedule: `fn(epoch, lr) -> float` or `fn(epoch) -> float`. The result may be a
            Python float, a numpy float or a 0-d floating-point tensor.
        verbose: 1 prints the new rate at the start of every epoch.

    Raises:
        TypeError: at construction, when `schedule` is not callable or can be called
            neither as `schedule(epoch, lr)` nor as `schedule(epoch)`; at the first epoch,
            when the optimizer's rate is a `LearningRateSchedule` (it cannot be set).
        ValueError: when `schedule` returns something other than a float.

    Differences from Keras:
        Which form to call is decided once, from the signature: `schedule(epoch, lr)` when
        the function accepts two positional arguments, else `schedule(epoch)`. Keras calls
        `schedule(epoch, lr)` and retries with `schedule(epoch)` on any `TypeError`, which
        also hides `TypeError`s raised inside a two-argument schedule. (A callable whose
        signature Python cannot read is called with two arguments.) A 0-d floating-point
        tensor is accepted as the result (Keras rejects backend tensors, although its own
        docstring returns one), and is read once per epoch.

    Example:
        >>> import numpy as np, kfit
        >>> def halve_after_first(epoch, lr):
        ...     return lr if epoch == 0 else lr / 2
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer=kfit.optimizers.SGD(learning_rate=0.1), loss="mse")
        >>> history = model.fit(np.ones((8, 2)), np.zeros(8), epochs=3, verbose=0,
        ...     callbacks=[kfit.callbacks.LearningRateScheduler(halve_after_first)])
        >>> history.history["learning_rate"]
        [0.1, 0.05, 0.025]
    """

    def __init__(self, schedule: Callable[..., Any], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "Expected `schedule` to be a function `schedule(epoch, lr) -> float`. "
                f"Received: schedule={schedule!r} (of type {type(schedule).__name__}). Pass "
                "a function, e.g. schedule=lambda epoch, lr: lr * 0.9."
            )
        two = _accepts(schedule, 2)
        if two is False and not _accepts(schedule, 1):
            raise TypeError(
                "Expected `schedule` to accept `(epoch, lr)` or `(epoch)` as positional "
                f"arguments. Received: schedule={schedule!r} with signature "
                f"{inspect.signature(schedule)}. Define it as `def schedule(epoch, lr): ...`."
            )
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = two is not False

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = optimizer_with_learning_rate(
            self.model, "LearningRateScheduler", "torch.optim.lr_scheduler.LambdaLR"
        )
        if self._takes_lr:
            value = self.schedule(epoch, float(optimizer.learning_rate))
        else:
            value = self.schedule(epoch)
        learning_rate = self._to_float(value)
        optimizer.learning_rate = learning_rate
        if self.verbose > 0:
            io_utils.print_msg(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{learning_rate}."
            )

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            optimizer = optimizer_with_learning_rate(
                self.model, "LearningRateScheduler", "torch.optim.lr_scheduler.LambdaLR"
            )
            logs["learning_rate"] = float(optimizer.learning_rate)

    def _to_float(self, value: Any) -> float:
        if isinstance(value, torch.Tensor) and value.dim() == 0 and value.is_floating_point():
            return float(conversion.to_host(value))
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind == "f":
            return float(value)
        if isinstance(value, (float, np.floating)):
            return float(value)
        raise ValueError(
            "Expected `schedule` to return a float (a Python float, numpy float or 0-d "
            f"floating-point tensor). Received: {value!r} (of type {type(value).__name__}). "
            "Return a float, e.g. `return float(new_lr)`."
        )


def optimizer_with_learning_rate(model: Any, callback: str, torch_alternative: str) -> Any:
    """`model.optimizer`, checked to expose Keras's settable `learning_rate`."""
    optimizer = getattr(model, "optimizer", None)
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError(
            "Expected `model.optimizer` to have a `learning_rate` attribute for "
            f"{callback}. Received: an optimizer of type {type(optimizer).__name__}. Compile "
            f"with a kfit optimizer (e.g. kfit.optimizers.Adam), or use {torch_alternative} "
            "with a plain torch optimizer."
        )
    return optimizer
