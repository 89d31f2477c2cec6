"""Tests for kfit.applications.resnet (and the resnet50 alias module) against Keras 3's ResNets."""

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
from kfit.applications import resnet, resnet50

# Fixtures shared by the tests of this folder.
file_server = application_parity.file_server
keras_home = application_parity.keras_home

NOTOP = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"include_top": False, "input_shape": (32, 32, 3), "pooling": "max"},
        {"include_top": True, "input_shape": (32, 32, 3), "classes": 5, "name": "mine"},
    ],
)
def test_resnet50_architecture_matches_keras(kwargs):
    ours = kfit.applications.ResNet50(weights=None, **kwargs)
    theirs = keras.applications.ResNet50(weights=None, **kwargs)
    assert_same_architecture(ours, theirs)


def test_resnet101_matches_keras():
    kwargs = {"weights": None, "include_top": False, "input_shape": (32, 32, 3), "pooling": "avg"}
    assert_same_architecture(kfit.applications.ResNet101(**kwargs), keras.applications.ResNet101(**kwargs))


def test_resnet152_stacks_3_8_36_3_blocks():
    # Building Keras's ResNet152 as well would double this test's time; the stage depths
    # are what distinguishes it from ResNet101, which is compared with Keras above.
    model = kfit.applications.ResNet152(weights=None, include_top=True, input_shape=(32, 32, 3), classes=3)
    names = {layer.name for layer in model.layers}
    for stage, blocks in zip((2, 3, 4, 5), (3, 8, 36, 3)):
        assert f"conv{stage}_block{blocks}_out" in names
        assert f"conv{stage}_block{blocks + 1}_out" not in names
    assert model.name == "resnet152" and model.output_shape == (None, 3)


def test_imagenet_weights_are_downloaded_and_predict_as_keras(file_server, keras_home, monkeypatch):
    reference = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    _, digest = serve_keras_weights(file_server, reference, NOTOP)
    monkeypatch.setattr(resnet, "BASE_WEIGHTS_PATH", file_server.base)
    monkeypatch.setitem(resnet.WEIGHTS_HASHES, "resnet50", (resnet.WEIGHTS_HASHES["resnet50"][0], digest))

    model = resnet50.ResNet50(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    assert file_server.requested == [f"/{NOTOP}"]
    assert (keras_home / "models" / NOTOP).is_file()
    # Inference uses the loaded BatchNormalization statistics, which the random weights make
    # far from the identity.
    assert_same_predictions(model, reference, images((2, 32, 32, 3)))


def test_keras_constants():
    from keras.src.applications import resnet as keras_resnet

    assert resnet.BASE_WEIGHTS_PATH == keras_resnet.BASE_WEIGHTS_PATH
    for key, hashes in resnet.WEIGHTS_HASHES.items():
        assert keras_resnet.WEIGHTS_HASHES[key] == hashes


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="classes=2"):
        kfit.applications.ResNet50(weights="imagenet", classes=2)
    with pytest.raises(ValueError, match="at least 32x32"):
        kfit.applications.ResNet50(weights=None, include_top=False, input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match="weights="):
        kfit.applications.ResNet50(weights="/no/such/file.h5")


def test_preprocess_input_is_keras_caffe_mode_channels_first():
    x = images((2, 3, 4, 4))
    expected = keras.applications.resnet50.preprocess_input(x.copy(), data_format="channels_first")
    np.testing.assert_allclose(resnet50.preprocess_input(x.copy(), data_format="channels_first"), expected, rtol=1e-6)
