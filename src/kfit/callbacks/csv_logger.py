"""`CSVLogger`: writes one row of epoch results per epoch to a CSV file."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from typing import IO, Any

import numpy as np

from kfit.callbacks.callback import Callback

__all__ = ["CSVLogger"]

Logs = dict[str, Any]


def _cell(value: Any) -> Any:
    """How one logs value is written: numbers as Python prints them, sequences as `[a, b]`."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return f"[{', '.join(map(str, value))}]"
    return value


class CSVLogger(Callback):
    """Streams the epoch results to a CSV file: an `epoch` column (0-based), then one per key.

    The columns are fixed at the first epoch: its logs keys, sorted. When `fit` validates,
    the `val_` columns (one per metric of the model) are there from the start, and an epoch
    without validation (see `validation_freq`) writes `NA` in them. Each row is flushed as
    soon as it is written, so the file can be followed during training.

    Args:
        filename: The CSV file. Its folder is created when missing.
        separator: The character between the fields of a row.
        append: Add to an existing file (without writing a second header) instead of
            replacing it. Rows then follow the existing header's columns.

    Differences from Keras:
        Keras decides about `val_` columns from the first epoch's keys alone, so a `fit`
        without any validation still gets `val_` columns full of `NA`, and one whose first
        epoch skipped validation gets them after all the other columns. kfit adds them,
        sorted with the others, exactly when `fit` validates, one per model metric (so a
        `learning_rate` key added by a callback gets no `val_learning_rate`). When the
        callback is driven by hand outside `fit`, it falls back to Keras's rule. With
        `append=True`, rows follow the columns of the existing header, so they line up with
        the earlier rows (Keras writes its own columns under the old header). A list-like
        value is written as `[a, b]` (Keras wraps it in an extra pair of quotes).

    Example:
        >>> import os, tempfile
        >>> import numpy as np, kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "log.csv")
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        >>> x, y = np.ones((8, 2)), np.ones(8)
        >>> _ = model.fit(x, y, epochs=2, validation_data=(x, y), validation_freq=2, verbose=0,
        ...               callbacks=[kfit.callbacks.CSVLogger(path)])
        >>> rows = open(path).read().splitlines()
        >>> rows[0]
        'epoch,loss,mae,val_loss,val_mae'
        >>> rows[1].endswith(",NA,NA"), len(rows)  # no validation in the first epoch
        (True, 3)
        >>> folder.cleanup()
    """

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)) or not os.fspath(filename):
            raise ValueError(
                "Expected `filename` to be the path of the CSV file to write. Received: "
                f"filename={filename!r} (of type {type(filename).__name__}). Pass e.g. "
                "filename='training.log'."
            )
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                "Expected `separator` to be a single character (the csv module's delimiter). "
                "Received: "
                f"separator={separator!r} (of type {type(separator).__name__}). Pass e.g. "
                "separator=',' or separator='\\t'."
            )
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys: list[str] | None = None
        self.csv_file: IO[str] | None = None
        self.writer: Any = None
        self._write_header = True

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._close()
        self.keys = None
        self.writer = None
        self._write_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f, delimiter=self.sep), None)
            if header:
                self._write_header = False
                self.keys = [key for key in header if key != "epoch"]
        folder = os.path.dirname(self.filename)
        if folder:
            os.makedirs(folder, exist_ok=True)
        # Opened once per fit. Rows are appended and flushed one at a time: a crash can cut
        # the last row short but never loses earlier ones. (The whole-file atomic writes
        # used elsewhere would rewrite the file every epoch.)
        self.csv_file = open(  # noqa: SIM115 (kept open across hooks, closed in on_train_end)
            self.filename, "a" if self.append else "w", newline="", encoding="utf-8"
        )

    def _columns(self, logs: Logs) -> list[str]:
        keys = set(logs)
        validates = getattr(self.model, "_fit_has_validation", None)
        if validates is None:
            # Not driven by fit: Keras's rule, validation columns for every key unless present.
            if keys and not any(key.startswith("val_") for key in keys):
                keys |= {f"val_{key}" for key in logs}
        elif validates:
            metrics = getattr(self.model, "metrics", None) or []
            # The compiled metrics come as one `CompileMetrics`; the logs hold its members.
            keys |= {f"val_{m.name}" for metric in metrics for m in getattr(metric, "metrics", [metric])}
        return sorted(keys)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.csv_file is None:
            # Hooks driven by hand without on_train_begin.
            self.on_train_begin()
        csv_file = self.csv_file
        assert csv_file is not None  # on_train_begin opened it
        if self.keys is None:
            self.keys = self._columns(logs)
        if self.writer is None:

            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.writer(csv_file, dialect=Dialect)
            if self._write_header:
                self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *(_cell(logs.get(key, "NA")) for key in self.keys)])
        csv_file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._close()

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None
