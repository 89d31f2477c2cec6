"""The `Metric` base class: stateful, on-device accumulators with the `keras.metrics.Metric` API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from kfit.backend import torch_compat
from kfit.backend.config import floatx
from kfit.backend.dtypes import standardize_dtype, to_torch_dtype
from kfit.backend.variables import AssignMethods
from kfit.utils.errors import received
from kfit.utils.naming import auto_name

__all__ = ["Metric", "MetricVariable"]


class MetricVariable(AssignMethods):
    """A metric state tensor that also offers the Keras variable methods `assign*`.

    It is an ordinary tensor for every torch op (the result of arithmetic on it is a plain
    `torch.Tensor`), so update code may use either style.

    Example:
        >>> v = Metric().add_variable(shape=(), name="total")
        >>> v.assign_add(torch.tensor(2.0))
        MetricVariable(2.)
        >>> v + 1
        tensor(3.)
    """

    # Like `nn.Parameter`: no `__torch_function__` dispatch, so ops cost what they cost on
    # plain tensors.
    __torch_function__ = torch_compat.disabled_torch_function

    @property
    def value(self) -> torch.Tensor:
        """The current value as a plain tensor sharing this variable's memory."""
        return self.detach()

    def __deepcopy__(self, memo: dict[int, Any]) -> MetricVariable:
        copied = _make_variable(self.detach().clone())
        memo[id(self)] = copied
        return copied

    def __reduce_ex__(self, protocol: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return _make_variable, (self.detach().as_subclass(torch.Tensor).clone(),)

    # mypy drops the name of torch's keyword-only `tensor_contents` in a dunder's signature, so
    # no override of `Tensor.__repr__` type-checks (not even an identical one).
    def __repr__(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        text = repr(self.as_subclass(torch.Tensor))
        return "MetricVariable" + text[len("tensor") :]


def _make_variable(data: torch.Tensor) -> MetricVariable:
    return torch.Tensor._make_subclass(MetricVariable, data, False)


def _move_in_place(variable: MetricVariable, device: torch.device) -> None:
    """Moves a variable to `device` keeping the Python object, so references stay valid."""
    moved = variable.detach().to(device)
    try:
        torch.utils.swap_tensors(variable, _make_variable(moved))
    except RuntimeError:
        # Swapping refuses tensors that have other live references (views, weakrefs);
        # re-pointing the storage still works between devices of the same kind (cpu, cuda).
        variable.data = moved


def _initial_value(initializer: Any, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    name = initializer.lower() if isinstance(initializer, str) else None
    if initializer is None or name == "zeros":
        return torch.zeros(shape, dtype=dtype)
    if name == "ones":
        return torch.ones(shape, dtype=dtype)
    if isinstance(initializer, (int, float)) and not isinstance(initializer, bool):
        return torch.full(shape, float(initializer), dtype=dtype)
    if name is None and callable(initializer):
        value = initializer(shape, dtype=str(dtype).removeprefix("torch."))
        if not isinstance(value, torch.Tensor):
            value = np.asarray(value)
        return torch.as_tensor(value, dtype=dtype).reshape(shape)
    raise ValueError(
        "Expected `initializer` to be 'zeros', 'ones', a number or a callable "
        "`init(shape, dtype=...)`. "
        f"{received('initializer', initializer)} "
        "Pass e.g. initializer='zeros'."
    )


class Metric:
    """Base class of metrics: state that `update_state` accumulates and `result` reads.

    State tensors (made with `add_variable`) live on one device, CPU at first. `to(device)`
    moves them in place; the built-in metrics also move them, once, to the device of the
    inputs they receive, while a custom metric relies on its owner calling `to()`.
    `update_state` only launches device kernels and `result()` returns a 0-d tensor on the
    state's device, so reading a metric never forces a host sync until the caller converts it.

    Args:
        dtype: The state and result dtype; defaults to `kfit.backend.floatx()`.
        name: Name of the metric (its key in training logs); defaults to the snake-cased
            class name.

    Example:
        >>> class Count(Metric):
        ...     def __init__(self, name="count"):
        ...         super().__init__(name=name)
        ...         self.n = self.add_variable(shape=(), name="n")
        ...     def update_state(self, values):
        ...         self.n.add_(torch.as_tensor(values).numel())
        ...     def result(self):
        ...         return self.n.clone()
        >>> m = Count()
        >>> m.update_state([1, 2, 3])
        >>> m.result()
        tensor(3.)
        >>> m.reset_state(); m.result()
        tensor(0.)
    """

    def __init__(self, dtype: Any = None, name: str | None = None) -> None:
        self.name = name or auto_name(type(self).__name__)
        self._dtype = standardize_dtype(dtype or floatx())
        self._torch_dtype = to_torch_dtype(self._dtype)
        self._device = torch.device("cpu")
        self._variables: list[MetricVariable] = []
        self._variable_names: list[str] = []

    @property
    def dtype(self) -> str:
        """The metric dtype as a string, e.g. `"float32"`."""
        return self._dtype

    @property
    def device(self) -> torch.device:
        """The device holding the state."""
        return self._device

    @property
    def direction(self) -> str | None:
        """`"up"` if larger is better, `"down"` if smaller is better, `None` if unknown.

        Monitoring callbacks use it to resolve `mode="auto"`.
        """
        return getattr(self, "_direction", None)

    @property
    def variables(self) -> list[torch.Tensor]:
        """The state tensors of this metric and of the metrics held in its attributes."""
        variables: list[torch.Tensor] = list(self._variables)
        for _, sub in self._sub_metrics():
            variables.extend(sub.variables)
        return variables

    def add_variable(
        self,
        shape: tuple[int, ...] | list[int] = (),
        initializer: Any = "zeros",
        dtype: Any = None,
        aggregation: str = "sum",
        name: str | None = None,
    ) -> MetricVariable:
        """Creates a state tensor that `reset_state`, `to`, `get_state` and `set_state` manage.

        Args:
            shape: Shape of the state.
            initializer: `"zeros"`, `"ones"`, a number or a callable `init(shape, dtype=...)`.
            dtype: Dtype of the state; defaults to the metric dtype.
            aggregation: Accepted for Keras compatibility; kfit runs on one device.
            name: Key of the state in `get_state()`.

        Example:
            >>> Metric().add_variable(shape=(2,), initializer="ones")
            MetricVariable([1., 1.])
        """
        if "_variables" not in self.__dict__:
            raise RuntimeError(
                "Expected `Metric.__init__` to run before `add_variable`. "
                f"Received: a `{type(self).__name__}` whose __init__ did not call "
                "`super().__init__()`. Add that call at the top of your __init__."
            )
        torch_dtype = to_torch_dtype(dtype) if dtype is not None else self._torch_dtype
        value = _initial_value(initializer, tuple(shape), torch_dtype).to(self._device)
        variable = _make_variable(value)
        base = name or "variable"
        unique = base
        suffix = 1
        while unique in self._variable_names:
            unique = f"{base}_{suffix}"
            suffix += 1
        self._variables.append(variable)
        self._variable_names.append(unique)
        return variable

    def add_weight(
        self,
        shape: tuple[int, ...] | list[int] = (),
        initializer: Any = None,
        dtype: Any = None,
        name: str | None = None,
    ) -> MetricVariable:
        """Alias of `add_variable` kept for Keras 2 code.

        Example:
            >>> Metric().add_weight(shape=(), name="total")
            MetricVariable(0.)
        """
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulates statistics from one batch; subclasses must override it."""
        raise NotImplementedError(f"`{type(self).__name__}` must implement `update_state(...)`.")

    def result(self) -> torch.Tensor:
        """Returns the current value as a tensor on the state device; subclasses override it."""
        raise NotImplementedError(f"`{type(self).__name__}` must implement `result()`.")

    def reset_state(self) -> None:
        """Zeroes every state tensor in place (no reallocation, the device is kept)."""
        with torch.no_grad():
            for variable in self._variables:
                variable.zero_()
        for _, sub in self._sub_metrics():
            sub.reset_state()

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Updates the state with one batch and returns the new `result()`."""
        self.update_state(*args, **kwargs)
        return self.result()

    def to(self, device: torch.device | str) -> Metric:
        """Moves the state to `device` in place (the state tensors keep their identity).

        Example:
            >>> Metric().to("cpu").device
            device(type='cpu')
        """
        device = torch.device(device)
        with torch.no_grad():
            for variable in self._variables:
                if variable.device != device:
                    _move_in_place(variable, device)
        for _, sub in self._sub_metrics():
            sub.to(device)
        self._device = device
        return self

    def get_state(self) -> dict[str, torch.Tensor]:
        """Returns copies of the state tensors by name (device ops only, no host sync).

        Restoring them with `set_state` reproduces the metric exactly, e.g. after a crash.
        """
        state = {
            name: variable.detach().as_subclass(torch.Tensor).clone()
            for name, variable in zip(self._variable_names, self._variables, strict=True)
        }
        for attr, sub in self._sub_metrics():
            for key, value in sub.get_state().items():
                state[f"{attr}/{key}"] = value
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores state saved by `get_state` (values are copied in place).

        Raises:
            ValueError: if the names differ from this metric's state names.
        """
        expected = set(self.get_state_names())
        if set(state) != expected:
            raise ValueError(
                f"Expected `state` to have exactly the keys {sorted(expected)}. "
                f"Received: state with keys {sorted(state)} (of type {type(state).__name__}). "
                f"Pass the dict returned by `get_state()` of a `{type(self).__name__}` "
                "built with the same arguments."
            )
        with torch.no_grad():
            for name, variable in zip(self._variable_names, self._variables, strict=True):
                variable.copy_(torch.as_tensor(state[name], device=variable.device))
        for attr, sub in self._sub_metrics():
            prefix = f"{attr}/"
            sub.set_state({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})

    def get_state_names(self) -> list[str]:
        """The keys of `get_state()`, without copying anything."""
        names = list(self._variable_names)
        for attr, sub in self._sub_metrics():
            names.extend(f"{attr}/{key}" for key in sub.get_state_names())
        return names

    def _sub_metrics(self) -> Iterator[tuple[str, Metric]]:
        # Metrics kept as attributes (e.g. a metric built from two `Mean`s) share the
        # state management of their owner.
        for attr, value in self.__dict__.items():
            if isinstance(value, Metric):
                yield attr, value

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments needed to rebuild the metric."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """Rebuilds a metric from `get_config()` output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"
