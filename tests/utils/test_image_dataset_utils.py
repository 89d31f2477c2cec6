"""image_dataset_from_directory: Keras's file order, labels, split and pixels, as a PyDataset fit takes.

Keras's own function needs TensorFlow (not installed), so its parts that do not are the
reference: `dataset_utils.index_directory` (files, labels, class names, seeded shuffle) and
`_load_image_grain` (decoding and resizing on the torch backend).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import kfit
from kfit.utils import PyDataset, image_dataset_from_directory

keras = pytest.importorskip("keras")
Image = pytest.importorskip("PIL.Image")
from keras.src.utils import dataset_utils as keras_dataset_utils  # noqa: E402
from keras.src.utils import image_dataset_utils as keras_image_dataset_utils  # noqa: E402

FORMATS = keras_image_dataset_utils.ALLOWLIST_FORMATS


def _image(path, shape, seed, mode="RGB"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    array = np.random.RandomState(seed).randint(0, 256, shape, dtype=np.uint8)
    Image.fromarray(array, mode).save(path)


@pytest.fixture
def tree(tmp_path):
    """Three classes of differently sized images, a nested folder, and files to skip."""
    root = tmp_path / "data"
    files = {
        "cats/b.png": (9, 12, 3),
        "cats/a.jpg": (10, 10, 3),
        "cats/nested/c.PNG": (6, 8, 3),
        "dogs/x10.png": (12, 7, 3),
        "dogs/x2.bmp": (5, 5, 3),
        "dogs/y.gif": (8, 8),
        "birds/z.jpeg": (11, 6, 3),
        "birds/w.png": (7, 9, 4),
    }
    for seed, (name, shape) in enumerate(files.items()):
        _image(str(root / name), shape, seed, "L" if len(shape) == 2 else {3: "RGB", 4: "RGBA"}[shape[2]])
    (root / "cats" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    _image(str(root / ".hidden" / "h.png"), (4, 4, 3), 99)
    (root / "loose.png").write_bytes((root / "cats" / "b.png").read_bytes())
    _image(str(tmp_path / "elsewhere" / "linked.png"), (5, 6, 3), 98)
    os.symlink(tmp_path / "elsewhere", root / "dogs" / "link")
    return str(root)


def _keras_index(directory, labels="inferred", **kwargs):
    kwargs.setdefault("verbose", False)
    return keras_dataset_utils.index_directory(directory, labels, formats=FORMATS, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shuffle": False},
        {"shuffle": True, "seed": 3},
        {"shuffle": True, "seed": 11, "class_names": ["dogs", "cats"]},
        {"shuffle": False, "follow_links": True},
        {"shuffle": True, "seed": 2, "follow_links": True},
    ],
)
def test_files_labels_and_class_names_follow_keras(tree, kwargs):
    paths, labels, names = _keras_index(tree, **kwargs)
    ds = image_dataset_from_directory(tree, image_size=(4, 4), batch_size=2, verbose=False, **kwargs)
    assert ds.file_paths == paths
    assert ds.class_names == names
    got = np.concatenate([y for _, y in ds])
    np.testing.assert_array_equal(got, labels)
    assert got.dtype == np.int32


@pytest.mark.parametrize("labels", [None, [0, 1, 1, 0, 2, 2, 1, 0, 0, 1]])
def test_labels_none_or_a_list_follow_keras(tree, labels):
    # Keras shuffles a list of labels in place: it gets its own copy.
    paths, expected, names = _keras_index(tree, labels=None if labels is None else list(labels), shuffle=True, seed=5)
    ds = image_dataset_from_directory(tree, labels=labels, image_size=(4, 4), batch_size=4, seed=5, verbose=False)
    assert ds.file_paths == paths and ds.class_names == names
    assert labels is None or labels == [0, 1, 1, 0, 2, 2, 1, 0, 0, 1]  # not shuffled in place
    batches = list(ds)
    if labels is None:
        assert all(isinstance(b, np.ndarray) for b in batches)
    else:
        np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), expected)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"crop_to_aspect_ratio": True},
        {"pad_to_aspect_ratio": True},
        {"data_format": "channels_first"},
        {"color_mode": "grayscale"},
        {"color_mode": "rgba", "crop_to_aspect_ratio": True},
    ],
)
def test_pixels_match_keras_torch_loader(tree, interpolation, options):
    image_size = (5, 8)
    ds = image_dataset_from_directory(
        tree,
        image_size=image_size,
        batch_size=3,
        shuffle=False,
        interpolation=interpolation,
        verbose=False,
        **options,
    )
    channels = {"rgb": 3, "grayscale": 1, "rgba": 4}[options.get("color_mode", "rgb")]
    data_format = options.get("data_format", "channels_last")
    expected = [
        np.asarray(
            keras_image_dataset_utils._load_image_grain(
                path,
                image_size,
                channels,
                interpolation,
                data_format,
                options.get("crop_to_aspect_ratio", False),
                options.get("pad_to_aspect_ratio", False),
            )
        )
        for path in ds.file_paths
    ]
    got = np.concatenate([x for x, _ in ds])
    assert got.dtype == np.float32
    shape = (*image_size, channels) if data_format == "channels_last" else (channels, *image_size)
    assert got.shape == (len(expected), *shape)
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-5, atol=1e-3)


def test_default_data_format_comes_from_the_backend_setting(tree):
    previous = kfit.backend.image_data_format()
    kfit.backend.set_image_data_format("channels_first")
    try:
        ds = image_dataset_from_directory(tree, image_size=(4, 6), batch_size=2, shuffle=False, verbose=False)
    finally:
        kfit.backend.set_image_data_format(previous)
    assert ds[0][0].shape == (2, 3, 4, 6)


def test_pixels_are_the_file_values_when_no_resize_is_needed(tmp_path):
    _image(str(tmp_path / "only" / "a.png"), (4, 6, 3), 0)
    ds = image_dataset_from_directory(tmp_path, image_size=(4, 6), batch_size=1, shuffle=False, verbose=False)
    expected = np.asarray(Image.open(tmp_path / "only" / "a.png"), dtype="float32")
    np.testing.assert_array_equal(ds[0][0][0], expected)


@pytest.mark.parametrize("label_mode", ["categorical", "binary"])
def test_label_modes_encode_like_keras(tmp_path, label_mode):
    for name, count in (("a", 2), ("b", 3)):
        for i in range(count):
            _image(str(tmp_path / name / f"{i}.png"), (3, 3, 3), i)
    ds = image_dataset_from_directory(
        tmp_path, label_mode=label_mode, image_size=(3, 3), batch_size=8, shuffle=False, verbose=False
    )
    _, y = ds[0]
    ints = np.array([0, 0, 1, 1, 1])
    expected = np.eye(2, dtype="float32")[ints] if label_mode == "categorical" else ints[:, None].astype("float32")
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, expected)


def test_label_mode_none_yields_images_only(tree):
    ds = image_dataset_from_directory(tree, label_mode=None, image_size=(4, 4), batch_size=3, verbose=False, seed=1)
    batch = ds[0]
    assert isinstance(batch, np.ndarray) and batch.shape == (3, 4, 4, 3)
    assert ds.class_names is None


def test_batches_lengths_iteration_and_single_samples(tree):
    ds = image_dataset_from_directory(tree, image_size=(4, 4), batch_size=3, seed=2, verbose=False)
    assert isinstance(ds, PyDataset)
    assert len(ds) == 3  # 8 images
    assert [len(x) for x, _ in ds] == [3, 3, 2]
    single = image_dataset_from_directory(tree, image_size=(4, 4), batch_size=None, seed=2, verbose=False)
    assert len(single) == 8
    x, y = single[0]
    assert x.shape == (4, 4, 3) and y.shape == ()
    np.testing.assert_array_equal(x, ds[0][0][0])
    with pytest.raises(IndexError):
        ds[3]


def test_split_membership_and_messages_follow_keras(tree, capsys):
    paths, labels, _ = _keras_index(tree, shuffle=True, seed=7)
    train, val = image_dataset_from_directory(
        tree, image_size=(4, 4), batch_size=2, seed=7, validation_split=0.25, subset="both"
    )
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Found 8 files belonging to 3 classes.",
        "Using 6 files for training.",
        "Using 2 files for validation.",
    ]
    assert train.file_paths == paths[:6] and val.file_paths == paths[6:]
    assert train.class_names == val.class_names
    np.testing.assert_array_equal(np.concatenate([y for _, y in val]), labels[6:])
    only_val = image_dataset_from_directory(
        tree, image_size=(4, 4), seed=7, validation_split=0.25, subset="validation", verbose=False
    )
    assert only_val.file_paths == paths[6:]


def test_training_set_is_reshuffled_after_each_pass_and_validation_is_not(tree):
    train, val = image_dataset_from_directory(
        tree, image_size=(4, 4), batch_size=2, seed=7, validation_split=0.5, subset="both", verbose=False
    )
    first_train = np.concatenate([x for x, _ in train])
    first_val = np.concatenate([x for x, _ in val])
    for _ in range(3):
        train.on_epoch_end()
        val.on_epoch_end()
    later_train = np.concatenate([x for x, _ in train])
    np.testing.assert_array_equal(np.concatenate([x for x, _ in val]), first_val)
    assert not np.array_equal(later_train, first_train)
    assert sorted(map(bytes, later_train)) == sorted(map(bytes, first_train))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subset": "training"}, "validation_split"),
        ({"validation_split": 0.2}, "subset"),
        ({"validation_split": 1.5, "subset": "both", "seed": 1}, "validation_split"),
        ({"validation_split": 0.2, "subset": "train", "seed": 1}, "subset"),
        ({"validation_split": 0.2, "subset": "both"}, "seed"),
        ({"label_mode": "sparse"}, "label_mode"),
        ({"labels": "folders"}, "labels"),
        ({"labels": [0, 1], "class_names": ["a"]}, "class_names"),
        ({"color_mode": "hsv"}, "color_mode"),
        ({"image_size": (4,)}, "image_size"),
        ({"interpolation": "area"}, "TensorFlow"),
        ({"interpolation": "cubic"}, "interpolation"),
        ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}, "pad_to_aspect_ratio"),
        ({"batch_size": 0}, "batch_size"),
        ({"data_format": "nhwc"}, "data_format"),
    ],
)
def test_bad_arguments_are_refused_before_the_folder_is_read(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_dataset_from_directory(tmp_path / "does_not_exist", **kwargs)


def test_errors_that_depend_on_the_files(tree, tmp_path):
    with pytest.raises(ValueError, match="len\\(labels\\)=3"):
        image_dataset_from_directory(tree, labels=[0, 1, 2], verbose=False)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        image_dataset_from_directory(tree, label_mode="binary", verbose=False)
    with pytest.raises(ValueError, match="subfolders"):
        image_dataset_from_directory(tree, class_names=["cats", "cows"], verbose=False)
    with pytest.raises(FileNotFoundError):
        image_dataset_from_directory(tmp_path / "missing", verbose=False)
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="none were found"):
        image_dataset_from_directory(tmp_path / "empty", verbose=False)


def test_fit_evaluate_predict_on_a_training_and_validation_pair(tree):
    train, val = image_dataset_from_directory(
        tree, image_size=(6, 6), batch_size=3, seed=4, validation_split=0.25, subset="both", verbose=False
    )
    train.workers = 2
    model = kfit.Sequential(
        [
            kfit.Input((6, 6, 3)),
            kfit.layers.Rescaling(1 / 255),
            kfit.layers.Flatten(),
            kfit.layers.Dense(len(train.class_names), activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3 and len(history.history["val_loss"]) == 3
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, _ = model.evaluate(val, verbose=0)
    assert np.isclose(loss, history.history["val_loss"][-1], rtol=1e-4)
    predictions = model.predict(val, verbose=0)
    assert predictions.shape == (2, 3)
