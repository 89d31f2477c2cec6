"""`ModelCheckpoint`: saves the model (or its weights) during training."""

from __future__ import annotations

import os
import warnings
from typing import Any, Literal

import numpy as np
import torch

from kfit.callbacks.event_filters import EventFilter, Every, Never
from kfit.callbacks.monitor_callback import MonitorCallback

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
    the best model. If `monitor` is missing from the logs, a warning lists the available keys
    and the model is saved anyway.

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
        unknown metric even when it never compares values).

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

    def hook_filters(self) -> dict[str, EventFilter]:
        # The default epoch-level checkpoint adds no batch-end dispatch; a batch-level one is
        # called on the batches it saves at only, so it reads the batch logs only then.
        if self.save_freq == "epoch":
            return {"on_train_batch_end": Never()}
        return {"on_train_batch_end": Every(self.save_freq)}

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.best = self.initial_value_threshold

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._current_epoch = epoch

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
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available; saving anyway. "
                f"Available keys: {sorted(logs)}.",
                UserWarning,
                stacklevel=4,
            )
            return True
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
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
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
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
