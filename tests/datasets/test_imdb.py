"""Tests for kfit.datasets.imdb with a fake `imdb.npz` laid out like Keras's, served on 127.0.0.1."""

from __future__ import annotations

import inspect
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dataset_fakes
import numpy as np
import pytest
from dataset_fakes import FileServer, assert_same_splits, files_under, md5, sha256

from kfit.datasets import imdb

file_server = dataset_fakes.file_server
keras_home = dataset_fakes.keras_home
keras_dataset = dataset_fakes.keras_dataset



def _ragged(rng: np.random.Generator, count: int) -> np.ndarray:
    # Lists of Python ints (word ranks from 1), of varied lengths, as in Keras's file.
    array = np.empty(count, dtype=object)
    for i in range(count):
        array[i] = rng.integers(1, 100, size=int(rng.integers(3, 40))).tolist()
    return array


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # object arrays are stored as pickles, as in the published file
    return buffer.getvalue()


def _fake_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": _ragged(rng, 30),
        "y_train": rng.integers(0, 2, size=30),
        "x_test": _ragged(rng, 20),
        "y_test": rng.integers(0, 2, size=20),
    }


def _serve(server: FileServer, monkeypatch: pytest.MonkeyPatch, body: bytes) -> None:
    server.files["imdb.npz"] = body
    monkeypatch.setattr(imdb, "ORIGIN_FOLDER", server.base)
    monkeypatch.setattr(imdb, "FILE_HASH", sha256(body))


@pytest.fixture
def served(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, np.ndarray]]:
    arrays = _fake_arrays()
    _serve(file_server, monkeypatch, _npz(arrays))
    yield arrays


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"num_words": 50},
        {"num_words": 60, "skip_top": 5},
        {"maxlen": 20},
        {"maxlen": 25, "num_words": 30, "oov_char": None},
        {"start_char": None},
        {"start_char": None, "index_from": 0},
        {"index_from": 10, "oov_char": 7, "num_words": 40},
        {"seed": 7},
    ],
    ids=repr,
)
def test_matches_keras_on_the_same_file(served: Any, keras_home: Path, keras_dataset: Any, options: dict) -> None:
    got = imdb.load_data(**options)
    expected = keras_dataset("imdb").load_data(**options)
    assert_same_splits(got, expected)


def test_sequences_stored_as_int_arrays_match_keras(
    file_server: FileServer, monkeypatch: pytest.MonkeyPatch, keras_home: Path, keras_dataset: Any
) -> None:
    arrays = _fake_arrays()
    for key in ("x_train", "x_test"):
        for i, sequence in enumerate(arrays[key]):
            arrays[key][i] = np.array(sequence, dtype=np.int32)
    _serve(file_server, monkeypatch, _npz(arrays))
    got = imdb.load_data(num_words=70)
    assert_same_splits(got, keras_dataset("imdb").load_data(num_words=70))
    assert type(got[0][0][0][1]) is int


def test_shuffles_with_the_seed_and_shifts_indices(served: dict[str, np.ndarray], keras_home: Path) -> None:
    (x_train, y_train), (x_test, y_test) = imdb.load_data(seed=3)
    rng = np.random.RandomState(3)
    train_order, test_order = np.arange(30), np.arange(20)
    rng.shuffle(train_order)
    rng.shuffle(test_order)  # the same generator, drawn on
    largest = max(max(s) for s in [*served["x_train"], *served["x_test"]]) + 3

    def expected(ranks: list[int]) -> list[int]:
        # Start mark 1, ranks shifted by 3, and the largest index out of range (oov 2), as in Keras.
        return [2 if w == largest else w for w in [1] + [r + 3 for r in ranks]]

    assert x_train.tolist() == [expected(served["x_train"][i]) for i in train_order]
    assert x_test.tolist() == [expected(served["x_test"][i]) for i in test_order]
    assert y_train.tolist() == served["y_train"][train_order].tolist()
    assert y_test.tolist() == served["y_test"][test_order].tolist()


def test_maxlen_that_keeps_nothing_is_an_error(served: Any, keras_home: Path) -> None:
    with pytest.raises(ValueError, match=r"Received: maxlen=2 \(of type int\)"):
        imdb.load_data(maxlen=2)


def test_unknown_keyword_arguments_are_ignored_with_a_warning(served: Any, keras_home: Path) -> None:
    with pytest.warns(UserWarning, match=r"ignores these arguments, as Keras does: \['nb_words'\]"):
        (x_train, _), _ = imdb.load_data(nb_words=10)
    assert max(max(s) for s in x_train) > 10


def test_get_word_index_matches_keras(
    file_server: FileServer, monkeypatch: pytest.MonkeyPatch, keras_home: Path, keras_dataset: Any
) -> None:
    body = json.dumps({"the": 1, "and": 2, "film": 19}).encode()
    file_server.files["imdb_word_index.json"] = body
    monkeypatch.setattr(imdb, "ORIGIN_FOLDER", file_server.base)
    monkeypatch.setattr(imdb, "WORD_INDEX_HASH", md5(body))
    assert imdb.get_word_index() == keras_dataset("imdb").get_word_index() == {"the": 1, "and": 2, "film": 19}
    assert (keras_home / "datasets" / "imdb_word_index.json").is_file()


def test_checksum_mismatch_raises_and_leaves_nothing(
    served: Any, monkeypatch: pytest.MonkeyPatch, keras_home: Path
) -> None:
    monkeypatch.setattr(imdb, "FILE_HASH", "0" * 64)
    with pytest.raises(ValueError, match="incomplete or corrupted"):
        imdb.load_data()
    assert files_under(keras_home / "datasets") == []


class _Mkdir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mkdir, (str(self.path),))


def test_a_pickle_gadget_in_the_file_is_refused_and_not_run(
    file_server: FileServer, monkeypatch: pytest.MonkeyPatch, keras_home: Path, tmp_path: Path
) -> None:
    arrays = _fake_arrays()
    arrays["x_test"][0] = _Mkdir(tmp_path / "pwned")
    _serve(file_server, monkeypatch, _npz(arrays))
    with pytest.raises(ValueError, match=r"mkdir is not allowed"):
        imdb.load_data()
    assert not (tmp_path / "pwned").exists()


def test_an_archive_without_imdb_arrays_is_rejected(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(file_server, monkeypatch, _npz({"x_train": _fake_arrays()["x_train"]}))
    with pytest.raises(ValueError, match=r"lacks \['y_train', 'x_test', 'y_test'\]"):
        imdb.load_data()


def test_origin_and_hashes_match_keras() -> None:
    pytest.importorskip("keras")
    from keras.src.datasets import imdb as keras_imdb

    source = inspect.getsource(keras_imdb)
    assert f'"{imdb.ORIGIN_FOLDER}"' in source
    assert imdb.FILE_HASH in source and imdb.WORD_INDEX_HASH in source
    parameters = inspect.signature(imdb.load_data).parameters
    assert parameters.keys() == inspect.signature(keras_imdb.load_data).parameters.keys()
