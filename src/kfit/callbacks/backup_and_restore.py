"""`BackupAndRestore`: backs up the whole training state so a killed `fit` resumes exactly."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
import uuid
import warnings
from typing import Any

import torch

from kfit.backend import distributed
from kfit.callbacks.callback import Callback
from kfit.callbacks.event_filters import EventFilter, Every, Never
from kfit.callbacks.model_checkpoint import check_save_freq
from kfit.saving.atomic import atomic_write_text
from kfit.saving.checkpoint import load_checkpoint, save_checkpoint
from kfit.trainers.resume import (
    ResumePoint,
    capture_rng,
    get_callback_states,
    pack,
    set_callback_states,
    unpack,
)

__all__ = ["BackupAndRestore"]

Logs = dict[str, Any]

_LATEST = "latest"
_PREVIOUS = "previous"
_CHECKPOINT = "checkpoint.safetensors"
_COMPLETE = "COMPLETE"
_TMP_PREFIX = ".kfit-tmp-"
_OLD_FILES = ("latest.safetensors", "previous.safetensors")  # the format before backups were folders
# Test-only: seconds to sleep inside each backup write, so that a test's kill can land there.
_DELAY_ENV = "KFIT_TEST_BACKUP_DELAY"


class BackupAndRestore(Callback):
    """Backs up the complete training state; a rerun after a crash continues exactly.

    Every `save_freq` batches (or every epoch) it writes a backup of everything that decides
    the rest of the run: weights, optimizer slots, `iterations` and learning rate; the epoch
    and the batch within it; the data position (the RNG states that set the pass's shuffle
    order and how many batches of the pass were taken); every RNG state (Python, NumPy,
    torch CPU and CUDA, the generators held by layers); the metric states; and every
    callback's `get_state()` (History, EarlyStopping, CSVLogger, your own...). When `fit`
    starts and a backup exists, all of it is restored and training continues from the next
    batch, so a script rerun unchanged after a SIGKILL gives the same final weights, bit for
    bit on CPU, as a run that was never interrupted, and redoes only the batches since the
    last backup. After a `fit` that ends normally the backup is deleted (`delete_checkpoint`).

    Resuming a `DataLoader`, `Dataset` or generator mid-pass loads and discards the batches
    already taken in that pass (an array input only skips them). A generator cannot be
    replayed, so its position is exact only if it restarts where it was.

    Files: a backup is the folder `backup_dir/latest/` (`checkpoint.safetensors` plus a
    `COMPLETE` marker written last). It is written as `backup_dir/.kfit-tmp-*` beside the
    old one and swapped in with renames, so a kill at any instant leaves the old backup or
    the new one complete; leftover `.kfit-tmp-*` folders are ours and are cleaned up.

    Preemption: while `fit` runs, SIGTERM (and SIGINT with `save_before_preemption=True`)
    lets the current batch finish, writes a backup, restores the previous signal handlers
    and exits the process with status 128 + the signal number and a message on stderr; the
    rerun resumes exactly. Handlers are installed only when `fit` runs in the main thread.

    The model does not need to be built before `fit`: `fit` builds the model and its optimizer
    from the first batch before `on_train_begin`, where the backup is restored.

    Args:
        backup_dir: A folder for this run's backups only (not shared with another run or
            callback). Created when missing.
        save_freq: `"epoch"` to back up at every epoch end, or an integer: back up every
            that many batches (counted across epoch boundaries).
        double_checkpoint: Keep the previous backup as `backup_dir/previous/`; if the latest
            one cannot be read (a damaged disk, say), training resumes from the previous one
            with a warning naming the damaged file.
        delete_checkpoint: Delete the backup after a `fit` that ends normally (not after an
            exception, a preemption, nor `TerminateOnNaN(raise_error=True)`).
        save_before_preemption: Also treat SIGINT (Ctrl-C) as a preemption: finish the
            batch, back up, exit. SIGTERM is always handled so.

    Raises:
        ValueError: If `backup_dir` is empty or None, or `save_freq` is invalid; when `fit`
            starts, if the backup is damaged and there is no readable previous one (the
            message names the file and how to start over).

    Differences from Keras:
        Keras resumes a mid-epoch backup at the start of its epoch (redoing batches, with
        other random draws); kfit resumes at the next batch with every RNG, metric and
        callback state restored. Keras writes `latest.weights.h5` and
        `training_metadata.json` separately, so a crash between the two leaves them out of
        step. The restored start epoch applies to that one `fit` only. `save_freq=False` is
        rejected. `delete_checkpoint` removes only what this callback wrote, and the folder
        if that leaves it empty.

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
        ['latest']
        >>> history = model.fit(x, y, epochs=5, verbose=0, callbacks=[backup])  # resumes at 2
        >>> history.epoch
        [0, 1, 2, 3, 4]
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
        save_before_preemption: bool = False,
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
        self.save_before_preemption = bool(save_before_preemption)
        self._current_epoch = 0
        self._sequence = 0  # numbers the backups; the highest complete one is the newest
        # The backup folder resumed from, and damaged ones, for `_adopt` after every rank read it.
        self._adopting: tuple[str, list[str]] | None = None
        self._due: tuple[int, int] | None = None
        self._in_fit = False
        self.preempted: int | None = None  # the signal number, once one arrived
        self._previous_handlers: dict[int, Any] = {}
        self._delay = float(os.environ.get(_DELAY_ENV, "0") or 0)

    def hook_filters(self) -> dict[str, EventFilter]:
        # An epoch-level backup leaves the batch-end hook undispatched (and the batch logs
        # unbuilt); a batch-level one is called only on the batches it backs up at.
        if self.save_freq == "epoch":
            return {"on_train_batch_end": Never()}
        return {"on_train_batch_end": Every(self.save_freq)}

    # ------------------------------------------------------------------ restore
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._current_epoch = 0
        self._due = None
        self.preempted = None
        # fit sets _fit_callbacks; when the hooks are called by hand the backup is written
        # at once instead of after the other callbacks' hooks.
        self._in_fit = getattr(self.model, "_fit_callbacks", None) is not None
        if distributed.is_main_process():
            self._check_folder()
        # Data-parallel: every rank reads the backup rank 0 wrote (the folder must be shared);
        # rank 0 tidies it only once all of them have read it.
        distributed.barrier()
        point = self._restore()
        if point is not None:
            # fit reads this right after on_train_begin, for this run only, and clears it.
            self.model._resume_point = point
            callbacks = getattr(self.model, "_fit_callbacks", None)
            if point.callbacks and callbacks is not None:
                # Each callback's on_train_begin keeps a state set before it (see History).
                set_callback_states(callbacks, point.callbacks)
        distributed.barrier()
        if distributed.is_main_process():
            if self._adopting is not None:
                self._adopt(*self._adopting)
            self._clean_temporaries()
        self._adopting = None
        if self._in_fit:
            self.model._backup_writer = self
            self._install_handlers()

    def _check_folder(self) -> None:
        """Fails before any training when the backups could not be written."""
        if os.path.exists(self.backup_dir) and not os.path.isdir(self.backup_dir):
            raise ValueError(
                "Expected `backup_dir` to be a folder (or not to exist yet). Received: "
                f"backup_dir={self.backup_dir!r} (of type str), which is a file. Pass the path "
                "of a folder used by this run only."
            )
        try:
            os.makedirs(self.backup_dir, exist_ok=True)
        except OSError as e:
            raise OSError(
                e.errno,
                f"Could not create the backup folder {self.backup_dir!r}: {e.strerror or e}. "
                "Pass a folder you can write to as `backup_dir`.",
            ) from e
        if not os.access(self.backup_dir, os.W_OK | os.X_OK):
            raise PermissionError(
                f"Expected a writable `backup_dir`. Received: backup_dir={self.backup_dir!r} "
                "(of type str), which this process cannot write to. Fix its permissions or "
                "pass another folder."
            )

    def _candidates(self) -> list[tuple[int, str]]:
        """`(sequence, folder)` of each complete backup folder, newest first."""
        found = []
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for name in os.listdir(self.backup_dir):
                if name not in (_LATEST, _PREVIOUS) and not name.startswith(_TMP_PREFIX):
                    continue
                folder = os.path.join(self.backup_dir, name)
                try:
                    with open(os.path.join(folder, _COMPLETE)) as f:
                        sequence = int(json.load(f)["sequence"])
                except (OSError, ValueError, KeyError, TypeError):
                    if name in (_LATEST, _PREVIOUS) and os.path.isdir(folder):
                        sequence = -1  # ours but unmarked: damaged, reported when tried
                    else:
                        continue  # an unfinished write
                found.append((sequence, folder))
        found.sort(key=lambda item: item[0], reverse=True)
        if not found:
            found = [(-2, path) for path in (os.path.join(self.backup_dir, n) for n in _OLD_FILES)
                     if os.path.isfile(path)]
        return found

    def _restore(self) -> ResumePoint | None:
        """Loads the newest readable backup into the model; returns where to resume."""
        candidates = self._candidates()
        for index, (sequence, folder) in enumerate(candidates):
            path = folder if os.path.isfile(folder) else os.path.join(folder, _CHECKPOINT)
            extra: dict[str, torch.Tensor] = {}
            try:
                if sequence == -1:
                    raise ValueError(f"the folder {folder!r} lacks its {_COMPLETE!r} marker")
                state = load_checkpoint(path, self.model, extra)
            except (OSError, ValueError) as e:
                if not self.double_checkpoint or index == len(candidates) - 1:
                    raise ValueError(
                        f"Expected a readable backup in {self.backup_dir!r} to resume from. "
                        f"Received: the backup file {path!r} is damaged ({e}). To start "
                        "over, remove the folder "
                        f"{self.backup_dir!r} (or pass another backup_dir); with "
                        "double_checkpoint=True a damaged backup falls back to the previous one."
                    ) from e
                warnings.warn(
                    f"BackupAndRestore could not read the backup {path!r} ({e}); resuming "
                    f"from the previous backup {candidates[index + 1][1]!r} instead.",
                    UserWarning,
                    stacklevel=3,
                )
                continue
            self._sequence = max(sequence, 0) + 1
            # Made `latest/` by rank 0 once every rank has read it (see on_train_begin).
            self._adopting = (folder, [f for _, f in candidates[:index]])
            return _resume_point(state, extra)
        return None

    def _adopt(self, folder: str, damaged: list[str]) -> None:
        """Makes the backup resumed from `latest/`, so that no later step can lose it."""
        for path in damaged:
            # Otherwise the next backup would rotate the unreadable one over the good one.
            self._discard(path)
        latest = os.path.join(self.backup_dir, _LATEST)
        if os.path.isdir(folder) and folder != latest:
            if os.path.exists(latest):
                self._discard(latest)
            os.replace(folder, latest)

    # ------------------------------------------------------------------ save
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        # The logs are not read (reading them is a device sync). Inside fit the backup is
        # written by `write_due`, after every callback's hook has run, so their states
        # include this batch.
        self._due = (self._current_epoch, batch + 1)
        if not self._in_fit:
            self.write_due()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq != "epoch":
            return  # as in Keras; the last batch's backup is as good (the epoch end is redone)
        self._due = (epoch + 1, 0)
        if not self._in_fit:
            self.write_due()

    def write_due(self) -> None:
        """Writes the backup a hook asked for; fit calls it after the hooks of a batch or epoch."""
        if self._due is not None:
            epoch, batch = self._due
            self._due = None
            self._save(epoch, batch)

    def should_preempt(self) -> bool:
        """Whether a signal asks fit to back up and exit now; in data-parallel training, whether
        any rank got one (they all stop at the same batch, or the others would hang)."""
        ddp = getattr(self.model, "_ddp", None)
        if ddp is None:
            return self.preempted is not None
        return ddp.any_true(self.preempted is not None)

    def _save(self, epoch: int, batch: int) -> None:
        model = self.model
        tensors: dict[str, torch.Tensor] = {}
        ranks = self._gather_rank_states(batch)
        if not distributed.is_main_process():
            return  # data-parallel: rank 0 writes every rank's states
        iterator = getattr(model, "_train_iterator", None)
        callbacks = getattr(model, "_fit_callbacks", None)
        training_state = {
            "epoch": epoch,
            "batch": batch,
            "stop_training": bool(getattr(model, "stop_training", False)),
            "batches_seen": int(getattr(model, "_fit_batches_before_epoch", 0)) + batch,
            "iterator": pack(iterator.state(), "iterator", tensors) if iterator is not None else None,
            "rng": pack(capture_rng(model), "rng", tensors),
            "metrics": pack([m.get_state() for m in model.metrics], "metrics", tensors) if batch else None,
            "callbacks": pack(get_callback_states(callbacks), "callbacks", tensors)
            if callbacks is not None
            else None,
        }
        if ranks is not None:
            # Each rank's own RNG states and metric states (the others above are rank 0's).
            training_state["ranks"] = [pack(state, f"ranks/{r}", tensors) for r, state in enumerate(ranks)]
        os.makedirs(self.backup_dir, exist_ok=True)
        tmp = os.path.join(self.backup_dir, f"{_TMP_PREFIX}{uuid.uuid4().hex[:12]}")
        os.mkdir(tmp)
        try:
            save_checkpoint(os.path.join(tmp, _CHECKPOINT), model, training_state, tensors)
            self._test_delay()
            # Written last: a folder with this marker holds a whole backup.
            atomic_write_text(os.path.join(tmp, _COMPLETE), json.dumps({"sequence": self._sequence}))
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            # Names the backup, not our temporary folder, and says what was kept.
            raise OSError(
                e.errno,
                f"Could not write the backup to {self.backup_dir!r}: {e.strerror or e}. The "
                f"previous backup (if any) in {self.backup_dir!r} is intact; free disk space or "
                "fix the folder's permissions, then rerun to resume from it.",
            ) from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._sequence += 1
        latest = os.path.join(self.backup_dir, _LATEST)
        previous = os.path.join(self.backup_dir, _PREVIOUS)
        # Each step is a rename, and at every instant some complete folder holds the newest
        # finished backup (a `.kfit-tmp-*` one in between, which _restore also considers).
        if self.double_checkpoint and os.path.isdir(latest):
            if os.path.exists(previous):
                self._discard(previous)
            os.replace(latest, previous)
        elif os.path.exists(latest):
            self._discard(latest)
        self._test_delay()
        os.replace(tmp, latest)
        _fsync_directory(self.backup_dir)

    def _discard(self, path: str) -> None:
        """Removes our file or folder: renamed to a temporary name first, then deleted."""
        if os.path.isfile(path):
            os.remove(path)
            return
        trash = os.path.join(self.backup_dir, f"{_TMP_PREFIX}old-{uuid.uuid4().hex[:12]}")
        os.replace(path, trash)
        # Unmarked first, so that a kill during the deletion leaves an unfinished folder.
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(trash, _COMPLETE))
        shutil.rmtree(trash, ignore_errors=True)

    def _clean_temporaries(self) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for name in os.listdir(self.backup_dir):
                if name.startswith(_TMP_PREFIX):
                    shutil.rmtree(os.path.join(self.backup_dir, name), ignore_errors=True)

    def _test_delay(self) -> None:
        if self._delay:
            time.sleep(self._delay)

    # ------------------------------------------------------------------ preemption
    def _install_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signals = [signal.SIGTERM] + ([signal.SIGINT] if self.save_before_preemption else [])
        for signum in signals:
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        # Only a flag: fit checks it after each batch, where the state is consistent.
        self.preempted = signum

    def release(self) -> None:
        """Restores the signal handlers `fit` replaced and detaches from the model."""
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}
        if getattr(self.model, "_backup_writer", None) is self:
            self.model._backup_writer = None

    def preempt(self, epoch: int, batch: int) -> None:
        """Called by fit after the batch during which a signal arrived: back up, then exit."""
        self._due = None
        self._save(epoch, batch)
        self.exit_preempted()

    def exit_preempted(self) -> None:
        """Restores the signal handlers and exits with status 128 + the signal's number."""
        signum = self.preempted or signal.SIGTERM
        self.release()
        print(
            f"kfit: received signal {signal.Signals(signum).name} during fit; the current batch "
            f"finished and a backup was written to {self.backup_dir!r}. Rerun the same script "
            "to resume exactly where it stopped.",
            file=sys.stderr,
        )
        raise SystemExit(128 + int(signum))

    def _gather_rank_states(self, batch: int) -> list[dict[str, Any]] | None:
        """Data-parallel: every rank's RNG and metric states, on rank 0 (None in one process)."""
        ddp = getattr(self.model, "_ddp", None)
        if ddp is None:
            return None
        model = self.model
        own = {
            "rng": capture_rng(model),
            "metrics": [m.get_state() for m in model.metrics] if batch else None,
        }
        blobs = ddp.gather_bytes(_state_to_bytes(own))
        return [_state_from_bytes(blob) for blob in blobs] if ddp.is_main else None

    def on_train_end(self, logs: Logs | None = None) -> None:
        if not distributed.is_main_process():
            self.release()
            return
        if self.preempted is not None:
            # The signal came after the last batch: keep a backup of the finished run (a
            # rerun resumes with nothing left to train) and let fit exit, as promised.
            self._save(self._current_epoch + 1, 0)
            return
        self.release()
        if not self.delete_checkpoint:
            return
        for name in (_LATEST, _PREVIOUS, *_OLD_FILES):
            path = os.path.join(self.backup_dir, name)
            if os.path.exists(path):
                self._discard(path)
        self._clean_temporaries()
        # Only an empty folder is removed: the user may have put it somewhere shared.
        with contextlib.suppress(OSError):
            os.rmdir(self.backup_dir)


def _state_to_bytes(state: dict[str, Any]) -> bytes:
    """JSON bytes of a state holding tensors (what `gather_bytes` sends; no pickle)."""
    tensors: dict[str, torch.Tensor] = {}
    packed = pack(state, "s", tensors)
    encoded = {
        name: {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
               "data": base64.b64encode(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()).decode("ascii")}
        for name, t in tensors.items()
    }
    return json.dumps({"state": packed, "tensors": encoded}).encode("utf-8")


def _state_from_bytes(blob: bytes) -> dict[str, Any]:
    data = json.loads(blob.decode("utf-8"))
    tensors = {
        name: torch.frombuffer(bytearray(base64.b64decode(t["data"])), dtype=torch.uint8)
        .view(getattr(torch, t["dtype"])).reshape(t["shape"]).clone()
        for name, t in data["tensors"].items()
    }
    return unpack(data["state"], tensors)


def _resume_point(state: dict[str, Any], extra: dict[str, torch.Tensor]) -> ResumePoint:
    state = unpack(state, extra)
    ranks = state.get("ranks")
    if ranks is not None:
        rank, world = distributed.get_rank(), distributed.get_world_size()
        if len(ranks) == world:
            state["rng"], state["metrics"] = ranks[rank]["rng"], ranks[rank]["metrics"]
        else:
            warnings.warn(
                f"The backup was written by {len(ranks)} processes and is resumed by {world}: "
                "weights, optimizer and data position are restored, but the random states and "
                "running metrics of rank 0 are used on every rank, so the run is not bit-exact.",
                UserWarning,
                stacklevel=3,
            )
    point = ResumePoint(
        epoch=int(state["epoch"]),
        # The old single-file format resumed at the start of the epoch.
        batch=int(state.get("batch", 0)) if "iterator" in state else 0,
        iterator=state.get("iterator"),
        rng=state.get("rng"),
        metrics=state.get("metrics"),
        callbacks=state.get("callbacks"),
        stop_training=bool(state.get("stop_training", False)),
        batches_seen=int(state["batches_seen"]) if "batches_seen" in state else None,
    )
    return point


def _fsync_directory(directory: str) -> None:
    """Persists the renames; best effort, since some platforms cannot open folders."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
