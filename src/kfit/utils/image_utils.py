"""Images to and from files and arrays through PIL: `load_img`, `img_to_array`, `array_to_img`
and `save_img` (`keras.utils`).

PIL (`pip install pillow`) is imported by each function when called, so `import kfit` does not
need it. Arrays are `(height, width, channels)` (channels first with
`data_format="channels_first"`); `data_format=None` means `kfit.backend.image_data_format()`
and `dtype=None` means `kfit.backend.floatx()`, as in Keras.
"""

from __future__ import annotations

import io
import os
import pathlib
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from kfit.utils.errors import received

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]

COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
# Keras's names for PIL's resampling filters (`load_img`'s `interpolation`).
PIL_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def pil_image() -> Any:
    """The `PIL.Image` module, or an ImportError that says how to install it."""
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(
            "Expected the Pillow package for reading and writing images. Received: no module "
            "named PIL. Install it with `pip install pillow`."
        ) from e
    return Image


def _resolve(data_format: str | None, dtype: Any) -> tuple[str, Any]:
    from kfit.backend.config import floatx, standardize_data_format

    return standardize_data_format(data_format), floatx() if dtype is None else dtype


def convert_color(img: Image, color_mode: str) -> Image:
    """`img` in `color_mode`'s PIL mode; 16- and 32-bit grayscale stay as they are (as in Keras)."""
    if color_mode not in COLOR_MODES:
        raise ValueError(
            f"Expected `color_mode` to be one of {tuple(COLOR_MODES)}. {received('color_mode', color_mode)}"
        )
    if color_mode == "grayscale" and img.mode in ("L", "I;16", "I"):
        return img
    target = COLOR_MODES[color_mode]
    return img if img.mode == target else img.convert(target)


def load_img(
    path: str | os.PathLike[str] | bytes | io.BytesIO,
    color_mode: str = "rgb",
    target_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
) -> Image:
    """Reads an image file into a PIL image, optionally converted and resized.

    Args:
        path: The file's path, or an `io.BytesIO` holding the file.
        color_mode: `"rgb"`, `"rgba"` or `"grayscale"`: the image is converted to it.
        target_size: `(height, width)` to resize to, or None to keep the file's size.
        interpolation: PIL's resampling filter: `"nearest"`, `"bilinear"`, `"bicubic"`,
            `"hamming"`, `"box"` or `"lanczos"`.
        keep_aspect_ratio: Whether to crop the largest centred box of the target's aspect
            ratio before resizing, instead of stretching.

    Returns:
        A `PIL.Image.Image` (the file is read fully and closed).

    Raises:
        ImportError: if Pillow is not installed.
        TypeError: if `path` is neither a path nor a `BytesIO`.
        ValueError: for an unknown `color_mode` or `interpolation`.

    Example:
        >>> import os, tempfile, numpy as np
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "red.png")
        >>> save_img(path, np.full((4, 6, 3), [255, 0, 0]), scale=False)
        >>> img = load_img(path, target_size=(2, 3))
        >>> img.size, img.getpixel((0, 0))
        ((3, 2), (255, 0, 0))
        >>> folder.cleanup()
    """
    image = pil_image()
    if color_mode not in COLOR_MODES:
        raise ValueError(
            f"Expected `color_mode` to be one of {tuple(COLOR_MODES)}. {received('color_mode', color_mode)}"
        )
    if target_size is not None and interpolation not in PIL_INTERPOLATIONS:
        raise ValueError(
            f"Expected `interpolation` to be one of {PIL_INTERPOLATIONS}. {received('interpolation', interpolation)}"
        )
    if isinstance(path, io.BytesIO):
        img = image.open(path)
    elif isinstance(path, (str, bytes, os.PathLike)):
        # Read whole so that no file handle stays open behind the lazy PIL image.
        with open(path, "rb") as f:
            img = image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(
            f"Expected `path` to be a file path or an io.BytesIO. {received('path', path)} Pass the image file's path."
        )
    img = convert_color(img, color_mode)
    if target_size is None:
        return img
    size = (int(target_size[1]), int(target_size[0]))
    if img.size == size:
        return img
    resample = getattr(image.Resampling, interpolation.upper())
    if not keep_aspect_ratio:
        return img.resize(size, resample)
    width, height = img.size
    crop_w = min(width, height * size[0] // size[1])
    crop_h = min(height, width * size[1] // size[0])
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return img.resize(size, resample, box=(left, top, left + crop_w, top + crop_h))


def img_to_array(img: Any, data_format: str | None = None, dtype: Any = None) -> np.ndarray:
    """A PIL image as a 3D numpy array (a grayscale image gets a channel axis of 1).

    Args:
        img: A PIL image (or anything `numpy.asarray` turns into a 2D or 3D array).
        data_format: `"channels_last"`, `"channels_first"` or None (the global setting).
        dtype: The array's dtype; None means `kfit.backend.floatx()`.

    Returns:
        `(height, width, channels)`, or `(channels, height, width)` for channels_first.

    Raises:
        ValueError: if the image is not 2D or 3D.

    Example:
        >>> from PIL import Image
        >>> img_to_array(Image.new("L", (3, 2), 7)).shape
        (2, 3, 1)
    """
    data_format, dtype = _resolve(data_format, dtype)
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 2:
        x = x[np.newaxis] if data_format == "channels_first" else x[..., np.newaxis]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f"Expected an image of rank 2 or 3. Received: an array of shape {x.shape}. Pass one image.")
    return x


def array_to_img(x: Any, data_format: str | None = None, scale: bool = True, dtype: Any = None) -> Image:
    """A 3D array (1, 3 or 4 channels) as a PIL image.

    Args:
        x: The image, `(height, width, channels)` (channels first per `data_format`).
        data_format: `"channels_last"`, `"channels_first"` or None (the global setting).
        scale: Whether to stretch the values to fill 0..255 (min to 0, max to 255); else
            they are cast to uint8 as they are.
        dtype: The dtype the values are computed in; None means `kfit.backend.floatx()`.

    Returns:
        An `"L"` (or `"I"` for unscaled values above 255), `"RGB"` or `"RGBA"` PIL image.

    Raises:
        ImportError: if Pillow is not installed.
        ValueError: if `x` is not rank 3 or has another number of channels.

    Example:
        >>> import numpy as np
        >>> img = array_to_img(np.array([[[0.0], [0.5]], [[1.0], [0.25]]]))
        >>> img.mode, np.asarray(img).tolist()
        ('L', [[0, 127], [255, 63]])
    """
    data_format, dtype = _resolve(data_format, dtype)
    image = pil_image()
    x = np.array(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError(
            f"Expected one image of rank 3. Received: an array of shape {x.shape}. "
            "Index a batch (x[0]) or add a channel axis."
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x /= peak
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(
        f"Expected 1, 3 or 4 channels. Received: an image of shape {x.shape} ({channels} "
        "channels). Check `data_format`."
    )


def save_img(
    path: str | os.PathLike[str] | Any,
    x: Any,
    data_format: str | None = None,
    file_format: str | None = None,
    scale: bool = True,
    **kwargs: Any,
) -> None:
    """Writes an array as an image file, atomically (a crash leaves any old file intact).

    Args:
        path: The file's path, or an open binary file (then `file_format` is needed).
        x: The image array, as `array_to_img` takes it.
        data_format: `"channels_last"`, `"channels_first"` or None (the global setting).
        file_format: PIL's format name (`"png"`, `"jpeg"`, ...); None uses the extension.
        scale: Whether to stretch the values to fill 0..255 (see `array_to_img`).
        **kwargs: Passed to `PIL.Image.Image.save` (e.g. `quality=90`).

    Raises:
        ImportError: if Pillow is not installed.
        ValueError: if the format is unknown to PIL, or missing.

    Example:
        >>> import os, tempfile, numpy as np
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "gray.png")
        >>> save_img(path, np.zeros((2, 2, 1)))
        >>> load_img(path, color_mode="grayscale").size
        (2, 2)
        >>> folder.cleanup()
    """
    from kfit.saving.atomic import atomic_write

    data_format, _ = _resolve(data_format, None)
    image = pil_image()
    to_file = isinstance(path, (str, os.PathLike))
    if file_format is None and to_file:
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    image.init()
    if not file_format or file_format.upper() not in image.SAVE:
        raise ValueError(
            f"Expected an image format PIL can write, from `file_format` or the file extension. "
            f"Received: path={path!r}, file_format={file_format!r}. Use an extension such as "
            "'.png' or '.jpg', or pass file_format='png'."
        )
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format.lower() == "jpeg":
        warnings.warn("JPEG cannot store an alpha channel: the image is saved as RGB.", stacklevel=2)
        img = img.convert("RGB")
    if not to_file:
        img.save(path, format=file_format, **kwargs)
        return
    with atomic_write(path, "wb") as f:
        img.save(f, format=file_format, **kwargs)
