"""kfit.ops.image against keras.ops.image: resize, patches, padding, cropping, grayscale."""

from __future__ import annotations

import pytest
import torch
from ops_parity import assert_no_problems, compare_op, keras, make

import kfit.ops as kops


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
def test_resize_matches_keras(interpolation: str) -> None:
    images = make("float32", shape=(2, 7, 9, 3), seed=1)
    problems = []
    for size in ((14, 18), (4, 5), (7, 3)):
        for antialias in (False, True):
            for extra in ({}, {"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True, "fill_value": 0.5}):
                args = (images, size, interpolation, antialias)
                problems.append(compare_op(kops.image.resize, _keras_image().resize, *args, rtol=1e-5, **extra))
    problems.append(compare_op(kops.image.resize, _keras_image().resize, images[0], (5, 5), interpolation))
    problems.append(
        compare_op(kops.image.resize, _keras_image().resize, images.permute(0, 3, 1, 2), (5, 4), interpolation,
                   data_format="channels_first", rtol=1e-5)
    )
    uint8 = (make("float32", shape=(1, 6, 6, 3), kind="positive") * 80).to(torch.uint8)
    problems.append(compare_op(kops.image.resize, _keras_image().resize, uint8, (9, 4), interpolation))
    assert_no_problems([p for p in problems if p])


def _keras_image():
    return keras.ops.image


def test_patches_padding_cropping_and_grayscale_match_keras() -> None:
    images = make("float32", shape=(2, 8, 9, 3), seed=2)
    image = _keras_image()
    problems = [
        compare_op(kops.image.extract_patches, image.extract_patches, images, 3),
        compare_op(kops.image.extract_patches, image.extract_patches, images, (2, 4), (1, 2), 1, "same"),
        compare_op(kops.image.extract_patches, image.extract_patches, images[0], 2, dilation_rate=2, strides=1),
        compare_op(kops.image.pad_images, image.pad_images, images, 1, 2, target_height=12, target_width=13),
        compare_op(kops.image.pad_images, image.pad_images, images[0], None, 0, 2, 3, target_height=11),
        compare_op(kops.image.crop_images, image.crop_images, images, 1, 2, target_height=5, target_width=4),
        compare_op(kops.image.crop_images, image.crop_images, images[0], None, 1, 2, 3, target_height=4),
        compare_op(kops.image.rgb_to_grayscale, image.rgb_to_grayscale, images),
        compare_op(kops.image.rgb_to_grayscale, image.rgb_to_grayscale, images[:, :, :, :1]),
        compare_op(kops.image.rgb_to_grayscale, image.rgb_to_grayscale, images.permute(0, 3, 1, 2), "channels_first"),
    ]
    assert_no_problems([p for p in problems if p])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kops.image.resize(torch.ones(4, 4, 3), (2,)), "size"),
        (lambda: kops.image.resize(torch.ones(4, 4, 3), (2, 2), interpolation="lanczos3"), "interpolation"),
        (lambda: kops.image.resize(torch.ones(4, 4), (2, 2)), "rank 3"),
        (lambda: kops.image.pad_images(torch.ones(4, 4, 3), 1, 1), "exactly two"),
        (lambda: kops.image.crop_images(torch.ones(4, 4, 3), 1, 1, target_height=9, target_width=2), ">= 0"),
        (lambda: kops.image.rgb_to_grayscale(torch.ones(4, 4, 2)), "channels"),
    ],
)
def test_bad_image_arguments_raise(call, match) -> None:
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "Received" in str(info.value)
