"""`MonitorCallback`: the shared `monitor` / `mode` / `min_delta` logic of the watching callbacks.

`EarlyStopping`, `ReduceLROnPlateau` and `ModelCheckpoint` all watch one entry of the epoch
logs and ask one question: is this value better than the best so far? This module answers it
once, for all of them. Like Keras, the base is not exported from `kfit.callbacks`; import it
from `kfit.callbacks.monitor_callback` to write your own monitoring callback.
"""

from __future__ import annotations

import difflib
import math
import operator
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from kfit.backend import conversion
from kfit.callbacks.callback import Callback

__all__ = ["MonitorCallback", "metric_direction"]

Logs = dict[str, Any]

_MODES = ("auto", "min", "max")


def _received(name: str, value: Any) -> str:
    return f"Received: {name}={value!r} (of type {type(value).__name__})."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def metric_direction(monitor: str, metrics: Iterable[Any] = ()) -> str | None:
    """Which way a logs key improves, as `mode="auto"` decides it: `"min"`, `"max"` or None.

    A loss (`loss`, or a name ending in `_loss`, after dropping a `val_` prefix) goes down;
    otherwise the metric of that name among `metrics` states its `direction`; None when none does.

    Example:
        >>> from kfit.metrics import BinaryAccuracy
        >>> metric_direction("val_loss"), metric_direction("accuracy", [BinaryAccuracy(name="accuracy")])
        ('min', 'max')
        >>> metric_direction("accuracy") is None  # no metric says
        True
    """
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "min"
    direction = next((getattr(m, "direction", None) for m in metrics if getattr(m, "name", None) == name), None)
    return {"up": "max", "down": "min"}.get(direction) if isinstance(direction, str) else None


class MonitorCallback(Callback):
    """Base class for callbacks that track whether a logged quantity improves.

    Subclasses call `get_monitor_value(logs)` in a hook, then `_is_improvement(current,
    self.best)`. With `mode="auto"` the direction is worked out on first use (the model's
    metrics exist only once training has run a batch):

    * a name that is `loss` or ends with `_loss` (after dropping a `val_` prefix) is minimized;
    * otherwise the compiled metric of that name decides, through its `direction`
      (`"up"`: maximize, `"down"`: minimize);
    * anything else raises a `ValueError` asking for `mode="min"` or `mode="max"`.

    The resolved direction is forgotten whenever `set_model` is called (every `fit` does), so
    a callback reused on a recompiled model looks again.

    Args:
        monitor: The logs key to watch, e.g. `"val_loss"` or `"val_accuracy"`.
        mode: `"min"`, `"max"`, or `"auto"` (see above).
        baseline: The initial value of `best`; `None` means the first value seen is an
            improvement.
        min_delta: How much better than `best` a value must be to count as an improvement.
            Its sign is ignored.

    Attributes:
        best: The best value seen so far (or the baseline), `None` before any.
        monitor_op: `operator.lt` (minimize) or `operator.gt` (maximize) once resolved,
            else `None`.

    Raises:
        ValueError: for a `mode` other than the three above, or a non-numeric `min_delta`.

    Differences from Keras:
        An unknown `mode` raises a `ValueError` (Keras warns and falls back to `"auto"`,
        which then often fails later with a less clear message). `mode="auto"` also treats
        names ending in `_loss` (the per-output losses of multi-output models) as losses.
        `min_delta` is kept non-negative; Keras flips its sign when the mode resolves to
        `"min"`.

    Example:
        >>> from kfit.callbacks.monitor_callback import MonitorCallback
        >>> watcher = MonitorCallback(monitor="val_accuracy", mode="max", min_delta=0.01)
        >>> watcher._is_improvement(0.905, 0.9)  # not better by at least min_delta
        False
        >>> watcher._is_improvement(0.92, 0.9)
        True
        >>> MonitorCallback(monitor="loss")._is_improvement(0.1, None)  # "auto": a loss
        True
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        baseline: float | None = None,
        min_delta: float = 0,
    ) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                "Expected `monitor` to be the name of a logged quantity, such as 'val_loss'. "
                f"{_received('monitor', monitor)} Pass the key as a string."
            )
        if mode not in _MODES:
            close = difflib.get_close_matches(str(mode), _MODES, n=1)
            hint = f"Did you mean mode={close[0]!r}? " if close else ""
            raise ValueError(
                f"Expected `mode` to be one of {list(_MODES)}. {_received('mode', mode)} "
                f"{hint}Use 'min' when lower is better, 'max' when higher is better, or 'auto'."
            )
        if baseline is not None and not _is_number(baseline):
            raise ValueError(
                f"Expected `baseline` to be a number or None. {_received('baseline', baseline)} "
                "Pass e.g. baseline=0.5, or None for no baseline."
            )
        if not _is_number(min_delta) or math.isnan(min_delta):
            raise ValueError(
                f"Expected `min_delta` to be a number. {_received('min_delta', min_delta)} "
                "Pass e.g. min_delta=0.001, or 0 to count any change as an improvement."
            )
        self.monitor = monitor
        self.mode = mode
        self.best: float | None = None if baseline is None else float(baseline)
        self.min_delta = abs(float(min_delta))
        self.monitor_op: Callable[[float, float], bool] | None = None
        # The missing-key warning is given once per fit (set_model starts each fit afresh).
        self._missing_warned = False

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        self._missing_warned = False
        if self.mode == "auto":
            # A recompiled or different model may give the same name another direction.
            self.monitor_op = None

    def _set_monitor_op(self) -> None:
        """Resolves `monitor_op` from `mode` (and, for `"auto"`, from the model's metrics)."""
        if self.mode == "min":
            self.monitor_op = operator.lt
            return
        if self.mode == "max":
            self.monitor_op = operator.gt
            return
        name = self.monitor.removeprefix("val_")
        # The compiled metrics come as one `CompileMetrics`; its members carry the directions.
        metrics = [
            m for metric in getattr(self.model, "metrics", None) or [] for m in getattr(metric, "metrics", [metric])
        ]
        direction = metric_direction(self.monitor, metrics)
        if direction == "max":
            self.monitor_op = operator.gt
        elif direction == "min":
            self.monitor_op = operator.lt
        else:
            names = [m.name for m in metrics]
            known = ", ".join(repr(n) for n in names) or "none yet"
            close = difflib.get_close_matches(name, names, n=1)
            prefix = self.monitor[: len(self.monitor) - len(name)]
            hint = f" Did you mean monitor={prefix + close[0]!r}?" if close else ""
            raise ValueError(
                f"{type(self).__name__} cannot tell whether `monitor={self.monitor!r}` should "
                "go down or up: it is not a loss, and no compiled metric of that name states "
                f"a direction (the model's metrics: {known}). "
                f"{_received('monitor', self.monitor)}{hint} Pass mode='min' if lower values "
                "are better, or mode='max' if higher values are better."
            )

    def _is_improvement(self, monitor_value: float, reference_value: float | None) -> bool:
        """Whether `monitor_value` beats `reference_value` by more than `min_delta`.

        `None` as the reference (nothing seen yet) is always beaten.
        """
        if reference_value is None:
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.monitor_op is operator.lt:
            return monitor_value + self.min_delta < reference_value
        return monitor_value - self.min_delta > reference_value

    def get_monitor_value(self, logs: Logs | None) -> float | None:
        """Returns `logs[monitor]` as a float, or warns and returns None when it is absent.

        The warning lists the keys that are available, so a misspelled `monitor` (or a
        `val_` metric during an epoch without validation) is easy to spot. It is given once
        per fit, at the first epoch that lacks the key, rather than at every epoch.
        """
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            if getattr(self, "_missing_warned", False):
                return None
            self._missing_warned = True
            keys = sorted(logs)
            close = difflib.get_close_matches(self.monitor, keys, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            warnings.warn(
                f"{type(self).__name__} is conditioned on `{self.monitor}`, which is not in "
                f"the logs; the epochs that lack it are skipped (this warning is given once "
                f"per fit). Available keys: {keys}.{hint} Check the spelling of `monitor`, and "
                "that validation runs (validation_data or validation_split) for `val_` keys.",
                UserWarning,
                stacklevel=3,
            )
            return None
        if isinstance(value, torch.Tensor):
            # Epoch logs are Python floats; a callback may still insert a tensor.
            value = conversion.to_host(value)
        if isinstance(value, np.ndarray):
            if value.size != 1:
                raise ValueError(
                    f"Expected `logs[{self.monitor!r}]` to be a scalar for "
                    f"{type(self).__name__}. Received: an array of shape {value.shape}. Monitor "
                    "a scalar quantity, or reduce this one in the callback that logs it."
                )
            value = value.reshape(()).item()
        return float(value)
