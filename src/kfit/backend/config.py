"""Global numeric settings that Keras exposes through `keras.backend`."""

from __future__ import annotations

import torch

__all__ = [
    "epsilon",
    "floatx",
    "image_data_format",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "standardize_data_format",
]

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_DATA_FORMATS = ("channels_last", "channels_first")


def floatx() -> str:
    """Returns the default float type as a string, `"float32"` unless changed.

    Example:
        >>> floatx()
        'float32'
    """
    return _FLOATX


def set_floatx(value: str) -> None:
    """Sets the default float type (`"float16"`, `"bfloat16"`, `"float32"` or `"float64"`).

    It becomes torch's default dtype too (`torch.set_default_dtype`): layers create their
    weights, and ops their float tensors, in torch's default dtype, so that is what makes
    `set_floatx("float64")` give float64 layers, as it does in Keras.

    Example:
        >>> import torch
        >>> set_floatx("float64")
        >>> floatx(), torch.get_default_dtype()
        ('float64', torch.float64)
        >>> set_floatx("float32")
    """
    global _FLOATX
    allowed = ("float16", "bfloat16", "float32", "float64")
    if value not in allowed:
        raise ValueError(
            f"Expected `value` to be one of {allowed}. Received: value={value!r} "
            f"(of type {type(value).__name__}). Pass one of the listed names."
        )
    _FLOATX = value
    torch.set_default_dtype(getattr(torch, value))


def epsilon() -> float:
    """Returns the fuzz factor used in numeric expressions, 1e-7 as in Keras.

    Example:
        >>> epsilon()
        1e-07
    """
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Sets the fuzz factor returned by `epsilon()`."""
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """Returns the default layout of image-like tensors, `"channels_last"` as in Keras.

    Example:
        >>> image_data_format()
        'channels_last'
    """
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Sets the layout that layers use when their `data_format` is None."""
    global _IMAGE_DATA_FORMAT
    _IMAGE_DATA_FORMAT = _check_data_format(data_format)


def standardize_data_format(data_format: str | None) -> str:
    """A layer's `data_format` argument resolved: None means `image_data_format()`.

    Example:
        >>> standardize_data_format(None), standardize_data_format("channels_first")
        ('channels_last', 'channels_first')
    """
    return _IMAGE_DATA_FORMAT if data_format is None else _check_data_format(data_format)


def _check_data_format(data_format: object) -> str:
    value = data_format.lower() if isinstance(data_format, str) else data_format
    if value not in _DATA_FORMATS:
        raise ValueError(
            f"Expected `data_format` to be one of {_DATA_FORMATS}. Received: "
            f"data_format={data_format!r} (of type {type(data_format).__name__}). Pass "
            "'channels_last' (samples, ..., channels) or 'channels_first' (samples, channels, ...)."
        )
    return str(value)
