"""Tests for kfit.datasets.fashion_mnist with fake gzipped IDX files served on 127.0.0.1."""

from __future__ import annotations

import gzip
import inspect
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dataset_fakes
import numpy as np
import pytest
from dataset_fakes import FileServer, assert_same_splits

from kfit.datasets import fashion_mnist

file_server = dataset_fakes.file_server
keras_home = dataset_fakes.keras_home
keras_dataset = dataset_fakes.keras_dataset



def _idx(magic: int, array: np.ndarray) -> bytes:
    """An IDX file: big-endian magic number and sizes, then the uint8 values."""
    return gzip.compress(struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.tobytes())


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, size=6, dtype=np.uint8),
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, size=4, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8),
    }


@pytest.fixture
def served(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, np.ndarray]]:
    arrays = _arrays()
    for name, array in arrays.items():
        file_server.files[name] = _idx(2049 if array.ndim == 1 else 2051, array)
    monkeypatch.setattr(fashion_mnist, "ORIGIN_FOLDER", file_server.base)
    yield arrays


def test_matches_keras_on_the_same_files(served: dict[str, np.ndarray], keras_home: Path, keras_dataset: Any) -> None:
    got = fashion_mnist.load_data()
    assert_same_splits(got, keras_dataset("fashion_mnist").load_data())
    (x_train, _), (_, y_test) = got
    np.testing.assert_array_equal(x_train, served["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, served["t10k-labels-idx1-ubyte.gz"])
    assert x_train.flags.writeable
    assert sorted(p.name for p in (keras_home / "datasets" / "fashion-mnist").iterdir()) == sorted(served)


def test_second_load_uses_the_cache(served: Any, file_server: FileServer, keras_home: Path) -> None:
    first = fashion_mnist.load_data()
    file_server.stop()
    assert_same_splits(fashion_mnist.load_data(), first)
    assert len(file_server.requests) == 4


def test_a_file_of_the_wrong_kind_is_rejected(served: Any, file_server: FileServer, keras_home: Path) -> None:
    # The training labels replaced by an image file: the magic number tells them apart.
    file_server.files["train-labels-idx1-ubyte.gz"] = file_server.files["t10k-images-idx3-ubyte.gz"]
    message = r"train-labels-idx1-ubyte.gz to be a Fashion-MNIST IDX file \(magic number 2049"
    with pytest.raises(ValueError, match=message):
        fashion_mnist.load_data()


def test_a_truncated_file_is_rejected(served: Any, file_server: FileServer) -> None:
    body = gzip.decompress(file_server.files["t10k-images-idx3-ubyte.gz"])
    file_server.files["t10k-images-idx3-ubyte.gz"] = gzip.compress(body[:-10])
    with pytest.raises(ValueError, match=r"header reads \[2051, 4, 28, 28\] for 3142 bytes"):
        fashion_mnist.load_data()


def test_origin_files_and_folder_match_keras() -> None:
    pytest.importorskip("keras")
    from keras.src.datasets import fashion_mnist as keras_fashion_mnist

    source = inspect.getsource(keras_fashion_mnist.load_data)
    assert f'"{fashion_mnist.ORIGIN_FOLDER}"' in source
    assert all(f'"{name}"' in source for name in fashion_mnist.FILES)
    assert 'os.path.join("datasets", "fashion-mnist")' in source
