"""Stochastic gradient descent, with optional (Nesterov) momentum, as in Keras 3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kfit.backend import torch_compat
from kfit.optimizers.optimizer import GroupHyperparameter, Optimizer, check_bool, check_real
from kfit.optimizers.schedules import LearningRateSchedule

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent with optional momentum, following Keras's update rule.

    Without momentum: `w -= lr * g`. With momentum, a velocity is kept and
    `velocity = momentum * velocity - lr * g; w += velocity`; with `nesterov=True`,
    `w += momentum * velocity - lr * g`. Keras's velocity already includes the learning
    rate, so a changing learning rate takes effect differently than in `torch.optim.SGD`.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a no-argument callable.
            Defaults to 0.01.
        momentum: A float in [0, 1]; 0 is plain gradient descent. Defaults to 0.0.
        nesterov: Whether to use Nesterov momentum. Defaults to False.
        **kwargs: The shared optimizer arguments (`weight_decay`, `clipnorm`, `clipvalue`,
            `global_clipnorm`, `use_ema`, `ema_momentum`, `ema_overwrite_frequency`,
            `loss_scale_factor`, `gradient_accumulation_steps`, `name`); see `Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = SGD(learning_rate=0.1, momentum=0.9)
        >>> opt.build([w])
        >>> for _ in range(2):
        ...     w.grad = torch.tensor([1.0])
        ...     opt.step()
        >>> round(w.item(), 4)  # 1 - 0.1 - (0.9 * 0.1 + 0.1)
        0.71
    """

    momentum = GroupHyperparameter(lambda name, v: check_real(name, v, 0.0, 1.0, example=0.9))
    nesterov = GroupHyperparameter(check_bool)

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule | Callable[[], float] = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
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
        self.momentum = momentum
        self.nesterov = nesterov

    def _slot_initial_values(self, group: dict[str, Any]) -> dict[str, float]:
        return {"momentum": 0.0} if group["momentum"] != 0 else {}

    def _update_group(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        slots: dict[str, list[torch.Tensor]],
        lr: float,
        step: int,
    ) -> None:
        momentum = group["momentum"]
        if momentum == 0:
            torch_compat.foreach_add_(params, grads, alpha=-lr)
            return
        velocities = slots["momentum"]
        torch_compat.foreach_mul_(velocities, momentum)
        torch_compat.foreach_add_(velocities, grads, alpha=-lr)
        if group["nesterov"]:
            torch_compat.foreach_add_(params, grads, alpha=-lr)
            torch_compat.foreach_add_(params, velocities, alpha=momentum)
        else:
            torch_compat.foreach_add_(params, velocities)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments, with Keras 3's keys.

        Example:
            >>> SGD(momentum=0.5).get_config()["momentum"]
            0.5
        """
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
