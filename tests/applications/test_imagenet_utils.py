"""Tests for kfit.applications.imagenet_utils against Keras 3's imagenet_utils."""

from __future__ import annotations

import json
import warnings

import application_parity
import numpy as np
import pytest
import torch
from application_parity import (
    images,
    keras,
    md5,
)
from keras.src.applications import imagenet_utils as keras_utils

import kfit
from kfit.applications import imagenet_utils

# Fixtures shared by the tests of this folder.
file_server = application_parity.file_server
keras_home = application_parity.keras_home

CASES = [
    (mode, data_format, shape)
    for mode in ("caffe", "tf", "torch")
    for data_format in ("channels_last", "channels_first")
    for shape in ((2, 5, 4, 3), (5, 4, 3), (2, 3, 5, 4), (3, 5, 4))
    if (data_format == "channels_last") == (shape[-1] == 3)
]


@pytest.mark.parametrize(("mode", "data_format", "shape"), CASES)
def test_preprocess_numpy_matches_keras_and_updates_the_input_as_keras_does(mode, data_format, shape):
    x = images(shape)
    ours_input, keras_input = x.copy(), x.copy()
    ours = imagenet_utils.preprocess_input(ours_input, data_format=data_format, mode=mode)
    expected = keras_utils.preprocess_input(keras_input, data_format=data_format, mode=mode)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(ours_input, keras_input, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_integer_arrays_become_float32(mode):
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 3, 3)).astype("uint8")
    ours = imagenet_utils.preprocess_input(x, mode=mode)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, keras_utils.preprocess_input(x.copy(), mode=mode), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(("mode", "data_format", "shape"), CASES)
def test_preprocess_torch_tensors_matches_keras_without_changing_the_input(mode, data_format, shape):
    x = images(shape)
    tensor = torch.from_numpy(x.copy())
    ours = imagenet_utils.preprocess_input(tensor, data_format=data_format, mode=mode)
    assert isinstance(ours, torch.Tensor)
    expected = keras_utils.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(tensor.numpy(), x)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_inside_a_functional_model(mode):
    inputs = kfit.Input((4, 4, 3))
    model = kfit.Model(inputs, imagenet_utils.preprocess_input(inputs, mode=mode))
    x = images((2, 4, 4, 3))
    np.testing.assert_allclose(
        model.predict(x, verbose=0), keras_utils.preprocess_input(x.copy(), mode=mode), rtol=1e-5, atol=1e-4
    )


def test_preprocess_rejects_unknown_mode_and_data_format():
    x = images((1, 2, 2, 3))
    for kwargs, message in (({"mode": "keras"}, "mode='keras'"), ({"data_format": "nhwc"}, "data_format='nhwc'")):
        with pytest.raises(ValueError):
            keras_utils.preprocess_input(x.copy(), **kwargs)
        with pytest.raises(ValueError, match=message):
            imagenet_utils.preprocess_input(x.copy(), **kwargs)


@pytest.fixture
def class_index(file_server, keras_home, monkeypatch):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    body = json.dumps(index).encode()
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", file_server.serve("imagenet_class_index.json", body))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", md5(body))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    # Keras gets the same names without a download.
    monkeypatch.setattr(keras_utils, "CLASS_INDEX", index)
    return index


def test_decode_predictions_matches_keras(class_index, file_server, keras_home):
    preds = np.random.default_rng(0).random((3, 1000)).astype("float32")
    ours = imagenet_utils.decode_predictions(preds, top=4)
    expected = keras_utils.decode_predictions(preds, top=4)
    assert ours == expected
    assert file_server.requested == ["/imagenet_class_index.json"]
    assert (keras_home / "models" / "imagenet_class_index.json").is_file()
    # Read once per process; a torch tensor decodes the same.
    assert kfit.applications.vgg16.decode_predictions(torch.from_numpy(preds), top=4) == expected
    assert len(file_server.requested) == 1


def test_decode_predictions_rejects_other_shapes(class_index):
    for preds in (np.zeros((2, 10)), np.zeros(1000)):
        with pytest.raises(ValueError):
            keras_utils.decode_predictions(preds)
        with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
            imagenet_utils.decode_predictions(preds)


SHAPE_CASES = [
    (None, 224, 32, "channels_last", True, "imagenet"),
    (None, 224, 32, "channels_last", False, None),
    (None, 224, 32, "channels_first", False, None),
    ((224, 224, 3), 224, 32, "channels_last", True, "imagenet"),
    ((100, 100, 3), 224, 32, "channels_last", True, "imagenet"),
    ((100, 100, 3), 224, 32, "channels_last", False, "imagenet"),
    ((100, 100, 1), 224, 32, "channels_last", False, "imagenet"),
    ((100, 100, 5), 224, 32, "channels_last", True, None),
    ((3, 20, 64), 224, 32, "channels_first", False, None),
    ((3, 64, 64), 224, 32, "channels_first", False, "imagenet"),
    ((None, None, 3), 224, 32, "channels_last", True, None),
    ((None, 48, 3), 224, 32, "channels_last", False, None),
    ((48, 48), 224, 32, "channels_last", False, None),
]


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_obtain_input_shape_matches_keras(case):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = keras_utils.obtain_input_shape(*case)
    except ValueError:
        with pytest.raises(ValueError):
            imagenet_utils.obtain_input_shape(*case)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert imagenet_utils.obtain_input_shape(*case) == tuple(expected)


def test_unusual_channel_counts_warn():
    with pytest.warns(UserWarning, match="5 channels"):
        imagenet_utils.obtain_input_shape((64, 64, 5), 224, 32, "channels_last", False)


@pytest.mark.parametrize("shape", [(32, 32, 8), (33, 33, 8), (32, 33, 8), (None, None, 8)])
@pytest.mark.parametrize("kernel_size", [3, (5, 3)])
def test_correct_pad_matches_keras(shape, kernel_size):
    assert imagenet_utils.correct_pad(kfit.Input(shape), kernel_size) == keras_utils.correct_pad(
        keras.Input(shape), kernel_size
    )


def test_source_inputs_finds_every_input_of_a_graph():
    a, b = kfit.Input((4,)), kfit.Input((4,))
    joined = kfit.layers.Add()([kfit.layers.Dense(4)(a), b])
    found = imagenet_utils.source_inputs(kfit.layers.Dense(2)(joined))
    assert [id(t) for t in found] == [id(a), id(b)]
