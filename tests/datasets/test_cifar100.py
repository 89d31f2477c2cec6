"""Tests for kfit.datasets.cifar100 with a fake archive in the real layout, served on 127.0.0.1."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dataset_fakes
import numpy as np
import pytest
from dataset_fakes import FileServer, assert_same_splits, files_under, py2_pickle, sha256, tar_gz

from kfit.datasets import cifar100

file_server = dataset_fakes.file_server
keras_home = dataset_fakes.keras_home
keras_dataset = dataset_fakes.keras_dataset



def _archive() -> tuple[bytes, dict[str, dict[bytes, Any]]]:
    """The "python version" archive: `cifar-100-python/` with `train`, `test` and `meta`."""
    parts = {}
    for seed, (name, count) in enumerate((("train", 9), ("test", 5))):
        rng = np.random.default_rng(seed)
        parts[name] = {
            b"filenames": [b"f%d.png" % i for i in range(count)],
            b"batch_label": f"{name}ing batch 1 of 1".encode(),
            b"fine_labels": rng.integers(0, 100, size=count).tolist(),
            b"coarse_labels": rng.integers(0, 20, size=count).tolist(),
            b"data": rng.integers(0, 256, size=(count, 3072), dtype=np.uint8),
        }
    members = {f"cifar-100-python/{name}": py2_pickle(part) for name, part in parts.items()}
    members["cifar-100-python/meta"] = py2_pickle({b"fine_label_names": [b"apple"], b"coarse_label_names": [b"fish"]})
    return tar_gz(members), parts


@pytest.fixture
def served(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[bytes, Any]]]:
    body, parts = _archive()
    file_server.files["cifar-100-python.tar.gz"] = body
    monkeypatch.setattr(cifar100, "ORIGIN", file_server.url("cifar-100-python.tar.gz"))
    monkeypatch.setattr(cifar100, "FILE_HASH", sha256(body))
    yield parts


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_matches_keras_on_the_same_archive(served: Any, keras_home: Path, keras_dataset: Any, label_mode: str) -> None:
    got = cifar100.load_data(label_mode=label_mode)
    expected = keras_dataset("cifar100").load_data(label_mode=label_mode)
    assert_same_splits(got, expected)
    (x_train, y_train), (_, y_test) = got
    assert x_train.shape == (9, 32, 32, 3) and y_train.shape == (9, 1) and y_test.shape == (5, 1)
    assert y_test[:, 0].tolist() == served["test"][f"{label_mode}_labels".encode()]


def test_unknown_label_mode_is_refused_before_downloading(served: Any, file_server: FileServer) -> None:
    with pytest.raises(ValueError, match=r"\"fine\" or \"coarse\". Received: label_mode='fne' \(of type str\)"):
        cifar100.load_data(label_mode="fne")
    assert file_server.requests == []


def test_checksum_mismatch_raises_and_leaves_nothing(
    served: Any, monkeypatch: pytest.MonkeyPatch, keras_home: Path
) -> None:
    monkeypatch.setattr(cifar100, "FILE_HASH", "f" * 64)
    with pytest.raises(ValueError, match="incomplete or corrupted"):
        cifar100.load_data()
    assert files_under(keras_home / "datasets") == []


def test_origin_and_hash_match_keras() -> None:
    pytest.importorskip("keras")
    from keras.src.datasets import cifar100 as keras_cifar100

    source = inspect.getsource(keras_cifar100.load_data)
    assert f'"{cifar100.ORIGIN}"' in source and cifar100.FILE_HASH in source and f'"{cifar100.DIRNAME}"' in source
