"""Activation functions with the definitions and defaults of `keras.activations` (Keras 3).

Each function takes a tensor (array-likes are converted) and applies the matching torch op,
so outputs agree with Keras's torch backend.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as tnn

__all__ = [
    "celu",
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
    "tanh_shrink",
]

Activation = Callable[..., torch.Tensor]


def _tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    array = np.asarray(x)
    if array.dtype == np.float64 and not isinstance(x, np.ndarray):
        array = array.astype(np.float32)
    return torch.as_tensor(array)


def relu(
    x: Any, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> torch.Tensor:
    """Rectified linear unit, optionally leaky, capped and shifted.

    Returns `x` where `x > threshold`, `negative_slope * (x - threshold)` below it, and caps
    the result at `max_value`.

    Args:
        x: Input tensor.
        negative_slope: Slope below the threshold.
        max_value: Upper bound of the output, if any.
        threshold: Values at or below it are zeroed (or scaled by `negative_slope`).

    Example:
        >>> relu(torch.tensor([-2.0, 0.5, 8.0]), max_value=6.0)
        tensor([0.0000, 0.5000, 6.0000])
    """
    x = _tensor(x)
    negative_part: torch.Tensor | None = None
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return tnn.leaky_relu(x, negative_slope=negative_slope)
        negative_part = tnn.relu(-x + threshold) if threshold != 0 else tnn.relu(-x)
    clip_max = max_value is not None
    if threshold != 0:
        x = torch.where(x > threshold, x, 0.0)
    elif max_value == 6:
        # The fused relu6 kernel already caps at 6.
        x = tnn.relu6(x)
        clip_max = False
    else:
        x = tnn.relu(x)
    if clip_max:
        x = torch.clamp(x, 0.0, max_value)
    if negative_part is not None:
        x = x - negative_slope * negative_part
    return x


def leaky_relu(x: Any, negative_slope: float = 0.2) -> torch.Tensor:
    """Leaky ReLU: `x` for positive inputs, `negative_slope * x` otherwise.

    Example:
        >>> leaky_relu(torch.tensor([-1.0, 2.0]))
        tensor([-0.2000,  2.0000])
    """
    return tnn.leaky_relu(_tensor(x), negative_slope=negative_slope)


def relu6(x: Any) -> torch.Tensor:
    """ReLU capped at 6: `min(max(x, 0), 6)`.

    Example:
        >>> relu6(torch.tensor([-1.0, 7.0]))
        tensor([0., 6.])
    """
    return tnn.relu6(_tensor(x))


def elu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit: `x` if `x > 0` else `alpha * (exp(x) - 1)`.

    Example:
        >>> elu(torch.tensor([0.0, 1.0]))
        tensor([0., 1.])
    """
    return tnn.elu(_tensor(x), alpha)


def selu(x: Any) -> torch.Tensor:
    """Scaled ELU with the self-normalizing constants (alpha ~1.6733, scale ~1.0507).

    Example:
        >>> selu(torch.tensor([0.0]))
        tensor([0.])
    """
    return tnn.selu(_tensor(x))


def celu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """Continuously differentiable ELU: `max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`.

    Example:
        >>> celu(torch.tensor([0.0, 2.0]))
        tensor([0., 2.])
    """
    return tnn.celu(_tensor(x), alpha=alpha)


def gelu(x: Any, approximate: bool = False) -> torch.Tensor:
    """Gaussian error linear unit; exact (erf-based) unless `approximate=True` (tanh form).

    Example:
        >>> gelu(torch.tensor([0.0]))
        tensor([0.])
    """
    x = _tensor(x)
    if approximate:
        return tnn.gelu(x, approximate="tanh")
    return tnn.gelu(x)


def silu(x: Any) -> torch.Tensor:
    """Sigmoid linear unit (swish): `x * sigmoid(x)`.

    Example:
        >>> silu(torch.tensor([0.0]))
        tensor([0.])
    """
    return tnn.silu(_tensor(x))


swish = silu


def mish(x: Any) -> torch.Tensor:
    """Mish: `x * tanh(softplus(x))`.

    Example:
        >>> mish(torch.tensor([0.0]))
        tensor([0.])
    """
    x = _tensor(x)
    return x * torch.tanh(tnn.softplus(x))


def softplus(x: Any) -> torch.Tensor:
    """Softplus: `log(exp(x) + 1)`.

    Example:
        >>> softplus(torch.tensor([0.0]))
        tensor([0.6931])
    """
    return tnn.softplus(_tensor(x))


def softsign(x: Any) -> torch.Tensor:
    """Softsign: `x / (abs(x) + 1)`.

    Example:
        >>> softsign(torch.tensor([1.0]))
        tensor([0.5000])
    """
    return tnn.softsign(_tensor(x))


def sigmoid(x: Any) -> torch.Tensor:
    """Logistic sigmoid: `1 / (1 + exp(-x))`.

    Example:
        >>> sigmoid(torch.tensor([0.0]))
        tensor([0.5000])
    """
    return torch.sigmoid(_tensor(x))


def hard_sigmoid(x: Any) -> torch.Tensor:
    """Piecewise-linear sigmoid of Keras 3: `relu6(x + 3) / 6` (0 below -3, 1 above 3).

    Example:
        >>> hard_sigmoid(torch.tensor([-4.0, 0.0, 4.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return tnn.hardsigmoid(_tensor(x))


def hard_silu(x: Any) -> torch.Tensor:
    """Hard SiLU (hard swish): `x * hard_sigmoid(x)`.

    Example:
        >>> hard_silu(torch.tensor([0.0, 4.0]))
        tensor([0., 4.])
    """
    return tnn.hardswish(_tensor(x))


hard_swish = hard_silu


def log_sigmoid(x: Any) -> torch.Tensor:
    """Logarithm of the sigmoid, computed stably: `-softplus(-x)`.

    Example:
        >>> log_sigmoid(torch.tensor([0.0]))
        tensor([-0.6931])
    """
    return tnn.logsigmoid(_tensor(x))


def tanh(x: Any) -> torch.Tensor:
    """Hyperbolic tangent.

    Example:
        >>> tanh(torch.tensor([0.0]))
        tensor([0.])
    """
    return torch.tanh(_tensor(x))


def hard_tanh(x: Any) -> torch.Tensor:
    """Tanh approximated by clipping to [-1, 1].

    Example:
        >>> hard_tanh(torch.tensor([-2.0, 0.5]))
        tensor([-1.0000,  0.5000])
    """
    return tnn.hardtanh(_tensor(x), min_val=-1.0, max_val=1.0)


def tanh_shrink(x: Any) -> torch.Tensor:
    """`x - tanh(x)`.

    Example:
        >>> tanh_shrink(torch.tensor([0.0]))
        tensor([0.])
    """
    return tnn.tanhshrink(_tensor(x))


def soft_shrink(x: Any, threshold: float = 0.5) -> torch.Tensor:
    """Shrinks values towards 0 by `threshold`, zeroing those within `[-threshold, threshold]`.

    Example:
        >>> soft_shrink(torch.tensor([-1.0, 0.2, 1.0]))
        tensor([-0.5000,  0.0000,  0.5000])
    """
    return tnn.softshrink(_tensor(x), lambd=threshold)


def hard_shrink(x: Any, threshold: float = 0.5) -> torch.Tensor:
    """Zeroes values within `[-threshold, threshold]` and keeps the others.

    Example:
        >>> hard_shrink(torch.tensor([-1.0, 0.2]))
        tensor([-1.,  0.])
    """
    return tnn.hardshrink(_tensor(x), lambd=threshold)


def softmax(x: Any, axis: int = -1) -> torch.Tensor:
    """Softmax over `axis`: `exp(x) / sum(exp(x))`.

    Example:
        >>> softmax(torch.tensor([[0.0, 0.0]]))
        tensor([[0.5000, 0.5000]])
    """
    return tnn.softmax(_tensor(x), dim=axis)


def log_softmax(x: Any, axis: int = -1) -> torch.Tensor:
    """Logarithm of the softmax over `axis`, computed stably.

    Example:
        >>> log_softmax(torch.tensor([[0.0, 0.0]]))
        tensor([[-0.6931, -0.6931]])
    """
    return tnn.log_softmax(_tensor(x), dim=axis)


def glu(x: Any, axis: int = -1) -> torch.Tensor:
    """Gated linear unit: splits `x` in two halves `a, b` along `axis` and returns `a * sigmoid(b)`.

    Example:
        >>> glu(torch.tensor([[2.0, 0.0]]))
        tensor([[1.]])
    """
    return tnn.glu(_tensor(x), dim=axis)


def exponential(x: Any) -> torch.Tensor:
    """Elementwise `exp(x)`.

    Example:
        >>> exponential(torch.tensor([0.0]))
        tensor([1.])
    """
    return torch.exp(_tensor(x))


def linear(x: Any) -> Any:
    """Identity: returns `x` unchanged.

    Example:
        >>> linear(torch.tensor([3.0]))
        tensor([3.])
    """
    return x


_FUNCTIONS: tuple[Activation, ...] = (
    relu,
    leaky_relu,
    relu6,
    elu,
    selu,
    celu,
    gelu,
    silu,
    mish,
    softplus,
    softsign,
    sigmoid,
    hard_sigmoid,
    hard_silu,
    log_sigmoid,
    tanh,
    hard_tanh,
    tanh_shrink,
    soft_shrink,
    hard_shrink,
    softmax,
    log_softmax,
    glu,
    exponential,
    linear,
)

_ALL_OBJECTS: dict[str, Activation] = {fn.__name__: fn for fn in _FUNCTIONS}
_ALL_OBJECTS["swish"] = silu
_ALL_OBJECTS["hard_swish"] = hard_silu


def _unknown_activation(identifier: Any) -> ValueError:
    matches = difflib.get_close_matches(str(identifier), sorted(_ALL_OBJECTS), n=3)
    hint = (
        f"Did you mean {' or '.join(repr(m) for m in matches)}?"
        if matches
        else f"Use one of {sorted(_ALL_OBJECTS)} or pass a callable."
    )
    return ValueError(
        "Could not interpret activation function identifier: expected the name of a "
        "built-in activation, a callable or None. "
        f"Received: identifier={identifier!r} (of type {type(identifier).__name__}). {hint}"
    )


def get(identifier: str | Activation | None) -> Activation:
    """Resolves an activation identifier as `keras.activations.get` does.

    `None` gives `linear`, a name gives the built-in function (`"swish"` and
    `"hard_swish"` are aliases), a callable is returned unchanged.

    Raises:
        ValueError: for an unknown name (close matches are suggested) or a non-callable.

    Example:
        >>> get("relu") is relu, get(None) is linear, get("swish") is silu
        (True, True, True)
    """
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier not in _ALL_OBJECTS:
            return deserialize(identifier)
        return _ALL_OBJECTS[identifier]
    if callable(identifier):
        return identifier
    raise _unknown_activation(identifier)


def serialize(activation: Activation) -> str | dict[str, Any]:
    """The name of a built-in activation (`"silu"` for its alias `swish`); for any other
    function, Keras's function record, which names it as the registry does
    (`"package>name"` once registered with `register_keras_serializable`).

    Example:
        >>> serialize(relu), serialize(swish)
        ('relu', 'silu')
        >>> def squared(x):
        ...     return x * x
        >>> serialize(squared)["config"]
        'squared'
    """
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(
            "Expected `activation` to be a named function. "
            f"Received: activation={activation!r} (of type {type(activation).__name__}). "
            "Pass a built-in activation or a function defined with `def`."
        )
    if _ALL_OBJECTS.get(name) is activation:
        return name
    from kfit.saving.object_registration import get_registered_name

    return {"module": "builtins", "class_name": "function", "config": get_registered_name(activation),
            "registered_name": "function"}


def deserialize(
    config: str | dict[str, Any], custom_objects: dict[str, Activation] | None = None
) -> Activation:
    """Looks an activation up by name (or by a Keras-style `{"config": name}` dict).

    Args:
        config: The activation name, or a dict whose `"config"` entry is the name.
        custom_objects: Extra name -> function mappings for user activations.

    Example:
        >>> deserialize("gelu") is gelu
        True
    """
    name = config.get("config") if isinstance(config, dict) else config
    table = {**_ALL_OBJECTS, **(custom_objects or {})}
    if isinstance(name, str) and name in table:
        return table[name]
    if isinstance(name, str):
        # A user function: registered (`"package>name"`), or in a custom_object_scope.
        from kfit.saving.object_registration import get_registered_object

        found = get_registered_object(name, custom_objects)
        if callable(found):
            return found
    raise _unknown_activation(name)
