"""`CSVLogger`: writes one row of epoch results per epoch to a CSV file."""

from __future__ import annotations

import csv
import io
import os
import warnings
from collections.abc import Iterable
from typing import IO, Any

import numpy as np

from kfit.backend.distributed import is_main_process
from kfit.callbacks.callback import Callback
from kfit.saving.atomic import atomic_write_bytes

__all__ = ["CSVLogger"]

Logs = dict[str, Any]


def _cell(value: Any) -> Any:
    """How one logs value is written: numbers as Python prints them, sequences as `[a, b]`."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return f"[{', '.join(map(str, value))}]"
    return value


def _line_end(text: str) -> str:
    # The file's own line ending: the csv module writes "\r\n"; another tool may write "\n".
    return "\r\n" if "\r\n" in text else "\n"


class CSVLogger(Callback):
    """Streams the epoch results to a CSV file: an `epoch` column (0-based), then one per key.

    The columns are fixed at the first epoch: its logs keys, sorted. When `fit` validates,
    the `val_` columns (one per metric of the model) are there from the start, and an epoch
    without validation (see `validation_freq`) writes `NA` in them. Each row is flushed as
    soon as it is written, so the file can be followed during training. A key that a later
    epoch logs and the header lacks is never dropped: it becomes a new column at the end, and
    the file is rewritten (atomically) with `NA` in that column for the earlier rows.

    With `BackupAndRestore`, the file's text up to the last row is part of each backup
    (`get_state`), and a resumed run puts it back before going on: an epoch's row is written
    once, under one header, however often the run was killed.

    Args:
        filename: The CSV file. Its folder is created when missing.
        separator: The character between the fields of a row.
        append: Add to an existing file (without writing a second header) instead of
            replacing it. Rows then follow the existing header's columns (extended as
            above). A last line cut short by a crash is ended first (with a warning), so
            that the new rows are not glued to it.

    Differences from Keras:
        Keras decides about `val_` columns from the first epoch's keys alone, so a `fit`
        without any validation still gets `val_` columns full of `NA`, and one whose first
        epoch skipped validation gets them after all the other columns. kfit adds them,
        sorted with the others, exactly when `fit` validates, one per model metric (so a
        `learning_rate` key added by a callback gets no `val_learning_rate`). When the
        callback is driven by hand outside `fit`, it falls back to Keras's rule. With
        `append=True`, rows follow the columns of the existing header, so they line up with
        the earlier rows (Keras writes its own columns under the old header). Keras drops
        keys that are not in the header; kfit adds columns for them. A list-like
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
        # The file's text as written so far (what get_state saves), and whether set_state
        # ran before on_train_begin.
        self._content = ""
        self._resumed = False

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self._resumed:
            # set_state (BackupAndRestore) came first and put back the interrupted run's
            # rows: go on appending to them.
            self._resumed = False
            self._open("a")
            return
        self._close()
        self.keys = None
        self._content = ""
        cut_line_end = ""
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="", encoding="utf-8") as f:
                self._content = f.read()
            if self._content and not self._content.endswith("\n"):
                # A run killed mid-row left a partial last line: the next row must not be
                # glued to it. The fragment is kept (it is the user's data), on its own line.
                cut_line_end = "\n" if self._content.endswith("\r") else _line_end(self._content)
                warnings.warn(
                    f"The last line of {self.filename!r} is incomplete (was a run "
                    "interrupted while writing it?). CSVLogger(append=True) ends it and "
                    "writes the new rows on the lines after it.",
                    UserWarning,
                    stacklevel=2,
                )
            header = next(csv.reader(io.StringIO(self._content), delimiter=self.sep), None)
            if header:
                self.keys = [key for key in header if key != "epoch"]
        folder = os.path.dirname(self.filename)
        if folder and is_main_process():
            os.makedirs(folder, exist_ok=True)
        self._open("a" if self.append else "w")
        if cut_line_end:
            self._write(cut_line_end)

    def _open(self, mode: str) -> None:
        self._close()
        if not is_main_process():
            # Data-parallel: rank 0 writes the file. The others keep the same rows in memory,
            # so that every rank's state (for BackupAndRestore) is the same.
            self.csv_file = io.StringIO()
            return
        # Opened once per fit. Rows are appended and flushed one at a time: a crash can cut
        # the last row short but never loses earlier ones. (The whole-file atomic writes
        # used elsewhere would rewrite the file every epoch.)
        self.csv_file = open(  # noqa: SIM115 (kept open across hooks, closed in on_train_end)
            self.filename, mode, newline="", encoding="utf-8"
        )

    def _write(self, text: str) -> None:
        csv_file = self.csv_file
        assert csv_file is not None  # on_train_begin opened it
        csv_file.write(text)
        csv_file.flush()
        self._content += text

    def _row(self, fields: list[Any]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, dialect="excel", delimiter=self.sep).writerow(fields)
        return buffer.getvalue()

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

    def _add_columns(self, new: list[str]) -> None:
        """Extends the header with `new` columns, rewriting the file with `NA` in the old rows."""
        assert self.keys is not None
        self.keys = [*self.keys, *new]
        rows = [row for row in csv.reader(io.StringIO(self._content), delimiter=self.sep) if row]
        if not rows:
            return  # no header written yet: it will have all the columns
        width = 1 + len(self.keys)
        text = self._row(["epoch", *self.keys]) + "".join(
            self._row(row + ["NA"] * (width - len(row))) for row in rows[1:]
        )
        self._close()
        # Atomic: a crash here leaves the old file or the new one, never half of either.
        if is_main_process():
            atomic_write_bytes(self.filename, text.encode("utf-8"))
        self._content = text
        self._open("a")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.csv_file is None:
            # Hooks driven by hand without on_train_begin.
            self.on_train_begin()
        if self.keys is None:
            self.keys = self._columns(logs)
        new = sorted(set(logs) - set(self.keys) - {"epoch"})
        if new:
            # Never dropped silently: a key the header lacks becomes a new column.
            self._add_columns(new)
        text = ""
        if not self._content:
            text = self._row(["epoch", *self.keys])
        text += self._row([epoch, *(_cell(logs.get(key, "NA")) for key in self.keys)])
        self._write(text)

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._close()

    def get_state(self) -> dict[str, Any]:
        """`{"keys": columns or None, "content": the file's text after the last row written}`.

        The file is small (a row per epoch), so the whole text is kept: `set_state` can then
        put it back even when this fit has already truncated the file.

        Example:
            >>> import os, tempfile
            >>> folder = tempfile.TemporaryDirectory()
            >>> logger = CSVLogger(os.path.join(folder.name, "log.csv"))
            >>> logger.on_train_begin()
            >>> logger.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
            >>> logger.get_state()
            {'keys': ['loss', 'val_loss'], 'content': 'epoch,loss,val_loss\\r\\n0,0.5,0.75\\r\\n'}
            >>> logger.on_train_end()
            >>> folder.cleanup()
        """
        return {"keys": None if self.keys is None else list(self.keys), "content": self._content}

    def set_state(self, state: dict[str, Any]) -> None:
        """Puts the file back as it was at the backup (atomically); later rows append to it.

        Rows written after the backup by the interrupted run are dropped, so that the
        resumed run writes each epoch's row exactly once, under a single header.
        """
        content = state["content"]
        if not isinstance(content, str):
            raise ValueError(
                "Expected `state['content']` to be the text CSVLogger.get_state() returned. "
                f"Received: content={content!r} (of type {type(content).__name__}). Pass the "
                "dict that get_state() returned."
            )
        in_fit = self.csv_file is not None
        self._close()
        if is_main_process():
            atomic_write_bytes(self.filename, content.encode("utf-8"))
        self._content = content
        self.keys = None if state["keys"] is None else list(state["keys"])
        if in_fit:
            # This fit's on_train_begin already ran (and may have emptied the file).
            self._open("a")
        else:
            self._resumed = True

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = None
