"""`keras.config`: the process-wide settings, gathered in one namespace as Keras 3 has them.

Each function is the one kfit already uses elsewhere (`kfit.backend` for the numeric settings,
`kfit.mixed_precision` for the dtype policy, `kfit.utils` for interactive logging); this module
only gives them Keras's names and place, so `keras.config.set_floatx("float64")` runs as is.

Example:
    >>> import kfit
    >>> kfit.config.backend(), kfit.config.floatx(), kfit.config.image_data_format()
    ('torch', 'float32', 'channels_last')
"""

from __future__ import annotations

from kfit.backend.config import (
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from kfit.mixed_precision.policy import dtype_policy, set_dtype_policy
from kfit.utils.io_utils import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)

__all__ = [
    "backend",
    "disable_interactive_logging",
    "dtype_policy",
    "enable_interactive_logging",
    "epsilon",
    "floatx",
    "image_data_format",
    "is_interactive_logging_enabled",
    "set_dtype_policy",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
]


def backend() -> str:
    """The name of the backend: always `"torch"`, the one Keras backend kfit implements.

    Example:
        >>> backend()
        'torch'
    """
    return "torch"
