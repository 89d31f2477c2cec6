"""Weight and activity penalties with Keras 3's names, defaults and formulas.

A regularizer is a callable from a tensor to a scalar tensor that is added to the training
loss: a layer's `kernel_regularizer` and `bias_regularizer` penalize its weights (their
penalties appear in `layer.losses` and `model.losses`), its `activity_regularizer` its output
(divided by the batch size). Any function `fn(x) -> scalar tensor` works as a regularizer; the
classes here add a config, so that a layer that holds one can be saved and rebuilt.

Identifiers, as layers accept them (`get`): None, a name (`"l1"`, `"l2"`, `"l1_l2"`,
`"orthogonal_regularizer"`, or a class name such as `"L2"`), a config dict from `serialize`,
a `Regularizer` class or instance, or a callable. A name builds the class with its defaults:
`"l1"` and `"l2"` give a factor of 0.01. `"l1_l2"` gives 0.01 for both factors, as Keras's
documentation says (Keras 3.15 itself rejects that string and reads `"l1l2"` as
`L1L2()`, whose factors default to 0: kfit reads `"l1l2"` the same way).
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any, Union

import torch

from kfit.backend.config import epsilon
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from kfit.utils.errors import received, unknown_identifier_error

__all__ = [
    "L1",
    "L1L2",
    "L2",
    "OrthogonalRegularizer",
    "Regularizer",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "orthogonal_regularizer",
    "serialize",
]

RegularizerLike = Union["Regularizer", Callable[[torch.Tensor], torch.Tensor]]


def _check_factor(name: str, value: Any) -> float:
    """A finite, non-negative number as a float, or a ValueError naming the argument."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"Expected `{name}` to be a finite, non-negative number. {received(name, value)} "
            f"Pass e.g. {name}=0.01 (0 turns the penalty off)."
        )
    return float(value)


@register_keras_serializable(package="keras")
class Regularizer:
    """Base class of regularizers: a callable from a weight (or activation) to a penalty.

    Subclasses implement `__call__(x)`, returning a scalar tensor, and `get_config()`, returning
    their constructor arguments. The base class's penalty is zero.

    Example:
        >>> class Ridge(Regularizer):
        ...     def __init__(self, strength=1.0):
        ...         self.strength = strength
        ...     def __call__(self, x):
        ...         return self.strength * x.square().sum()
        ...     def get_config(self):
        ...         return {"strength": self.strength}
        >>> float(Ridge(0.5)(torch.ones(2, 2)))
        2.0
        >>> Ridge.from_config(Ridge(3.0).get_config()).strength
        3.0
    """

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the penalty for `x` as a scalar tensor (zero for the base class)."""
        return x.new_zeros(())

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-compatible dict.

        Raises:
            NotImplementedError: for a subclass that does not define it.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement `get_config()` returning its constructor "
            "arguments, so that a layer holding it can be saved."
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        """Creates a regularizer from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            config = self.get_config()
        except NotImplementedError:
            return super().__repr__()
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{type(self).__name__}({args})"


@register_keras_serializable(package="keras")
class L1L2(Regularizer):
    """Penalty `l1 * sum(|x|) + l2 * sum(x²)`.

    Args:
        l1: Factor of the L1 term (None means 0).
        l2: Factor of the L2 term (None means 0).

    Raises:
        ValueError: if a factor is negative, infinite or NaN.

    Example:
        >>> float(L1L2(l1=0.5, l2=0.25)(torch.tensor([1.0, -2.0])))
        2.75
    """

    def __init__(self, l1: float | None = 0.0, l2: float | None = 0.0) -> None:
        self.l1 = _check_factor("l1", 0.0 if l1 is None else l1)
        self.l2 = _check_factor("l2", 0.0 if l2 is None else l2)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        penalty = x.new_zeros(())
        # A zero factor contributes nothing: skipping it saves a reduction over the weight.
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


@register_keras_serializable(package="keras")
class L1(Regularizer):
    """Penalty `l1 * sum(|x|)`.

    Args:
        l1: The factor (None means the default, 0.01).

    Raises:
        ValueError: if `l1` is negative, infinite or NaN.

    Example:
        >>> float(L1(0.5)(torch.tensor([1.0, -3.0])))
        2.0
    """

    def __init__(self, l1: float | None = 0.01) -> None:
        self.l1 = _check_factor("l1", 0.01 if l1 is None else l1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.l1 * x.abs().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


@register_keras_serializable(package="keras")
class L2(Regularizer):
    """Penalty `l2 * sum(x²)` (no factor 1/2).

    Args:
        l2: The factor (None means the default, 0.01).

    Raises:
        ValueError: if `l2` is negative, infinite or NaN.

    Example:
        >>> float(L2(0.5)(torch.tensor([1.0, -3.0])))
        5.0
    """

    def __init__(self, l2: float | None = 0.01) -> None:
        self.l2 = _check_factor("l2", 0.01 if l2 is None else l2)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2 * x.square().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


@register_keras_serializable(package="keras")
class OrthogonalRegularizer(Regularizer):
    """Penalizes the cosine similarity between the rows (or columns) of a 2-D weight.

    The rows (`mode="rows"`) or columns are scaled to unit L2 norm (a vector with norm below
    `kfit.backend.epsilon()` is scaled by `1 / epsilon` instead); the penalty is
    `factor * 0.5 * sum(|dot products of distinct pairs|, both orders) / (n (n - 1) / 2)`,
    i.e. `factor` times the mean absolute cosine similarity over the `n (n - 1) / 2` pairs.
    For a Dense kernel `(input_dim, units)`, rows mode compares the input features' weight
    vectors. With a single row (column) there is no pair and the penalty is NaN, as in Keras.

    Args:
        factor: The factor.
        mode: `"rows"` or `"columns"`.

    Raises:
        ValueError: for a negative or non-finite `factor`, or another `mode`; when called, for
            an input that is not 2-D.

    Example:
        >>> reg = OrthogonalRegularizer(factor=1.0)
        >>> reg(torch.eye(3)), reg(torch.ones(2, 3))  # orthogonal rows; parallel rows
        (tensor(0.), tensor(1.0000))
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        self.factor = _check_factor("factor", factor)
        if mode not in ("rows", "columns"):
            raise ValueError(
                f"Expected `mode` to be 'rows' or 'columns'. {received('mode', mode)} "
                "Pass mode='rows' to decorrelate the rows of the weight, 'columns' for its "
                "columns."
            )
        self.mode = mode

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(
                "Expected a 2-D tensor (e.g. a Dense kernel) for OrthogonalRegularizer. "
                f"Received: x with shape {tuple(x.shape)} (of type {type(x).__name__}). "
                "Apply it to a rank-2 weight only."
            )
        vectors = x if self.mode == "rows" else x.t()
        # x / ||x||, with the reciprocal norm capped at 1/epsilon so that a zero row stays 0.
        inverse_norms = torch.rsqrt(vectors.square().sum(dim=1, keepdim=True))
        unit = vectors * inverse_norms.clamp(max=1.0 / epsilon())
        cosines = (unit @ unit.t()).abs()
        size = unit.shape[0]
        off_diagonal = cosines.sum() - cosines.diagonal().sum()
        pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * off_diagonal / pairs

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "mode": self.mode}


# Keras's snake_case names for the classes (`keras.regularizers.l2` is `L2`).
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

_CLASSES: tuple[type[Regularizer], ...] = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
_BY_NAME: dict[str, type[Regularizer]] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update(
    {
        "regularizer": Regularizer,
        "l1": L1,
        "l2": L2,
        "l1l2": L1L2,
        "orthogonal_regularizer": OrthogonalRegularizer,
    }
)


def _from_name(name: str) -> Regularizer:
    if name == "l1_l2":
        # Keras documents `kernel_regularizer="l1_l2"` as 0.01 for both factors.
        return L1L2(l1=0.01, l2=0.01)
    cls = _BY_NAME.get(name)
    if cls is None:
        raise unknown_identifier_error("regularizer", name, [*_BY_NAME, "l1_l2"])
    return cls()


def serialize(regularizer: RegularizerLike | None) -> Any:
    """Returns Keras's JSON-ready record of `regularizer` (None for None).

    A `Regularizer` becomes `{"module", "class_name", "config", "registered_name"}`; a named
    function is saved by name, as Keras saves it.

    Raises:
        ValueError: for a lambda, which cannot be saved by name.
        TypeError: for an object without `get_config()`.

    Example:
        >>> serialize(L2(0.5))
        {'module': 'keras.regularizers', 'class_name': 'L2', 'config': {'l2': 0.5}, 'registered_name': None}
    """
    return serialize_keras_object(regularizer)


def deserialize(
    config: dict[str, Any] | str, custom_objects: dict[str, Any] | None = None
) -> RegularizerLike:
    """Rebuilds a regularizer from `serialize()`'s output (or a Keras-saved record, or a name).

    Args:
        config: A record, or a name as `get` accepts it.
        custom_objects: Maps names to user regularizer classes or functions.

    Raises:
        ValueError: for an unknown name.
        TypeError: for a record whose class cannot be found.

    Example:
        >>> deserialize(serialize(L1L2(l1=0.1)))
        L1L2(l1=0.1, l2=0.0)
    """
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            found: Any = custom_objects[config]
            instance: Any = found() if inspect.isclass(found) else found
            return instance
        return _from_name(config)
    return deserialize_keras_object(config, custom_objects, module_objects=_BY_NAME)


def get(identifier: Any) -> RegularizerLike | None:
    """Resolves a regularizer identifier, as layers accept it (see the module docstring).

    Raises:
        ValueError: for an unknown name or an object that is not callable.

    Example:
        >>> get("l2")
        L2(l2=0.01)
        >>> get(None) is None, get(L1) , get({"class_name": "L1", "config": {"l1": 0.2}})
        (True, L1(l1=0.01), L1(l1=0.2))
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
            "Could not interpret regularizer identifier: expected None, a name such as 'l2', "
            f"a config dict, a Regularizer or a callable. {received('identifier', identifier)} "
            "Pass e.g. kernel_regularizer=kfit.regularizers.L2(1e-4)."
        )
    return found
