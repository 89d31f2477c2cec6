"""Adam as Keras 3 defines it (epsilon added after the square root, before bias correction)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from kfit.backend import torch_compat
from kfit.optimizers.optimizer import GroupHyperparameter, Optimizer, check_bool, check_real
from kfit.optimizers.schedules import LearningRateSchedule

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam: adaptive estimates of the gradient's first and second moments.

    Update at step `t` (from 1): `m = beta_1 * m + (1 - beta_1) * g`,
    `v = beta_2 * v + (1 - beta_2) * g**2`,
    `alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`,
    `w -= alpha * m / (sqrt(v) + epsilon)`. Keras adds epsilon to the uncorrected
    `sqrt(v)`, so results differ slightly from `torch.optim.Adam` with the same epsilon.
    With `amsgrad=True`, the running maximum of `v` replaces `v` in the denominator.

    Args:
        learning_rate: A float, a `LearningRateSchedule` or a no-argument callable.
            Defaults to 0.001.
        beta_1: Decay rate of the first-moment estimate. Defaults to 0.9.
        beta_2: Decay rate of the second-moment estimate. Defaults to 0.999.
        epsilon: Small constant for numerical stability. Defaults to 1e-7.
        amsgrad: Whether to use the AMSGrad variant. Defaults to False.
        **kwargs: The shared optimizer arguments; see `Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
        >>> opt = Adam(learning_rate=0.1)
        >>> opt.build([w])
        >>> w.grad = torch.tensor([0.5, -2.0])
        >>> opt.step()
        >>> [round(x, 4) for x in w.detach().tolist()]  # the first step moves by ~lr
        [0.9, -0.9]
    """

    beta_1 = GroupHyperparameter(lambda name, v: check_real(name, v, 0.0, 1.0, example=0.9))
    beta_2 = GroupHyperparameter(lambda name, v: check_real(name, v, 0.0, 1.0, example=0.999))
    epsilon = GroupHyperparameter(lambda name, v: check_real(name, v, 0.0, example=1e-7))
    amsgrad = GroupHyperparameter(check_bool)

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule | Callable[[], float] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _fused_views(
        self, params: list[torch.Tensor], momentums: list[torch.Tensor], velocities: list[torch.Tensor]
    ) -> _RowMajorViews | None:
        # The layout does not change between steps, so it is worked out once per list (the
        # optimizer's cache hands the same lists every step); the lists are kept beside the
        # answer, so an id reused by a later list cannot be mistaken for them.
        memo = self.__dict__.setdefault("_fused_layout_memo", {})
        first = params[0]
        hit = memo.get(id(params))
        # `module.to(dtype)` converts parameters in place, so the same list can change dtype.
        if (
            hit is not None
            and hit[0] is params
            and hit[1] == (first.dtype, first.device)
            and hit[2] == (id(momentums), id(velocities))
        ):
            return hit[3]
        if len(memo) > 16:
            memo.clear()
        layouts = _fused_adam_layouts(params)
        views = None if layouts is None else _RowMajorViews(layouts, params, momentums, velocities)
        memo[id(params)] = (params, (first.dtype, first.device), (id(momentums), id(velocities)), views)
        return views

    def _slot_initial_values(self, group: dict[str, Any]) -> dict[str, float]:
        slots = {"momentum": 0.0, "velocity": 0.0}
        if group["amsgrad"]:
            slots["velocity_hat"] = 0.0
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
        beta_1, beta_2 = group["beta_1"], group["beta_2"]
        # The step size is computed on the host from the Python-int step (no device sync),
        # in the parameters' precision as Keras does: rounding beta_2 to float32 alone moves
        # 1 - beta_2**t by ~1e-5 relative, which is visible next to Keras's results.
        real = np.float64 if params[0].dtype == torch.float64 else np.float32
        t, one = real(step), real(1.0)
        alpha = float(real(lr) * np.sqrt(one - real(beta_2) ** t) / (one - real(beta_1) ** t))
        momentums, velocities = slots["momentum"], slots["velocity"]
        views = None if group["amsgrad"] else self._fused_views(params, momentums, velocities)
        if views is not None and _grads_match(params, grads):
            # torch's fused kernel divides sqrt(v) by sqrt(1 - beta_2**t) before adding eps;
            # scaling eps by the same factor makes its update exactly Keras's, in one pass.
            # The betas are rounded to float32 as Keras stores them.
            b1, b2 = float(np.float32(beta_1)), float(np.float32(beta_2))
            eps = float(real(group["epsilon"]) / np.sqrt(one - real(b2) ** t))
            if views.permuted:
                params, momentums, velocities = views.state(params)
                grads = views.of(grads)
            torch_compat.fused_adam_(
                params, grads, momentums, velocities, step, lr=lr, beta1=b1, beta2=b2, eps=eps
            )
            return
        torch_compat.foreach_lerp_(momentums, grads, 1.0 - beta_1)
        torch_compat.foreach_mul_(velocities, beta_2)
        torch_compat.foreach_addcmul_(velocities, grads, grads, value=1.0 - beta_2)
        if group["amsgrad"]:
            velocity_hats = slots["velocity_hat"]
            torch_compat.foreach_maximum_(velocity_hats, velocities)
            velocities = velocity_hats
        denominators = torch_compat.foreach_sqrt(velocities)
        torch_compat.foreach_add_(denominators, group["epsilon"])
        torch_compat.foreach_addcdiv_(params, momentums, denominators, value=-alpha)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments, with Keras 3's keys.

        Example:
            >>> Adam().get_config()["beta_2"]
            0.999
        """
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


def _fused_adam_layouts(params: list[torch.Tensor]) -> tuple[tuple[int, ...] | None, ...] | None:
    """How to hand these parameters to torch's fused Adam kernel in one call, or None if it cannot.

    The CPU kernel copies any tensor that is not row-major into a row-major temporary and back:
    for the 784x512 kernel of a Dense layer (stored transposed, see `Dense`) that is 0.8 ms a
    step, more than the update itself. The update is elementwise, so the kernel is handed a
    permuted view of each parameter, gradient and slot that is row-major, with the same
    permutation for all four; `_grads_match` checks that the gradients share the parameters'
    strides, and `Optimizer._ensure_cache` lays the slots out like their parameters.

    Returns:
        One entry per parameter: None for a row-major one, else the dimension order that makes
        it row-major. None overall when a parameter has gaps or overlaps in its memory, or the
        kernel does not apply (device, dtype).
    """
    first = params[0]
    if not torch_compat.fused_adam_available(first.device):
        return None
    layouts: list[tuple[int, ...] | None] = []
    for p in params:
        if p.device != first.device or p.dtype != first.dtype or not p.is_floating_point():
            return None
        if p.is_contiguous():
            layouts.append(None)
            continue
        # Dense and non-overlapping means: ordered by decreasing stride, it is row-major.
        order = tuple(sorted(range(p.dim()), key=p.stride, reverse=True))
        if not p.permute(order).is_contiguous():
            return None
        layouts.append(order)
    return tuple(layouts)


class _RowMajorViews:
    """Row-major views of an Adam group's parameters, slots and gradients, for the fused kernel.

    The views of the parameters and slots are made once: each view costs 1-2 us, as much as a
    small model's whole update. They are checked against the parameters' memory every step,
    since a parameter's `.data` can be replaced between steps.
    """

    def __init__(
        self,
        layouts: tuple[tuple[int, ...] | None, ...],
        params: list[torch.Tensor],
        momentums: list[torch.Tensor],
        velocities: list[torch.Tensor],
    ) -> None:
        self.layouts = layouts
        self.permuted = [i for i, order in enumerate(layouts) if order is not None]
        self._momentums, self._velocities = self.of(momentums), self.of(velocities)
        self._params = self.of(params)

    def of(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        views = list(tensors)
        for i in self.permuted:
            order = self.layouts[i]
            assert order is not None
            views[i] = views[i].t() if order == (1, 0) else views[i].permute(order)
        return views

    def state(self, params: list[torch.Tensor]) -> tuple[list[torch.Tensor], ...]:
        if any(self._params[i].data_ptr() != params[i].data_ptr() for i in self.permuted):
            self._params = self.of(params)
        return self._params, self._momentums, self._velocities


def _grads_match(params: list[torch.Tensor], grads: list[torch.Tensor]) -> bool:
    # Autograd lays gradients out like their parameters; one assigned by hand may not be.
    return all(g.stride() == p.stride() for p, g in zip(params, grads))
