"""Tests for kfit.datasets.boston_housing with a fake `boston_housing.npz` served on 127.0.0.1."""

from __future__ import annotations

import inspect
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dataset_fakes
import numpy as np
import pytest
from dataset_fakes import FileServer, assert_same_splits, files_under, sha256

from kfit.datasets import boston_housing

file_server = dataset_fakes.file_server
keras_home = dataset_fakes.keras_home
keras_dataset = dataset_fakes.keras_dataset



def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture
def served(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(23, 13)), "y": rng.uniform(5, 50, size=23)}
    body = _npz(arrays)
    file_server.files["boston_housing.npz"] = body
    monkeypatch.setattr(boston_housing, "ORIGIN", file_server.url("boston_housing.npz"))
    monkeypatch.setattr(boston_housing, "FILE_HASH", sha256(body))
    yield arrays


@pytest.mark.parametrize("options", [{}, {"test_split": 0.5, "seed": 1}, {"test_split": 0.0}, {"seed": 0}], ids=repr)
def test_matches_keras_on_the_same_file(served: Any, keras_home: Path, keras_dataset: Any, options: dict) -> None:
    got = boston_housing.load_data(**options)
    assert_same_splits(got, keras_dataset("boston_housing").load_data(**options))


def test_shuffles_then_splits(served: dict[str, np.ndarray], keras_home: Path) -> None:
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(test_split=0.3, seed=4)
    order = np.arange(23)
    np.random.RandomState(4).shuffle(order)
    assert len(x_train) == int(23 * 0.7)
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), served["x"][order])
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), served["y"][order])


@pytest.mark.parametrize("test_split", [-0.5, 1.0])
def test_test_split_outside_the_range_is_refused(test_split: float, file_server: FileServer) -> None:
    with pytest.raises(ValueError, match=rf"at least 0 and below 1. Received: test_split={test_split}"):
        boston_housing.load_data(test_split=test_split)
    assert file_server.requests == []


def test_checksum_mismatch_raises_and_leaves_nothing(
    served: Any, monkeypatch: pytest.MonkeyPatch, keras_home: Path
) -> None:
    monkeypatch.setattr(boston_housing, "FILE_HASH", "0" * 64)
    with pytest.raises(ValueError, match="incomplete or corrupted"):
        boston_housing.load_data()
    assert files_under(keras_home / "datasets") == []


def test_pickled_content_is_refused(file_server: FileServer, monkeypatch: pytest.MonkeyPatch, keras_home: Path) -> None:
    body = _npz({"x": np.array([{"not": "data"}], dtype=object), "y": np.zeros(1)})
    file_server.files["boston_housing.npz"] = body
    monkeypatch.setattr(boston_housing, "ORIGIN", file_server.url("boston_housing.npz"))
    monkeypatch.setattr(boston_housing, "FILE_HASH", sha256(body))
    with pytest.raises(ValueError, match="allow_pickle"):
        boston_housing.load_data()


def test_origin_and_hash_match_keras() -> None:
    pytest.importorskip("keras")
    from keras.src.datasets import boston_housing as keras_boston_housing

    source = inspect.getsource(keras_boston_housing.load_data)
    folder, name = boston_housing.ORIGIN.rsplit("/", 1)
    assert f'"{folder}/"' in source and name in source and boston_housing.FILE_HASH in source
