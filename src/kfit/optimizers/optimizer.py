"""The optimizer base class: Keras 3's optimizer arguments on top of `torch.optim.Optimizer`.

Keras builds an optimizer in two stages: the user constructs it with hyperparameters only,
and the trainer hands it the model's variables once the model exists. `Optimizer` follows
the same lifecycle: it is a torch optimizer with no param groups until `build` adds them with
`add_param_group`, so a built optimizer is an ordinary torch optimizer (param groups,
`state_dict`, torch LR schedulers, step hooks, also those registered before `build`).

Everything that runs per training step is written with the multi-tensor `foreach_*` ops of
`kfit.backend.torch_compat` and Python-float hyperparameters, so a step never waits on the
device.
"""

from __future__ import annotations

import math
import numbers
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from kfit.backend import torch_compat
from kfit.backend.conversion import to_host
from kfit.optimizers import schedules as schedules_module
from kfit.utils.errors import received
from kfit.utils.naming import auto_name

__all__ = ["Optimizer", "OptimizerVariable"]


# One param group's share of a step: (group, params, grads, slots, weight-decay mask or None
# when every parameter is decayed). Only parameters that have a gradient are included.
_Work = tuple[
    dict[str, Any], list[torch.Tensor], list[torch.Tensor], dict[str, list[torch.Tensor]], list[bool] | None
]


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_real(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    example: float = 0.1,
) -> float:
    """Validates a real-valued hyperparameter and returns it as a Python float."""
    ok = _is_real(value) and not math.isnan(float(value))
    ok = ok and (low is None or float(value) >= low) and (high is None or float(value) <= high)
    if not ok:
        if low is not None and high is not None:
            expected = f"a number in [{low}, {high}]"
        elif low is not None:
            expected = f"a number >= {low}"
        else:
            expected = "a number"
        raise ValueError(
            f"Expected `{name}` to be {expected}. {received(name, value)} "
            f"Pass a Python float such as `{name}={example}`."
        )
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """Validates a boolean hyperparameter (numpy's bool too) and returns it as a Python bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"Expected `{name}` to be a bool. {received(name, value)} "
            f"Pass `{name}=True` or `{name}=False`."
        )
    return bool(value)


def _scalar_to_float(name: str, value: Any) -> float:
    """Reads a learning-rate-like scalar given as a number, numpy scalar, tensor or handle."""
    if isinstance(value, OptimizerVariable):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(to_host(value).reshape(()))
    if isinstance(value, (np.ndarray, np.generic)) and value.size == 1:
        value = value.reshape(()).item()
    if _is_real(value):
        return float(value)
    raise ValueError(
        f"Expected `{name}` to be a number (a float, numpy scalar or 0-d tensor). "
        f"{received(name, value)} Pass a float such as `{name}=0.001`."
    )


class OptimizerVariable:
    """A live, variable-like handle on an optimizer scalar such as the learning rate.

    Keras code reads and writes optimizer scalars as variables (`float(opt.learning_rate)`,
    `opt.learning_rate.assign(0.1)`, `keras.backend.set_value(opt.lr, 0.1)`). The handle
    keeps no value of its own: every read and write goes to the optimizer, which stores the
    learning rate in its torch param groups. Arithmetic and comparisons with numbers
    return plain Python values.

    Args:
        owner: The optimizer the handle reads from and writes to.
        path: The scalar's name, `"learning_rate"` or `"iterations"`.
        dtype: The numpy dtype returned by `numpy()`.

    Example:
        >>> from kfit.optimizers import SGD
        >>> lr = SGD(learning_rate=0.5).learning_rate
        >>> lr
        <OptimizerVariable path=learning_rate value=0.5>
        >>> lr.assign(0.25)
        >>> float(lr * 2), lr.numpy(), f"{lr:.3f}"
        (0.5, array(0.25, dtype=float32), '0.250')
    """

    __slots__ = ("_dtype", "_owner", "_path")
    __hash__ = None  # type: ignore[assignment]  # equality compares values, as numbers do

    def __init__(self, owner: Optimizer, path: str, dtype: str = "float32") -> None:
        self._owner = owner
        self._path = path
        self._dtype = dtype

    @property
    def path(self) -> str:
        """The scalar's name inside the optimizer."""
        return self._path

    @property
    def name(self) -> str:
        """Same as `path`, for code that reads `variable.name`."""
        return self._path

    @property
    def dtype(self) -> str:
        """The dtype of `numpy()`'s result, `"float32"` or `"int64"`."""
        return self._dtype

    @property
    def shape(self) -> tuple[()]:
        """Always `()`: the handle stands for a scalar."""
        return ()

    @property
    def value(self) -> float | int:
        """The current value as a Python number."""
        return self._owner._read_variable(self._path)

    def assign(self, value: Any) -> None:
        """Sets the value (a number, numpy scalar, 0-d tensor or another handle)."""
        self._owner._write_variable(self._path, value)

    def assign_add(self, delta: Any) -> None:
        """Adds `delta` to the value."""
        self.assign(self.value + _scalar_to_float("delta", delta))

    def assign_sub(self, delta: Any) -> None:
        """Subtracts `delta` from the value."""
        self.assign(self.value - _scalar_to_float("delta", delta))

    def numpy(self) -> np.ndarray:
        """Returns the value as a 0-d numpy array of `dtype`."""
        return np.array(self.value, dtype=self._dtype)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __index__(self) -> int:
        if self._dtype.startswith("float"):
            raise TypeError(
                f"The optimizer scalar `{self._path}` is a float and cannot be used as an index. "
                f"Use `int(optimizer.{self._path})` to truncate it explicitly."
            )
        return int(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(self.value, format_spec)

    def __repr__(self) -> str:
        return f"<OptimizerVariable path={self._path} value={self.value}>"

    def __neg__(self) -> float | int:
        return -self.value

    def __pos__(self) -> float | int:
        return +self.value

    def __abs__(self) -> float | int:
        return abs(self.value)

    def __add__(self, other: Any) -> Any:
        return self.value + _unwrap(other)

    def __radd__(self, other: Any) -> Any:
        return _unwrap(other) + self.value

    def __sub__(self, other: Any) -> Any:
        return self.value - _unwrap(other)

    def __rsub__(self, other: Any) -> Any:
        return _unwrap(other) - self.value

    def __mul__(self, other: Any) -> Any:
        return self.value * _unwrap(other)

    def __rmul__(self, other: Any) -> Any:
        return _unwrap(other) * self.value

    def __truediv__(self, other: Any) -> Any:
        return self.value / _unwrap(other)

    def __rtruediv__(self, other: Any) -> Any:
        return _unwrap(other) / self.value

    def __floordiv__(self, other: Any) -> Any:
        return self.value // _unwrap(other)

    def __rfloordiv__(self, other: Any) -> Any:
        return _unwrap(other) // self.value

    def __mod__(self, other: Any) -> Any:
        return self.value % _unwrap(other)

    def __rmod__(self, other: Any) -> Any:
        return _unwrap(other) % self.value

    def __pow__(self, other: Any) -> Any:
        return self.value ** _unwrap(other)

    def __rpow__(self, other: Any) -> Any:
        return _unwrap(other) ** self.value

    def __eq__(self, other: object) -> bool:
        return bool(self.value == _unwrap(other))

    def __ne__(self, other: object) -> bool:
        return bool(self.value != _unwrap(other))

    def __lt__(self, other: Any) -> bool:
        return bool(self.value < _unwrap(other))

    def __le__(self, other: Any) -> bool:
        return bool(self.value <= _unwrap(other))

    def __gt__(self, other: Any) -> bool:
        return bool(self.value > _unwrap(other))

    def __ge__(self, other: Any) -> bool:
        return bool(self.value >= _unwrap(other))


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, OptimizerVariable) else value


class GroupHyperparameter:
    """Exposes one param-group key as an optimizer attribute (`opt.beta_1`, `opt.momentum`).

    Before `build` the value lives in `optimizer.defaults`; afterwards reads come from the
    first param group and writes go to every group, as torch keeps them.
    """

    def __init__(self, check: Callable[[str, Any], Any] | None = None) -> None:
        self._check = check
        self._key = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._key = name

    def __get__(self, obj: Optimizer | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.param_groups[0][self._key] if obj.param_groups else obj.defaults[self._key]

    def __set__(self, obj: Optimizer, value: Any) -> None:
        if self._check is not None:
            value = self._check(self._key, value)
        obj.defaults[self._key] = value
        for group in obj.param_groups:
            group[self._key] = value
        # A new value can change which slots exist (e.g. momentum 0 -> 0.9).
        obj._cache = None


def _check_weight_decay(name: str, value: Any) -> float | None:
    return None if value is None else check_real(name, value, low=0.0)


class _GroupCache:
    """Per-group lists of tensors that `step()` reuses instead of rebuilding each step."""

    __slots__ = ("all_decay", "decay_mask", "params", "slots")

    def __init__(
        self,
        params: list[torch.Tensor],
        slots: dict[str, list[torch.Tensor]],
        decay_mask: list[bool],
    ) -> None:
        self.params = params
        self.slots = slots
        self.decay_mask = decay_mask
        self.all_decay = all(decay_mask)


class Optimizer(torch.optim.Optimizer):
    """Base class of kfit's optimizers: Keras 3 arguments and maths, torch mechanics.

    Construct an optimizer without parameters, as in Keras; the trainer calls
    `build(parameters)` once the model exists (or call it yourself). Before `build`, the
    hyperparameters can be read and changed; after it, the object is a regular
    `torch.optim.Optimizer` whose param groups hold the hyperparameters.

    Each `step()` applies, in Keras's order: division by `loss_scale_factor`, gradient
    accumulation, clipping (`clipnorm`, `global_clipnorm` or `clipvalue`), decoupled weight
    decay `w -= lr * weight_decay * w`, the optimizer's update rule, then the EMA of the
    weights. Parameters whose `.grad` is `None` are skipped.

    Subclasses implement `_slot_initial_values` (the per-parameter state they need) and
    `_update_group` (the update rule, with `torch_compat.foreach_*` ops).

    Args:
        learning_rate: A float, a `kfit.optimizers.schedules.LearningRateSchedule` (evaluated
            at the iteration count before every step) or a callable with no arguments that
            returns the learning rate.
        weight_decay: If set, the decoupled weight decay factor.
        clipnorm: If set, each gradient is rescaled so its L2 norm is at most this value.
        clipvalue: If set, each gradient is clipped element-wise to `[-clipvalue, clipvalue]`.
        global_clipnorm: If set, all gradients are rescaled together so their global L2 norm
            is at most this value.
        use_ema: Whether to keep an exponential moving average of the weights.
        ema_momentum: The EMA momentum: `average = m * average + (1 - m) * weight`.
        ema_overwrite_frequency: If set (with `use_ema`), the weights are overwritten with
            their average every this many iterations.
        loss_scale_factor: If set, `scale_loss` multiplies the loss by it and `step`
            divides the gradients by it.
        gradient_accumulation_steps: If set (an int >= 2), gradients are summed over this
            many steps and their mean is applied on the last one.
        name: The optimizer's name; defaults to the snake-cased class name, made unique.

    Example:
        >>> import torch
        >>> from kfit.optimizers import SGD
        >>> w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
        >>> opt = SGD(learning_rate=0.1)
        >>> opt.build([w])
        >>> w.grad = torch.tensor([1.0, 1.0])
        >>> opt.step()
        >>> w.detach().tolist(), int(opt.iterations)
        ([0.8999999761581421, 1.899999976158142], 1)
    """

    weight_decay = GroupHyperparameter(_check_weight_decay)
    # Set by fit in data-parallel training when the model has its own train_step: averages the
    # gradients given to `apply` over the ranks, in place.
    gradient_reducer: Callable[[list[torch.Tensor | None]], None] | None = None

    def __init__(
        self,
        learning_rate: float | schedules_module.LearningRateSchedule | Callable[[], float],
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                "Argument `decay` is no longer supported (as in Keras 3) and is ignored. "
                "Use a learning rate schedule from `kfit.optimizers.schedules` instead.",
                stacklevel=2,
            )
        if kwargs:
            raise ValueError(
                f"Argument(s) not recognized: {sorted(kwargs)}. {type(self).__name__} accepts "
                "the Keras 3 optimizer arguments; check the spelling."
            )
        # torch.optim.Optimizer is initialised here, with no parameters, so that its helpers
        # (zero_grad, hook registration, repr) work on an unbuilt optimizer; `build` then adds
        # the param groups through torch's public `add_param_group`, keeping registered hooks.
        # `defaults` stays the same dict object, so hyperparameters set below land in it.
        torch.optim.Optimizer.__init__(self, [{"params": []}], {})
        self.param_groups = []

        self._built = False
        self._cache: list[_GroupCache] | None = None
        self._ema_lists: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None
        # (parameter, constraint) for the parameters that carry a `constraint` (set by
        # `Layer.add_weight`); found once by `_ensure_cache`, so unconstrained models pay nothing.
        self._constrained: list[tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]] = []
        self._pending_state: dict[str, Any] | None = None
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern[str] | None = None
        self._iterations = 0
        self._learning_rate_schedule: (
            schedules_module.LearningRateSchedule | Callable[[], float] | None
        ) = None
        self._learning_rate_handle = OptimizerVariable(self, "learning_rate", "float32")
        self._iterations_handle = OptimizerVariable(self, "iterations", "int64")

        self.name = name if name is not None else auto_name(type(self).__name__)
        self.defaults["lr"] = 0.0
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay

        clip_args = {
            "clipnorm": clipnorm,
            "clipvalue": clipvalue,
            "global_clipnorm": global_clipnorm,
        }
        set_args = {k: v for k, v in clip_args.items() if v is not None}
        if len(set_args) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: {', '.join(f'{k}={v!r}' for k, v in set_args.items())}. "
                "Keep the one you need and remove the others."
            )
        for key, value in set_args.items():
            check_real(key, value, low=0.0, example=1.0)
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm

        self.use_ema = check_bool("use_ema", use_ema)
        if use_ema:
            check_real("ema_momentum", ema_momentum, low=0.0, high=1.0, example=0.99)
            if ema_overwrite_frequency is not None and (
                not isinstance(ema_overwrite_frequency, int)
                or isinstance(ema_overwrite_frequency, bool)
                or ema_overwrite_frequency < 1
            ):
                raise ValueError(
                    "Expected `ema_overwrite_frequency` to be an int >= 1 or None. "
                    f"{received('ema_overwrite_frequency', ema_overwrite_frequency)} "
                    "Pass e.g. `ema_overwrite_frequency=100`, or None to never overwrite."
                )
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency

        if loss_scale_factor is not None:
            check_real("loss_scale_factor", loss_scale_factor, example=1024.0)
            if loss_scale_factor == 0:
                raise ValueError(
                    "Expected `loss_scale_factor` to be a non-zero number or None. "
                    f"{received('loss_scale_factor', loss_scale_factor)} Pass e.g. 1024.0."
                )
        self.loss_scale_factor = loss_scale_factor

        if gradient_accumulation_steps is not None and (
            not isinstance(gradient_accumulation_steps, int)
            or isinstance(gradient_accumulation_steps, bool)
            or gradient_accumulation_steps < 2
        ):
            raise ValueError(
                "Expected `gradient_accumulation_steps` to be an int >= 2 or None. "
                f"{received('gradient_accumulation_steps', gradient_accumulation_steps)} "
                "Pass e.g. `gradient_accumulation_steps=4`, or None to update every step."
            )
        self.gradient_accumulation_steps = gradient_accumulation_steps

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        # torch's version keeps only defaults/state/param_groups and would drop the
        # Keras-level settings (clipping, EMA, schedule, iteration count).
        return self.__dict__.copy()

    # ------------------------------------------------------------------ building
    @property
    def built(self) -> bool:
        """Whether `build` has attached the optimizer to its parameters."""
        return self._built

    def build(
        self,
        variables: Iterable[torch.Tensor] | Iterable[tuple[str, torch.Tensor]] | Iterable[dict[str, Any]],
    ) -> None:
        """Attaches the optimizer to the parameters it will update and creates its state.

        Accepts what `torch.optim.Optimizer` accepts: parameters, `(name, parameter)` pairs
        from `named_parameters()`, or param-group dicts. Calling `build` on a built
        optimizer does nothing, as in Keras.

        Args:
            variables: The trainable parameters (or param groups).

        Example:
            >>> import torch
            >>> from kfit.optimizers import Adam
            >>> opt = Adam()
            >>> opt.build(torch.nn.Linear(2, 1).parameters())
            >>> opt.built, sorted(opt.state_dict()["state"][0])
            (True, ['momentum', 'velocity'])
        """
        if self._built:
            return
        if isinstance(variables, torch.Tensor):
            raise TypeError(
                "Expected `variables` to be an iterable of parameters (e.g. "
                "`model.parameters()`), not a single tensor. "
                f"{received('variables', variables)} Wrap it in a list: `build([tensor])`."
            )
        params: list[Any] = list(variables)  # whichever of the three kinds was passed
        # What torch's constructor does with its `params` argument: a list of tensors (or of
        # `(name, tensor)` pairs) is one group, dicts are groups.
        groups = params if params and isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)
        self._built = True
        self._ensure_cache()
        if self._pending_state is not None:
            pending, self._pending_state = self._pending_state, None
            self.load_state_dict(pending)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a param group, as `torch.optim.Optimizer.add_param_group` does.

        Example:
            >>> import torch
            >>> from kfit.optimizers import SGD
            >>> opt = SGD(learning_rate=0.1)
            >>> opt.build([torch.nn.Parameter(torch.zeros(2))])
            >>> opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(3))], "lr": 0.5})
            >>> [group["lr"] for group in opt.param_groups]
            [0.1, 0.5]
        """
        super().add_param_group(param_group)
        self._cache = None

    def _slot_initial_values(self, group: dict[str, Any]) -> dict[str, float]:
        """Returns the per-parameter state tensors `group` needs, with their fill values."""
        return {}

    def _update_group(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        slots: dict[str, list[torch.Tensor]],
        lr: float,
        step: int,
    ) -> None:
        """Applies the update rule to one param group (`step` counts from 1)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `_update_group(group, params, grads, slots, "
            "lr, step)` with the optimizer's update rule."
        )

    def _ensure_cache(self) -> list[_GroupCache]:
        if self._cache is not None:
            return self._cache
        caches = []
        for group in self.param_groups:
            params = list(group["params"])
            wanted = dict(self._slot_initial_values(group))
            if self.use_ema:
                wanted["average"] = 0.0
            if self.gradient_accumulation_steps:
                wanted["gradient_accumulator"] = 0.0
            slots: dict[str, list[torch.Tensor]] = {}
            for slot_name, fill in wanted.items():
                tensors = []
                for param in params:
                    param_state = self.state[param]
                    tensor = param_state.get(slot_name)
                    if tensor is None:
                        tensor = torch.full_like(
                            param, fill, memory_format=torch.preserve_format, requires_grad=False
                        )
                        param_state[slot_name] = tensor
                    elif tensor.shape == param.shape and tensor.stride() != param.stride():
                        # A restored slot comes back row-major; fused kernels walk the slots'
                        # memory in the parameter's order, so it takes the parameter's layout.
                        tensor = torch.empty_like(param, requires_grad=False).copy_(tensor)
                        param_state[slot_name] = tensor
                    tensors.append(tensor)
                slots[slot_name] = tensors
            names = group.get("param_names")
            decay_mask = [
                self._use_weight_decay(p, names[i] if names else None) for i, p in enumerate(params)
            ]
            caches.append(_GroupCache(params, slots, decay_mask))
        self._cache = caches
        if self.use_ema:
            self._ema_lists = (
                [p for cache in caches for p in cache.params],
                [a for cache in caches for a in cache.slots["average"]],
            )
        else:
            self._ema_lists = None
        self._constrained = [
            (p, constraint)
            for cache in caches
            for p in cache.params
            if (constraint := getattr(p, "constraint", None)) is not None
        ]
        return caches

    def _require_built(self, action: str) -> None:
        if not self._built:
            raise ValueError(
                f"{type(self).__name__} must be built before {action}. Call "
                "`optimizer.build(model.parameters())` first (`fit()` does this for you)."
            )

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> OptimizerVariable:
        """The learning rate, as a live `OptimizerVariable` handle.

        Assign a float, numpy scalar, 0-d tensor or handle to change it, or a
        `LearningRateSchedule` to replace it. With a schedule, the handle reads the
        schedule's value at the current iteration and cannot be assigned.

        Example:
            >>> from kfit.optimizers import RMSprop
            >>> opt = RMSprop(learning_rate=0.1)
            >>> opt.learning_rate = 0.05
            >>> float(opt.learning_rate), float(opt.lr)
            (0.05, 0.05)
        """
        return self._learning_rate_handle

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if isinstance(value, schedules_module.LearningRateSchedule) or (
            callable(value) and not isinstance(value, (OptimizerVariable, torch.Tensor))
        ):
            self._learning_rate_schedule = value
            self._set_group_learning_rate(self._evaluate_schedule(value))
            return
        self._write_variable("learning_rate", value)

    @property
    def lr(self) -> OptimizerVariable:
        """Alias of `learning_rate` (the Keras 2 name, still used by many callbacks)."""
        return self.learning_rate

    @lr.setter
    def lr(self, value: Any) -> None:
        self.learning_rate = value

    @property
    def iterations(self) -> OptimizerVariable:
        """The number of optimizer updates so far, as an int-valued `OptimizerVariable`.

        With `gradient_accumulation_steps`, it counts applied updates (calls to `step`
        divided by the accumulation steps), as in Keras.

        Example:
            >>> from kfit.optimizers import Adam
            >>> int(Adam().iterations)
            0
        """
        return self._iterations_handle

    def _evaluate_schedule(
        self, schedule: schedules_module.LearningRateSchedule | Callable[[], float]
    ) -> float:
        if isinstance(schedule, schedules_module.LearningRateSchedule):
            value = schedule(self._iterations)
        else:
            value = schedule()
        return _scalar_to_float("learning_rate", value)

    def _set_group_learning_rate(self, value: float) -> None:
        self.defaults["lr"] = value
        for group in self.param_groups:
            group["lr"] = value

    def _applied_updates(self) -> int:
        # `step` calls, divided by the accumulation steps: what `iterations` reads.
        steps = self.gradient_accumulation_steps
        return self._iterations // steps if steps else self._iterations

    def _read_variable(self, path: str) -> float | int:
        if path == "iterations":
            return self._applied_updates()
        schedule = self._learning_rate_schedule
        if schedule is not None:
            return self._evaluate_schedule(schedule)
        return self.param_groups[0]["lr"] if self.param_groups else self.defaults["lr"]

    def _write_variable(self, path: str, value: Any) -> None:
        if path == "iterations":
            count = _scalar_to_float("iterations", value)
            self._iterations = int(count) * (self.gradient_accumulation_steps or 1)
            return
        if isinstance(self._learning_rate_schedule, schedules_module.LearningRateSchedule):
            raise TypeError(
                f"{type(self).__name__} was created with a LearningRateSchedule as its "
                "`learning_rate`, so the learning rate cannot be set to a number. "
                f"{received('learning_rate', value)} Create the optimizer with a float "
                "`learning_rate` to make it settable, or assign a new schedule."
            )
        lr = _scalar_to_float("learning_rate", value)
        if lr < 0 or math.isnan(lr):
            raise ValueError(
                "Expected `learning_rate` to be a non-negative number. "
                f"{received('learning_rate', value)} Pass a positive value such as 0.001."
            )
        self._learning_rate_schedule = None
        self._set_group_learning_rate(lr)

    # ------------------------------------------------------------------ weight decay
    def exclude_from_weight_decay(
        self, var_list: Iterable[torch.Tensor] | None = None, var_names: Sequence[str] | None = None
    ) -> None:
        """Exempts some parameters from weight decay.

        Args:
            var_list: Parameters to exempt.
            var_names: Substrings (regular expressions); a parameter is exempt when one of
                them occurs in its name. Names come from `build(model.named_parameters())`,
                or else from a `path` or `name` attribute on the parameter.

        Example:
            >>> import torch
            >>> from kfit.optimizers import AdamW
            >>> layer = torch.nn.Linear(2, 1)
            >>> opt = AdamW(learning_rate=0.1, weight_decay=0.5)
            >>> opt.exclude_from_weight_decay(var_names=["bias"])
            >>> opt.build(layer.named_parameters())
            >>> weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
            >>> layer.weight.grad, layer.bias.grad = torch.zeros(1, 2), torch.zeros(1)
            >>> opt.step()  # zero gradients: only the decay moves the weights
            >>> torch.allclose(layer.weight, weight * 0.95), torch.equal(layer.bias, bias)
            (True, True)
        """
        self._exclude_ids = {id(v) for v in var_list} if var_list else set()
        self._exclude_pattern = re.compile("|".join(sorted(set(var_names)))) if var_names else None
        self._cache = None

    def _use_weight_decay(self, param: torch.Tensor, name: str | None) -> bool:
        if id(param) in self._exclude_ids:
            return False
        if self._exclude_pattern is not None:
            name = name or getattr(param, "path", None) or getattr(param, "name", None)
            if isinstance(name, str) and self._exclude_pattern.search(name):
                return False
        return True

    # ------------------------------------------------------------------ the step
    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """Multiplies the loss by `loss_scale_factor` when one is set (for mixed precision).

        Example:
            >>> import torch
            >>> from kfit.optimizers import SGD
            >>> SGD(loss_scale_factor=8.0).scale_loss(torch.tensor(0.5))
            tensor(4.)
        """
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the gradients, like `torch.optim.Optimizer.zero_grad`.

        Setting them to None is a plain loop here: torch's version opens a profiler range on
        every call, which costs as much as a small model's whole optimizer update.

        Example:
            >>> import torch
            >>> from kfit.optimizers import SGD
            >>> w = torch.nn.Parameter(torch.ones(2))
            >>> opt = SGD()
            >>> opt.build([w])
            >>> w.grad = torch.ones(2)
            >>> opt.zero_grad()
            >>> w.grad is None
            True
        """
        if not set_to_none or not self.built:
            super().zero_grad(set_to_none)
            return
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    # torch's step hooks and profiler label, entered only when in use: torch's own wrapper
    # costs a profiler range on every step (see `torch_compat.hooked_step`).
    @torch_compat.hooked_step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Applies one update from the parameters' `.grad` and advances `iterations`.

        torch's step hooks (`register_step_pre_hook`, `register_step_post_hook` and the
        global ones) and its `Optimizer.step#<Class>.step` profiler label apply as on any
        torch optimizer.

        Args:
            closure: Optional torch-style closure that recomputes the loss; its result is
                returned.

        Returns:
            The closure's result, or None.

        Example:
            >>> import torch
            >>> from kfit.optimizers import Adagrad
            >>> w = torch.nn.Parameter(torch.ones(3))
            >>> opt = Adagrad(learning_rate=0.1)
            >>> opt.build([w])
            >>> (w * w).sum().backward()
            >>> opt.step()
            >>> int(opt.iterations)
            1
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # The in-place updates of leaf parameters need grad mode off. Switching it directly
        # costs 0.2 us; a `torch.no_grad()` context costs 1.3 us, a tenth of a small step's update.
        enabled = torch.is_grad_enabled()
        torch_compat.set_grad_enabled(False)
        try:
            self._apply_update()
        finally:
            torch_compat.set_grad_enabled(enabled)
        return loss

    def _apply_update(self) -> None:
        self._require_built("calling `step()`")
        caches = self._cache if self._cache is not None else self._ensure_cache()
        schedule = self._learning_rate_schedule
        if schedule is not None:
            self._set_group_learning_rate(self._evaluate_schedule(schedule))

        work: list[_Work] = []
        for group, cache in zip(self.param_groups, caches):
            params = cache.params
            all_grads = [p.grad for p in params]
            grads = [g for g in all_grads if g is not None]
            slots = cache.slots
            mask: list[bool] | None = None if cache.all_decay else cache.decay_mask
            if len(grads) != len(params):
                if not grads:
                    continue
                keep = [i for i, g in enumerate(all_grads) if g is not None]
                params = [params[i] for i in keep]
                slots = {k: [v[i] for i in keep] for k, v in slots.items()}
                mask = [cache.decay_mask[i] for i in keep]
            work.append((group, params, grads, slots, mask))
        if not work:
            raise ValueError(
                "No gradients provided for any parameter: every `.grad` is None. Call "
                "`loss.backward()` before `optimizer.step()`, and check that the loss "
                "depends on the model's trainable parameters."
            )

        if self.loss_scale_factor is not None:
            scale = self.loss_scale_factor
            work = [(g, p, torch_compat.foreach_div(gr, scale), s, m) for g, p, gr, s, m in work]

        apply_update = True
        steps = self.gradient_accumulation_steps
        if steps:
            apply_update = (self._iterations + 1) % steps == 0
            for _, _, grads, slots, _ in work:
                torch_compat.foreach_add_(slots["gradient_accumulator"], grads)
            if apply_update:
                # The accumulators now hold the sum; their mean is this step's gradient.
                for _, _, _, slots, _ in work:
                    torch_compat.foreach_div_(slots["gradient_accumulator"], steps)
                work = [(g, p, s["gradient_accumulator"], s, m) for g, p, _, s, m in work]

        if apply_update:
            work = self._clip(work)
            step_number = self._applied_updates() + 1
            for group, params, grads, slots, mask in work:
                lr = group["lr"]
                weight_decay = group["weight_decay"]
                if weight_decay:
                    decayed = params if mask is None else [p for p, m in zip(params, mask) if m]
                    if decayed:
                        torch_compat.foreach_mul_(decayed, 1.0 - weight_decay * lr)
                self._update_group(group, params, grads, slots, lr, step_number)
            if steps:
                for _, _, _, slots, _ in work:
                    torch_compat.foreach_zero_(slots["gradient_accumulator"])

        if self._ema_lists is not None:
            self._update_ema(*self._ema_lists)
        # As in Keras: after the update and the EMA, on every step (accumulating ones too), for
        # the parameters that had a gradient. `step()` has grad mode off here.
        for param, constraint in self._constrained:
            if param.grad is not None:
                param.copy_(constraint(param))
        self._iterations += 1

    def _clip(self, work: list[_Work]) -> list[_Work]:
        if self.clipnorm and self.clipnorm > 0:
            clipped = []
            for group, params, grads, slots, mask in work:
                factors = torch_compat.foreach_maximum(torch_compat.foreach_norm(grads), self.clipnorm)
                torch_compat.foreach_reciprocal_(factors)
                torch_compat.foreach_mul_(factors, self.clipnorm)
                clipped.append((group, params, torch_compat.foreach_mul(grads, factors), slots, mask))
            return clipped
        if self.global_clipnorm and self.global_clipnorm > 0:
            norms = [n for _, _, grads, _, _ in work for n in torch_compat.foreach_norm(grads)]
            total = torch.linalg.vector_norm(torch.stack(norms))
            # (total - total) turns the scale into NaN when the norm is inf/NaN, as Keras does.
            scale = total.reciprocal().clamp(max=1.0 / self.global_clipnorm)
            scale = scale * self.global_clipnorm + (total - total)
            return [(g, p, torch_compat.foreach_mul(gr, scale), s, m) for g, p, gr, s, m in work]
        if self.clipvalue and self.clipvalue > 0:
            clipped = []
            for group, params, grads, slots, mask in work:
                new_grads = torch_compat.foreach_clamp_min(grads, -self.clipvalue)
                torch_compat.foreach_clamp_max_(new_grads, self.clipvalue)
                clipped.append((group, params, new_grads, slots, mask))
            return clipped
        return work

    def _update_ema(self, params: list[torch.Tensor], averages: list[torch.Tensor]) -> None:
        iterations = self._applied_updates()
        # On the first iteration the average starts from the weights themselves.
        momentum = self.ema_momentum if iterations != 0 else 0.0
        torch_compat.foreach_lerp_(averages, params, 1.0 - momentum)
        frequency = self.ema_overwrite_frequency
        if frequency and (iterations + 1) % frequency == 0:
            torch_compat.foreach_copy_(params, averages)

    # ------------------------------------------------------------------ Keras entry points
    def apply(
        self,
        grads: Sequence[torch.Tensor | None],
        trainable_variables: Sequence[torch.Tensor] | None = None,
    ) -> None:
        """Applies `grads` to `trainable_variables` (Keras's custom-training-loop API).

        Builds the optimizer on the first call if needed. The parameters' `.grad` fields
        are left as they were. Without `trainable_variables`, `grads` must match the built
        parameters one-to-one.

        Args:
            grads: One gradient (or None) per variable.
            trainable_variables: The parameters to update.

        Example:
            >>> import torch
            >>> from kfit.optimizers import SGD
            >>> w = torch.nn.Parameter(torch.zeros(2))
            >>> opt = SGD(learning_rate=1.0)
            >>> opt.apply([torch.tensor([1.0, -1.0])], [w])
            >>> w.detach().tolist()
            [-1.0, 1.0]
        """
        grads = list(grads)
        if not grads:
            return
        if self.gradient_reducer is not None:
            # Data-parallel training with a model's own train_step: the gradients are averaged
            # over the ranks here, as DDP does for the built-in step (see `kfit.distribution`).
            self.gradient_reducer(grads)
        if trainable_variables is None:
            self._require_built("calling `apply(grads)` without variables")
            variables = self._all_params()
            if len(grads) != len(variables):
                raise ValueError(
                    f"Expected one gradient per built parameter ({len(variables)}). "
                    f"Received: {len(grads)} gradients. Pass `trainable_variables` too, or "
                    "one gradient (or None) for every parameter the optimizer was built with."
                )
        else:
            variables = list(trainable_variables)
            if len(grads) != len(variables):
                raise ValueError(
                    "Expected as many gradients as variables. Received: "
                    f"{len(grads)} gradients for {len(variables)} variables. "
                    "Pass one gradient (or None) per variable."
                )
            if not self._built:
                self.build(variables)
        all_params = self._all_params()
        known = {id(p) for p in all_params}
        unknown = [tuple(v.shape) for v in variables if id(v) not in known]
        if unknown:
            raise ValueError(
                "Some variables were not part of the parameters the optimizer was built with "
                f"(shapes {unknown}). Build the optimizer with every parameter it should "
                "update, e.g. `optimizer.build(model.parameters())`."
            )
        if len(variables) == len(all_params) and all(
            g is v.grad for g, v in zip(grads, variables)
        ):
            self.step()
            return
        previous = [p.grad for p in all_params]
        try:
            for p in all_params:
                p.grad = None
            for g, v in zip(grads, variables):
                if g is not None:
                    v.grad = torch.as_tensor(g).detach().to(dtype=v.dtype, device=v.device)
            self.step()
        finally:
            for p, g in zip(all_params, previous):
                p.grad = g

    def apply_gradients(
        self, grads_and_vars: Iterable[tuple[Any, torch.Tensor]]
    ) -> OptimizerVariable:
        """Applies `(gradient, variable)` pairs; returns `iterations`, as Keras does.

        Example:
            >>> import torch
            >>> from kfit.optimizers import SGD
            >>> w = torch.nn.Parameter(torch.ones(1))
            >>> int(SGD().apply_gradients([(torch.ones(1), w)]))
            1
        """
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(list(grads), list(variables))
        return self.iterations

    def _all_params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    # ------------------------------------------------------------------ EMA
    @property
    def ema_weights(self) -> list[torch.Tensor]:
        """The moving averages of the parameters, in build order (requires `use_ema`).

        Example:
            >>> import torch
            >>> from kfit.optimizers import SGD
            >>> opt = SGD(use_ema=True)
            >>> opt.build([torch.nn.Parameter(torch.ones(2))])
            >>> opt.ema_weights
            [tensor([0., 0.])]
        """
        return list(self._ema_pairs("reading `ema_weights`")[1])

    def _require_ema(self, action: str) -> None:
        if not self.use_ema:
            raise ValueError(
                f"{action} needs an optimizer created with `use_ema=True`. "
                f"{received('use_ema', self.use_ema)} Create it with e.g. "
                f"`{type(self).__name__}(use_ema=True)`."
            )
        self._require_built(action)

    def _ema_pairs(self, action: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The parameters and their moving averages, in build order, for `action`."""
        self._require_ema(action)
        self._ensure_cache()
        ema_lists = self._ema_lists
        assert ema_lists is not None  # `_ensure_cache` builds them on a built `use_ema` optimizer
        return ema_lists

    @torch.no_grad()
    def swap_ema_weights(self) -> None:
        """Exchanges the parameters' values with their moving averages (call again to undo).

        Used to evaluate with the EMA weights and then resume training with the raw ones.

        Example:
            >>> import torch
            >>> from kfit.optimizers import SGD
            >>> w = torch.nn.Parameter(torch.ones(2))
            >>> opt = SGD(use_ema=True)
            >>> opt.build([w])
            >>> opt.swap_ema_weights()
            >>> w.detach().tolist(), opt.ema_weights[0].tolist()
            ([0.0, 0.0], [1.0, 1.0])
        """
        params, averages = self._ema_pairs("`swap_ema_weights()`")
        saved = [p.detach().clone() for p in params]
        torch_compat.foreach_copy_(params, averages)
        torch_compat.foreach_copy_(averages, saved)

    @torch.no_grad()
    def finalize_variable_values(self, variables: Sequence[torch.Tensor] | None = None) -> None:
        """Overwrites the parameters with their moving averages when `use_ema` is on.

        Keras's `fit()` calls this after the last epoch; without EMA it does nothing.

        Args:
            variables: The parameters to overwrite, in build order; defaults to all of
                the built parameters.

        Example:
            >>> import torch
            >>> from kfit.optimizers import SGD
            >>> w = torch.nn.Parameter(torch.ones(1))
            >>> opt = SGD(use_ema=True)
            >>> opt.build([w])
            >>> opt.finalize_variable_values()
            >>> w.detach().tolist()
            [0.0]
        """
        if not self.use_ema:
            return
        params, averages = self._ema_pairs("`finalize_variable_values()`")
        targets = params if variables is None else list(variables)
        if len(targets) != len(averages):
            raise ValueError(
                f"Expected {len(averages)} variables (those the optimizer was built with). "
                f"Received: {len(targets)} variables. Pass the same parameters, in order."
            )
        torch_compat.foreach_copy_(targets, averages)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Returns torch's state dict plus the `iterations` counter.

        Per-parameter state uses Keras's slot names (`momentum`, `velocity`, `average`,
        ...); hyperparameters, including `lr`, are in `param_groups`. Every value is a
        tensor or a plain Python type.

        Example:
            >>> import torch
            >>> from kfit.optimizers import SGD
            >>> opt = SGD(momentum=0.9)
            >>> opt.build([torch.nn.Parameter(torch.zeros(2))])
            >>> sd = opt.state_dict()
            >>> sd["iterations"], sd["param_groups"][0]["lr"], list(sd["state"][0])
            (0, 0.01, ['momentum'])
        """
        if not self._built:
            return {"state": {}, "param_groups": [], "iterations": self._iterations}
        state = super().state_dict()
        state["iterations"] = self._iterations
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores a `state_dict()`; before `build`, the state is applied at build time.

        Example:
            >>> import torch
            >>> from kfit.optimizers import Adam
            >>> w = torch.nn.Parameter(torch.zeros(2))
            >>> a = Adam(); a.build([w]); a.iterations.assign(7)
            >>> b = Adam(); b.load_state_dict(a.state_dict())
            >>> int(b.iterations)
            7
        """
        state_dict = dict(state_dict)
        iterations = state_dict.pop("iterations", None)
        if iterations is not None:
            if isinstance(iterations, torch.Tensor):
                iterations = to_host(iterations).reshape(()).item()
            self._iterations = int(iterations)
        if not state_dict.get("param_groups"):
            return
        # Saved formats such as JSON turn the integer parameter ids into strings.
        state_dict["state"] = {
            int(k) if isinstance(k, str) and k.isdigit() else k: v
            for k, v in state_dict.get("state", {}).items()
        }
        if not self._built:
            self._pending_state = state_dict
            return
        super().load_state_dict(state_dict)
        self._cache = None
        # Keep `defaults` (used for later param groups) in line with the restored values.
        for key, value in self.param_groups[0].items():
            if key in self.defaults:
                self.defaults[key] = value

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments, with Keras 3's keys.

        A schedule is serialized with `schedules.serialize`; a float or callable learning
        rate is stored as its current value.

        Example:
            >>> from kfit.optimizers import SGD
            >>> config = SGD(learning_rate=0.1, name="opt").get_config()
            >>> config["name"], config["learning_rate"], config["momentum"]
            ('opt', 0.1, 0.0)
        """
        schedule = self._learning_rate_schedule
        if isinstance(schedule, schedules_module.LearningRateSchedule):
            learning_rate: Any = schedules_module.serialize(schedule)
        else:
            learning_rate = float(self._read_variable("learning_rate"))
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> Optimizer:
        """Creates an optimizer from `get_config()`'s output (no state is restored).

        Example:
            >>> from kfit.optimizers import Adam
            >>> Adam.from_config(Adam(beta_1=0.8).get_config()).beta_1
            0.8
        """
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_module.deserialize(
                config["learning_rate"], custom_objects=custom_objects
            )
        return cls(**config)
