"""Global numeric settings that Keras exposes through `keras.backend`."""

from __future__ import annotations

__all__ = ["epsilon", "floatx", "set_epsilon", "set_floatx"]

_FLOATX = "float32"
_EPSILON = 1e-7


def floatx() -> str:
    """Returns the default float type as a string, `"float32"` unless changed.

    Example:
        >>> floatx()
        'float32'
    """
    return _FLOATX


def set_floatx(value: str) -> None:
    """Sets the default float type (`"float16"`, `"bfloat16"`, `"float32"` or `"float64"`)."""
    global _FLOATX
    allowed = ("float16", "bfloat16", "float32", "float64")
    if value not in allowed:
        raise ValueError(
            f"Expected `value` to be one of {allowed}. Received: value={value!r} "
            f"(of type {type(value).__name__}). Pass one of the listed names."
        )
    _FLOATX = value


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
