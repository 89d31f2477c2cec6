"""`get_file`: download a file once into the Keras cache folder, verify it, optionally extract it.

The cache layout is the one Keras uses (`$KERAS_HOME` or `~/.keras`, then `datasets/`), so files
that Keras already downloaded are found and reused. Downloads use only the standard library and
are atomic: the file appears at its final path only once it is complete and verified.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
import zipfile
from collections.abc import Iterator, Sequence

from kfit.utils import io_utils
from kfit.utils.progbar import Progbar

__all__ = ["get_file"]

#: Seconds to wait for the server to answer (connection or any single read) before giving up.
DOWNLOAD_TIMEOUT = 60.0

_CHUNK_SIZE = 1 << 16
_HASH_ALGORITHMS = ("auto", "sha256", "md5")
_ARCHIVE_FORMATS = ("tar", "zip")


def _describe(name: str, value: object) -> str:
    return f"Received: {name}={value!r} (of type {type(value).__name__})."


def _suggest(value: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _writable_cache_root(cache_dir: str | os.PathLike[str] | None) -> str:
    """Returns `cache_dir`, else `$KERAS_HOME`, else `~/.keras`; /tmp/.keras if not writable."""
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    root = os.path.expanduser(os.fspath(cache_dir))
    # Unlike Keras, a missing root is created rather than sending the cache to /tmp; a root
    # that cannot be created falls through to the /tmp fallback below.
    with contextlib.suppress(OSError):
        os.makedirs(root, exist_ok=True)
    if os.path.isdir(root) and os.access(root, os.W_OK):
        return root
    tmp = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return os.path.join(tmp, ".keras")


def _new_hasher(algorithm: str, file_hash: str | None) -> hashlib._Hash:
    # "auto" follows Keras: a 64-character digest is SHA-256, anything else is taken as MD5.
    if algorithm == "sha256" or (
        algorithm == "auto" and file_hash is not None and len(file_hash) == 64
    ):
        return hashlib.sha256()
    return hashlib.md5()


def _file_matches(path: str, file_hash: str, algorithm: str) -> bool:
    hasher = _new_hasher(algorithm, file_hash)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_SIZE), b""):
            hasher.update(chunk)
    return hasher.hexdigest() == str(file_hash).lower()


def _download(origin: str, target: str, file_hash: str | None, algorithm: str) -> None:
    """Streams `origin` into a temporary file next to `target`, verifies it, then renames it."""
    folder, name = os.path.split(target)
    # Not tempfile.mkstemp: its files are private (0600), and the cache may be shared; "xb" keeps
    # the usual umask-based permissions and still refuses to reuse an existing name.
    partial = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.part")
    hasher = _new_hasher(algorithm, file_hash)
    io_utils.print_msg(f"Downloading data from {origin}")
    try:
        with open(partial, "xb") as out:
            try:
                with urllib.request.urlopen(origin, timeout=DOWNLOAD_TIMEOUT) as response:
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    progbar = Progbar(total)
                    received = 0
                    for chunk in iter(lambda: response.read(_CHUNK_SIZE), b""):
                        out.write(chunk)
                        hasher.update(chunk)
                        received += len(chunk)
                        progbar.update(received, finalize=False)
                    progbar.update(received, finalize=True)
            except urllib.error.HTTPError as err:
                reason = f"HTTP error {err.code} ({err.reason})"
                raise Exception(_download_failure(origin, target, reason)) from err
            except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
                cause = err.reason if isinstance(err, urllib.error.URLError) else err
                reason = str(cause) or type(cause).__name__
                raise Exception(_download_failure(origin, target, reason)) from err
            if total is not None and received != total:
                reason = f"the connection closed after {received} of {total} bytes"
                raise Exception(_download_failure(origin, target, reason))
            # The data must be on disk before the rename makes the file visible as complete.
            out.flush()
            os.fsync(out.fileno())
        if file_hash is not None and hasher.hexdigest() != str(file_hash).lower():
            raise ValueError(
                f"The file downloaded from {origin} is incomplete or corrupted: its "
                f"{hasher.name} hash is {hasher.hexdigest()}, expected {file_hash}. It was "
                f"discarded, so nothing was saved at {target}. Retry later, or check that "
                "`file_hash` belongs to this file."
            )
        os.replace(partial, target)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise


def _download_failure(origin: str, target: str, reason: str) -> str:
    return (
        f"Could not download {origin}: {reason}. If this machine has no internet access, "
        f"download the file elsewhere and place it at {target} "
        f"(folder: {os.path.dirname(target)})."
    )


def _inside(base: str, relative: str) -> bool:
    path = os.path.realpath(os.path.join(base, relative))
    return os.path.commonpath([path, base]) == base


def _safe_tar_members(archive: tarfile.TarFile, base: str) -> Iterator[tarfile.TarInfo]:
    for member in archive:
        if member.issym():
            link_ok = _inside(base, os.path.join(os.path.dirname(member.name), member.linkname))
        elif member.islnk():
            link_ok = _inside(base, member.linkname)
        else:
            link_ok = True
        if link_ok and _inside(base, member.name):
            yield member
        else:
            warnings.warn(
                f"Skipping archive member that points outside the target folder: {member.name!r}",
                stacklevel=3,
            )


def _safe_zip_members(archive: zipfile.ZipFile, base: str) -> Iterator[zipfile.ZipInfo]:
    for member in archive.infolist():
        if _inside(base, member.filename):
            yield member
        else:
            warnings.warn(
                "Skipping archive member that points outside the target folder: "
                f"{member.filename!r}",
                stacklevel=3,
            )


def _extract(archive_path: str, destination: str, formats: Sequence[str]) -> bool:
    """Extracts into a temporary sibling folder, then renames it, so `destination` is never
    left half-written."""
    for fmt in formats:
        is_match = tarfile.is_tarfile if fmt == "tar" else zipfile.is_zipfile
        if not is_match(archive_path):
            continue
        staging = tempfile.mkdtemp(dir=os.path.dirname(destination), prefix=".extracting.")
        base = os.path.realpath(staging)
        try:
            if fmt == "tar":
                with tarfile.open(archive_path) as archive:
                    members = _safe_tar_members(archive, base)
                    if hasattr(tarfile, "data_filter"):
                        archive.extractall(staging, members=members, filter="data")
                    else:
                        archive.extractall(staging, members=members)
            else:
                with zipfile.ZipFile(archive_path) as archive:
                    archive.extractall(staging, members=_safe_zip_members(archive, base))
            if os.path.isdir(destination):
                shutil.rmtree(destination)
            elif os.path.exists(destination):
                os.remove(destination)
            os.replace(staging, destination)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return True
    return False


def _archive_formats(archive_format: str | Sequence[str] | None) -> list[str]:
    if archive_format is None:
        return []
    if archive_format == "auto":
        return list(_ARCHIVE_FORMATS)
    formats = [archive_format] if isinstance(archive_format, str) else list(archive_format)
    for fmt in formats:
        if fmt not in _ARCHIVE_FORMATS:
            raise ValueError(
                'Expected `archive_format` to be "auto", "tar", "zip", a list of those, or '
                "None. "
                f"{_describe('archive_format', archive_format)}"
                f"{_suggest(str(fmt), _ARCHIVE_FORMATS)}"
            )
    return formats


def get_file(
    fname: str | os.PathLike[str] | None = None,
    origin: str | None = None,
    untar: bool = False,
    md5_hash: str | None = None,
    file_hash: str | None = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format: str | Sequence[str] | None = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    force_download: bool = False,
) -> str:
    """Downloads a file from a URL unless it is already in the cache, and returns its path.

    The file is stored at `<cache_dir>/<cache_subdir>/<fname>`, where `cache_dir` defaults to
    `$KERAS_HOME` or `~/.keras` (or `/tmp/.keras` when that is not writable), the same place
    Keras uses, so files Keras downloaded before are reused. A cached file is downloaded again
    when its hash does not match `file_hash`. A download is written to a temporary file, checked
    against `file_hash` and only then moved into place, so an interrupted or corrupted download
    never leaves a file behind.

    Args:
        fname: Name of the file in the cache. Defaults to the last part of `origin`'s path.
            With `extract=True` and a name without an extension, the name of the folder the
            archive is extracted into.
        origin: URL of the file (any scheme `urllib` opens, including `file://`).
        untar: Deprecated; same as `extract=True` with `archive_format="tar"`.
        md5_hash: Deprecated; an MD5 `file_hash`.
        file_hash: Expected SHA-256 or MD5 hex digest of the file.
        cache_subdir: Folder under the cache root; an absolute path is used as is.
        hash_algorithm: `"sha256"`, `"md5"`, or `"auto"` (SHA-256 for 64-character hashes).
        extract: Whether to extract the downloaded tar or zip archive.
        archive_format: `"auto"` (tar then zip), `"tar"`, `"zip"`, a list of those, or `None`.
        cache_dir: Cache root folder, overriding `$KERAS_HOME`.
        force_download: Whether to download even when a valid cached copy exists.

    Returns:
        The path of the file, or of the extraction folder when extracting.

    Raises:
        Exception: When the download fails; the message names the URL and where to place a
            manually downloaded copy.
        ValueError: When arguments are invalid, or the downloaded file fails the hash check.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> source, cache = folder / "hello.txt", folder / "cache"
        >>> _ = source.write_text("hello")
        >>> path = get_file(origin=source.as_uri(), cache_dir=cache)  # doctest: +ELLIPSIS
        Downloading data from file:///...hello.txt
        5/5 [==============================] - ...
        >>> pathlib.Path(path).read_text()
        'hello'
        >>> get_file(origin=source.as_uri(), cache_dir=cache) == path  # cached now
        True
    """
    if not origin:
        raise ValueError(
            "Expected `origin` to be the URL of the file to download. "
            f"{_describe('origin', origin)} Pass e.g. origin='https://example.com/data.npz'."
        )
    if hash_algorithm not in _HASH_ALGORITHMS:
        raise ValueError(
            f"Expected `hash_algorithm` to be one of {_HASH_ALGORITHMS}. "
            f"{_describe('hash_algorithm', hash_algorithm)}"
            f"{_suggest(str(hash_algorithm), _HASH_ALGORITHMS)}"
        )
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if untar:
        extract, archive_format = True, "tar"
    formats = _archive_formats(archive_format) if extract else []

    name = os.fspath(fname) if fname is not None else ""
    if not name:
        name = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not name:
            raise ValueError(
                "Expected `fname` to be given when the file name cannot be read from `origin`. "
                f"{_describe('origin', origin)} Pass fname='<file name>'."
            )
    elif os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(
            "Expected `fname` to be a plain file name, without folders. "
            f"{_describe('fname', fname)} Put the folder in `cache_dir` or `cache_subdir` "
            "instead."
        )

    folder = os.path.join(_writable_cache_root(cache_dir), cache_subdir)
    os.makedirs(folder, exist_ok=True)

    if extract:
        # Keras's naming: "data.tar.gz" -> archive kept as is, extracted to "data_extracted";
        # "data" (or a name read from the URL) -> archive "data_archive", extracted to "data".
        if fname is not None and "." in name:
            target = os.path.join(folder, name)
            extraction_dir = os.path.join(folder, f"{name[: name.find('.')]}_extracted")
        else:
            target = os.path.join(folder, f"{name}_archive")
            extraction_dir = os.path.join(folder, name)
    else:
        target = os.path.join(folder, name)

    download = force_download or not os.path.exists(target)
    if (
        not download
        and file_hash is not None
        and not _file_matches(target, file_hash, hash_algorithm)
    ):
        algorithm = _new_hasher(hash_algorithm, file_hash).name
        io_utils.print_msg(
            f"A local file was found at {target}, but its {algorithm} hash does not match "
            f"{file_hash} (incomplete or outdated), so it will be downloaded again."
        )
        download = True
    if download:
        _download(origin, target, file_hash, hash_algorithm)

    if not extract:
        return target
    if (download or not os.path.isdir(extraction_dir)) and not _extract(target, extraction_dir, formats):
        warnings.warn(
            f"Could not extract {target}: it is not a {' or '.join(formats) or 'supported'} "
            "archive. Check `archive_format`, or call get_file with extract=False.",
            stacklevel=2,
        )
    return extraction_dir
