"""Tests for kfit.datasets.reuters with a fake `reuters.npz` laid out like Keras's, on 127.0.0.1."""

from __future__ import annotations

import inspect
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dataset_fakes
import numpy as np
import pytest
from dataset_fakes import FileServer, assert_same_splits, files_under, md5, sha256

from kfit.datasets import reuters

file_server = dataset_fakes.file_server
keras_home = dataset_fakes.keras_home
keras_dataset = dataset_fakes.keras_dataset



def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # the object array is stored as a pickle, as in the published file
    return buffer.getvalue()


def _fake_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    x = np.empty(41, dtype=object)
    for i in range(len(x)):
        x[i] = rng.integers(1, 120, size=int(rng.integers(2, 30))).tolist()
    return {"x": x, "y": rng.integers(0, 46, size=len(x))}


@pytest.fixture
def served(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, np.ndarray]]:
    arrays = _fake_arrays()
    body = _npz(arrays)
    file_server.files["reuters.npz"] = body
    monkeypatch.setattr(reuters, "ORIGIN_FOLDER", file_server.base)
    monkeypatch.setattr(reuters, "FILE_HASH", sha256(body))
    yield arrays


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"num_words": 50, "skip_top": 4},
        {"maxlen": 15},
        {"maxlen": 20, "num_words": 30, "oov_char": None},
        {"test_split": 0.5, "seed": 5},
        {"test_split": 0.0},
        {"test_split": 0.0, "maxlen": 40},
        {"test_split": 1.0},
        {"start_char": None, "index_from": 0},
        {"index_from": 5, "start_char": 3, "oov_char": 4, "num_words": 90},
    ],
    ids=repr,
)
def test_matches_keras_on_the_same_file(served: Any, keras_home: Path, keras_dataset: Any, options: dict) -> None:
    got = reuters.load_data(**options)
    expected = keras_dataset("reuters").load_data(**options)
    assert_same_splits(got, expected)


def test_shuffles_then_splits(served: dict[str, np.ndarray], keras_home: Path) -> None:
    (x_train, y_train), (x_test, y_test) = reuters.load_data(test_split=0.25, seed=9, num_words=1000)
    order = np.arange(41)
    np.random.RandomState(9).shuffle(order)
    assert len(x_train) == int(41 * 0.75) == 30
    assert y_train.tolist() + y_test.tolist() == served["y"][order].tolist()
    assert x_test[-1] == [1] + [w + 3 for w in served["x"][order[-1]]]


@pytest.mark.parametrize("test_split", [-0.1, 1.5])
def test_test_split_outside_zero_one_is_refused(test_split: float) -> None:
    with pytest.raises(ValueError, match=rf"fraction between 0 and 1. Received: test_split={test_split}"):
        reuters.load_data(test_split=test_split)


def test_word_index_and_label_names_match_keras(
    file_server: FileServer, monkeypatch: pytest.MonkeyPatch, keras_home: Path, keras_dataset: Any
) -> None:
    body = json.dumps({"the": 1, "of": 2, "said": 5}).encode()
    file_server.files["reuters_word_index.json"] = body
    monkeypatch.setattr(reuters, "ORIGIN_FOLDER", file_server.base)
    monkeypatch.setattr(reuters, "WORD_INDEX_HASH", md5(body))
    keras_reuters = keras_dataset("reuters")
    assert reuters.get_word_index() == keras_reuters.get_word_index() == {"the": 1, "of": 2, "said": 5}
    assert reuters.get_label_names() == keras_reuters.get_label_names()


def test_checksum_mismatch_raises_and_leaves_nothing(
    served: Any, monkeypatch: pytest.MonkeyPatch, keras_home: Path
) -> None:
    monkeypatch.setattr(reuters, "FILE_HASH", "0" * 64)
    with pytest.raises(ValueError, match="incomplete or corrupted"):
        reuters.load_data()
    assert files_under(keras_home / "datasets") == []


def test_origin_and_hashes_match_keras() -> None:
    pytest.importorskip("keras")
    from keras.src.datasets import reuters as keras_reuters

    source = inspect.getsource(keras_reuters)
    assert f'"{reuters.ORIGIN_FOLDER}"' in source
    assert reuters.FILE_HASH in source and reuters.WORD_INDEX_HASH in source
    parameters = inspect.signature(reuters.load_data).parameters
    assert parameters.keys() == inspect.signature(keras_reuters.load_data).parameters.keys()
