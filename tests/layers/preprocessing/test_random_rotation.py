"""RandomRotation: inference passthrough, fixed-angle parity with Keras 3, config keys."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kfit
from kfit.layers.preprocessing.random_rotation import RandomRotation


def _images(shape=(3, 7, 7, 2), seed=0) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(seed).normal(size=shape).astype("float32"))


def test_inference_is_the_identity() -> None:
    images = _images()
    layer = RandomRotation(0.2, seed=1)
    assert torch.equal(layer(images), images)
    assert torch.equal(layer(images, training=False), images)
    model = kfit.Sequential([kfit.Input((7, 7, 2)), layer])
    np.testing.assert_array_equal(model.predict(images.numpy(), verbose=0), images.numpy())


@pytest.mark.parametrize("fill_mode", ["reflect", "constant"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("factor", [(0.25, 0.25), (-0.25, -0.25), (0.125, 0.125)])
def test_fixed_angle_matches_keras(fill_mode: str, interpolation: str, factor: tuple[float, float]) -> None:
    keras = pytest.importorskip("keras")
    images = _images()
    kwargs = {"fill_mode": fill_mode, "interpolation": interpolation, "fill_value": 0.5}
    ours = RandomRotation(factor, **kwargs)(images, training=True)
    theirs = keras.layers.RandomRotation(factor, **kwargs)(images.clone(), training=True)
    np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(theirs), atol=1e-4, rtol=0)
    # One image and channels_first take the same path in Keras.
    ours = RandomRotation(factor, **kwargs)(images[0], training=True)
    theirs = keras.layers.RandomRotation(factor, **kwargs)(images[0].clone(), training=True)
    np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(theirs), atol=1e-4, rtol=0)
    first = images.permute(0, 3, 1, 2)
    ours = RandomRotation(factor, data_format="channels_first", **kwargs)(first, training=True)
    theirs = keras.layers.RandomRotation(factor, data_format="channels_first", **kwargs)(first.clone(), training=True)
    np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(theirs), atol=1e-4, rtol=0)


def test_quarter_turn_is_a_pixel_permutation() -> None:
    # A 90° turn of a square image moves whole pixels: torch.rot90 from the row axis to the column axis.
    images = _images()
    out = RandomRotation((0.25, 0.25))(images, training=True)
    np.testing.assert_allclose(out.numpy(), torch.rot90(images, 1, dims=(1, 2)).numpy(), atol=1e-4)


def test_random_angles_differ_per_image_and_repeat_with_a_seed() -> None:
    images = _images((4, 7, 7, 1)).expand(4, 7, 7, 1).clone()
    images[:] = images[0]
    a = RandomRotation(0.3, seed=2)(images, training=True)
    b = RandomRotation(0.3, seed=2)(images, training=True)
    assert torch.equal(a, b)
    assert not torch.allclose(a[0], a[1])


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="factor"):
        RandomRotation(1.5)
    with pytest.raises(ValueError, match="factor"):
        RandomRotation((0.1, 0.2, 0.3))
    with pytest.raises(NotImplementedError, match="fill_mode"):
        RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(NotImplementedError, match="interpolation"):
        RandomRotation(0.1, interpolation="bicubic")


def test_config_matches_keras() -> None:
    keras = pytest.importorskip("keras")
    for factor in (0.1, (0.3, -0.2)):
        theirs = keras.layers.RandomRotation(factor, fill_mode="constant", seed=3, name="rot").get_config()
        ours = RandomRotation(factor, fill_mode="constant", seed=3, name="rot").get_config()
        assert set(ours) == set(theirs)
        for key in ("factor", "fill_mode", "fill_value", "interpolation", "seed", "data_format", "name"):
            assert ours[key] == theirs[key], key
        restored = RandomRotation.from_config(ours)
        assert restored.factor == tuple(theirs["factor"])
