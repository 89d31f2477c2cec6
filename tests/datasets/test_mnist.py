"""Tests for kfit.datasets.mnist.load_data with a tiny fake archive served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import inspect
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kfit.datasets import mnist


class _NpzServer:
    def __init__(self, body: bytes) -> None:
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist.npz"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.running = False


def _fake_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=(6,), dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=(3,), dtype=np.uint8),
    }


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[_NpzServer, dict[str, np.ndarray]]]:
    arrays = _fake_arrays()
    body = _npz_bytes(arrays)
    server = _NpzServer(body)
    monkeypatch.setattr(mnist, "ORIGIN", server.url)
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    yield server, arrays
    server.stop()


def _assert_same(loaded: tuple, arrays: dict[str, np.ndarray]) -> None:
    (x_train, y_train), (x_test, y_test) = loaded
    got_arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for name, got in got_arrays.items():
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])


def test_downloads_then_uses_the_cache(served: tuple[_NpzServer, dict], keras_home: Path) -> None:
    server, arrays = served
    _assert_same(mnist.load_data(), arrays)
    assert (keras_home / "datasets" / "mnist.npz").is_file()
    assert server.requests == 1
    server.stop()
    _assert_same(mnist.load_data(), arrays)


def test_reuses_a_file_already_in_the_keras_cache(
    keras_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = _fake_arrays()
    body = _npz_bytes(arrays)
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "mnist.npz").write_bytes(body)
    monkeypatch.setattr(mnist, "ORIGIN", "http://127.0.0.1:9/unreachable/mnist.npz")
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    _assert_same(mnist.load_data(), arrays)


def test_offline_error_names_file_and_folder(
    served: tuple[_NpzServer, dict], keras_home: Path
) -> None:
    server, _ = served
    server.stop()
    with pytest.raises(Exception) as info:
        mnist.load_data()
    message = str(info.value)
    folder = keras_home / "datasets"
    assert "mnist.npz" in message
    assert f"place it at {folder / 'mnist.npz'}" in message
    assert f"folder: {folder}" in message
    assert not (folder / "mnist.npz").exists()


def test_custom_path_is_the_cached_file_name(
    served: tuple[_NpzServer, dict], keras_home: Path
) -> None:
    _, arrays = served
    _assert_same(mnist.load_data(path="digits.npz"), arrays)
    assert (keras_home / "datasets" / "digits.npz").is_file()


def test_pickled_content_is_refused(keras_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays: dict[str, np.ndarray] = dict(_fake_arrays())
    arrays["y_test"] = np.array([{"not": "data"}], dtype=object)
    body = _npz_bytes(arrays)
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "mnist.npz").write_bytes(body)
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    with pytest.raises(ValueError, match="allow_pickle"):
        mnist.load_data()


def test_archive_without_mnist_arrays_is_rejected(
    keras_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _npz_bytes({"x_train": np.zeros((1, 28, 28), np.uint8)})
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "mnist.npz").write_bytes(body)
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    with pytest.raises(ValueError, match=r"lacks \['y_train', 'x_test', 'y_test'\]"):
        mnist.load_data()


def test_origin_and_hash_match_keras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    from keras.src.datasets import mnist as keras_mnist

    source = inspect.getsource(keras_mnist.load_data)
    assert mnist.FILE_HASH in source
    folder, name = mnist.ORIGIN.rsplit("/", 1)
    assert f'"{folder}/"' in source
    assert name == "mnist.npz"
