"""Masking against Keras 3: zeroed padding steps and the mask it hands on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.masking import Masking
from kfit.layers.normalization.layer_normalization import LayerNormalization

# The base Layer's keys, which differ between the two base classes; the rest must agree.
_BASE_KEYS = {"name", "trainable", "dtype", "activity_regularizer", "autocast"}


def _keras():
    return pytest.importorskip("keras")


def _numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _padded(mask_value):
    x = np.random.RandomState(0).randn(2, 5, 3).astype("float32")
    x[0, 3:] = mask_value
    x[1, 0] = mask_value
    x[1, 2, 1] = mask_value  # one feature equal to the padding value: not masked
    return x


@pytest.mark.parametrize("mask_value", [0.0, -1.0])
def test_output_and_mask_match_keras(mask_value):
    keras = _keras()
    x = _padded(mask_value)
    ours, theirs = Masking(mask_value), keras.layers.Masking(mask_value)
    out, keras_out = ours(torch.tensor(x)), theirs(x)
    np.testing.assert_array_equal(_numpy(out), _numpy(keras_out))
    want_mask = _numpy(theirs.compute_mask(torch.tensor(x)))
    np.testing.assert_array_equal(_numpy(out._keras_mask), want_mask)
    np.testing.assert_array_equal(_numpy(ours.compute_mask(torch.tensor(x))), want_mask)
    assert want_mask.tolist() == [[True, True, True, False, False], [False, True, True, True, True]]
    assert not out[0, 3:].any()


def test_gradient_flows_through_kept_steps_only():
    x = torch.tensor(_padded(0.0), requires_grad=True)
    Masking()(x).sum().backward()
    assert x.grad[0, :3].eq(1).all() and x.grad[0, 3:].eq(0).all()


def test_mask_reaches_the_next_layer_and_config_matches_keras():
    keras = _keras()
    out = LayerNormalization()(Masking()(torch.tensor(_padded(0.0))))
    assert out._keras_mask.tolist()[0] == [True, True, True, False, False]
    ours, theirs = Masking(-1.0), keras.layers.Masking(-1.0)
    config, keras_config = ours.get_config(), theirs.get_config()
    assert set(config) - _BASE_KEYS == set(keras_config) - _BASE_KEYS
    assert config["mask_value"] == keras_config["mask_value"] == -1.0
    assert Masking.from_config(config).mask_value == -1.0
    assert ours.supports_masking and ours.weights == []
    assert ours.compute_output_shape((None, 5, 3)) == (None, 5, 3)
