"""Tests for kfit.datasets.cifar.load_batch against Keras's reader on Python-2-format batches."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from dataset_fakes import py2_pickle

from kfit.datasets.cifar import load_batch


def _batch(count: int, seed: int = 0) -> dict[bytes, object]:
    rng = np.random.default_rng(seed)
    return {
        b"filenames": [b"f%d.png" % i for i in range(count)],
        b"batch_label": b"testing batch 1 of 1",
        b"fine_labels": rng.integers(0, 100, size=count).tolist(),
        b"coarse_labels": rng.integers(0, 20, size=count).tolist(),
        b"data": rng.integers(0, 256, size=(count, 3072), dtype=np.uint8),
    }


@pytest.mark.parametrize("label_key", ["fine_labels", "coarse_labels"])
def test_matches_keras_load_batch(tmp_path: Path, label_key: str) -> None:
    pytest.importorskip("keras")
    from keras.src.datasets.cifar import load_batch as keras_load_batch

    path = tmp_path / "train"
    path.write_bytes(py2_pickle(_batch(7)))
    images, labels = load_batch(path, label_key=label_key)
    expected_images, expected_labels = keras_load_batch(str(path), label_key=label_key)
    assert images.dtype == expected_images.dtype == np.uint8
    assert images.shape == expected_images.shape == (7, 3, 32, 32)
    np.testing.assert_array_equal(images, expected_images)
    assert labels == expected_labels


def test_missing_labels_name_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_pickle(_batch(2)))
    message = r"integer labels under 'labels'; its keys are \['batch_label', 'coarse_labels'"
    with pytest.raises(ValueError, match=message):
        load_batch(path)


@pytest.mark.parametrize(
    "content",
    [
        [1, 2],
        {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
        {b"data": np.zeros((2, 3072)), b"labels": [0, 1]},
    ],
)
def test_other_content_is_rejected(tmp_path: Path, content: object) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(ValueError, match=r"Expected .* to be a CIFAR batch|uint8 array with 3072 values"):
        load_batch(path)
