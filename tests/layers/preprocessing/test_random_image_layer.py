"""The base of the augmentation layers: inference identity, dtype, and the seeded generator."""

from __future__ import annotations

import torch

from kfit.layers.preprocessing.random_image_layer import RandomImageLayer


class AddNoise(RandomImageLayer):
    def augment(self, images, generator):  # type: ignore[no-untyped-def]
        return images + torch.rand(images.shape, generator=generator, device=images.device)


def test_integer_images_come_out_in_the_compute_dtype_even_at_inference():
    images = torch.arange(12, dtype=torch.uint8).reshape(1, 2, 2, 3)
    out = AddNoise()(images)
    assert out.dtype == torch.float32 and out.equal(images.float())


def test_a_seed_repeats_the_draws_and_no_seed_uses_the_global_generator():
    images = torch.zeros(2, 3, 3, 1)
    first, second = AddNoise(seed=5), AddNoise(seed=5)
    draw = first(images, training=True)
    assert draw.equal(second(images, training=True))
    assert not first(images, training=True).equal(draw)  # the layer's generator moves on
    torch.manual_seed(1)
    a = AddNoise()(images, training=True)
    torch.manual_seed(1)
    assert AddNoise()(images, training=True).equal(a)
