"""Shared by the application tests: a cache folder, a local file server, Keras models' weights
written in Keras 2's HDF5 layout (that of Keras's published weight files), and an architecture
comparison with Keras. Imported by the tests in this folder (`from application_parity import
...`, fixtures included); the name is unique in the tests tree."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py
import numpy as np
import pytest

keras = pytest.importorskip("keras")


class FileServer:
    """Serves `files` (URL path -> bytes) on 127.0.0.1 and records the paths requested."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requested: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requested.append(self.path)
                body = server.files.get(self.path)
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
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def serve(self, name: str, body: bytes) -> str:
        """Publishes `body` as `/<name>`; returns its URL."""
        self.files[f"/{name}"] = body
        return self.base + name

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.stop()


def randomize(keras_model: object, seed: int = 0) -> None:
    """Gives every weight of a Keras model random values (variances positive), so that a
    parity test sees every array, BatchNormalization statistics included."""
    rng = np.random.default_rng(seed)
    values = []
    for weight in keras_model.weights:  # type: ignore[attr-defined]
        shape = tuple(weight.shape)
        if "variance" in weight.path:
            values.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            values.append(rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1))
    keras_model.set_weights(values)  # type: ignore[attr-defined]


def legacy_h5_bytes(keras_model: object) -> bytes:
    """The Keras model's weights in Keras 2's `.h5` layout, written by Keras itself."""
    from keras.src.legacy.saving import legacy_h5_format

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, keras_model)
    return buffer.getvalue()


def md5(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()


def strip_counter(name: str) -> str:
    """A layer name without the `_<n>` that automatic names get from a per-process counter."""
    head, _, tail = name.rpartition("_")
    return head if head and tail.isdigit() else name


def assert_same_architecture(kfit_model: object, keras_model: object) -> None:
    """Same layers (names, classes, order), weight shapes, parameter count and output shape."""
    ours = kfit_model.layers  # type: ignore[attr-defined]
    theirs = keras_model.layers  # type: ignore[attr-defined]
    # Automatic names (input_layer, global_average_pooling2d) carry per-process counters.
    assert [strip_counter(layer.name) for layer in ours] == [
        strip_counter(layer.name) for layer in theirs
    ]
    assert [type(layer).__name__ for layer in ours] == [type(layer).__name__ for layer in theirs]
    assert [[tuple(w.shape) for w in layer.weights] for layer in ours] == [
        [tuple(w.shape) for w in layer.weights] for layer in theirs
    ]
    assert kfit_model.count_params() == keras_model.count_params()  # type: ignore[attr-defined]
    assert tuple(kfit_model.output_shape) == tuple(keras_model.output_shape)  # type: ignore[attr-defined]
    assert kfit_model.name == keras_model.name  # type: ignore[attr-defined]


def serve_keras_weights(server: FileServer, keras_model: object, file_name: str) -> tuple[str, str]:
    """Randomizes the Keras model, publishes its weights as `file_name` in the legacy layout, and
    returns (URL, MD5) to monkeypatch into the application module."""
    randomize(keras_model)
    body = legacy_h5_bytes(keras_model)
    return server.serve(file_name, body), md5(body)


def images(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    """A batch of random float32 images of `shape` (batch first), values in 0..255."""
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def assert_same_predictions(kfit_model: object, keras_model: object, x: np.ndarray) -> None:
    expected = keras_model.predict(x, verbose=0)  # type: ignore[attr-defined]
    got = kfit_model.predict(x, verbose=0)  # type: ignore[attr-defined]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))
