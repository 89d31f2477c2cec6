"""Helpers for the dataset tests: a file server on 127.0.0.1, a Keras cache under tmp_path,
Keras's loaders pointed at that cache (so that Keras reads the same fake files), and writers of
the real files' formats.

A plain module rather than a `conftest.py`: a second `conftest` module would shadow the one in
`tests/` that other tests import `guide_model` from. Test modules bind the fixtures they use,
e.g. `file_server = dataset_fakes.file_server`.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


class FileServer:
    """Serves `files` (name -> bytes) at `url(name)`; unknown names get a 404."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                server.requests.append(name)
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()
        self.running = True

    def url(self, name: str) -> str:
        return self.base + name

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.running = False


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def files_under(folder: Path) -> list[str]:
    """Every file and folder left under `folder`, hidden ones included, as relative paths."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture
def file_server(keras_home: Path) -> Iterator[FileServer]:
    # Depends on `keras_home` so that whatever is downloaded lands under tmp_path.
    server = FileServer()
    yield server
    server.stop()


@pytest.fixture
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def keras_dataset(keras_home: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    """Returns Keras's `keras.src.datasets.<name>` module, its downloads redirected to `keras_home`.

    Keras reads `$KERAS_HOME` once at import and pins the real files' hashes, so its `get_file`
    is wrapped to use the test's cache and skip the hash (kfit checks the fake file's hash).
    The files must already be in the cache: a Keras download attempt would fail offline.
    """

    def load(name: str) -> Any:
        module = importlib.import_module(f"keras.src.datasets.{name}")
        original = importlib.import_module("keras.src.utils.file_utils").get_file

        def get_file(*args: Any, **kwargs: Any) -> str:
            kwargs.update(cache_dir=str(keras_home), file_hash=None)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, "get_file", get_file)
        return module

    pytest.importorskip("keras")
    return load


def py2_pickle(value: Any) -> bytes:
    """Pickles `value` the way Python 2's cPickle (protocol 2) wrote the CIFAR batch files.

    Python 3's pickle writes `bytes` differently (`_codecs.encode` calls or `BINBYTES`), so the
    real files' opcodes are written here by hand: `SHORT_BINSTRING`/`BINSTRING` for byte strings,
    `BINPUT` after each container and string, `APPENDS`/`SETITEMS` in batches of 1,000, and
    numpy arrays as `numpy.core.multiarray._reconstruct` plus a `BUILD` of their raw bytes.
    """
    import struct

    import numpy as np

    out = bytearray(b"\x80\x02")
    memo = [0]

    def put() -> None:
        memo[0] += 1
        out.extend(b"q" + bytes([memo[0]]) if memo[0] < 256 else b"r" + struct.pack("<I", memo[0]))

    def write(v: Any) -> None:
        if isinstance(v, bool):
            out.extend(b"\x88" if v else b"\x89")
        elif v is None:
            out.extend(b"N")
        elif isinstance(v, int):
            if 0 <= v < 256:
                out.extend(b"K" + bytes([v]))
            elif 0 <= v < 65536:
                out.extend(b"M" + struct.pack("<H", v))
            else:
                out.extend(b"J" + struct.pack("<i", v))
        elif isinstance(v, bytes):
            out.extend(b"U" + bytes([len(v)]) + v if len(v) < 256 else b"T" + struct.pack("<I", len(v)) + v)
            put()
        elif isinstance(v, tuple):
            out.extend(b"(")
            for item in v:
                write(item)
            out.extend(b"t")
        elif isinstance(v, list):
            out.extend(b"]")
            put()
            for start in range(0, len(v), 1000):
                out.extend(b"(")
                for item in v[start : start + 1000]:
                    write(item)
                out.extend(b"e")
        elif isinstance(v, dict):
            out.extend(b"}")
            put()
            out.extend(b"(")
            for key, item in v.items():
                write(key)
                write(item)
            out.extend(b"u")
        elif isinstance(v, np.ndarray):
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01")
            write(tuple(v.shape))
            out.extend(b"cnumpy\ndtype\nU\x02" + v.dtype.str[1:].encode() + b"K\x00K\x01\x87R")
            out.extend(b"(K\x03U\x01" + v.dtype.str[:1].encode() + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89")
            write(np.ascontiguousarray(v).tobytes())
            out.extend(b"tb")
        else:
            raise TypeError(type(v))

    write(value)
    out.extend(b".")
    return bytes(out)


def tar_gz(members: dict[str, bytes], compress: bool = True) -> bytes:
    """A gzipped tar archive holding `members` (path -> content), as the CIFAR archives are.

    `compress=False` leaves out the gzip layer (slow on large random data); the loaders read
    both, since the archive format is detected from the content."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def assert_same_splits(got: Any, expected: Any) -> None:
    """`(x_train, y_train), (x_test, y_test)` equal in dtype, shape and values (object arrays of
    lists compared list by list)."""
    import numpy as np

    (gx, gy), (gxt, gyt) = got
    (ex, ey), (ext, eyt) = expected
    for name, g, e in (("x_train", gx, ex), ("y_train", gy, ey), ("x_test", gxt, ext), ("y_test", gyt, eyt)):
        assert isinstance(g, np.ndarray), name
        assert (g.dtype, g.shape) == (e.dtype, e.shape), name
        if g.dtype == object:
            assert [list(s) for s in g] == [list(s) for s in e], name
        else:
            assert np.array_equal(g, e), name  # not assert_array_equal: 10x slower on CIFAR-size views
