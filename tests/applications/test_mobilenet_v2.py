"""Tests for kfit.applications.mobilenet_v2 against Keras 3's MobileNetV2."""

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
from kfit.applications import mobilenet_v2

# Fixtures shared by the tests of this folder.
file_server = application_parity.file_server
keras_home = application_parity.keras_home


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_shape": (96, 96, 3), "alpha": 0.35, "classes": 10},
        {"input_shape": (32, 32, 3), "alpha": 0.35, "include_top": False, "pooling": "avg"},
        {"input_shape": (40, 33, 3), "alpha": 0.5, "include_top": False},
        {"input_shape": (32, 32, 3), "alpha": 1.3, "include_top": False, "pooling": "max"},
        {"alpha": 0.35, "include_top": False},
    ],
)
def test_architecture_matches_keras(kwargs):
    ours = kfit.applications.MobileNetV2(weights=None, **kwargs)
    theirs = keras.applications.MobileNetV2(weights=None, **kwargs)
    assert_same_architecture(ours, theirs)


def test_imagenet_weights_are_downloaded_and_predict_as_keras(file_server, keras_home, monkeypatch):
    reference = keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(96, 96, 3))
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5"
    serve_keras_weights(file_server, reference, name)
    monkeypatch.setattr(mobilenet_v2, "BASE_WEIGHT_PATH", file_server.base)
    model = kfit.applications.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3))
    assert file_server.requested == [f"/{name}"]
    assert (keras_home / "models" / name).is_file()
    assert model.name == "mobilenetv2_0.35_96"
    x = mobilenet_v2.preprocess_input(images((2, 96, 96, 3)))
    assert_same_predictions(model, reference, x)


def test_other_input_sizes_get_the_224_pixel_weights(file_server, keras_home, monkeypatch):
    # Convolution weights do not depend on the input size, so any size's file fits.
    reference = keras.applications.MobileNetV2(weights=None, alpha=0.35, include_top=False, input_shape=(32, 32, 3))
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    serve_keras_weights(file_server, reference, name)
    monkeypatch.setattr(mobilenet_v2, "BASE_WEIGHT_PATH", file_server.base)
    with pytest.warns(UserWarning, match="224x224"):
        model = kfit.applications.MobileNetV2(alpha=0.35, include_top=False, input_shape=(32, 32, 3))
    assert file_server.requested == [f"/{name}"]
    assert model.name == "mobilenetv2_0.35_224"
    assert_same_predictions(model, reference, images((2, 32, 32, 3)))


def test_input_tensor_sets_the_default_size():
    x = kfit.Input((128, 128, 3))
    model = kfit.applications.MobileNetV2(weights=None, alpha=0.35, include_top=False, input_tensor=x)
    assert model.name == "mobilenetv2_0.35_None" == keras.applications.MobileNetV2(
        weights=None, alpha=0.35, include_top=False, input_tensor=keras.Input((128, 128, 3))
    ).name
    assert model.output_shape == (None, 4, 4, 1280)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": "imagenet", "alpha": 0.6, "include_top": False}, "alpha=0.6"),
        ({"weights": "imagenet", "classes": 10}, "classes=10"),
        ({"weights": "nope"}, "weights='nope'"),
        ({"weights": None, "include_top": False, "input_shape": (24, 24, 3)}, "at least 32x32"),
    ],
)
def test_invalid_arguments_raise_as_in_keras(kwargs, message):
    with pytest.raises(ValueError):
        keras.applications.MobileNetV2(**kwargs)
    with pytest.raises(ValueError, match=message):
        kfit.applications.MobileNetV2(**kwargs)


def test_input_tensor_and_input_shape_must_agree():
    with pytest.raises(ValueError, match="input_shape"):
        kfit.applications.MobileNetV2(weights=None, input_tensor=kfit.Input((64, 64, 3)), input_shape=(96, 96, 3))
    with pytest.raises(ValueError, match="symbolic"):
        kfit.applications.MobileNetV2(weights=None, input_tensor=np.zeros((1, 96, 96, 3)))


def test_preprocess_input_is_keras_tf_mode():
    x = images((2, 4, 4, 3))
    expected = keras.applications.mobilenet_v2.preprocess_input(x.copy())
    np.testing.assert_allclose(mobilenet_v2.preprocess_input(x.copy()), expected, rtol=1e-6)


@pytest.fixture
def channels_first():
    kfit.backend.set_image_data_format("channels_first")
    keras.backend.set_image_data_format("channels_first")
    yield
    kfit.backend.set_image_data_format("channels_last")
    keras.backend.set_image_data_format("channels_last")


def test_channels_first_matches_keras(channels_first, tmp_path):
    kwargs = {"alpha": 0.35, "input_shape": (3, 33, 32), "include_top": False, "pooling": "avg"}
    reference = keras.applications.MobileNetV2(weights=None, **kwargs)
    randomize(reference)
    path = tmp_path / "cf.h5"
    path.write_bytes(legacy_h5_bytes(reference))
    model = kfit.applications.MobileNetV2(weights=str(path), **kwargs)
    assert_same_architecture(model, reference)
    assert_same_predictions(model, reference, images((2, 3, 33, 32)))
