"""`BackupAndRestore`: backs up the training state so an interrupted `fit` can resume."""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any

from kfit.callbacks.callback import Callback
from kfit.callbacks.event_filters import EventFilter, Every, Never
from kfit.callbacks.model_checkpoint import check_save_freq
from kfit.saving.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["BackupAndRestore"]

Logs = dict[str, Any]

_LATEST = "latest.safetensors"
_PREVIOUS = "previous.safetensors"


class BackupAndRestore(Callback):
    """Backs up the model, its optimizer and the training progress; resumes an interrupted `fit`.

    After every epoch (or every `save_freq` batches) the weights, the optimizer state (slots
    and iteration count) and the progress (`{"epoch": ..., "batch": ...}`, the
    `training_state`) are written to `backup_dir/latest.safetensors`, all in one file,
    atomically. When `fit` starts and a backup exists, it is restored and training resumes at
    the epoch where it stopped, so a rerun of the same script continues where the crash left
    off. After a `fit` that ends normally the backup is deleted (with `delete_checkpoint`).

    The model does not need to be built before `fit`: `fit` builds the model and its optimizer
    from the first batch before `on_train_begin`, where the backup is restored.

    A backup taken mid-epoch (integer `save_freq`) resumes at the start of that epoch with the
    weights of the backup, so some batches of that epoch are seen twice, as in Keras. The
    saved `training_state` also records how many batches of the epoch were done (`"batch"`),
    the place where exact mid-epoch resumption (data position, RNG, metric and callback
    state) will add its entries.

    Args:
        backup_dir: A folder for this run's backups only (not shared with another run or
            callback). Created when missing.
        save_freq: `"epoch"` to back up at every epoch end, or an integer: back up every
            that many batches (counted across epoch boundaries).
        double_checkpoint: Keep the previous backup as `previous.safetensors`; if the latest
            one cannot be read (a damaged disk, say), training resumes from the previous one.
        delete_checkpoint: Delete the backup files after a `fit` that ends normally (not
            after an exception, nor after `TerminateOnNaN(raise_error=True)`).

    Raises:
        ValueError: If `backup_dir` is empty or None, or `save_freq` is invalid.

    Differences from Keras:
        Weights, optimizer state and progress live in one `.safetensors` file written atomically (Keras writes
        `latest.weights.h5` and `training_metadata.json` separately, so a crash between the
        two leaves them out of step). The restored start epoch applies to that one `fit` only
        (Keras keeps it on the model, so a later unrelated `fit` also skips epochs). A backup
        taken mid-epoch records the epoch it was taken in, even when `fit` started at an
        `initial_epoch`. `save_freq=False` is rejected (Keras accepts it and then saves after
        every batch). `delete_checkpoint` removes only the files this callback wrote, and
        the folder if that leaves it empty, instead of the whole folder tree.

    Example:
        >>> import os, tempfile
        >>> import numpy as np, kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> backup = kfit.callbacks.BackupAndRestore(os.path.join(folder.name, "backup"))
        >>> class Crash(kfit.callbacks.Callback):
        ...     def on_epoch_begin(self, epoch, logs=None):
        ...         if epoch == 2:
        ...             raise RuntimeError("power cut")
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 2)), np.zeros(8)
        >>> try:
        ...     model.fit(x, y, epochs=5, verbose=0, callbacks=[backup, Crash()])
        ... except RuntimeError:
        ...     pass
        >>> os.listdir(os.path.join(folder.name, "backup"))  # taken at the end of epoch 1
        ['latest.safetensors']
        >>> history = model.fit(x, y, epochs=5, verbose=0, callbacks=[backup])  # resumes at 2
        >>> os.path.exists(os.path.join(folder.name, "backup"))
        False
        >>> folder.cleanup()
    """

    def __init__(
        self,
        backup_dir: str | os.PathLike[str],
        save_freq: str | int = "epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
    ) -> None:
        super().__init__()
        if backup_dir is None or not isinstance(backup_dir, (str, os.PathLike)) or not os.fspath(backup_dir):
            raise ValueError(
                "Empty `backup_dir` argument passed: expected the path of a folder for the "
                f"backups. Received: backup_dir={backup_dir!r} (of type "
                f"{type(backup_dir).__name__}). Pass a folder used by this run only, e.g. "
                "backup_dir='/tmp/backup'."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = check_save_freq(save_freq, "back up")
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._latest_path = os.path.join(self.backup_dir, _LATEST)
        self._previous_path = os.path.join(self.backup_dir, _PREVIOUS)
        self._current_epoch = 0

    def hook_filters(self) -> dict[str, EventFilter]:
        # An epoch-level backup leaves the batch-end hook undispatched (and the batch logs
        # unbuilt); a batch-level one is called only on the batches it backs up at.
        if self.save_freq == "epoch":
            return {"on_train_batch_end": Never()}
        return {"on_train_batch_end": Every(self.save_freq)}

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._current_epoch = 0
        state = self._restore()
        if state is not None:
            # fit reads this right after on_train_begin, for this run only, and clears it.
            self.model._initial_epoch_override = int(state["epoch"])

    def _restore(self) -> dict[str, Any] | None:
        """Loads the newest readable backup into the model; returns its training state."""
        candidates = [self._latest_path]
        if self.double_checkpoint:
            candidates.append(self._previous_path)
        candidates = [path for path in candidates if os.path.exists(path)]
        for index, path in enumerate(candidates):
            try:
                state = load_checkpoint(path, self.model)
            except (OSError, ValueError) as e:
                if index == len(candidates) - 1:
                    raise
                warnings.warn(
                    f"BackupAndRestore could not read the backup {path!r} ({e}); resuming "
                    f"from the previous backup {candidates[index + 1]!r} instead.",
                    UserWarning,
                    stacklevel=3,
                )
                continue
            if index > 0:
                # Otherwise the next backup would rotate the unreadable file over this one.
                os.remove(candidates[0])
            return state
        return None

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        # Resumption restarts this epoch; "batch" records how far it had got. The logs are not
        # read (reading them is a device sync).
        self._save({"epoch": self._current_epoch, "batch": batch + 1})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            self._save({"epoch": epoch + 1, "batch": 0})

    def _save(self, training_state: dict[str, Any]) -> None:
        if self.double_checkpoint and os.path.exists(self._latest_path):
            # A rename keeps the previous backup whole; if the process dies before the new
            # one is written, _restore finds only the previous one and uses it.
            os.replace(self._latest_path, self._previous_path)
        save_checkpoint(self._latest_path, self.model, training_state)

    def on_train_end(self, logs: Logs | None = None) -> None:
        if not self.delete_checkpoint:
            return
        for path in (self._latest_path, self._previous_path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        # Only an empty folder is removed: the user may have put it somewhere shared.
        with contextlib.suppress(OSError):
            os.rmdir(self.backup_dir)
