"""Noise and regularization layers: inference identity, training statistics, losses and configs
against Keras 3."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kfit.layers.dropout import Dropout
from kfit.layers.regularization.activity_regularization import ActivityRegularization
from kfit.layers.regularization.alpha_dropout import AlphaDropout
from kfit.layers.regularization.gaussian_dropout import GaussianDropout
from kfit.layers.regularization.gaussian_noise import GaussianNoise
from kfit.layers.regularization.spatial_dropout import SpatialDropout1D, SpatialDropout2D, SpatialDropout3D

keras = pytest.importorskip("keras")

SPATIAL = [
    (SpatialDropout1D, {}, (64, 10, 32), 2),
    (SpatialDropout2D, {}, (32, 4, 5, 32), 3),
    (SpatialDropout2D, {"data_format": "channels_first"}, (32, 32, 4, 5), 1),
    (SpatialDropout3D, {}, (16, 2, 3, 4, 32), 4),
    (SpatialDropout3D, {"data_format": "channels_first"}, (16, 32, 2, 3, 4), 1),
]


@pytest.mark.parametrize("cls, kwargs, shape, channel_axis", SPATIAL)
def test_spatial_dropout_drops_whole_channels_and_scales_the_rest(cls, kwargs, shape, channel_axis):
    layer = cls(0.25, seed=3, **kwargs)
    x = torch.rand(shape) + 0.5
    assert layer(x, training=False) is x
    out = layer(x, training=True)
    kept = out != 0
    torch.testing.assert_close(out[kept], x[kept] / 0.75)
    # One draw per (sample, channel): constant over every other axis.
    spatial = tuple(i for i in range(1, len(shape)) if i != channel_axis)
    assert (kept.all(dim=spatial) == kept.any(dim=spatial)).all()
    dropped = 1 - kept.any(dim=spatial).float().mean().item()
    assert abs(dropped - 0.25) < 0.08


def test_spatial_dropout_in_eval_mode_and_rate_zero_are_the_identity():
    x = torch.rand(2, 3, 4)
    assert SpatialDropout1D(0.5).eval()(x) is x
    assert SpatialDropout1D(0.0)(x, training=True) is x


def test_spatial_dropout_with_a_seed_repeats_and_without_follows_torch_seed():
    x = torch.ones(8, 3, 16)
    first = SpatialDropout1D(0.5, seed=7)(x, training=True)
    assert SpatialDropout1D(0.5, seed=7)(x, training=True).equal(first)
    torch.manual_seed(1)
    a = SpatialDropout1D(0.5)(x, training=True)
    torch.manual_seed(1)
    assert SpatialDropout1D(0.5)(x, training=True).equal(a)


@pytest.mark.parametrize("cls, kwargs, shape, channel_axis", SPATIAL)
def test_spatial_dropout_config_equals_keras(cls, kwargs, shape, channel_axis):
    ours = cls(0.3, seed=5, name="sd", **kwargs)
    theirs = getattr(keras.layers, cls.__name__)(0.3, seed=5, name="sd", **kwargs)
    assert ours.get_config() == theirs.get_config()
    rebuilt = cls.from_config(ours.get_config())
    assert rebuilt.get_config() == ours.get_config()
    assert isinstance(ours, Dropout) and ours.supports_masking
    assert ours.compute_output_shape((None, *shape[1:])) == (None, *shape[1:])


def test_spatial_dropout_checks_rank_and_rate():
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        SpatialDropout1D(0.5)(torch.ones(2, 3), training=False)
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        SpatialDropout2D(0.5)(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"Received: rate=1\.5"):
        SpatialDropout1D(1.5)
    with pytest.raises(TypeError):
        SpatialDropout1D(0.5, trainable=False)  # Keras refuses it too


def test_gaussian_noise_statistics_identity_and_seed():
    x = torch.full((200, 100), 3.0)
    layer = GaussianNoise(0.5, seed=2)
    assert layer(x, training=False) is x
    noise = layer(x, training=True) - x
    assert abs(noise.mean().item()) < 0.02 and abs(noise.std().item() - 0.5) < 0.02
    assert GaussianNoise(0.5, seed=2)(x, training=True).equal(x + noise)
    assert GaussianNoise(0.0)(x, training=True) is x
    with pytest.raises(ValueError, match="Received: stddev=2"):
        GaussianNoise(2)


def test_gaussian_dropout_statistics_identity_and_rate_check():
    x = torch.full((200, 100), 2.0)
    layer = GaussianDropout(0.2, seed=2)
    assert layer.eval()(x) is x
    factor = layer(x, training=True) / x
    assert abs(factor.mean().item() - 1.0) < 0.02
    assert abs(factor.std().item() - math.sqrt(0.2 / 0.8)) < 0.02
    with pytest.raises(ValueError, match="Received: rate=1"):
        GaussianDropout(1)


def test_alpha_dropout_keeps_selu_statistics_and_drops_to_the_saturation_value():
    torch.manual_seed(0)
    x = torch.randn(400, 100)
    layer = AlphaDropout(0.1, seed=1)
    assert layer(x, training=False) is x
    y = layer(x, training=True)
    assert abs(y.mean().item()) < 0.02 and abs(y.std().item() - 1.0) < 0.02
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - 0.1) * (1 + 0.1 * alpha_p**2)) ** -0.5
    b = -a * alpha_p * 0.1
    dropped = (y - (a * alpha_p + b)).abs() < 1e-5
    kept = (y - (a * x + b)).abs() < 1e-5
    assert (dropped | kept).all() and abs(dropped.float().mean().item() - 0.1) < 0.01
    per_feature = AlphaDropout(0.5, noise_shape=(None, 1), seed=0)(x, training=True)
    assert ((per_feature - (a * alpha_p + b)).abs() < 1e-5).sum() % 100 == 0


@pytest.mark.parametrize(
    "l1, l2, shape, value", [(0.1, 0.0, (2, 3), 1.0), (0.1, 0.5, (4, 3), 2.0), (0.0, 0.0, (2, 3), 1.0)]
)
def test_activity_regularization_loss_matches_keras(l1, l2, shape, value):
    x = np.full(shape, value, dtype="float32")
    ours = ActivityRegularization(l1=l1, l2=l2)
    out = ours(torch.tensor(x))
    theirs = keras.layers.ActivityRegularization(l1=l1, l2=l2)
    theirs(x)
    assert np.array_equal(out.numpy(), x)
    assert len(ours.losses) == len(theirs.losses) == 1
    assert float(ours.losses[0]) == pytest.approx(float(theirs.losses[0]), rel=1e-6)


def test_activity_regularization_measured_value_gradient_and_reset_per_call():
    layer = ActivityRegularization(l1=0.1)
    x = torch.ones(2, 3, requires_grad=True)
    layer(x)
    (loss,) = layer.losses
    assert loss.item() == pytest.approx(0.3)  # divided by the batch size, not 0.6
    loss.backward()
    assert torch.allclose(x.grad, torch.full((2, 3), 0.05))
    layer(torch.ones(2, 3))
    assert len(layer.losses) == 1


@pytest.mark.parametrize(
    "name, ours",
    [
        ("GaussianNoise", lambda: GaussianNoise(0.1, seed=3)),
        ("GaussianDropout", lambda: GaussianDropout(0.1, seed=3)),
        ("AlphaDropout", lambda: AlphaDropout(0.1, noise_shape=(None, 1), seed=3)),
        ("ActivityRegularization", lambda: ActivityRegularization(l1=0.1, l2=0.2)),
    ],
)
def test_config_keys_match_keras_masking_and_round_trip(name, ours):
    layer = ours()
    assert layer.built  # weightless: built at construction, as in Keras
    config = layer.get_config()
    args = {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}
    theirs = getattr(keras.layers, name)(**args).get_config()
    assert set(config) - {"dtype"} == set(theirs) - {"dtype"}
    assert {k: config[k] for k in args} == {k: theirs[k] for k in args}
    assert type(layer).from_config(config).get_config() == config
    assert layer.supports_masking
    m = torch.tensor([[True, False]])
    assert layer(torch.ones(1, 2, 3), mask=m, training=False)._keras_mask is m
    assert layer.compute_output_shape((None, 2, 3)) == (None, 2, 3)
