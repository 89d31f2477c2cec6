"""Tests for kfit.applications.vgg19 against Keras 3's VGG19."""

from __future__ import annotations

import application_parity
import numpy as np
import pytest
from application_parity import (
    assert_same_architecture,
    assert_same_predictions,
    images,
    keras,
    serve_keras_weights,
)

import kfit
from kfit.applications import vgg19

# Fixtures shared by the tests of this folder.
file_server = application_parity.file_server
keras_home = application_parity.keras_home

TOP = "vgg19_weights_tf_dim_ordering_tf_kernels.h5"
NOTOP = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"include_top": False, "input_shape": (32, 32, 3), "pooling": "max"},
        {"include_top": True, "input_shape": (32, 32, 3), "classes": 7},
    ],
)
def test_architecture_matches_keras(kwargs):
    ours = kfit.applications.VGG19(weights=None, **kwargs)
    theirs = keras.applications.VGG19(weights=None, **kwargs)
    assert_same_architecture(ours, theirs)


def test_imagenet_weights_are_downloaded_and_predict_as_keras(file_server, keras_home, monkeypatch):
    reference = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    url, digest = serve_keras_weights(file_server, reference, NOTOP)
    monkeypatch.setattr(vgg19, "WEIGHTS_PATH_NO_TOP", url)
    monkeypatch.setattr(vgg19, "WEIGHTS_HASHES", (vgg19.WEIGHTS_HASHES[0], digest))
    model = kfit.applications.VGG19(include_top=False, input_shape=(32, 32, 3))
    assert file_server.requested == [f"/{NOTOP}"]
    assert (keras_home / "models" / NOTOP).is_file()
    assert_same_predictions(model, reference, images((2, 32, 32, 3)))


def test_a_download_that_fails_its_hash_check_is_refused(file_server, keras_home, monkeypatch):
    reference = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    url, _ = serve_keras_weights(file_server, reference, NOTOP)
    monkeypatch.setattr(vgg19, "WEIGHTS_PATH_NO_TOP", url)
    # The real hash of Keras's file, which the served file does not have.
    with pytest.raises(ValueError, match=vgg19.WEIGHTS_HASHES[1]):
        kfit.applications.VGG19(include_top=False, input_shape=(32, 32, 3))
    assert not (keras_home / "models" / NOTOP).exists()


def test_module_constants_are_keras(monkeypatch):
    from keras.src.applications import vgg19 as keras_vgg19

    assert vgg19.WEIGHTS_PATH == keras_vgg19.WEIGHTS_PATH
    assert vgg19.WEIGHTS_PATH_NO_TOP == keras_vgg19.WEIGHTS_PATH_NO_TOP
    assert vgg19.WEIGHTS_PATH.endswith(TOP)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="classes=3"):
        kfit.applications.VGG19(weights="imagenet", classes=3)
    with pytest.raises(ValueError, match="at least 32x32"):
        kfit.applications.VGG19(weights=None, include_top=False, input_shape=(31, 64, 3))


def test_preprocess_input_is_keras_caffe_mode():
    x = images((3, 5, 5, 3))
    expected = keras.applications.vgg19.preprocess_input(x.copy())
    np.testing.assert_allclose(vgg19.preprocess_input(x.copy()), expected, rtol=1e-6)
