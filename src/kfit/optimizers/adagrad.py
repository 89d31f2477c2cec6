"""Adagrad as Keras 3 defines it (accumulator starts at 0.1, epsilon inside the root)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kfit.backend import torch_compat
from kfit.optimizers.optimizer import GroupHyperparameter, Optimizer, check_real
from kfit.optimizers.schedules import LearningRateSchedule

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: per-parameter learning rates that shrink with the sum of squared gradients.

    Update: `acc += g**2`, then `w -= lr * g / sqrt(acc + epsilon)`. The accumulator starts
    at `initial_accumulator_value`.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a no-argument callable.
            Defaults to 0.001.
        initial_accumulator_value: Non-negative starting value of the accumulators.
            Defaults to 0.1.
        epsilon: Small constant added inside the square root. Defaults to 1e-7.
        **kwargs: The shared optimizer arguments; see `Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = Adagrad(learning_rate=1.0, initial_accumulator_value=0.0, epsilon=0.0)
        >>> opt.build([w])
        >>> w.grad = torch.tensor([3.0])
        >>> opt.step()
        >>> w.item()  # 1 - 3 / sqrt(9)
        0.0
    """

    initial_accumulator_value = GroupHyperparameter(
        lambda name, v: check_real(name, v, 0.0, example=0.1)
    )
    epsilon = GroupHyperparameter(lambda name, v: check_real(name, v, 0.0, example=1e-7))

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule | Callable[[], float] = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
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
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_initial_values(self, group: dict[str, Any]) -> dict[str, float]:
        return {"accumulator": group["initial_accumulator_value"]}

    def _update_group(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        slots: dict[str, list[torch.Tensor]],
        lr: float,
        step: int,
    ) -> None:
        accumulators = slots["accumulator"]
        torch_compat.foreach_addcmul_(accumulators, grads, grads)
        denominators = torch_compat.foreach_add(accumulators, group["epsilon"])
        torch_compat.foreach_sqrt_(denominators)
        torch_compat.foreach_addcdiv_(params, grads, denominators, value=-lr)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments, with Keras 3's keys.

        Example:
            >>> Adagrad().get_config()["initial_accumulator_value"]
            0.1
        """
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
