"""text_dataset_from_directory: Keras's file order, labels and split; texts as Python str.

Keras's own function needs TensorFlow (not installed): `dataset_utils.index_directory` and
`_path_to_string_content_grain` (its TensorFlow-free reader) are the reference.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import kfit
from kfit.utils import PyDataset, text_dataset_from_directory

keras = pytest.importorskip("keras")
from keras.src.utils import dataset_utils as keras_dataset_utils  # noqa: E402
from keras.src.utils import text_dataset_utils as keras_text_dataset_utils  # noqa: E402

TEXTS = {
    "neg/1.txt": "awful, simply awful",
    "neg/10.txt": "not good\nat all",
    "neg/2.TXT": "meh",
    "pos/a.txt": "great film " * 20,
    "pos/deeper/b.txt": "loved it",
    "pos/c.md": "not a text file for Keras",
    "neutral/x.txt": "fine",
}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "reviews"
    for name, text in TEXTS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return str(root)


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize(
    "kwargs",
    [{"shuffle": False}, {"shuffle": True, "seed": 4}, {"shuffle": True, "seed": 4, "class_names": ["pos", "neg"]}],
)
def test_files_labels_and_texts_follow_keras(tree, kwargs):
    paths, labels, names = keras_dataset_utils.index_directory(
        tree, "inferred", formats=(".txt",), verbose=False, **kwargs
    )
    ds = text_dataset_from_directory(tree, batch_size=2, verbose=False, **kwargs)
    assert isinstance(ds, PyDataset) and len(ds) == -(-len(paths) // 2)
    assert ds.file_paths == paths and ds.class_names == names
    texts, got_labels = zip(*ds)
    texts = np.concatenate(texts)
    assert texts.dtype == object and all(type(t) is str for t in texts)
    assert texts.tolist() == [_read(p) for p in paths]
    np.testing.assert_array_equal(np.concatenate(got_labels), labels)


@pytest.mark.parametrize("max_length", [0, 3, 15, 1000])
def test_max_length_cuts_texts_like_keras_reader(tree, max_length):
    ds = text_dataset_from_directory(tree, batch_size=None, max_length=max_length, shuffle=False, verbose=False)
    for (text, _), path in zip(ds, ds.file_paths):
        assert text == keras_text_dataset_utils._path_to_string_content_grain(path, max_length)


def test_non_ascii_text_is_read_as_utf8(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "t.txt").write_text("naïve café ☕", encoding="utf-8")
    ds = text_dataset_from_directory(tmp_path, max_length=7, shuffle=False, verbose=False)
    assert ds[0][0].tolist() == ["naïve c"]


@pytest.mark.parametrize("label_mode", ["int", "categorical", None])
def test_label_modes(tree, label_mode):
    ds = text_dataset_from_directory(tree, label_mode=label_mode, batch_size=10, shuffle=False, verbose=False)
    batch = ds[0]
    expected = np.array([0, 0, 0, 1, 2, 2])  # neg (3), neutral (1), pos (2)
    if label_mode is None:
        assert batch.shape == (6,) and batch.dtype == object
    elif label_mode == "int":
        np.testing.assert_array_equal(batch[1], expected)
        assert batch[1].dtype == np.int32
    else:
        np.testing.assert_array_equal(batch[1], np.eye(3, dtype="float32")[expected])


def test_binary_labels_with_two_classes(tree):
    ds = text_dataset_from_directory(
        tree, label_mode="binary", class_names=["neg", "pos"], batch_size=10, shuffle=False, verbose=False
    )
    _, y = ds[0]
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.array([[0], [0], [0], [1], [1]], dtype="float32"))


def test_split_both_and_messages(tree, capsys):
    paths, _, _ = keras_dataset_utils.index_directory(tree, "inferred", formats=(".txt",), seed=9, verbose=False)
    train, val = text_dataset_from_directory(tree, batch_size=4, seed=9, validation_split=0.4, subset="both")
    assert capsys.readouterr().out.splitlines() == [
        "Found 6 files belonging to 3 classes.",
        "Using 4 files for training.",
        "Using 2 files for validation.",
    ]
    assert train.file_paths == paths[:4] and val.file_paths == paths[4:]
    assert next(t for t, _ in val).tolist() == [_read(p) for p in paths[4:]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subset": "validation"}, "validation_split"),
        ({"label_mode": "onehot"}, "label_mode"),
        ({"labels": 3}, "labels"),
        ({"max_length": -1}, "max_length"),
        ({"validation_split": 0.3, "subset": "both"}, "seed"),
        ({"batch_size": 2.5}, "batch_size"),
    ],
)
def test_bad_arguments_are_refused_before_the_folder_is_read(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        text_dataset_from_directory(tmp_path / "missing", **kwargs)


def test_errors_that_depend_on_the_files(tree):
    with pytest.raises(ValueError, match="one label per file"):
        text_dataset_from_directory(tree, labels=[0, 1], verbose=False)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        text_dataset_from_directory(tree, label_mode="binary", verbose=False)


def test_fit_refuses_raw_strings_instead_of_converting_them(tree):
    ds = text_dataset_from_directory(tree, batch_size=2, shuffle=False, verbose=False)
    model = kfit.Sequential([kfit.Input((1,)), kfit.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match="hold numbers"):
        model.fit(ds, epochs=1, verbose=0)
