"""`Variable`: a `torch.nn.Parameter` with Keras's variable API.

Keras code reads and writes weights through `keras.Variable`: `v.value`, `v.assign(...)`,
`v.numpy()`, `v.name`, `v.path`, `v.trainable`. The guide "Customizing what happens in fit()
with PyTorch" takes gradients as `[v.value.grad for v in self.trainable_weights]`. kfit's layers
create their weights as `Variable`s, which are Parameters (so `parameters()`, `state_dict()`,
torch optimizers and `.grad` all work) that also answer those calls. Like `Parameter`, it has no
`__torch_function__` dispatch, so ops on it cost what they cost on a plain tensor.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = ["AssignMethods", "Variable"]

_V = TypeVar("_V", bound="AssignMethods")


class AssignMethods(torch.Tensor):
    """Keras's in-place writes, shared by layer weights (`Variable`) and metric state.

    Each runs without recording gradients and returns the variable, so calls chain.

    Example:
        >>> import torch
        >>> v = Variable(torch.zeros(2))
        >>> v.assign([1.0, 2.0]).assign_sub(1.0).assign_add(torch.ones(2)).tolist()
        [1.0, 2.0]
    """

    def assign(self: _V, value: Any) -> _V:
        """Overwrites the value in place (broadcasting `value`); returns the variable."""
        with torch.no_grad():
            self.copy_(torch.as_tensor(value, dtype=self.dtype, device=self.device))
        return self

    def assign_add(self: _V, value: Any) -> _V:
        """Adds `value` in place; returns the variable."""
        with torch.no_grad():
            self.add_(torch.as_tensor(value, dtype=self.dtype, device=self.device))
        return self

    def assign_sub(self: _V, value: Any) -> _V:
        """Subtracts `value` in place; returns the variable."""
        with torch.no_grad():
            self.sub_(torch.as_tensor(value, dtype=self.dtype, device=self.device))
        return self


class Variable(torch.nn.Parameter, AssignMethods):
    """A trainable (or frozen) weight: a `torch.nn.Parameter` with Keras's variable methods.

    Layers name their variables when they set them as attributes: `name` is the attribute
    (`"kernel"`) and `path` adds the layer's name (`"dense/kernel"`).

    It is built as Keras builds one, `Variable(initializer, shape=None, dtype=None,
    trainable=True, name=None)`: from a value (an array, a tensor, a number; an integer value
    needs `trainable=False`, since torch gives gradients to floating tensors only), or from an
    initializer (a name such as `"zeros"`, an `Initializer`, or a callable taking
    `(shape, dtype)`) with a `shape`. torch's `Parameter(data, requires_grad)` form works too.

    Example:
        >>> import torch
        >>> v = Variable(torch.zeros(2))
        >>> v.assign_add(torch.ones(2)).numpy().tolist()
        [1.0, 1.0]
        >>> v.value is v, v.trainable, v.shape
        (True, True, torch.Size([2]))
        >>> w = Variable("ones", shape=(2, 3), trainable=False, name="scale")
        >>> w.name, w.dtype, w.trainable
        ('scale', torch.float32, False)
    """

    def __new__(
        cls,
        initializer: Any = None,
        shape: Any = None,
        dtype: Any = None,
        trainable: bool | None = None,
        autocast: bool = True,
        aggregation: str = "none",
        synchronization: str = "auto",
        name: str | None = None,
        requires_grad: bool | None = None,
        **kwargs: Any,
    ) -> Variable:
        if isinstance(shape, bool):
            # torch's positional form, `Parameter(data, requires_grad)` (deepcopy uses it).
            shape, requires_grad = None, shape
        unknown = sorted(set(kwargs) - {"layout"})
        if unknown:
            raise TypeError(
                f"Expected Keras's Variable arguments. Received unknown argument(s): {unknown}. "
                "Pass initializer, shape, dtype, trainable, autocast, aggregation, "
                "synchronization or name."
            )
        if aggregation not in _AGGREGATIONS:
            raise ValueError(
                f"Expected `aggregation` to be one of {list(_AGGREGATIONS)}. "
                f"Received: aggregation={aggregation!r} (of type {type(aggregation).__name__}). "
                "Pass e.g. aggregation='mean'."
            )
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(
                "Expected `name` to be a string without '/' (a variable's path adds its layer's "
                f"name). Received: name={name!r} (of type {type(name).__name__}). "
                "Pass e.g. name='kernel'."
            )
        data = _initial_value(initializer, shape, dtype)
        if requires_grad is None:
            requires_grad = True if trainable is None else bool(trainable)
        if requires_grad and not (data.is_floating_point() or data.is_complex()):
            raise ValueError(
                "Expected `trainable=False` for a variable that is not floating point: torch "
                f"computes gradients for floating tensors only. Received: a {data.dtype} value "
                "with trainable=True. Pass trainable=False, or a floating dtype."
            )
        variable = super().__new__(cls, data, requires_grad)
        if trainable is not None:
            variable.__dict__["_keras_trainable"] = bool(trainable)
        if name is None and not isinstance(initializer, torch.Tensor):
            from kfit.utils.naming import auto_name

            name = auto_name("variable")
        if name is not None:
            variable.__dict__["_keras_name"] = name
        if (autocast, aggregation, synchronization) != (True, "none", "auto"):
            variable.__dict__.update(
                _keras_autocast=bool(autocast), _keras_aggregation=aggregation, _keras_synchronization=synchronization
            )
        return variable

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Everything happens in `__new__`; Parameter has no `__init__` of its own to call.
        pass

    @property
    def autocast(self) -> bool:
        """Whether a mixed-precision layer reads the variable in its compute dtype (Keras's flag)."""
        return bool(self.__dict__.get("_keras_autocast", True))

    @property
    def aggregation(self) -> str:
        """How replicas combine the variable's updates (Keras's setting; recorded, see distributed.md)."""
        return str(self.__dict__.get("_keras_aggregation", "none"))

    @property
    def synchronization(self) -> str:
        """When replicas synchronise the variable (Keras's setting, recorded)."""
        return str(self.__dict__.get("_keras_synchronization", "auto"))

    @property
    def value(self) -> Variable:
        """The variable itself: a Parameter, so `.value.grad` is its gradient, as in Keras on torch."""
        return self

    @property
    def name(self) -> str | None:
        return self.__dict__.get("_keras_name")

    @property
    def path(self) -> str | None:
        """`<layer name>/<name>`, once a layer holds the variable."""
        return self.__dict__.get("_keras_path", self.name)

    def set_path(self, path: str) -> None:
        """Records where the variable lives (`"dense/kernel"`); an unnamed one takes the last part.

        Example:
            >>> v = Variable(torch.zeros(1))
            >>> v.set_path("dense/bias")
            >>> v.name, v.path
            ('bias', 'dense/bias')
        """
        self.__dict__.setdefault("_keras_name", path.rsplit("/", 1)[-1])
        self.__dict__["_keras_path"] = path

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool) -> None:
        # Remembered apart from `requires_grad`: freezing the layer that holds the variable
        # turns gradients off, and unfreezing it restores this choice.
        self.__dict__["_keras_trainable"] = bool(value)
        self.requires_grad_(bool(value))

    @property
    def regularizer(self) -> Any:
        """The regularizer given to `add_weight`; its loss is in the layer's `losses`."""
        return self.__dict__.get("_keras_regularizer")

    @regularizer.setter
    def regularizer(self, value: Any) -> None:
        self.__dict__["_keras_regularizer"] = value

    @property
    def constraint(self) -> Any:
        """The constraint given to `add_weight`; optimizers apply it after each update."""
        return self.__dict__.get("_keras_constraint")

    @constraint.setter
    def constraint(self, value: Any) -> None:
        self.__dict__["_keras_constraint"] = value

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """A numpy copy of the value (Keras's `Variable.numpy`; works with gradients on)."""
        return self.detach().cpu().numpy().copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Variable:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(memory_format=torch.preserve_format), self.requires_grad)
        result.__dict__.update(copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = result
        return result


_AGGREGATIONS = ("none", "mean", "sum", "only_first_replica")


def _initial_value(initializer: Any, shape: Any, dtype: Any) -> torch.Tensor:
    """The tensor a Keras-style `Variable(initializer, shape, dtype)` starts from."""
    from kfit import initializers
    from kfit.backend.config import floatx
    from kfit.ops.dtypes import to_torch_dtype

    wanted = None if dtype is None else to_torch_dtype(getattr(dtype, "name", dtype))
    if initializer is None:
        return torch.empty(0 if shape is None else tuple(shape), dtype=wanted)
    if isinstance(initializer, (str, initializers.Initializer)) or (
        callable(initializer) and not isinstance(initializer, (torch.Tensor, np.ndarray))
    ):
        if shape is None:
            raise ValueError(
                "Expected a `shape` for a variable made from an initializer. Received: "
                f"initializer={initializer!r} and shape=None. Pass e.g. shape=(3, 4)."
            )
        shape = tuple(int(d) for d in shape)
        torch_dtype = wanted if wanted is not None else to_torch_dtype(floatx())
        init = initializers.get(initializer)
        assert init is not None  # `get` gives None for None only
        return torch.as_tensor(init(shape, dtype=torch_dtype), dtype=torch_dtype).reshape(shape).clone()
    if isinstance(initializer, torch.Tensor):
        data = initializer if wanted is None else initializer.to(wanted)
    else:
        array = np.asarray(initializer)
        if wanted is None and not isinstance(initializer, np.ndarray) and array.dtype.kind == "f":
            # Python numbers and lists take floatx(), as Keras's do; an array keeps its dtype.
            wanted = to_torch_dtype(floatx())
        data = torch.tensor(array, dtype=wanted)
    if shape is not None and tuple(data.shape) != tuple(int(d) for d in shape):
        raise ValueError(
            f"Expected a value of shape {tuple(shape)}, the `shape` given. Received: a value of "
            f"shape {tuple(data.shape)}. Pass a matching `shape`, or leave shape=None."
        )
    return data
