"""kfit.ops.image against keras.ops.image: resize, patches, padding, cropping, grayscale, affine transforms."""

from __future__ import annotations

import numpy as np
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


def _transforms() -> dict[str, list[list[float]]]:
    angle = 0.4
    cos, sin = float(np.cos(angle)), float(np.sin(angle))
    return {
        # Rotation about the centre of a 7 x 9 image, a shear, and a translation by whole and half pixels.
        "rotation": [[cos, -sin, 4 - 4 * cos + 3 * sin, sin, cos, 3 - 4 * sin - 3 * cos, 0, 0]] * 2,
        "shear": [[1, 0.3, -1, 0.2, 1, 0.5, 0, 0], [1, 0, 0, -0.4, 1, 1, 0, 0]],
        "translation": [[1, 0, 2.5, 0, 1, -1, 0, 0], [1, 0, -3, 0, 1, 1.25, 0, 0]],
    }


@pytest.mark.parametrize("fill_mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_transform_matches_keras(fill_mode: str, interpolation: str) -> None:
    images = make("float32", shape=(2, 7, 9, 3), seed=3)
    problems = []
    for name, rows in _transforms().items():
        # Keras's torch backend writes into the transform it is given, so each side gets its own copy.
        def ours(x, *a, rows=rows, **k):
            return kops.image.affine_transform(x, torch.tensor(rows), *a, **k)

        def theirs(x, *a, rows=rows, **k):
            return _keras_image().affine_transform(x, torch.tensor(rows), *a, **k)

        for fill_value in (0.0, 0.75):
            problem = compare_op(ours, theirs, images, interpolation, fill_mode, fill_value, rtol=1e-4)
            problems.append(problem and f"{name}, fill_value={fill_value}: {problem}")
        problem = compare_op(ours, theirs, images.permute(0, 3, 1, 2), interpolation, fill_mode,
                             data_format="channels_first", rtol=1e-4)
        problems.append(problem and f"{name}, channels_first: {problem}")
        problem = compare_op(lambda x, *a, r=rows[1]: kops.image.affine_transform(x, torch.tensor(r), *a),
                             lambda x, *a, r=rows[1]: _keras_image().affine_transform(x, torch.tensor(r), *a),
                             images[0], interpolation, fill_mode, rtol=1e-4)
        problems.append(problem and f"{name}, unbatched: {problem}")
    assert_no_problems([p for p in problems if p])


def test_affine_transform_integer_images_match_keras() -> None:
    images = (make("float32", shape=(2, 6, 5, 2), kind="positive") * 80).to(torch.uint8)
    rows = [[0.9, -0.2, 1.3, 0.25, 1.1, -0.7, 0, 0], [1, 0, 0.5, 0, 1, -0.5, 0, 0]]
    for interpolation in ("bilinear", "nearest"):
        ours = kops.image.affine_transform(images, torch.tensor(rows), interpolation, "constant", 7)
        theirs = _keras_image().affine_transform(images, torch.tensor(rows), interpolation, "constant", 7)
        assert ours.dtype == torch.uint8
        torch.testing.assert_close(ours, torch.as_tensor(keras.ops.convert_to_numpy(theirs)), atol=0, rtol=0)


@pytest.mark.parametrize("fill_mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_transform_projective_matches_map_coordinates(fill_mode: str, interpolation: str) -> None:
    # Keras's torch backend ignores c0 and c1 (it only implements the affine part), so the
    # projective case is checked against keras.ops.image.map_coordinates at the documented
    # source points ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1.
    image = make("float32", shape=(6, 8, 2), seed=4)
    a0, a1, a2, b0, b1, b2, c0, c1 = 1.1, 0.2, -0.5, -0.1, 0.9, 0.8, 0.03, -0.04
    ours = kops.image.affine_transform(image, [a0, a1, a2, b0, b1, b2, c0, c1], interpolation, fill_mode, 0.5)
    y, x, c = np.meshgrid(np.arange(6), np.arange(8), np.arange(2), indexing="ij")
    k = c0 * x + c1 * y + 1
    coordinates = np.stack([(b0 * x + b1 * y + b2) / k, (a0 * x + a1 * y + a2) / k, c]).astype("float32")
    order = 1 if interpolation == "bilinear" else 0
    expected = _keras_image().map_coordinates(image, torch.as_tensor(coordinates), order, fill_mode, 0.5)
    torch.testing.assert_close(ours, torch.as_tensor(keras.ops.convert_to_numpy(expected)), atol=1e-4, rtol=0)


def test_affine_transform_rejects_bad_arguments() -> None:
    image = torch.zeros(4, 4, 1)
    identity = [1, 0, 0, 0, 1, 0, 0, 0]
    with pytest.raises(ValueError, match="interpolation"):
        kops.image.affine_transform(image, identity, interpolation="bicubic")
    with pytest.raises(ValueError, match="fill_mode"):
        kops.image.affine_transform(image, identity, fill_mode="edge")
    with pytest.raises(ValueError, match="transform"):
        kops.image.affine_transform(image, [1, 0, 0])
