"""Tests for kfit.applications.vgg16 against Keras 3's VGG16."""

from __future__ import annotations

import application_parity
import numpy as np
import pytest
from application_parity import (
    assert_same_architecture,
    assert_same_predictions,
    images,
    keras,
    legacy_h5_bytes,
    randomize,
    serve_keras_weights,
)

import kfit
from kfit.applications import vgg16

# Fixtures shared by the tests of this folder.
file_server = application_parity.file_server
keras_home = application_parity.keras_home

NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"include_top": False, "input_shape": (32, 32, 3)},
        {"include_top": False, "input_shape": (48, 40, 3), "pooling": "avg"},
        {"include_top": False, "pooling": "max"},
        {"include_top": True, "input_shape": (32, 32, 3), "classes": 10, "classifier_activation": None},
    ],
)
def test_architecture_matches_keras(kwargs):
    ours = kfit.applications.VGG16(weights=None, **kwargs)
    theirs = keras.applications.VGG16(weights=None, **kwargs)
    assert_same_architecture(ours, theirs)


def test_imagenet_weights_are_downloaded_once_and_predict_as_keras(file_server, keras_home, monkeypatch):
    reference = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    url, digest = serve_keras_weights(file_server, reference, NOTOP)
    monkeypatch.setattr(vgg16, "WEIGHTS_PATH_NO_TOP", url)
    monkeypatch.setattr(vgg16, "WEIGHTS_HASHES", (vgg16.WEIGHTS_HASHES[0], digest))

    model = kfit.applications.VGG16(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    assert file_server.requested == [f"/{NOTOP}"]
    assert (keras_home / "models" / NOTOP).is_file()
    assert_same_predictions(model, reference, images((2, 32, 32, 3)))

    again = kfit.applications.VGG16(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    assert len(file_server.requested) == 1  # served from the cache
    assert_same_predictions(again, reference, images((1, 32, 32, 3), seed=2))


def test_weights_path_with_the_top_loads_a_legacy_file(tmp_path):
    kwargs = {"include_top": True, "input_shape": (32, 32, 3), "classes": 10}
    reference = keras.applications.VGG16(weights=None, **kwargs)
    randomize(reference)
    path = tmp_path / "mine.h5"
    path.write_bytes(legacy_h5_bytes(reference))
    model = kfit.applications.VGG16(weights=str(path), **kwargs)
    assert_same_predictions(model, reference, images((2, 32, 32, 3)))


def test_input_tensor_becomes_part_of_the_model():
    raw = kfit.Input((32, 32, 3))
    scaled = kfit.layers.Rescaling(1 / 255.0)(raw)
    model = kfit.applications.VGG16(weights=None, include_top=False, input_tensor=scaled)
    assert len(model.inputs) == 1 and model.inputs[0] is raw
    assert [type(layer).__name__ for layer in model.layers[:2]] == ["InputLayer", "Rescaling"]
    with pytest.raises(ValueError, match="input_tensor"):
        kfit.applications.VGG16(weights=None, input_tensor=np.zeros((1, 32, 32, 3)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": "imagenett"}, "weights='imagenett'"),
        ({"weights": "imagenet", "classes": 10}, "classes=10"),
        ({"weights": None, "include_top": False, "input_shape": (16, 16, 3)}, "at least 32x32"),
        ({"weights": "imagenet", "include_top": True, "input_shape": (100, 100, 3)}, r"\(224, 224, 3\)"),
        ({"weights": "imagenet", "include_top": False, "input_shape": (64, 64, 1)}, "3 channels"),
        ({"weights": None, "include_top": True, "input_shape": (None, None, 3)}, "fixed `input_shape`"),
        ({"weights": None, "include_top": False, "input_shape": (32, 32)}, "three integers"),
    ],
)
def test_invalid_arguments_raise_as_in_keras(kwargs, message):
    with pytest.raises(ValueError):
        keras.applications.VGG16(**kwargs)
    with pytest.raises(ValueError, match=message):
        kfit.applications.VGG16(**kwargs)


def test_other_classifier_activations_are_refused_with_pretrained_weights(tmp_path):
    path = tmp_path / "w.h5"
    path.write_bytes(b"")
    kwargs = {"weights": str(path), "input_shape": (32, 32, 3), "classes": 10, "classifier_activation": "relu"}
    with pytest.raises(ValueError):
        keras.applications.VGG16(**kwargs)
    with pytest.raises(ValueError, match="classifier_activation"):
        kfit.applications.VGG16(**kwargs)


def test_preprocess_input_is_keras_caffe_mode():
    x = images((2, 4, 4, 3))
    expected = keras.applications.vgg16.preprocess_input(x.copy())
    np.testing.assert_allclose(vgg16.preprocess_input(x.copy()), expected, rtol=1e-6)
