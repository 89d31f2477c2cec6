"""Torch mechanics behind the trainer: devices, variables, host conversion, and `keras.backend` shims."""

from kfit.backend.config import epsilon, floatx, set_epsilon, set_floatx
from kfit.backend.conversion import scalars_to_floats, to_host
from kfit.backend.values import get_value, set_value
from kfit.backend.variables import Variable

__all__ = [
    "Variable",
    "epsilon",
    "floatx",
    "get_value",
    "scalars_to_floats",
    "set_epsilon",
    "set_floatx",
    "set_value",
    "to_host",
]
