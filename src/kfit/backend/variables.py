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

    Example:
        >>> import torch
        >>> v = Variable(torch.zeros(2))
        >>> v.assign_add(torch.ones(2)).numpy().tolist()
        [1.0, 1.0]
        >>> v.value is v, v.trainable, v.shape
        (True, True, torch.Size([2]))
    """

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
