"""Torch mechanics behind the trainer: devices, variables, host conversion, and `keras.backend` shims."""

from kfit.backend.config import (
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
    standardize_data_format,
)
from kfit.backend.conversion import scalars_to_floats, to_host
from kfit.backend.session import clear_session
from kfit.backend.values import get_value, set_value
from kfit.backend.variables import Variable

__all__ = [
    "Variable",
    "clear_session",
    "epsilon",
    "floatx",
    "get_value",
    "image_data_format",
    "scalars_to_floats",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "set_value",
    "standardize_data_format",
    "to_host",
]
