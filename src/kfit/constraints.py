"""Weight constraints with Keras 3's names, defaults and formulas.

A constraint is a callable from a weight to its projection (clipped, rescaled). A layer's
`kernel_constraint` / `bias_constraint` (or `add_weight(constraint=...)`) attaches one to the
weight as `variable.constraint`, and kfit's optimizers, like Keras's, replace the weight by
`constraint(weight)` after each update. Any function `fn(w) -> tensor of w's shape` works; the
classes here add a config, so that a layer that holds one can be saved and rebuilt.

The norm-based constraints compute `norms = sqrt(sum(w², axis, keepdims))` and rescale by
`desired / (epsilon + norms)`, with `kfit.backend.epsilon()` (1e-7) as in Keras: a norm already
within bounds still shrinks by that relative epsilon.

Identifiers, as layers accept them (`get`): None, a name (`"max_norm"`, `"non_neg"`,
`"unit_norm"`, `"min_max_norm"`, or a class name such as `"MaxNorm"`), a config dict from
`serialize`, a `Constraint` class or instance, or a callable.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Union

import torch

from kfit.backend.config import epsilon
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from kfit.utils.errors import received, unknown_identifier_error

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]

ConstraintLike = Union["Constraint", Callable[[torch.Tensor], torch.Tensor]]
Axis = int | Sequence[int]


def _dims(axis: Any) -> int | tuple[int, ...]:
    """`axis` as torch's `dim` (a tuple for several axes), or a ValueError."""
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    if isinstance(axis, (list, tuple)) and all(
        isinstance(a, int) and not isinstance(a, bool) for a in axis
    ):
        return tuple(axis)
    raise ValueError(
        f"Expected `axis` to be an integer or a list of integers. {received('axis', axis)} "
        "Pass e.g. axis=0 for a Dense kernel, axis=[0, 1, 2] for a Conv2D kernel."
    )


def _norms(w: torch.Tensor, dims: int | tuple[int, ...]) -> torch.Tensor:
    return w.square().sum(dim=dims, keepdim=True).sqrt()


@register_keras_serializable(package="keras")
class Constraint:
    """Base class of constraints: a callable that projects a weight; the base returns it as is.

    Subclasses implement `__call__(w)`, returning a tensor of `w`'s shape, and, when they take
    arguments, `get_config()`.

    Example:
        >>> class Clip(Constraint):
        ...     def __init__(self, limit=1.0):
        ...         self.limit = limit
        ...     def __call__(self, w):
        ...         return w.clamp(-self.limit, self.limit)
        ...     def get_config(self):
        ...         return {"limit": self.limit}
        >>> Clip(0.5)(torch.tensor([-2.0, 0.25])).tolist()
        [-0.5, 0.25]
        >>> Clip.from_config(Clip(2.0).get_config()).limit
        2.0
    """

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        """Returns the projection of `w` (the base class returns `w` itself)."""
        return w

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-compatible dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        """Creates a constraint from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@register_keras_serializable(package="keras")
class MaxNorm(Constraint):
    """Rescales each weight vector whose L2 norm exceeds `max_value` down to `max_value`.

    Args:
        max_value: The largest norm allowed.
        axis: The axis (or axes) the norms are taken over: 0 for a Dense kernel `(in, out)`
            (one norm per unit), `[0, 1, 2]` for a Conv2D kernel `(kh, kw, in, out)`.

    Example:
        >>> w = torch.tensor([[3.0, 0.5], [4.0, 0.0]])
        >>> MaxNorm(max_value=1.0)(w)  # the first column had norm 5
        tensor([[0.6000, 0.5000],
                [0.8000, 0.0000]])
    """

    def __init__(self, max_value: float = 2, axis: Axis = 0) -> None:
        self._dims = _dims(axis)
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = _norms(w, self._dims)
        desired = norms.clamp(0, self.max_value)
        return w * (desired / (epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


@register_keras_serializable(package="keras")
class NonNeg(Constraint):
    """Sets negative weights to zero.

    Example:
        >>> NonNeg()(torch.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w.clamp(min=0)


@register_keras_serializable(package="keras")
class UnitNorm(Constraint):
    """Rescales each weight vector to unit L2 norm.

    Args:
        axis: The axis (or axes) the norms are taken over (see `MaxNorm`).

    Example:
        >>> UnitNorm()(torch.tensor([[3.0], [4.0]]))
        tensor([[0.6000],
                [0.8000]])
    """

    def __init__(self, axis: Axis = 0) -> None:
        self._dims = _dims(axis)
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w / (epsilon() + _norms(w, self._dims))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


@register_keras_serializable(package="keras")
class MinMaxNorm(Constraint):
    """Moves each weight vector's L2 norm into `[min_value, max_value]`, at speed `rate`.

    The new norm is `rate * clip(norm, min_value, max_value) + (1 - rate) * norm`: `rate=1`
    enforces the bounds at once, a smaller rate approaches them a little at each update.

    Args:
        min_value: The smallest norm allowed.
        max_value: The largest norm allowed.
        rate: How far each application moves the norm toward the interval (0 to 1).
        axis: The axis (or axes) the norms are taken over (see `MaxNorm`).

    Example:
        >>> w = torch.tensor([[0.3], [0.4]])
        >>> MinMaxNorm(min_value=1.0, max_value=2.0)(w)  # norm 0.5 raised to 1
        tensor([[0.6000],
                [0.8000]])
    """

    def __init__(
        self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Axis = 0
    ) -> None:
        self._dims = _dims(axis)
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = _norms(w, self._dims)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


# Keras's snake_case names for the classes (`keras.constraints.max_norm` is `MaxNorm`).
max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

_CLASSES: tuple[type[Constraint], ...] = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
_BY_NAME: dict[str, type[Constraint]] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update(
    {
        "constraint": Constraint,
        "max_norm": MaxNorm,
        "non_neg": NonNeg,
        "unit_norm": UnitNorm,
        "min_max_norm": MinMaxNorm,
    }
)


def _from_name(name: str) -> Constraint:
    cls = _BY_NAME.get(name)
    if cls is None:
        raise unknown_identifier_error("constraint", name, _BY_NAME)
    return cls()


def serialize(constraint: ConstraintLike | None) -> Any:
    """Returns Keras's JSON-ready record of `constraint` (None for None).

    A `Constraint` becomes `{"module", "class_name", "config", "registered_name"}`; a named
    function is saved by name, as Keras saves it.

    Raises:
        ValueError: for a lambda, which cannot be saved by name.
        TypeError: for an object without `get_config()`.

    Example:
        >>> serialize(NonNeg())
        {'module': 'keras.constraints', 'class_name': 'NonNeg', 'config': {}, 'registered_name': None}
    """
    return serialize_keras_object(constraint)


def deserialize(
    config: dict[str, Any] | str, custom_objects: dict[str, Any] | None = None
) -> ConstraintLike:
    """Rebuilds a constraint from `serialize()`'s output (or a Keras-saved record, or a name).

    Args:
        config: A record, or a name as `get` accepts it.
        custom_objects: Maps names to user constraint classes or functions.

    Raises:
        ValueError: for an unknown name.
        TypeError: for a record whose class cannot be found.

    Example:
        >>> deserialize(serialize(MaxNorm(3.0, axis=[0, 1])))
        MaxNorm(max_value=3.0, axis=[0, 1])
    """
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            found: Any = custom_objects[config]
            instance: Any = found() if inspect.isclass(found) else found
            return instance
        return _from_name(config)
    return deserialize_keras_object(config, custom_objects, module_objects=_BY_NAME)


def get(identifier: Any) -> ConstraintLike | None:
    """Resolves a constraint identifier, as layers accept it (see the module docstring).

    Raises:
        ValueError: for an unknown name or an object that is not callable.

    Example:
        >>> get("max_norm"), get(None) is None
        (MaxNorm(max_value=2, axis=0), True)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return _from_name(identifier)
    found = deserialize(identifier) if isinstance(identifier, dict) else identifier
    if inspect.isclass(found):
        found = found()
    if not callable(found):
        raise ValueError(
            "Could not interpret constraint identifier: expected None, a name such as "
            f"'max_norm', a config dict, a Constraint or a callable. "
            f"{received('identifier', identifier)} "
            "Pass e.g. kernel_constraint=kfit.constraints.MaxNorm(3)."
        )
    return found
