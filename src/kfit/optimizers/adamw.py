"""AdamW: Keras 3's Adam with decoupled weight decay switched on by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfit.optimizers.adam import Adam
from kfit.optimizers.schedules import LearningRateSchedule

__all__ = ["AdamW"]


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as in Keras 3.

    Before each Adam update, every decayed parameter is shrunk by
    `w -= lr * weight_decay * w`. The update itself is `Adam`'s.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a no-argument callable.
            Defaults to 0.001.
        weight_decay: The decay factor; must be a float. Defaults to 0.004.
        beta_1: Decay rate of the first-moment estimate. Defaults to 0.9.
        beta_2: Decay rate of the second-moment estimate. Defaults to 0.999.
        epsilon: Small constant for numerical stability. Defaults to 1e-7.
        amsgrad: Whether to use the AMSGrad variant. Defaults to False.
        **kwargs: The shared optimizer arguments; see `Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([2.0]))
        >>> opt = AdamW(learning_rate=0.1, weight_decay=0.5)
        >>> opt.build([w])
        >>> w.grad = torch.tensor([0.0])
        >>> opt.step()
        >>> round(w.item(), 4)  # only the decay acts: 2 * (1 - 0.1 * 0.5)
        1.9
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule | Callable[[], float] = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
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
        if weight_decay is None:
            raise ValueError(
                "Expected `weight_decay` to be a float for AdamW. Received: weight_decay=None "
                "(of type NoneType). Pass e.g. `weight_decay=0.004`, or use `Adam` for no decay."
            )
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
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
