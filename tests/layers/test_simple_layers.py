"""Activation, Dropout, Flatten, Reshape, InputLayer."""

from __future__ import annotations

import pytest
import torch

import kfit


def test_activation():
    out = kfit.layers.Activation("sigmoid")(torch.zeros(2))
    assert torch.equal(out, torch.full((2,), 0.5))


def test_dropout_trains_and_scales_but_is_identity_in_eval():
    layer = kfit.layers.Dropout(0.5)
    x = torch.ones(10000)
    out = layer.train()(x)
    kept = out[out != 0]
    assert torch.allclose(kept, torch.full_like(kept, 2.0))
    assert 0.45 < (out == 0).float().mean() < 0.55
    assert torch.equal(layer.eval()(x), x)
    with pytest.raises(ValueError, match=r"Received: rate=1\.5"):
        kfit.layers.Dropout(1.5)


def test_flatten_and_reshape():
    x = torch.arange(24.0).reshape(2, 3, 4)
    assert kfit.layers.Flatten()(x).shape == (2, 12)
    assert kfit.layers.Reshape((4, 3))(x).shape == (2, 4, 3)
    assert kfit.layers.Reshape((-1,))(x).shape == (2, 12)


def test_input_declares_shape_and_builds_sequential():
    model = kfit.Sequential([kfit.Input(shape=(6,)), kfit.layers.Dense(2)])
    assert model.input_shape == (None, 6)
    assert [w.shape for w in model.get_weights()] == [(6, 2), (2,)]
    with pytest.raises(ValueError, match="first element"):
        model.add(kfit.layers.InputLayer(shape=(3,)))


def test_unknown_layer_kwargs_are_rejected():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to Flatten"):
        kfit.layers.Flatten(bogus=1)


@pytest.mark.parametrize(
    "layer", [kfit.layers.Dropout(0.5), kfit.layers.Activation("relu")], ids=["dropout", "activation"]
)
def test_dropout_and_activation_pass_the_mask_through_as_keras_does(layer):
    assert layer.supports_masking
    embedded = kfit.layers.Embedding(10, 4, mask_zero=True)(torch.tensor([[3, 0, 2]]))
    assert layer(embedded)._keras_mask.tolist() == [[True, False, True]]
