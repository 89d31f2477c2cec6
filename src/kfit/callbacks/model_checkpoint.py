"""`ModelCheckpoint`: saves the model (or its weights) during training."""

from __future__ import annotations

import os
import re
import string
import warnings
from typing import Any, Literal

import numpy as np
import torch

from kfit.backend.distributed import is_main_process
from kfit.callbacks.event_filters import EventFilter, Every, Never
from kfit.callbacks.monitor_callback import MonitorCallback
from kfit.saving.atomic import check_writable
from kfit.utils import io_utils

__all__ = ["ModelCheckpoint"]

Logs = dict[str, Any]

_MODEL_EXTENSIONS = (".keras",)
_WEIGHTS_EXTENSIONS = (".weights.h5", ".safetensors")


def check_save_freq(save_freq: Any, action: str) -> Literal["epoch"] | int:
    """Validates a `save_freq`: "epoch" or a number of batches (ModelCheckpoint, BackupAndRestore)."""
    if save_freq == "epoch" and isinstance(save_freq, str):
        return "epoch"
    if isinstance(save_freq, (int, np.integer)) and not isinstance(save_freq, bool) and save_freq >= 1:
        return int(save_freq)
    raise ValueError(
        "Expected `save_freq` to be 'epoch' or an integer >= 1 (a number of batches). "
        f"Received: save_freq={save_freq!r} (of type {type(save_freq).__name__}). Pass "
        f"save_freq='epoch' to {action} after every epoch, or e.g. save_freq=100."
    )


def _template_fields(filepath: str) -> set[str]:
    """The placeholder names of `filepath` (`{val_loss:.2f}` gives `val_loss`)."""
    fields: set[str] = set()
    try:
        for _, field, _, _ in string.Formatter().parse(filepath):
            if field is None:
                continue
            name = re.split(r"[.\[]", field, maxsplit=1)[0]
            if not name or name.isdigit():
                raise ValueError(f"the placeholder {{{field}}} has no name")
            fields.add(name)
    except ValueError as e:
        raise ValueError(
            "Expected `filepath` to be a path whose placeholders are named, like "
            f"'{{epoch:02d}}' or '{{val_loss:.2f}}'. Received: filepath={filepath!r} (of type "
            f"str): {e}. Name each placeholder, and double braces meant literally ('{{{{')."
        ) from None
    return fields


def _log_keys(model: Any, batch_level: bool) -> tuple[set[str], bool] | None:
    """The keys the logs of this fit will hold, and whether that set is complete.

    None when anything may appear: the model has its own train or test step, or a callback
    that is not kfit's own could add keys to the shared logs (or the callbacks of the fit are
    not known). Otherwise the set holds `loss`, the compiled metrics' names once they are built
    (`fit` builds them from a sample before `on_train_begin`), `val_` variants when the fit
    validates at epoch ends, and `learning_rate` when a kfit learning-rate callback adds it.
    """
    from kfit.trainers.trainer import Trainer  # here: kfit.trainers imports the callbacks

    if model is None or not getattr(model, "compiled", False):
        return None
    if any(getattr(type(model), step, None) is not getattr(Trainer, step) for step in ("train_step", "test_step")):
        return None
    running = getattr(model, "_fit_callbacks", None)
    if running is None:
        return None
    callbacks = list(getattr(running, "callbacks", running))
    if any(not type(cb).__module__.startswith("kfit.") for cb in callbacks):
        return None
    parts = (getattr(model, "_compile_metrics", None), getattr(model, "_compile_loss", None))
    complete = all(part is None or getattr(part, "built", True) for part in parts)
    keys = {"loss"} | (set(model.get_metrics_result()) if complete else set())
    if not batch_level and getattr(model, "_fit_has_validation", False):
        keys |= {f"val_{k}" for k in keys}
    if any(type(cb).__name__ in ("LearningRateScheduler", "ReduceLROnPlateau") for cb in callbacks):
        keys.add("learning_rate")
    return keys, complete


def _is_scalar(value: Any) -> bool:
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.ndim == 0 or (value.ndim == 1 and value.shape[0] == 1)
    return True


class ModelCheckpoint(MonitorCallback):
    """Saves the model, or only its weights, at every epoch end or every `save_freq` batches.

    `filepath` may hold `str.format` placeholders, filled with `epoch` (1-based), `batch`
    (1-based, for batch-level saves) and the logs keys, e.g.
    `"ckpt/{epoch:02d}-{val_loss:.2f}.keras"`. The parent folder is created. A placeholder
    that is not available raises a `KeyError` that lists the available keys.

    With `save_best_only`, a file is written only when `monitor` improves on the best value
    so far (`initial_value_threshold` when given); with a constant `filepath` this keeps only
    the best model. If `monitor` is missing from the logs, nothing is saved that epoch, and a
    warning (once per fit) lists the available keys.

    Every file is written atomically (a temporary file renamed into place), so an
    interrupted save leaves the previous checkpoint intact.

    Args:
        filepath: Where to save. Must end in `.keras` (whole model, `model.save`), or with
            `save_weights_only`, in `.weights.h5` or `.safetensors` (`model.save_weights`).
        monitor: The logs key compared with `save_best_only`.
        verbose: 1 prints a line for every save (and every skipped one with `save_best_only`).
        save_best_only: Save only when `monitor` improves.
        save_weights_only: Save only the weights.
        mode: `"min"`, `"max"` or `"auto"` (see `MonitorCallback`).
        save_freq: `"epoch"`, or an integer: save every that many batches, counted across
            epoch boundaries (with 5 batches per epoch and `save_freq=15`, after epochs 3, 6,
            9, ...). Batch-level saves see running-mean metrics and no `val_` keys.
        initial_value_threshold: The value `monitor` must beat for the first save with
            `save_best_only`.

    Raises:
        ValueError: If `filepath`'s extension does not fit `save_weights_only`, or `save_freq`
            or `mode` is invalid.
        TypeError: If `filepath` is not a string or path.

    Differences from Keras:
        `best` (and the batch counter) reset at the start of every `fit`; Keras keeps `best`
        from the previous `fit`, so a reused callback can refuse to save a new run's models.
        An invalid `mode` raises (Keras warns and falls back to `"auto"`). Files are
        written atomically. Keras's legacy `.h5` whole-model format is not supported;
        `.safetensors` is accepted for weights. The monitored metric's direction is resolved
        only with `save_best_only` (Keras resolves it at every epoch end and raises for an
        unknown metric even when it never compares values). With `save_best_only` and
        `monitor` missing from the logs, nothing is saved (Keras saves every such epoch as if
        it were the best). A `filepath` that cannot be written (a read-only folder, a file
        where a folder should be, an existing folder, an unknown placeholder) raises in
        `on_train_begin`, before any training step. Placeholders are checked there against
        the keys the logs will hold, unless a callback of your own (which may add keys) or
        a custom `train_step` is in play; then the first save checks them, before it writes.

    Example:
        >>> import os, tempfile
        >>> import numpy as np, kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> pattern = os.path.join(folder.name, "ckpt", "w-{epoch:02d}.weights.h5")
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> checkpoint = kfit.callbacks.ModelCheckpoint(pattern, save_weights_only=True)
        >>> _ = model.fit(np.ones((8, 2)), np.ones(8), epochs=2, verbose=0,
        ...               callbacks=[checkpoint])
        >>> sorted(os.listdir(os.path.join(folder.name, "ckpt")))
        ['w-01.weights.h5', 'w-02.weights.h5']
        >>> folder.cleanup()
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__(monitor=monitor, mode=mode, baseline=initial_value_threshold)
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(
                "Expected `filepath` to be a path (a string, possibly with {epoch}-style "
                f"placeholders). Received: filepath={filepath!r} (of type "
                f"{type(filepath).__name__}). Pass e.g. filepath='model-{{epoch:02d}}.keras'."
            )
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = check_save_freq(save_freq, "save")
        self.initial_value_threshold = self.best
        extensions = _WEIGHTS_EXTENSIONS if self.save_weights_only else _MODEL_EXTENSIONS
        if not self.filepath.endswith(extensions):
            other = "a whole model, .keras" if self.save_weights_only else "weights only"
            raise ValueError(
                f"Expected `filepath` to end in one of {extensions} with "
                f"save_weights_only={self.save_weights_only}. Received: "
                f"filepath={self.filepath!r} (of type str). Change the extension, or set "
                f"save_weights_only={not self.save_weights_only} to save {other}"
                + (f" ({_WEIGHTS_EXTENSIONS})." if not self.save_weights_only else ").")
            )
        self._current_epoch = 0
        self._resumed = False

    def hook_filters(self) -> dict[str, EventFilter]:
        # The default epoch-level checkpoint adds no batch-end dispatch; a batch-level one is
        # called on the batches it saves at only, so it reads the batch logs only then.
        if self.save_freq == "epoch":
            return {"on_train_batch_end": Never()}
        return {"on_train_batch_end": Every(self.save_freq)}

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._check_filepath()
        if self._resumed:
            # set_state (BackupAndRestore) came first: keep the interrupted run's best.
            self._resumed = False
        else:
            self.best = self.initial_value_threshold

    def _check_filepath(self) -> None:
        """Raises before training if no file could be written where `filepath` points.

        The folders and the file are checked (nothing is created), and so are the template's
        placeholders, as far as the keys of the logs can be known before the first batch
        (see `_log_keys`); what cannot be known yet is checked by the first save, before it
        writes anything.
        """
        fields = _template_fields(self.filepath)
        if not fields:
            check_writable(self.filepath, "filepath", "file")
            return
        literal_folder = os.path.dirname(self.filepath.split("{", 1)[0]) or os.curdir
        check_writable(literal_folder, "filepath", "folder", shown=self.filepath)
        batch_level = self.save_freq != "epoch"
        if "batch" in fields and not batch_level:
            raise ValueError(
                "Expected the placeholder {batch} only with an integer `save_freq` (batch-level "
                f"saves). Received: filepath={self.filepath!r} (of type str) with "
                "save_freq='epoch'. Remove {batch}, or pass e.g. save_freq=100."
            )
        unknown = fields - {"epoch", "batch"}
        found = _log_keys(self.model, batch_level)
        if not unknown or found is None:
            return
        keys, complete = found
        # With the metric names not yet known, only a val_ key of a fit that cannot have
        # any is certain to be missing.
        missing = sorted(
            name for name in unknown - keys
            if complete or (name.startswith("val_") and not any(k.startswith("val_") for k in keys))
        )
        if missing:
            available = sorted(keys | {"epoch"} | ({"batch"} if batch_level else set()))
            partial = "" if complete else " (and the compiled metrics' names)"
            raise ValueError(
                "Expected the placeholders of `filepath` to be 'epoch'"
                + (", 'batch'" if batch_level else "")
                + " or keys of the logs. Received: "
                f"filepath={self.filepath!r} (of type str), whose placeholder "
                f"{{{missing[0]}}} is none of them. Available keys: {available}{partial}. "
                "Use one of those; val_ keys need validation data and exist only at epoch "
                "ends, and 'batch' only with an integer save_freq."
            )

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._current_epoch = epoch
        # Every on_train_begin of this fit has run: a later fit starts afresh again.
        self._resumed = False

    def get_state(self) -> dict[str, Any]:
        """`{"best": ...}`: the value a resumed `save_best_only` run has to beat.

        Example:
            >>> checkpoint = ModelCheckpoint("best.keras", save_best_only=True)
            >>> checkpoint.set_state({"best": 0.125})
            >>> checkpoint.get_state()
            {'best': 0.125}
        """
        return {"best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores the best monitored value of the interrupted run."""
        self.best = None if state["best"] is None else float(state["best"])
        self._resumed = True

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._save_model(self._current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs or {})

    def _get_file_path(self, epoch: int, batch: int | None, logs: Logs) -> str:
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format_map(fields)
        except KeyError as e:
            raise KeyError(
                f"Failed to format this callback filepath: {self.filepath!r} has the "
                f"placeholder {{{e.args[0]}}}, which is not available. Available keys: "
                f"{sorted(fields)}. Use one of those (val_ keys exist only at epoch ends "
                "that ran validation)."
            ) from None
        except (IndexError, ValueError) as e:
            raise ValueError(
                f"Failed to format this callback filepath: {self.filepath!r} ({e}). Use named "
                f"placeholders with a format that fits the value, from {sorted(fields)}."
            ) from None

    def _should_save(self, epoch: int, logs: Logs, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                io_utils.print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            # Nothing to compare: saving anyway (as Keras does) would overwrite the best model
            # with every epoch's. get_monitor_value warns, once per fit, listing the keys.
            self.get_monitor_value(logs)
            return False
        if not _is_scalar(current):
            warnings.warn(
                f"Can save best model only when `{self.monitor}` is a scalar value. Received: "
                f"{current!r}. Falling back to save_best_only=False.",
                UserWarning,
                stacklevel=4,
            )
            return True
        current = self.get_monitor_value(logs)
        assert current is not None  # None only when absent from the logs, handled above
        if self.monitor_op is None:
            # Resolved now rather than at the first comparison, so that an unknown
            # direction is reported at the first epoch.
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                io_utils.print_msg(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            io_utils.print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch: int, batch: int | None, logs: Logs) -> None:
        filepath = self._get_file_path(epoch, batch, logs)
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Expected `filepath` to name a file. Received: "
                f"filepath={filepath!r} (of type str), an existing folder. Please specify a "
                "non-directory filepath for ModelCheckpoint, e.g. 'folder/model.keras'."
            )
        if not self._should_save(epoch, logs, filepath):
            return
        if not is_main_process():
            return  # data-parallel: every rank decides the same way (same logs); rank 0 writes
        # The writers create missing folders; this names a file or a read-only folder in the
        # way (the writers' own errors name the target too, with the cause: a full disk, say).
        check_writable(filepath, "filepath", "file")
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
