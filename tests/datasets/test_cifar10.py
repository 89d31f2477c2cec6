"""Tests for kfit.datasets.cifar10 with fake archives in the real layout, served on 127.0.0.1."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dataset_fakes
import numpy as np
import pytest
from dataset_fakes import FileServer, assert_same_splits, files_under, py2_pickle, sha256, tar_gz

import kfit
from kfit.datasets import cifar10

file_server = dataset_fakes.file_server
keras_home = dataset_fakes.keras_home
keras_dataset = dataset_fakes.keras_dataset


_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _archive(count: int, compress: bool = True) -> tuple[bytes, dict[str, dict[bytes, Any]]]:
    """The "python version" archive: `cifar-10-batches-py/` with five training batches, the
    test batch, and the files Keras ignores."""
    batches = {}
    for seed, name in enumerate(_BATCHES):
        rng = np.random.default_rng(seed)
        batches[name] = {
            b"batch_label": f"batch {name}".encode(),
            b"labels": rng.integers(0, 10, size=count).tolist(),
            b"data": rng.integers(0, 256, size=(count, 3072), dtype=np.uint8),
            b"filenames": [b"image_%d.png" % i for i in range(count)],
        }
    members = {f"cifar-10-batches-py/{name}": py2_pickle(batch) for name, batch in batches.items()}
    members["cifar-10-batches-py/batches.meta"] = py2_pickle({b"label_names": [b"airplane"] * 10})
    members["cifar-10-batches-py/readme.html"] = b"<html></html>"
    return tar_gz(members, compress), batches


def _serve(server: FileServer, monkeypatch: pytest.MonkeyPatch, body: bytes, file_hash: str | None = None) -> None:
    server.files["cifar-10-python.tar.gz"] = body
    monkeypatch.setattr(cifar10, "ORIGIN", server.url("cifar-10-python.tar.gz"))
    monkeypatch.setattr(cifar10, "FILE_HASH", file_hash or sha256(body))


@pytest.fixture(scope="module")
def full_size() -> tuple[bytes, dict[str, dict[bytes, Any]]]:
    # Keras's loader assumes exactly 10,000 images per batch, so its parity needs full batches.
    return _archive(10000, compress=False)


@pytest.fixture
def small(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[bytes, Any]]]:
    body, batches = _archive(4)
    _serve(file_server, monkeypatch, body)
    yield batches


def test_matches_keras_on_the_same_archive(
    monkeypatch: pytest.MonkeyPatch, keras_home: Path, keras_dataset: Any, full_size: Any
) -> None:
    body, _ = full_size
    # Put where Keras's and kfit's get_file look for the archive (downloads are tested below).
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "cifar-10-batches-py-target_archive").write_bytes(body)
    monkeypatch.setattr(cifar10, "ORIGIN", "http://127.0.0.1:9/unreachable.tar.gz")
    monkeypatch.setattr(cifar10, "FILE_HASH", sha256(body))
    got = cifar10.load_data()
    expected = keras_dataset("cifar10").load_data()
    assert got[0][0].shape == (50000, 32, 32, 3) and got[1][1].shape == (10000, 1)
    assert_same_splits(got, expected)


def test_images_are_channels_last_and_batches_in_order(small: dict[str, dict[bytes, Any]], keras_home: Path) -> None:
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    train = [small[name] for name in _BATCHES[:5]]
    expected_x = np.concatenate([b[b"data"] for b in train]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(x_train, expected_x)
    assert y_train.dtype == np.uint8 and y_train[:, 0].tolist() == [v for b in train for v in b[b"labels"]]
    np.testing.assert_array_equal(x_test[1, :, :, 2], small["test_batch"][b"data"][1, 2048:].reshape(32, 32))
    assert (x_test.dtype, y_test.dtype, y_test.shape) == (np.uint8, np.uint8, (4, 1))
    folder = keras_home / "datasets"
    assert (folder / "cifar-10-batches-py-target_archive").is_file()
    assert (folder / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "test_batch").is_file()


def test_channels_first_keeps_the_stored_layout(small: dict[str, dict[bytes, Any]], keras_home: Path) -> None:
    kfit.backend.set_image_data_format("channels_first")
    try:
        (x_train, _), (x_test, _) = cifar10.load_data()
    finally:
        kfit.backend.set_image_data_format("channels_last")
    assert x_train.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(x_test.reshape(4, -1), small["test_batch"][b"data"])


def test_second_load_uses_the_cache(small: Any, file_server: FileServer, keras_home: Path) -> None:
    first = cifar10.load_data()
    file_server.stop()
    assert_same_splits(cifar10.load_data(), first)
    assert file_server.requests == ["cifar-10-python.tar.gz"]


def test_checksum_mismatch_raises_and_leaves_nothing(
    file_server: FileServer, monkeypatch: pytest.MonkeyPatch, keras_home: Path
) -> None:
    body, _ = _archive(2)
    _serve(file_server, monkeypatch, body, file_hash="0" * 64)
    with pytest.raises(ValueError, match="incomplete or corrupted: its sha256 hash is"):
        cifar10.load_data()
    assert files_under(keras_home / "datasets") == []


def test_origin_and_hash_match_keras() -> None:
    pytest.importorskip("keras")
    from keras.src.datasets import cifar10 as keras_cifar10

    source = inspect.getsource(keras_cifar10.load_data)
    assert f'"{cifar10.ORIGIN}"' in source and cifar10.FILE_HASH in source and f'"{cifar10.DIRNAME}"' in source
