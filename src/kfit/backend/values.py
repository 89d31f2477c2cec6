"""`get_value`/`set_value`, which Keras 3 removed and the callbacks guide still uses."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kfit.backend.conversion import to_host

__all__ = ["get_value", "set_value"]


def get_value(x: Any) -> Any:
    """Returns the value of a tensor or variable-like object as numpy (or a Python scalar).

    Example:
        >>> import kfit
        >>> opt = kfit.optimizers.SGD(learning_rate=0.5)
        >>> float(get_value(opt.learning_rate))
        0.5
    """
    if isinstance(x, torch.Tensor):
        return to_host(x)
    if hasattr(x, "numpy"):
        return x.numpy()
    return np.asarray(x)


def set_value(x: Any, value: Any) -> None:
    """Assigns `value` to a variable-like object (anything with `assign`) or a tensor in place.

    Example:
        >>> import kfit
        >>> opt = kfit.optimizers.SGD()
        >>> set_value(opt.lr, 0.25)
        >>> opt.learning_rate.numpy()
        array(0.25, dtype=float32)
    """
    if hasattr(x, "assign"):
        x.assign(value)
        return
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            x.copy_(torch.as_tensor(np.asarray(value), dtype=x.dtype, device=x.device))
        return
    raise TypeError(
        "Expected `x` to be a variable (such as `optimizer.learning_rate`) or a torch.Tensor. "
        f"Received: x={x!r} (of type {type(x).__name__}). Pass the variable itself, e.g. "
        "`set_value(model.optimizer.learning_rate, 0.01)`, or assign the attribute directly."
    )
