"""Crash-safe file writes: a file is either the old version or the complete new one.

Every writer in kfit's saving code goes through here. Data is written to a temporary file
in the target's own folder (so the final rename never crosses a filesystem), flushed and
fsynced, then renamed over the target with `os.replace`, which is atomic on POSIX and
Windows. A crash, a full disk or an exception while writing leaves the previous file as it
was and removes the partial temporary file.

Temporary names are recognisably kfit's: `.<target name>.kfit-tmp-<pid>-<random>` (files, and
the staging folders of `staging_directory`). A process killed mid-write (SIGKILL, OOM) cannot
remove its temporary file, so the first write to a target in each process removes that
target's leftovers: entries of exactly this pattern whose writing process is gone (or, for
our own process id, that predate this process). A file another live process is writing is
never touched. Nothing else in the folder is ever deleted.

A failed write (a full disk, a read-only or missing folder) raises an `OSError` of the same
errno that names the target, not the temporary file, and says what to do; `check_writable`
runs the same checks before any work, for callbacks to call in `on_train_begin`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any, Literal

__all__ = [
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable",
    "staging_directory",
]

_WRITE_MODES = ("w", "wb", "wt")

# `mkstemp` creates files readable by the owner only; a new file should get the permissions
# a plain `open()` would give it, which depend on the umask. Reading the umask means setting
# it, so it is done once at import time rather than racing other threads on every write.
_UMASK = os.umask(0)
os.umask(_UMASK)


_TEMP_MARK = ".kfit-tmp-"
# A leftover named with this process's own id predates it only when the id was reused; files
# written since this module was imported are this process's live ones.
_STARTED = time.time()
# Targets whose leftovers this process has already removed: once per target is enough, since
# a leftover appears only when a writing process dies.
_swept: set[str] = set()

# What to do about a failed write, by errno.
_HINTS = {
    errno.ENOSPC: "The disk is full: free some space or save to another disk",
    errno.EDQUOT: "The disk quota is exceeded: free some space or save to another disk",
    errno.EACCES: "The folder is not writable: fix its permissions or save to another folder",
    errno.EPERM: "The folder is not writable: fix its permissions or save to another folder",
    errno.EROFS: "The file system is read-only: save to a writable folder",
    errno.ENOENT: "A folder on the path is missing: create it or fix the path",
    errno.ENOTDIR: "A part of the path that should be a folder is a file: fix the path",
    errno.EISDIR: "The path is an existing folder: name a file inside it instead",
    errno.EEXIST: "A part of the path that should be a folder is a file: fix the path",
}


def _temp_prefix(name: str) -> str:
    return f".{name}{_TEMP_MARK}{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # no safe liveness probe (os.kill terminates on Windows): keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. EPERM: the process exists but belongs to someone else
    return True


def _is_stale(path: str, pid: int) -> bool:
    if pid != os.getpid():
        return not _pid_alive(pid)
    try:
        return os.lstat(path).st_mtime < _STARTED
    except OSError:
        return False


def _sweep(directory: str, name: str) -> None:
    """Removes `name`'s temporary leftovers in `directory` (see the module docstring)."""
    key = os.path.join(directory, name)
    if key in _swept:
        return
    _swept.add(key)
    pattern = re.compile(rf"\.{re.escape(name)}{re.escape(_TEMP_MARK)}(\d+)-[A-Za-z0-9_]+")
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not _is_stale(entry.path, int(match.group(1))):
            continue
        # Best effort: a leftover that cannot be removed must not fail the save.
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)


def _write_error(error: OSError, target: str) -> OSError:
    """`error` restated about `target` (not the temporary file), with its cause and the fix."""
    if error.errno is None:
        return error
    code = errno.errorcode.get(error.errno, str(error.errno))
    hint = _HINTS.get(error.errno, "Check the path and the disk")
    message = (
        f"Could not write {target!r}: {os.strerror(error.errno)} ({code}). {hint}. The "
        "previous version of the file, if any, is unchanged."
    )
    # OSError(errno, ...) picks the matching subclass (PermissionError for EACCES, ...).
    return OSError(error.errno, message)


def _can_create_in(folder: str) -> bool:
    """Whether a file can be created in `folder`.

    `os.access` answers without touching anything; a "no" is confirmed by creating (and at
    once removing) a probe file, since ACLs and some network or FUSE file systems make
    `access` refuse folders that are in fact writable.
    """
    if os.access(folder, os.W_OK | os.X_OK):
        return True
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=_temp_prefix("probe"))
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return True


def check_writable(
    path: str | os.PathLike[str],
    arg: str = "filepath",
    kind: Literal["file", "folder"] = "file",
    shown: Any = None,
) -> None:
    """Raises, before any work, if a file (or folder) could not be written at `path`.

    Nothing is created. Checks that `path` is not an existing folder (for a file) or file
    (for a folder), that the nearest existing ancestor is a folder, not a file, and that it
    is writable.

    Args:
        path: The file or folder that will be written.
        arg: The argument name to report, e.g. `"filepath"` or `"log_dir"`.
        kind: `"file"` or `"folder"`.
        shown: The value to report as received, when it is not `path` (a filename template
            whose literal folder is checked, say).

    Raises:
        IsADirectoryError: A file is wanted and `path` is a folder.
        NotADirectoryError: A folder is wanted (at `path` or above it) where a file is.
        PermissionError: The folder that would hold it cannot be written.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> check_writable(os.path.join(folder.name, "new", "model.keras"))
        >>> try:
        ...     check_writable(folder.name)
        ... except IsADirectoryError:
        ...     print("a folder")
        a folder
        >>> folder.cleanup()
    """
    target = os.path.abspath(os.fspath(path))
    shown = os.fspath(path) if shown is None else shown
    received = f"Received: {arg}={shown!r} (of type {type(shown).__name__})"
    if kind == "file" and os.path.isdir(target):
        raise IsADirectoryError(
            errno.EISDIR,
            f"Expected `{arg}` to name a file, but it is an existing folder. {received}. Name a "
            "file inside it, e.g. 'folder/model.keras', or remove the folder.",
        )
    if kind == "folder" and os.path.exists(target) and not os.path.isdir(target):
        raise NotADirectoryError(
            errno.ENOTDIR,
            f"Expected `{arg}` to name a folder, but {target!r} is a file. {received}. "
            "Choose another folder, or remove or rename the file.",
        )
    existing = target if kind == "folder" else os.path.dirname(target)
    while not os.path.lexists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        raise NotADirectoryError(
            errno.ENOTDIR,
            f"Expected the folders on `{arg}` to be folders, but {existing!r} is a file. "
            f"{received}. Choose another path, or remove or rename that file.",
        )
    if not _can_create_in(existing):
        raise PermissionError(
            errno.EACCES,
            f"Expected `{arg}` to be writable, but the folder {existing!r} is read-only "
            f"(no write permission, or a read-only file system). {received}. Fix its "
            "permissions or choose a writable folder.",
        )


def _reserve(path: str | os.PathLike[str]) -> tuple[int, str, str]:
    """Creates the temporary sibling of `path` and returns (fd, temp path, target path)."""
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    # A folder at the target, or a file where a folder should be, is named as such here:
    # os.replace and os.makedirs would report the temporary file, or "File exists".
    check_writable(target)
    try:
        os.makedirs(directory, exist_ok=True)
        _sweep(directory, name)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=_temp_prefix(name), suffix="")
    except OSError as e:
        if e.errno is None:
            raise
        raise _write_error(e, target) from e
    return fd, tmp, target


@contextlib.contextmanager
def staging_directory(path: str | os.PathLike[str]) -> Iterator[str]:
    """A temporary folder beside `path` (same file system), removed when the block ends.

    For writers that assemble a file from parts (the `.keras` archive's members). Its name
    follows the temporary-file pattern, so a kill mid-write leaves a leftover that the next
    write to `path` removes.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> with staging_directory(os.path.join(folder.name, "model.keras")) as staging:
        ...     os.path.isdir(staging)
        True
        >>> os.listdir(folder.name)
        []
        >>> folder.cleanup()
    """
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    check_writable(target)
    try:
        os.makedirs(directory, exist_ok=True)
        _sweep(directory, name)
        staging = tempfile.mkdtemp(dir=directory, prefix=_temp_prefix(name), suffix="")
    except OSError as e:
        if e.errno is None:
            raise
        raise _write_error(e, target) from e
    try:
        yield staging
    except OSError as e:
        # A failure while staging a part is reported about the file the user asked for.
        if e.errno is None:
            raise
        raise _write_error(e, target) from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(tmp: str, target: str) -> None:
    """Gives `tmp` the target's permissions and renames it over `target`."""
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    os.chmod(tmp, mode)
    os.replace(tmp, target)
    _fsync_directory(os.path.dirname(target))


def _discard(tmp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


def _fsync_directory(directory: str) -> None:
    """Persists the rename itself; best effort, since some platforms cannot open folders."""
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


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Opens a temporary file that replaces `path` only when the block finishes without error.

    The parent folder is created when missing. Text modes use UTF-8.

    Args:
        path: The file to create or replace.
        mode: `"wb"` (default) for bytes, `"w"` or `"wt"` for text.

    Yields:
        The open temporary file. Write to it; do not close it.

    Raises:
        ValueError: If `mode` is not a write mode listed above.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> target = os.path.join(folder.name, "sub", "log.txt")
        >>> with atomic_write(target, "w") as f:
        ...     _ = f.write("epoch 1")
        >>> open(target).read()
        'epoch 1'
        >>> folder.cleanup()
    """
    if mode not in _WRITE_MODES:
        raise ValueError(
            f"Expected `mode` to be one of {_WRITE_MODES}. Received: mode={mode!r} "
            f"(of type {type(mode).__name__}). Use 'wb' for bytes or 'w' for text."
        )
    fd, tmp, target = _reserve(path)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, target)
    except OSError as e:
        _discard(tmp)
        if e.errno is None:
            raise
        raise _write_error(e, target) from e
    except BaseException:
        _discard(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yields the name of an empty temporary file that replaces `path` when the block succeeds.

    For libraries that write by file name (such as h5py) rather than to an open file. The
    caller must have closed the temporary file by the end of the block.

    Args:
        path: The file to create or replace.

    Yields:
        The temporary file's path, in the same folder as `path`.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> target = os.path.join(folder.name, "data.bin")
        >>> with atomic_path(target) as tmp:
        ...     with open(tmp, "wb") as f:
        ...         _ = f.write(b"abc")
        >>> open(target, "rb").read()
        b'abc'
        >>> folder.cleanup()
    """
    fd, tmp, target = _reserve(path)
    os.close(fd)
    try:
        yield tmp
        # Reopened to fsync because the writer's own handle is gone by now.
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _commit(tmp, target)
    except OSError as e:
        _discard(tmp)
        if e.errno is None:
            raise
        raise _write_error(e, target) from e
    except BaseException:
        _discard(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Atomically replaces `path` with `data`, creating the parent folder when missing.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> target = os.path.join(folder.name, "blob.bin")
        >>> atomic_write_bytes(target, b"\\x00\\x01")
        >>> open(target, "rb").read()
        b'\\x00\\x01'
        >>> folder.cleanup()
    """
    with atomic_write(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically replaces `path` with `text` encoded as UTF-8.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> target = os.path.join(folder.name, "notes.txt")
        >>> atomic_write_text(target, "loss: 0.5")
        >>> open(target, encoding="utf-8").read()
        'loss: 0.5'
        >>> folder.cleanup()
    """
    with atomic_write(path, "w") as f:
        f.write(text)
