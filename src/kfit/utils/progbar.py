"""Text progress bar in the classic tf.keras layout, for `fit`/`evaluate`/`predict` and downloads.

The bar is drawn with ASCII characters (`[=====>....]`), as printed in the Keras guides. On a
terminal it is redrawn in place; anywhere else (a log file, a pipe, a captured stream) it writes
only complete lines, one per finished bar, so logs stay free of control characters. With
interactive logging off (`kfit.utils.disable_interactive_logging()`) a bar without its own
`file` logs those lines to the `"kfit"` logger instead (see `kfit.utils.io_utils`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TextIO

import numpy as np

from kfit.utils import io_utils

__all__ = ["Progbar"]

Values = Mapping[str, Any] | Sequence[tuple[str, Any]]


def _format_number(value: Any) -> str:
    """Formats one displayed value: 4 decimals, or scientific notation for tiny magnitudes."""
    if isinstance(value, str):
        return f" {value}"
    try:
        number = float(value)
    except TypeError:
        # Arrays with several elements are summarised by their mean, as Keras does.
        number = float(np.mean(value))
    if abs(number) > 1e-3:
        return f" {number:.4f}"
    return f" {number:.4e}"


def _format_duration(seconds: float, unit_name: str) -> str:
    """Formats a per-unit duration as whole seconds, milliseconds or microseconds."""
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(seconds: float) -> str:
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int((seconds % 3600) // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


class Progbar:
    """Displays a progress bar, with an ETA and metric values, for a loop over steps.

    Metric values are shown exactly as given: kfit's logs already hold running means, so the
    bar does not average them again (`stateful_metrics` is accepted for compatibility, and every
    metric is treated as stateful).

    `values` given as a mapping are read only when the bar actually redraws (at most once per
    `interval` seconds, plus the first and the final update). The batch logs of `fit` are a
    `kfit.trainers.BatchLogs`, which reads the device on first access, so displaying them costs
    one transfer per redraw instead of one per step.

    Args:
        target: Total number of steps expected, or `None` if unknown.
        width: Width of the bar in characters.
        verbose: 0 prints nothing, 1 draws the bar, 2 prints one summary line when the bar
            finishes.
        interval: Minimum number of seconds between two redraws.
        stateful_metrics: Names of metrics that should not be averaged. Accepted for Keras
            compatibility; all values are displayed as given.
        unit_name: Name of one step in the timing display (`"step"`, `"sample"`, ...).
        file: Stream to write to. Defaults to `sys.stdout` at the time of each write, or, while
            interactive logging is disabled, the `"kfit"` logger (one record per line).
        dynamic_display: Whether to redraw in place with `\\b` and `\\r`. Defaults to whether
            the output stream is a terminal (or a Jupyter kernel is running).
        clock: Zero-argument function returning the current time in seconds. Defaults to
            `time.monotonic`; tests inject a fake clock here.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> bar = Progbar(4, file=out, clock=lambda: 0.0)
        >>> for step in range(1, 5):
        ...     bar.update(step, values=[("loss", 0.25)])
        >>> print(out.getvalue(), end="")
        4/4 [==============================] - 0s 0s/step - loss: 0.2500
    """

    def __init__(
        self,
        target: int | None,
        width: int = 30,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics: Iterable[str] | None = None,
        unit_name: str = "step",
        file: TextIO | None = None,
        dynamic_display: bool | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if verbose not in (0, 1, 2):
            raise ValueError(
                "Expected `verbose` to be 0, 1 or 2. "
                f"Received: verbose={verbose!r} (of type {type(verbose).__name__}). "
                "Use 0 for silent, 1 for a progress bar, 2 for one line per finished bar."
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self._file = file
        self._clock = clock if clock is not None else time.monotonic
        if dynamic_display is None:
            stream = self._stream()
            dynamic_display = bool(getattr(stream, "isatty", lambda: False)()) or (
                "ipykernel" in sys.modules
            )
        self._dynamic_display = dynamic_display

        self._values: dict[str, Any] = {}
        self._pending_values: Mapping[str, Any] | None = None
        self._seen_so_far = 0
        self._start = self._clock()
        self._last_draw: float | None = None
        self._first_step: tuple[int, float] | None = None
        self._prev_total_width = 0

    def _stream(self) -> TextIO:
        return self._file if self._file is not None else sys.stdout

    def _logs(self) -> bool:
        return self._file is None and not io_utils.is_interactive_logging_enabled()

    def _redraws(self) -> bool:
        # A log gets whole lines, as a file does: a record per redraw would flood it.
        return self._dynamic_display and not self._logs()

    def _write(self, text: str) -> None:
        if self._logs():
            io_utils.print_msg(text, line_break=False)
            return
        stream = self._stream()
        stream.write(text)
        stream.flush()

    def update(
        self,
        current: int,
        values: Values | None = None,
        finalize: bool | None = None,
    ) -> None:
        """Moves the bar to step `current` and redraws it if the display is due.

        Args:
            current: Index of the current step (the number of steps done).
            values: a mapping of names to values, read only if this update (or a later
                one without values) redraws, or a list of `(name, value)` pairs. Names seen
                earlier keep their last value when they are not passed again.
            finalize: Whether this is the last update. Defaults to `current >= target`.

        Example:
            >>> import io
            >>> out = io.StringIO()
            >>> bar = Progbar(None, file=out, clock=lambda: 0.0)
            >>> bar.update(7, values=[("loss", 1e-4)], finalize=True)
            >>> print(out.getvalue(), end="")
                  7/Unknown - 0s 0s/step - loss: 1.0000e-04
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if isinstance(values, Mapping):
            # Newer values supersede unread ones from an earlier step, which may read state
            # that has changed since (fit's validation resets the shared metrics).
            self._pending_values = values
        elif values is not None:
            self._pending_values = None
            self._store(values)
        self._seen_so_far = current

        now = self._clock()
        if current >= 1 and self._first_step is None:
            self._first_step = (current, now)

        if self.verbose == 1:
            if not finalize and (
                not self._redraws()
                or (self._last_draw is not None and now - self._last_draw < self.interval)
            ):
                return
            self._draw_bar(current, now, finalize)
            self._last_draw = now
        elif self.verbose == 2 and finalize:
            self._draw_summary(current, now)
            self._last_draw = now

    def add(self, n: int, values: Values | None = None) -> None:
        """Advances the bar by `n` steps; same `values` as `update`.

        Example:
            >>> import io
            >>> out = io.StringIO()
            >>> bar = Progbar(2, width=4, file=out, clock=lambda: 0.0)
            >>> bar.add(1)
            >>> bar.add(1)
            >>> print(out.getvalue(), end="")
            2/2 [====] - 0s 0s/step
        """
        self.update(self._seen_so_far + n, values)

    def _store(self, values: Iterable[tuple[str, Any]]) -> None:
        for name, value in values:
            self._values[name] = value

    def _resolve_values(self) -> None:
        # Reading the mapping here, not in `update`, is what keeps per-step updates sync-free.
        if self._pending_values is not None:
            pending, self._pending_values = self._pending_values, None
            self._store(pending.items())

    def _metrics_text(self) -> str:
        self._resolve_values()
        return "".join(f" - {name}:{_format_number(value)}" for name, value in self._values.items())

    def _time_per_unit(self, current: int, now: float) -> float:
        if current <= 0:
            return 0.0
        # The first step includes one-off costs (compilation, warm-up), so leave it out once
        # later steps exist.
        if self._first_step is not None:
            first_count, first_time = self._first_step
            if current > first_count:
                return (now - first_time) / (current - first_count)
        return (now - self._start) / current

    def _bar_text(self, current: int) -> str:
        if self.target is None:
            return f"{current:7d}/Unknown"
        digits = len(str(self.target))
        progress = current / self.target if self.target > 0 else 1.0
        filled = min(int(self.width * progress), self.width)
        bar = f"{current:{digits}d}/{self.target} ["
        if filled > 0:
            bar += "=" * (filled - 1) + (">" if current < self.target else "=")
        return bar + "." * (self.width - filled) + "]"

    def _draw_bar(self, current: int, now: float, finalize: bool) -> None:
        bar = self._bar_text(current)
        time_per_unit = self._time_per_unit(current, now)
        if self.target is None or finalize:
            info = f" - {now - self._start:.0f}s" + _format_duration(time_per_unit, self.unit_name)
        else:
            info = f" - ETA: {_format_eta(time_per_unit * (self.target - current))}"
        info += self._metrics_text()
        line = bar + info

        if not self._redraws():
            self._write(line + "\n")
            return
        text = "\b" * self._prev_total_width + "\r" + line
        if self._prev_total_width > len(line):
            # Blank out the tail of a longer previous line.
            text += " " * (self._prev_total_width - len(line))
        if finalize:
            text += "\n"
        self._write(text)
        self._prev_total_width = len(line)

    def _draw_summary(self, current: int, now: float) -> None:
        if self.target is None:
            count = f"{current}/Unknown"
        else:
            count = f"{current:{len(str(self.target))}d}/{self.target}"
        elapsed = now - self._start
        steps = self.target if self.target else current
        per_step = elapsed / steps if steps else 0.0
        line = (
            f"{count} - {elapsed:.0f}s"
            + self._metrics_text()
            + " -"
            + _format_duration(elapsed, "epoch")
            + " -"
            + _format_duration(per_step, self.unit_name)
        )
        self._write(line + "\n")
