"""Tests for kfit.datasets.california_housing with a fake file served on 127.0.0.1."""

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

from kfit.datasets import california_housing

file_server = dataset_fakes.file_server
keras_home = dataset_fakes.keras_home
keras_dataset = dataset_fakes.keras_dataset



@pytest.fixture
def served(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    # More rows than the small version's 600, with the file's float32 features and targets.
    arrays = {"x": rng.normal(size=(650, 8)).astype(np.float32), "y": rng.uniform(2e4, 5e5, 650).astype(np.float32)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    body = buffer.getvalue()
    file_server.files["california_housing.npz"] = body
    monkeypatch.setattr(california_housing, "ORIGIN", file_server.url("california_housing.npz"))
    monkeypatch.setattr(california_housing, "FILE_HASH", sha256(body))
    yield arrays


@pytest.mark.parametrize(
    "options",
    [{}, {"version": "small"}, {"version": "small", "test_split": 0.5, "seed": 2}, {"test_split": 0.0, "seed": 0}],
    ids=repr,
)
def test_matches_keras_on_the_same_file(served: Any, keras_home: Path, keras_dataset: Any, options: dict) -> None:
    got = california_housing.load_data(**options)
    assert_same_splits(got, keras_dataset("california_housing").load_data(**options))


def test_small_version_takes_the_first_600_rows_before_shuffling(
    served: dict[str, np.ndarray], keras_home: Path
) -> None:
    (x_train, _), (x_test, y_test) = california_housing.load_data(version="small", test_split=0.25)
    assert (len(x_train), len(x_test)) == (450, 150)
    order = np.arange(600)
    np.random.RandomState(113).shuffle(order)
    np.testing.assert_array_equal(x_test, served["x"][:600][order][450:])
    assert y_test.dtype == np.float32


def test_unknown_version_is_refused_before_downloading(file_server: FileServer) -> None:
    with pytest.raises(ValueError, match=r"\"large\" or \"small\". Received: version='medium' \(of type str\)"):
        california_housing.load_data(version="medium")
    assert file_server.requests == []


def test_checksum_mismatch_raises_and_leaves_nothing(
    served: Any, monkeypatch: pytest.MonkeyPatch, keras_home: Path
) -> None:
    monkeypatch.setattr(california_housing, "FILE_HASH", "0" * 64)
    with pytest.raises(ValueError, match="incomplete or corrupted"):
        california_housing.load_data()
    assert files_under(keras_home / "datasets") == []


def test_origin_and_hash_match_keras() -> None:
    pytest.importorskip("keras")
    from keras.src.datasets import california_housing as keras_california_housing

    source = inspect.getsource(keras_california_housing.load_data)
    folder, name = california_housing.ORIGIN.rsplit("/", 1)
    assert f'"{folder}/"' in source and name in source and california_housing.FILE_HASH in source
    assert inspect.signature(california_housing.load_data).parameters.keys() == (
        inspect.signature(keras_california_housing.load_data).parameters.keys()
    )
