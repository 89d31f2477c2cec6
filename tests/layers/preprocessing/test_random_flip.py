"""RandomFlip: inference passthrough, per-image flips while training, config against Keras 3."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kfit
from kfit.layers.preprocessing.random_flip import RandomFlip


def _images(shape=(64, 5, 6, 2), seed=0) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(seed).normal(size=shape).astype("float32"))


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_inference_is_the_identity(mode: str) -> None:
    images = _images()
    layer = RandomFlip(mode, seed=1)
    assert torch.equal(layer(images), images)
    assert torch.equal(layer(images, training=False), images)
    model = kfit.Sequential([kfit.Input((5, 6, 2)), layer])
    np.testing.assert_array_equal(model.predict(images.numpy(), verbose=0), images.numpy())


@pytest.mark.parametrize(
    ("mode", "axes", "data_format"),
    [
        ("horizontal", [2], "channels_last"),
        ("vertical", [1], "channels_last"),
        ("horizontal_and_vertical", [1, 2], "channels_last"),
        ("horizontal", [3], "channels_first"),
        ("vertical", [2], "channels_first"),
    ],
)
def test_training_flips_each_image_or_leaves_it(mode: str, axes: list[int], data_format: str) -> None:
    images = _images()
    out = RandomFlip(mode, seed=3, data_format=data_format)(images, training=True)
    flipped = images.flip(axes)
    same = (out == images).flatten(1).all(1)
    turned = (out == flipped).flatten(1).all(1)
    assert bool((same | turned).all())
    # 64 fair coins: both outcomes occur (a miss has probability 2 * 2**-64).
    assert bool(same.any()) and bool(turned.any())


def test_unbatched_image_and_seeded_repeatability() -> None:
    image = _images((5, 6, 2))
    outs = [RandomFlip("horizontal", seed=5)(image, training=True) for _ in range(2)]
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(outs[0], image) or torch.equal(outs[0], image.flip(1))
    layer = RandomFlip("horizontal", seed=5)
    draws = {bool(torch.equal(layer(image, training=True), image)) for _ in range(40)}
    assert draws == {True, False}


def test_integer_images_come_out_float() -> None:
    images = torch.arange(12, dtype=torch.uint8).reshape(1, 2, 2, 3)
    out = RandomFlip()(images)
    assert out.dtype == torch.float32
    assert torch.equal(out, images.float())


def test_bad_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="mode"):
        RandomFlip("diagonal")


def test_config_matches_keras() -> None:
    keras = pytest.importorskip("keras")
    theirs = keras.layers.RandomFlip("vertical", seed=4, name="flip").get_config()
    ours = RandomFlip("vertical", seed=4, name="flip").get_config()
    assert set(ours) == set(theirs)
    for key in ("mode", "seed", "data_format", "name", "trainable"):
        assert ours[key] == theirs[key]
    restored = RandomFlip.from_config(ours)
    assert (restored.mode, restored.seed, restored.data_format) == ("vertical", 4, "channels_last")


def test_sequential_with_random_flip_fits() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6, 6, 3)).astype("float32")
    y = rng.integers(0, 2, size=(32,))
    model = kfit.Sequential(
        [
            kfit.Input((6, 6, 3)),
            kfit.layers.RandomFlip("horizontal", seed=0),
            kfit.layers.Flatten(),
            kfit.layers.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss=kfit.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert all(np.isfinite(history.history["loss"]))
