"""Image ops (`keras.ops.image`): resizing, patches, padding and cropping, grayscale conversion.

Images are `(height, width, channels)` or `(batch, height, width, channels)` with the default
`"channels_last"` format (channels after the batch with `"channels_first"`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as tnn

from kfit.backend.config import standardize_data_format
from kfit.ops.graph import keras_op
from kfit.ops.nn import conv
from kfit.ops.operands import convert_to_tensor
from kfit.utils.errors import received

__all__ = ["crop_images", "extract_patches", "pad_images", "resize", "rgb_to_grayscale"]

_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}
_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _check_rank(images: torch.Tensor) -> None:
    if images.dim() not in (3, 4):
        raise ValueError(
            "Expected images of rank 3 (one image) or 4 (a batch). Received: "
            f"images.shape={tuple(images.shape)}."
        )


def _height_width(images: torch.Tensor, data_format: str) -> tuple[int, int]:
    if data_format == "channels_last":
        return images.shape[-3], images.shape[-2]
    return images.shape[-2], images.shape[-1]


@keras_op
def resize(
    images: Any,
    size: Any,
    interpolation: str = "bilinear",
    antialias: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_mode: str = "constant",
    fill_value: float = 0.0,
    data_format: str | None = None,
) -> torch.Tensor:
    """Resizes images to `size = (height, width)` (`F.interpolate`, half-pixel centers).

    `crop_to_aspect_ratio` first crops the largest centered box with the target aspect ratio;
    `pad_to_aspect_ratio` first pads with `fill_value` to it. Integer images are resized in
    float32 and rounded back.

    Args:
        images: `(H, W, C)` or `(N, H, W, C)` (channels first per `data_format`).
        size: `(height, width)` of the result.
        interpolation: `"bilinear"`, `"nearest"` or `"bicubic"`.
        antialias: Whether to low-pass filter when downsampling (bilinear and bicubic).
        crop_to_aspect_ratio: Crop to the target aspect ratio before resizing.
        pad_to_aspect_ratio: Pad to the target aspect ratio before resizing.
        fill_mode: Only `"constant"`.
        fill_value: The padding value for `pad_to_aspect_ratio`.
        data_format: `"channels_last"`, `"channels_first"` or None (the global default).

    Raises:
        ValueError: for a bad `size`, rank, `interpolation` or `fill_mode`, or both aspect-ratio options.

    Example:
        >>> resize(torch.ones(2, 4, 4, 3), (8, 6)).shape
        torch.Size([2, 8, 6, 3])
    """
    data_format = standardize_data_format(data_format)
    if interpolation not in _MODES:
        raise ValueError(
            f"Expected `interpolation` to be one of {tuple(_MODES)}. {received('interpolation', interpolation)}"
        )
    if fill_mode != "constant":
        raise ValueError(f"Expected fill_mode='constant'. {received('fill_mode', fill_mode)}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "Expected at most one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio`. Received: both True."
        )
    if len(size) != 2 or size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"Expected `size` to be two positive ints (height, width). {received('size', size)}")
    target_h, target_w = int(size[0]), int(size[1])
    images = convert_to_tensor(images)
    _check_rank(images)
    single = images.dim() == 3
    x = images.unsqueeze(0) if single else images
    source = x.dtype
    if source not in (torch.float32, torch.float64):
        x = x.float()
    if data_format == "channels_last":
        x = x.permute(0, 3, 1, 2)
    height, width = x.shape[-2], x.shape[-1]
    if crop_to_aspect_ratio:
        crop_h = max(min(height, int(width * target_h / target_w)), 1)
        crop_w = max(min(width, int(height * target_w / target_h)), 1)
        top, left = int((height - crop_h) / 2), int((width - crop_w) / 2)
        x = x[:, :, top : top + crop_h, left : left + crop_w]
    elif pad_to_aspect_ratio:
        pad_h = max(height, int(width * target_h / target_w))
        pad_w = max(width, int(height * target_w / target_h))
        top, left = int((pad_h - height) / 2), int((pad_w - width) / 2)
        x = tnn.pad(x, (left, left, top, top), value=fill_value)
    mode = _MODES[interpolation]
    smooth = mode in ("bilinear", "bicubic")
    out = tnn.interpolate(
        x, size=(target_h, target_w), mode=mode, align_corners=False if smooth else None, antialias=antialias and smooth
    )
    if data_format == "channels_last":
        out = out.permute(0, 2, 3, 1)
    if single:
        out = out.squeeze(0)
    if source in _INT_DTYPES:
        if interpolation == "bicubic" and source == torch.uint8:
            out = out.clamp(0, 255)
        out = torch.round(out)
    return out.to(source)


@keras_op
def extract_patches(
    images: Any,
    size: Any,
    strides: Any = None,
    dilation_rate: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
) -> torch.Tensor:
    """Patches of `size` from images, flattened into the channel axis as `(patch_h, patch_w, channels)`.

    A batch `(N, H, W, C)` gives `(N, H', W', patch_h * patch_w * C)`. Strides default to `size`.

    Raises:
        TypeError: for a `size` that is neither an int nor two ints.

    Example:
        >>> extract_patches(torch.ones(1, 8, 8, 3), 4).shape
        torch.Size([1, 2, 2, 48])
    """
    if isinstance(size, int):
        patch = (size, size)
    elif len(size) == 2:
        patch = (int(size[0]), int(size[1]))
    else:
        raise TypeError(f"Expected `size` to be an int or two ints. {received('size', size)}")
    images = convert_to_tensor(images)
    data_format = standardize_data_format(data_format)
    channels = images.shape[-1] if data_format == "channels_last" else images.shape[-3]
    features = patch[0] * patch[1] * channels
    # A convolution with an identity kernel copies each window into the channel axis in
    # (row, column, channel) order, with the strides, dilation and padding rules of `conv`.
    kernel = torch.eye(features, dtype=images.dtype, device=images.device).reshape(*patch, channels, features)
    batch = images.unsqueeze(0) if images.dim() == 3 else images
    out = conv(
        batch, kernel, strides=strides or patch, padding=padding, data_format=data_format, dilation_rate=dilation_rate
    )
    return out.squeeze(0) if images.dim() == 3 else out


def _resolve(
    first: Any, second: Any, target: Any, length: int, names: tuple[str, str, str], crop: bool
) -> tuple[int, int]:
    given = [first, second, target]
    if given.count(None) != 1:
        raise ValueError(
            f"Expected exactly two of {', '.join(names)}. Received: "
            + ", ".join(f"{n}={v!r}" for n, v in zip(names, given))
            + "."
        )
    for name, value in zip(names, given):
        if value is not None and value < 0:
            raise ValueError(f"Expected `{name}` >= 0. {received(name, value)}")
    if target is not None:
        # Both ends share the difference between the target and the current size.
        excess = length - target if crop else target - length
        first = excess - second if first is None else first
        second = excess - first if second is None else second
    if first < 0 or second < 0:
        raise ValueError(
            f"Expected {names[0]} and {names[1]} >= 0 once {names[2]} is applied. Received: "
            f"{names[0]}={first}, {names[1]}={second} for a size of {length}."
        )
    return int(first), int(second)


@keras_op
def pad_images(
    images: Any,
    top_padding: int | None = None,
    left_padding: int | None = None,
    bottom_padding: int | None = None,
    right_padding: int | None = None,
    target_height: int | None = None,
    target_width: int | None = None,
    data_format: str | None = None,
) -> torch.Tensor:
    """Pads images with zeros; give two of (top, bottom, target height) and two of (left, right, target width).

    Example:
        >>> pad_images(torch.ones(4, 4, 1), 1, 2, target_height=6, target_width=7).shape
        torch.Size([6, 7, 1])
    """
    images = convert_to_tensor(images)
    _check_rank(images)
    data_format = standardize_data_format(data_format)
    height, width = _height_width(images, data_format)
    top, bottom = _resolve(top_padding, bottom_padding, target_height, height,
                           ("top_padding", "bottom_padding", "target_height"), crop=False)
    left, right = _resolve(left_padding, right_padding, target_width, width,
                           ("left_padding", "right_padding", "target_width"), crop=False)
    widths = (0, 0, left, right, top, bottom) if data_format == "channels_last" else (left, right, top, bottom)
    return tnn.pad(images, widths)


@keras_op
def crop_images(
    images: Any,
    top_cropping: int | None = None,
    left_cropping: int | None = None,
    bottom_cropping: int | None = None,
    right_cropping: int | None = None,
    target_height: int | None = None,
    target_width: int | None = None,
    data_format: str | None = None,
) -> torch.Tensor:
    """Crops images; give two of (top, bottom, target height) and two of (left, right, target width).

    Example:
        >>> crop_images(torch.ones(6, 6, 1), 1, 2, target_height=3, target_width=2).shape
        torch.Size([3, 2, 1])
    """
    images = convert_to_tensor(images)
    _check_rank(images)
    data_format = standardize_data_format(data_format)
    height, width = _height_width(images, data_format)
    top, bottom = _resolve(top_cropping, bottom_cropping, target_height, height,
                           ("top_cropping", "bottom_cropping", "target_height"), crop=True)
    left, right = _resolve(left_cropping, right_cropping, target_width, width,
                           ("left_cropping", "right_cropping", "target_width"), crop=True)
    h_axis = images.dim() - (3 if data_format == "channels_last" else 2)
    return images.narrow(h_axis, top, height - top - bottom).narrow(h_axis + 1, left, width - left - right)


@keras_op
def rgb_to_grayscale(images: Any, data_format: str | None = None) -> torch.Tensor:
    """Converts RGB images to one-channel grayscale (ITU-R 601 weights); grayscale input is copied.

    Raises:
        ValueError: for a rank other than 3 or 4, or a channel count other than 1 or 3.
    """
    images = convert_to_tensor(images)
    _check_rank(images)
    data_format = standardize_data_format(data_format)
    axis = -1 if data_format == "channels_last" else -3
    if images.shape[axis] not in (1, 3):
        raise ValueError(
            f"Expected 3 (RGB) or 1 (grayscale) channels. Received: images.shape={tuple(images.shape)}."
        )
    if images.shape[axis] == 1:
        return images.clone()
    r, g, b = images.unbind(dim=axis)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(images.dtype).unsqueeze(axis)
