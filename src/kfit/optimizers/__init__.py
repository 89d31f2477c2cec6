"""Keras 3 optimizers on PyTorch: `SGD`, `RMSprop`, `Adam`, `AdamW`, `Adagrad`.

Listed in order of increasing complexity; each is a small update rule over the shared
`Optimizer` base, which handles building, clipping, weight decay, EMA, gradient
accumulation, learning rate schedules and state dicts.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from kfit.optimizers import schedules
from kfit.optimizers.adagrad import Adagrad
from kfit.optimizers.adam import Adam
from kfit.optimizers.adamw import AdamW
from kfit.optimizers.loss_scale_optimizer import LossScaleOptimizer
from kfit.optimizers.optimizer import Optimizer, OptimizerVariable
from kfit.optimizers.rmsprop import RMSprop
from kfit.optimizers.sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "LossScaleOptimizer",
    "Optimizer",
    "OptimizerVariable",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

# The built-in classes, each with a default for every argument (the base needs `learning_rate`).
_BuiltIn = type[SGD] | type[RMSprop] | type[Adam] | type[AdamW] | type[Adagrad]

_BY_NAME: dict[str, _BuiltIn] = {
    cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adam, AdamW, Adagrad)
}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Returns a JSON-compatible dict describing `optimizer`'s configuration (not its state).

    Example:
        >>> serialize(Adam())["class_name"]
        'Adam'
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "Expected `optimizer` to be a kfit optimizer. "
            f"Received: optimizer={optimizer!r} (of type {type(optimizer).__name__}). "
            "Pass an instance such as `kfit.optimizers.Adam()`."
        )
    cls = type(optimizer)
    builtin = _BY_NAME.get(cls.__name__.lower()) is cls or cls is LossScaleOptimizer
    return {
        "module": "keras.optimizers" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": optimizer.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
    """Creates an optimizer from `serialize()`'s output or a Keras-saved config.

    Args:
        config: A dict with `class_name` (matched case-insensitively) and `config` keys.
        custom_objects: Maps class names to user-defined optimizer or schedule classes.

    Example:
        >>> deserialize({"class_name": "SGD", "config": {"learning_rate": 0.1}}).learning_rate
        <OptimizerVariable path=learning_rate value=0.1>
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(
            "Expected `config` to be a dict with 'class_name' and 'config' keys. "
            f"Received: config={config!r} (of type {type(config).__name__}). "
            "Pass the output of `kfit.optimizers.serialize(optimizer)`."
        )
    custom = custom_objects or {}
    class_name = config["class_name"]
    # A LossScaleOptimizer wraps another (no default for it): it is read from a config only.
    cls = custom.get(class_name) or (LossScaleOptimizer if class_name == "LossScaleOptimizer" else _lookup(class_name))
    return cls.from_config(config.get("config", {}), custom_objects=custom_objects)


def _lookup(name: str) -> _BuiltIn:
    cls = _BY_NAME.get(str(name).lower())
    if cls is None:
        matches = difflib.get_close_matches(str(name).lower(), list(_BY_NAME), n=3)
        hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
        raise ValueError(
            f"Expected `identifier` to name an optimizer, one of {sorted(_BY_NAME)}. "
            f"Received: identifier={name!r} (of type {type(name).__name__}).{hint} "
            "Names are case-insensitive; pass an Optimizer instance for anything else."
        )
    return cls


def get(identifier: str | dict[str, Any] | Optimizer | type[Optimizer] | None) -> Optimizer | None:
    """Resolves an optimizer identifier, as `compile(optimizer=...)` accepts it.

    Args:
        identifier: A name (`"adam"`, `"RMSprop"`, ...; case-insensitive, giving a new
            instance with default arguments), a config dict from `serialize`, an
            `Optimizer` instance (returned as is), an `Optimizer` subclass (instantiated),
            or None (returned as is).

    Returns:
        An optimizer, or None for None.

    Example:
        >>> get("adam")
        Adam ()
        >>> get("rmsprop").learning_rate
        <OptimizerVariable path=learning_rate value=0.001>
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Optimizer):
        # A subclass passed here is expected to default `learning_rate`, as the built-ins do;
        # the type checker sees only the base's signature, which requires it.
        return identifier()  # type: ignore[call-arg]
    raise TypeError(
        "Expected `identifier` to be an optimizer name, a config dict or a "
        "kfit.optimizers.Optimizer instance. "
        f"Received: identifier={identifier!r} (of type {type(identifier).__name__}). "
        "Pass e.g. 'adam' or `kfit.optimizers.Adam(learning_rate=1e-3)`; a plain "
        "torch.optim optimizer cannot follow Keras's build and config protocol."
    )
