"""RMSprop as Keras 3 defines it (epsilon inside the square root)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kfit.backend import torch_compat
from kfit.optimizers.optimizer import GroupHyperparameter, Optimizer, check_bool, check_real
from kfit.optimizers.schedules import LearningRateSchedule

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop: divides the gradient by a running root-mean-square of past gradients.

    Update, per parameter: `v = rho * v + (1 - rho) * g**2`, then
    `w -= lr * g / sqrt(v + epsilon)`. With `centered=True` a running mean `a` of the
    gradients is kept too and the denominator is `sqrt(v - a**2 + epsilon)`. With
    `momentum > 0`, `m = momentum * m + lr * g / sqrt(...)` and `w -= m`. Unlike
    `torch.optim.RMSprop`, epsilon sits inside the square root and defaults to 1e-7.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a no-argument callable.
            Defaults to 0.001.
        rho: Discount factor of the running averages. Defaults to 0.9.
        momentum: Momentum factor; 0 disables momentum. Defaults to 0.0.
        epsilon: Small constant added inside the square root. Defaults to 1e-7.
        centered: Whether to normalise by the estimated variance instead of the
            uncentered second moment. Defaults to False.
        **kwargs: The shared optimizer arguments; see `Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([10.0]))
        >>> opt = RMSprop(learning_rate=0.1)
        >>> opt.build([w])
        >>> w.grad = w.detach().clone()
        >>> opt.step()
        >>> round(w.item(), 6)
        9.683772
    """

    rho = GroupHyperparameter(lambda name, v: check_real(name, v, 0.0, 1.0, example=0.9))
    momentum = GroupHyperparameter(lambda name, v: check_real(name, v, 0.0, 1.0, example=0.9))
    epsilon = GroupHyperparameter(lambda name, v: check_real(name, v, 0.0, example=1e-7))
    centered = GroupHyperparameter(check_bool)

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule | Callable[[], float] = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
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
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _slot_initial_values(self, group: dict[str, Any]) -> dict[str, float]:
        slots = {"velocity": 0.0}
        if group["momentum"] > 0:
            slots["momentum"] = 0.0
        if group["centered"]:
            slots["average_gradient"] = 0.0
        return slots

    def _update_group(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        slots: dict[str, list[torch.Tensor]],
        lr: float,
        step: int,
    ) -> None:
        rho = group["rho"]
        velocities = slots["velocity"]
        torch_compat.foreach_mul_(velocities, rho)
        torch_compat.foreach_addcmul_(velocities, grads, grads, value=1.0 - rho)
        denominators = torch_compat.foreach_add(velocities, group["epsilon"])
        if group["centered"]:
            averages = slots["average_gradient"]
            torch_compat.foreach_lerp_(averages, grads, 1.0 - rho)
            torch_compat.foreach_addcmul_(denominators, averages, averages, value=-1.0)
        torch_compat.foreach_sqrt_(denominators)
        momentum = group["momentum"]
        if momentum > 0:
            momentums = slots["momentum"]
            torch_compat.foreach_mul_(momentums, momentum)
            torch_compat.foreach_addcdiv_(momentums, grads, denominators, value=lr)
            torch_compat.foreach_sub_(params, momentums)
        else:
            torch_compat.foreach_addcdiv_(params, grads, denominators, value=-lr)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments, with Keras 3's keys.

        Example:
            >>> RMSprop().get_config()["rho"]
            0.9
        """
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }
