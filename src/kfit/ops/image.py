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
from kfit.ops.index_folding import fold_index
from kfit.ops.nn import conv
from kfit.ops.operands import convert_to_tensor
from kfit.utils.errors import received

__all__ = ["affine_transform", "crop_images", "extract_patches", "pad_images", "resize", "rgb_to_grayscale"]

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


_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


# Keras's fill modes in NumPy's `pad` names: "mirror" excludes the edge pixel, "reflect" repeats
# it, and "constant" clamps here (its out-of-range samples are masked out afterwards).
_FOLDS = {"nearest": "edge", "constant": "edge", "wrap": "wrap", "mirror": "reflect", "reflect": "symmetric"}


def _fix_index(index: torch.Tensor, size: int, fill_mode: str) -> torch.Tensor:
    """Folds an out-of-range pixel index back into [0, size) the way `fill_mode` asks."""
    return fold_index(index, size, _FOLDS[fill_mode])


@keras_op
def affine_transform(
    images: Any,
    transform: Any,
    interpolation: str = "bilinear",
    fill_mode: str = "constant",
    fill_value: float = 0,
    data_format: str | None = None,
) -> torch.Tensor:
    """Resamples images through projective transforms given as 8-vectors.

    A row `[a0, a1, a2, b0, b1, b2, c0, c1]` sends the output pixel `(x, y)` to the input point
    `((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)` with `k = c0 x + c1 y + 1`; the value
    there is read with `interpolation`, and points outside the image are handled by
    `fill_mode`. One row applies to every image; `(N, 8)` gives one row per image.

    Args:
        images: `(H, W, C)` or `(N, H, W, C)` (channels first per `data_format`).
        transform: `(8,)` or `(N, 8)` transform rows.
        interpolation: `"bilinear"` or `"nearest"`.
        fill_mode: `"constant"` (use `fill_value`), `"nearest"` (repeat the edge pixel), `"wrap"`
            (tile), `"mirror"` (reflect about the edge pixel centres) or `"reflect"` (reflect about
            the image border).
        fill_value: The value outside the image with `fill_mode="constant"`.
        data_format: `"channels_last"`, `"channels_first"` or None (the global default).

    Raises:
        ValueError: for a bad `interpolation`, `fill_mode` or rank of `images` or `transform`.

    Example:
        >>> image = torch.arange(9.0).reshape(3, 3, 1)
        >>> shift_right = [1, 0, -1, 0, 1, 0, 0, 0]  # output (x, y) reads input (x - 1, y)
        >>> affine_transform(image, shift_right, fill_mode="constant")[..., 0].tolist()
        [[0.0, 0.0, 1.0], [0.0, 3.0, 4.0], [0.0, 6.0, 7.0]]
    """
    data_format = standardize_data_format(data_format)
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(
            "Expected `interpolation` to be 'bilinear' or 'nearest'. "
            f"{received('interpolation', interpolation)}"
        )
    if fill_mode not in _FILL_MODES:
        raise ValueError(f"Expected `fill_mode` to be one of {_FILL_MODES}. {received('fill_mode', fill_mode)}")
    images = convert_to_tensor(images)
    _check_rank(images)
    transform = convert_to_tensor(transform)
    if transform.dim() not in (1, 2) or transform.shape[-1] != 8:
        raise ValueError(
            "Expected `transform` of shape (8,) or (batch, 8). Received: "
            f"transform.shape={tuple(transform.shape)}."
        )
    if not transform.is_floating_point():
        transform = transform.to(torch.get_default_dtype())
    unbatched = images.dim() == 3
    if unbatched:
        images = images.unsqueeze(0)
    if data_format == "channels_first":
        images = images.permute(0, 2, 3, 1)
    batch, height, width, _ = images.shape
    transform = transform.to(images.device).reshape(-1, 8)

    t = transform[:, :, None, None]  # (N or 1, 8, 1, 1) against the (H, W) grid
    y = torch.arange(height, dtype=transform.dtype, device=images.device)[:, None]
    x = torch.arange(width, dtype=transform.dtype, device=images.device)[None, :]
    k = t[:, 6] * x + t[:, 7] * y + 1
    src_x = (t[:, 0] * x + t[:, 1] * y + t[:, 2]) / k
    src_y = (t[:, 3] * x + t[:, 4] * y + t[:, 5]) / k
    src_x, src_y = (c.expand(batch, height, width) for c in (src_x, src_y))

    integer = not images.is_floating_point() and not images.is_complex()
    if interpolation == "nearest":
        # round() is half-to-even, as in Keras.
        taps_y = [(src_y.round().long(), None)]
        taps_x = [(src_x.round().long(), None)]
    else:
        low_y, low_x = src_y.floor(), src_x.floor()
        frac_y, frac_x = src_y - low_y, src_x - low_x
        low_y_i, low_x_i = low_y.long(), low_x.long()
        taps_y = [(low_y_i, 1 - frac_y), (low_y_i + 1, frac_y)]
        taps_x = [(low_x_i, 1 - frac_x), (low_x_i + 1, frac_x)]

    rows = torch.arange(batch, device=images.device)[:, None, None]
    fill = int(fill_value) if integer else fill_value
    terms = []
    for iy, wy in taps_y:
        for ix, wx in taps_x:
            value = images[rows, _fix_index(iy, height, fill_mode), _fix_index(ix, width, fill_mode)]
            if fill_mode == "constant":
                inside = (iy >= 0) & (iy < height) & (ix >= 0) & (ix < width)
                value = torch.where(
                    inside[..., None], value, torch.as_tensor(fill, dtype=value.dtype, device=value.device)
                )
            if wy is not None and wx is not None:
                value = (wy * wx)[..., None] * value
            terms.append(value)
    out = terms[0]
    for term in terms[1:]:
        out = out + term
    if integer and out.is_floating_point():
        out = out.round()
    out = out.to(images.dtype)
    if data_format == "channels_first":
        out = out.permute(0, 3, 1, 2)
    return out.squeeze(0) if unbatched else out
