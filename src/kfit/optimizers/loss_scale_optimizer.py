"""`LossScaleOptimizer`: dynamic loss scaling around another optimizer, for float16 training.

float16 gradients underflow to zero below about 6e-8. The train step multiplies the loss by a
large scale (`scale_loss`) so that the gradients stay representable, and this optimizer divides
them back before its inner optimizer applies them. The scale adapts as Keras's does:

- a step whose gradients hold an inf or NaN is skipped, and the scale is halved;
- after `dynamic_growth_steps` steps in a row with finite gradients, the scale is doubled.

`compile()` wraps the optimizer in one when the model's dtype policy is `"mixed_float16"`
(unless `auto_scale_loss=False`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from kfit.backend import torch_compat
from kfit.optimizers.optimizer import Optimizer, OptimizerVariable
from kfit.utils.errors import received

__all__ = ["LossScaleOptimizer", "wrap_for_policy"]

# The base optimizer arguments a saved LossScaleOptimizer config may carry, with the only value
# it accepts for each (Keras wrote them once; they belong on the inner optimizer).
_BASE_DEFAULTS: dict[str, Any] = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


class LossScaleOptimizer(Optimizer):
    """Scales the loss up for the backward pass and the gradients down before the update.

    Its learning rate, iterations and per-parameter state are the inner optimizer's. Each
    `step()` checks the gradients: when all are finite they are divided by the scale and the
    inner optimizer steps; otherwise nothing is updated (`iterations` stays) and the scale is
    halved. After `dynamic_growth_steps` finite steps in a row the scale doubles.

    Deciding whether to update reads one boolean from the device on every step (a
    device-to-host sync, as `torch.amp.GradScaler.step` has too).

    Args:
        inner_optimizer: The `kfit.optimizers.Optimizer` that applies the updates. Its
            `loss_scale_factor` is cleared, so that gradients are not divided twice.
        initial_scale: The starting scale; a high one is lowered in a few steps.
        dynamic_growth_steps: How many finite steps in a row double the scale.
        name: The optimizer's name.

    Example:
        >>> from kfit.optimizers import SGD
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> opt = LossScaleOptimizer(SGD(learning_rate=1.0), initial_scale=4.0, dynamic_growth_steps=2)
        >>> opt.apply([torch.tensor([float("inf")])], [w])  # skipped: the scale halves
        >>> float(opt.dynamic_scale), int(opt.iterations), w.tolist()
        (2.0, 0, [0.0])
        >>> opt.apply([torch.tensor([2.0])], [w])  # divided by 2, then applied
        >>> opt.apply([torch.tensor([2.0])], [w])  # second finite step: the scale doubles
        >>> float(opt.dynamic_scale), int(opt.iterations), w.tolist()
        (4.0, 2, [-2.0])
    """

    def __init__(
        self,
        inner_optimizer: Optimizer,
        initial_scale: float = 2.0**15,
        dynamic_growth_steps: int = 2000,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not kwargs.pop("dynamic", True):
            raise ValueError(
                "Expected `dynamic=True` (the only mode, as in Keras 3). Received: dynamic=False. "
                "For a fixed scale, set `loss_scale_factor` on the optimizer itself instead."
            )
        for key, default in _BASE_DEFAULTS.items():
            if key in kwargs and kwargs.pop(key) != default:
                raise ValueError(
                    f"Expected `{key}` to be left out: LossScaleOptimizer takes only its own "
                    f"arguments. Set `{key}` on the inner optimizer instead."
                )
        if kwargs:
            raise ValueError(
                f"Argument(s) not recognized: {sorted(kwargs)}. LossScaleOptimizer accepts "
                "`inner_optimizer`, `initial_scale`, `dynamic_growth_steps` and `name`."
            )
        if not isinstance(inner_optimizer, Optimizer) or isinstance(inner_optimizer, LossScaleOptimizer):
            raise TypeError(
                "Expected `inner_optimizer` to be a kfit optimizer such as `kfit.optimizers.Adam()`. "
                f"{received('inner_optimizer', inner_optimizer)} Create the optimizer first and wrap it."
            )
        steps = dynamic_growth_steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(
                "Expected `dynamic_growth_steps` to be an int >= 1. "
                f"{received('dynamic_growth_steps', dynamic_growth_steps)} Pass e.g. 2000."
            )
        # Set first: `learning_rate` and `iterations` read the inner optimizer's from the start.
        self.inner_optimizer = inner_optimizer
        super().__init__(learning_rate=0.0, name=name)
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        inner_optimizer.loss_scale_factor = None
        # Kept on the host: `step` reads the finiteness flag there anyway.
        self._scale = self.initial_scale
        self._finite_steps = 0
        self._scale_handle = OptimizerVariable(self, "dynamic_scale", "float32")
        self._counter_handle = OptimizerVariable(self, "step_counter", "int64")

    # ------------------------------------------------------------------ the inner optimizer's
    @property
    def learning_rate(self) -> OptimizerVariable:
        """The inner optimizer's learning rate."""
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        # The base constructor's placeholder (0.0) arrives before construction ends: dropped.
        if "_scale" in self.__dict__:
            self.inner_optimizer.learning_rate = value

    @property
    def iterations(self) -> OptimizerVariable:
        """The inner optimizer's count of applied updates: skipped steps do not count."""
        return self.inner_optimizer.iterations

    @property
    def dynamic_scale(self) -> OptimizerVariable:
        """The current loss scale, as a live handle (`float(opt.dynamic_scale)`)."""
        return self._scale_handle

    @property
    def step_counter(self) -> OptimizerVariable:
        """Finite steps since the scale last changed."""
        return self._counter_handle

    def _read_variable(self, path: str) -> float | int:
        if path == "dynamic_scale":
            return self._scale
        if path == "step_counter":
            return self._finite_steps
        return self.inner_optimizer._read_variable(path)

    def _write_variable(self, path: str, value: Any) -> None:
        if path == "dynamic_scale":
            self._scale = float(value)
        elif path == "step_counter":
            self._finite_steps = int(value)
        else:
            self.inner_optimizer._write_variable(path, value)

    def build(
        self,
        variables: Iterable[torch.Tensor] | Iterable[tuple[str, torch.Tensor]] | Iterable[dict[str, Any]],
    ) -> None:
        """Builds the inner optimizer; this one shares its param groups and state."""
        if self._built:
            return
        self.inner_optimizer.build(variables)
        self.param_groups = self.inner_optimizer.param_groups
        self.state = self.inner_optimizer.state
        self._built = True

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.__dict__.get("_built"):
            self.inner_optimizer.add_param_group(param_group)
        else:
            super().add_param_group(param_group)

    # ------------------------------------------------------------------ scaling
    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """Multiplies the loss by the current scale.

        Example:
            >>> from kfit.optimizers import SGD
            >>> LossScaleOptimizer(SGD(), initial_scale=8.0).scale_loss(torch.tensor(0.5))
            tensor(4.)
        """
        return loss * self._scale

    @torch_compat.hooked_step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Unscales the gradients and steps the inner optimizer, or skips a non-finite step."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._require_built("calling `step()`")
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        # The `bool` is this step's one device-to-host read: whether to update depends on it.
        finite = not grads or bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())
        if not finite:
            self._scale *= 0.5
            self._finite_steps = 0
            return loss
        inner = self.inner_optimizer
        # The inner optimizer's own `loss_scale_factor` division is Keras's first step of an
        # update; lending it the scale unscales out of place, leaving `.grad` as it was.
        inner.loss_scale_factor = self._scale
        try:
            inner.step()
        finally:
            inner.loss_scale_factor = None
        if self._finite_steps == self.dynamic_growth_steps - 1:
            self._scale *= 2.0
            self._finite_steps = 0
        else:
            self._finite_steps += 1
        return loss

    # ------------------------------------------------------------------ the rest, delegated
    def finalize_variable_values(self, variables: Sequence[torch.Tensor] | None = None) -> None:
        self.inner_optimizer.finalize_variable_values(variables)

    @property
    def ema_weights(self) -> list[torch.Tensor]:
        return self.inner_optimizer.ema_weights

    def swap_ema_weights(self) -> None:
        self.inner_optimizer.swap_ema_weights()

    def state_dict(self) -> dict[str, Any]:
        """The inner optimizer's state dict, plus `dynamic_scale` and `step_counter`."""
        state = self.inner_optimizer.state_dict()
        state["dynamic_scale"] = self._scale
        state["step_counter"] = self._finite_steps
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        scale = state_dict.pop("dynamic_scale", None)
        counter = state_dict.pop("step_counter", None)
        if scale is not None:
            self._write_variable("dynamic_scale", float(scale))
        if counter is not None:
            self._write_variable("step_counter", int(counter))
        self.inner_optimizer.load_state_dict(state_dict)

    def get_config(self) -> dict[str, Any]:
        """Keras's keys: `name`, the serialized `inner_optimizer`, `initial_scale`, `dynamic_growth_steps`."""
        from kfit.optimizers import serialize

        return {
            "name": self.name,
            "inner_optimizer": serialize(self.inner_optimizer),
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> LossScaleOptimizer:
        from kfit.optimizers import deserialize

        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            inner = deserialize(inner, custom_objects=custom_objects)
        return cls(inner, **config)


def wrap_for_policy(optimizer: Any, policy_name: str, auto_scale_loss: bool = True) -> Any:
    """`optimizer`, wrapped in a `LossScaleOptimizer` when `compile()` would wrap it.

    Keras wraps a model's optimizer when the model's policy is `"mixed_float16"` and
    `auto_scale_loss` is on; bfloat16 has float32's range and needs no scaling.

    Example:
        >>> from kfit.optimizers import SGD
        >>> type(wrap_for_policy(SGD(), "mixed_float16")).__name__, type(wrap_for_policy(SGD(), "float32")).__name__
        ('LossScaleOptimizer', 'SGD')
    """
    if (
        auto_scale_loss
        and policy_name == "mixed_float16"
        and isinstance(optimizer, Optimizer)
        and not isinstance(optimizer, LossScaleOptimizer)
    ):
        return LossScaleOptimizer(optimizer, name="loss_scale_optimizer")
    return optimizer
