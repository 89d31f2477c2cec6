"""The single place where values cross from the device to the host.

Every device-to-host transfer that kfit makes on its own goes through `to_host`, so that
a test can count them (and so that there is one line to read when a step is slow on a GPU:
each call is a sync that drains the device queue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["pythonify_logs", "scalars_to_floats", "to_host"]


def to_host(value: torch.Tensor) -> np.ndarray:
    """Copies a tensor to host memory as a numpy array (a device sync on accelerators).

    Example:
        >>> to_host(torch.ones(2)).tolist()
        [1.0, 1.0]
    """
    value = value.detach()
    if value.dtype == torch.bfloat16:
        # numpy has no bfloat16 (Keras returns ml_dtypes' type); float32 holds each value exactly.
        value = value.float()
    return value.cpu().numpy()


def scalars_to_floats(values: Sequence[torch.Tensor]) -> list[float]:
    """Converts 0-d tensors to Python floats in one batched transfer.

    Stacking first makes N metrics cost one sync instead of N `.item()` calls.

    Example:
        >>> scalars_to_floats([torch.tensor(1.5), torch.tensor(2.0)])
        [1.5, 2.0]
    """
    if not values:
        return []
    dtype = values[0].dtype
    if dtype not in (torch.float32, torch.float64) or any(v.dtype != dtype for v in values):
        # One dtype numpy has, so that `stack` and `numpy()` take them (bfloat16 has none).
        values = [v.to(torch.float64) for v in values]
    # numpy's `tolist` widens float32 to Python floats exactly; `to_host` detaches the stack.
    return to_host(torch.stack([v if v.dim() == 0 else v.reshape(()) for v in values])).tolist()


def pythonify_logs(logs: Mapping[str, Any]) -> dict[str, Any]:
    """Logs as callbacks see them: nested dicts flattened, 0-d tensors as floats, keys sorted.

    Every 0-d tensor is read in one batched transfer (`scalars_to_floats`); a tensor of
    several values (a metric with a list of thresholds) becomes a numpy array; other values
    (floats, arrays, strings) pass through. A `train_step` may return `{"loss": t,
    "compile_metrics": {"mae": t2}}`, as Keras's guide does; this gives `{"loss", "mae"}`.

    Example:
        >>> pythonify_logs({"loss": torch.tensor(0.5), "more": {"mae": torch.tensor(2.0)}, "lr": 0.1})
        {'loss': 0.5, 'lr': 0.1, 'mae': 2.0}
    """
    flat: dict[str, Any] = {}
    _flatten_into(flat, logs)
    names = [k for k, v in flat.items() if isinstance(v, torch.Tensor) and v.numel() == 1]
    for name, value in zip(names, scalars_to_floats([flat[n] for n in names])):
        flat[name] = value
    for name, value in flat.items():
        if isinstance(value, torch.Tensor):
            # A metric with several values (e.g. one per threshold): numpy, as in Keras.
            flat[name] = to_host(value)
    return dict(sorted(flat.items()))


def _flatten_into(flat: dict[str, Any], logs: Mapping[str, Any]) -> None:
    for key, value in logs.items():
        if isinstance(value, Mapping):
            _flatten_into(flat, value)
        else:
            flat[key] = value
