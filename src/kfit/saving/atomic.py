"""Crash-safe file writes: a file is either the old version or the complete new one.

Every writer in kfit's saving code goes through here. Data is written to a temporary file
in the target's own folder (so the final rename never crosses a filesystem), flushed and
fsynced, then renamed over the target with `os.replace`, which is atomic on POSIX and
Windows. A crash, a full disk or an exception while writing leaves the previous file as it
was and removes the partial temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_path", "atomic_write", "atomic_write_bytes", "atomic_write_text"]

_WRITE_MODES = ("w", "wb", "wt")

# `mkstemp` creates files readable by the owner only; a new file should get the permissions
# a plain `open()` would give it, which depend on the umask. Reading the umask means setting
# it, so it is done once at import time rather than racing other threads on every write.
_UMASK = os.umask(0)
os.umask(_UMASK)


def _reserve(path: str | os.PathLike[str]) -> tuple[int, str, str]:
    """Creates the temporary sibling of `path` and returns (fd, temp path, target path)."""
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    return fd, tmp, target


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
