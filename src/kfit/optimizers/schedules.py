"""Learning rate schedules with Keras 3's formulas, evaluated on the host.

An optimizer calls its schedule with the Python-int iteration count before every step and
gets a Python float back, so a schedule never touches the device. (Keras's schedules
return tensors; these return floats with the same values.)
"""

from __future__ import annotations

import bisect
import difflib
import math
from collections.abc import Sequence
from typing import Any

import torch

from kfit.backend.conversion import to_host

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]


def _step_to_float(step: Any) -> float:
    if isinstance(step, torch.Tensor):
        return float(to_host(step).reshape(()))
    try:
        return float(step)
    except (TypeError, ValueError):
        raise TypeError(
            "Expected `step` to be a number (the optimizer's iteration count). "
            f"Received: step={step!r} (of type {type(step).__name__}). Pass an int such as 100."
        ) from None


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"Expected `{name}` to be a number > 0. Received: {name}={value!r} "
            f"(of type {type(value).__name__}). Pass e.g. `{name}=1000`."
        )


class LearningRateSchedule:
    """Base class of learning rate schedules: a callable from step count to learning rate.

    Subclasses implement `__call__(step)` and, to be serializable, `get_config()`. Pass an
    instance as an optimizer's `learning_rate`; the optimizer evaluates it at the
    iteration count before each update.

    Example:
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, initial_learning_rate):
        ...         self.initial_learning_rate = initial_learning_rate
        ...     def __call__(self, step):
        ...         return self.initial_learning_rate / 2 ** (step // 10)
        ...     def get_config(self):
        ...         return {"initial_learning_rate": self.initial_learning_rate}
        >>> Halving(0.4)(25)
        0.1
    """

    def __call__(self, step: Any) -> float:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments; subclasses override it to be serializable."""
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` "
            "to be serializable."
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Creates a schedule from `get_config()`'s output.

        Example:
            >>> ExponentialDecay.from_config({"initial_learning_rate": 1.0,
            ...     "decay_steps": 10, "decay_rate": 0.5})(10)
            0.5
        """
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Steps over which the rate is multiplied by `decay_rate` (> 0).
        decay_rate: The decay base.
        staircase: If True, `step / decay_steps` is floored, so the rate drops in steps.
        name: Name of the schedule.

    Example:
        >>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
        >>> schedule(0), schedule(9), schedule(10)
        (0.1, 0.1, 0.05)
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: Any) -> float:
        progress = _step_to_float(step) / self.decay_steps
        if self.staircase:
            progress = math.floor(progress)
        return self.initial_learning_rate * self.decay_rate**progress

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> sorted(ExponentialDecay(0.1, 10, 0.9).get_config())
            ['decay_rate', 'decay_steps', 'initial_learning_rate', 'name', 'staircase']
        """
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant learning rate per interval of steps.

    The rate is `values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, and `values[-1]` after the last boundary.

    Args:
        boundaries: Strictly increasing step counts.
        values: One more value than there are boundaries.
        name: Name of the schedule.

    Example:
        >>> schedule = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
        >>> schedule(10), schedule(11), schedule(21)
        (1.0, 0.5, 0.1)
    """

    def __init__(
        self, boundaries: Sequence[float], values: Sequence[float], name: str = "PiecewiseConstant"
    ) -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "Expected `values` to have exactly one more element than `boundaries`. "
                f"Received: boundaries={boundaries!r} (of length {len(boundaries)}) and "
                f"values={values!r} (of length {len(values)}). Add or remove a value."
            )
        if any(b >= a for b, a in zip(boundaries, list(boundaries)[1:])):
            raise ValueError(
                "Expected `boundaries` to be strictly increasing. "
                f"Received: boundaries={boundaries!r} (of type {type(boundaries).__name__}). "
                "Sort them and remove duplicates."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: Any) -> float:
        index = bisect.bisect_left(list(self.boundaries), _step_to_float(step))
        return float(self.values[index])

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> PiecewiseConstantDecay([5], [1.0, 0.1]).get_config()["values"]
            [1.0, 0.1]
        """
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from `initial_learning_rate` to `end_learning_rate`.

    `(initial - end) * (1 - step / decay_steps) ** power + end`, with `step` capped at
    `decay_steps`; with `cycle=True`, `decay_steps` is instead stretched to the first
    multiple of itself that is >= `step`.

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Length of the decay (> 0).
        end_learning_rate: The final learning rate. Defaults to 0.0001.
        power: The polynomial's power. Defaults to 1.0 (linear).
        cycle: Whether to restart the decay after `decay_steps`.
        name: Name of the schedule.

    Example:
        >>> schedule = PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0)
        >>> schedule(5), schedule(20)
        (0.5, 0.0)
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ) -> None:
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step: Any) -> float:
        step = _step_to_float(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, decay_steps)
        fraction = step / decay_steps
        span = self.initial_learning_rate - self.end_learning_rate
        return span * (1.0 - fraction) ** self.power + self.end_learning_rate

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> PolynomialDecay(0.1, 100).get_config()["power"]
            1.0
        """
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`.

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: The step scale of the decay (> 0).
        decay_rate: The decay rate.
        staircase: If True, `step / decay_steps` is floored.
        name: Name of the schedule.

    Example:
        >>> InverseTimeDecay(1.0, decay_steps=1, decay_rate=0.5)(2)
        0.5
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ) -> None:
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: Any) -> float:
        progress = _step_to_float(step) / self.decay_steps
        if self.staircase:
            progress = math.floor(progress)
        return self.initial_learning_rate / (1.0 + self.decay_rate * progress)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> InverseTimeDecay(0.1, 10, 0.5).get_config()["decay_rate"]
            0.5
        """
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay, optionally after a linear warmup.

    Without warmup (`warmup_target=None`) the rate goes from `initial_learning_rate` to
    `initial_learning_rate * alpha` along half a cosine over `decay_steps`. With a
    `warmup_target`, it first rises linearly from `initial_learning_rate` to
    `warmup_target` over `warmup_steps`, then decays from `warmup_target`.

    Args:
        initial_learning_rate: The learning rate at step 0.
        decay_steps: Length of the cosine decay (> 0).
        alpha: Final rate as a fraction of the decay's starting rate. Defaults to 0.0.
        name: Name of the schedule.
        warmup_target: Rate reached at the end of warmup, or None for no warmup.
        warmup_steps: Length of the warmup. Defaults to 0.

    Example:
        >>> schedule = CosineDecay(1.0, decay_steps=10)
        >>> schedule(0), round(schedule(5), 6), schedule(10)
        (1.0, 0.5, 0.0)
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step: float, start: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: Any) -> float:
        step = _step_to_float(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> CosineDecay(0.1, 100).get_config()["warmup_target"] is None
            True
        """
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR).

    The first period lasts `first_decay_steps`; each next period is `t_mul` times longer
    and starts from `m_mul` times the previous starting rate.

    Args:
        initial_learning_rate: The learning rate at step 0.
        first_decay_steps: Length of the first period (> 0).
        t_mul: Growth factor of the period length. Defaults to 2.0.
        m_mul: Factor applied to the starting rate at each restart. Defaults to 1.0.
        alpha: Final rate of each period as a fraction of its starting rate.
        name: Name of the schedule.

    Example:
        >>> schedule = CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=1.0)
        >>> round(schedule(5), 6), schedule(10)
        (0.5, 1.0)
    """

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ) -> None:
        _check_positive("first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step: Any) -> float:
        fraction = _step_to_float(step) / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            # Periods grow geometrically: find the period index from the geometric sum.
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            elapsed = (1.0 - t_mul**restart) / (1.0 - t_mul)
            fraction = (fraction - elapsed) / t_mul**restart
        cosine = 0.5 * self._m_mul**restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> CosineDecayRestarts(0.1, 100).get_config()["t_mul"]
            2.0
        """
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_BUILTIN_SCHEDULES: dict[str, type[LearningRateSchedule]] = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """Returns a JSON-compatible dict describing `schedule`, in Keras's layout.

    Example:
        >>> serialize(ExponentialDecay(0.1, 10, 0.9))["class_name"]
        'ExponentialDecay'
    """
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(
            "Expected `schedule` to be a LearningRateSchedule. "
            f"Received: schedule={schedule!r} (of type {type(schedule).__name__}). "
            "Pass an instance such as `ExponentialDecay(0.1, 1000, 0.9)`."
        )
    cls = type(schedule)
    builtin = _BUILTIN_SCHEDULES.get(cls.__name__) is cls
    return {
        "module": "keras.optimizers.schedules" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": schedule.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def deserialize(
    config: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> LearningRateSchedule:
    """Recreates a schedule from `serialize()`'s output (or a Keras-saved config).

    Args:
        config: A dict with `class_name` and `config` keys.
        custom_objects: Maps class names to user-defined schedule classes.

    Example:
        >>> deserialize(serialize(CosineDecay(1.0, 10)))(10)
        0.0
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(
            "Expected `config` to be a dict with 'class_name' and 'config' keys. "
            f"Received: config={config!r} (of type {type(config).__name__}). "
            "Pass the output of `schedules.serialize(schedule)`."
        )
    known: dict[str, Any] = {**_BUILTIN_SCHEDULES, **(custom_objects or {})}
    class_name = config["class_name"]
    cls = known.get(class_name) or known.get(config.get("registered_name") or "")
    if cls is None:
        matches = difflib.get_close_matches(str(class_name), list(known))
        hint = f" Did you mean {matches[0]!r}?" if matches else ""
        raise ValueError(
            f"Expected `class_name` to be one of {sorted(known)}. Received: "
            f"class_name={class_name!r} (of type {type(class_name).__name__}).{hint} "
            "Pass user-defined schedule classes through `custom_objects`."
        )
    return cls.from_config(config.get("config", {}))
