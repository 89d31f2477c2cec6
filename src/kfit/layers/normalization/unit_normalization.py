"""`UnitNormalization`: scales each sample to unit L2 norm along some axes, as Keras does."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.errors import received

__all__ = ["UnitNormalization"]


@register_keras_serializable(package="keras")
class UnitNormalization(Layer):
    """Divides its input by its L2 norm over `axis`: `x / max(||x||, 1e-12)`. No weights.

    Args:
        axis: An axis or a list of axes over which the norm is taken.
        **kwargs: Layer arguments (`name`, `dtype`, ...).

    Raises:
        TypeError: when `axis` is neither an int nor a list/tuple of ints.

    Example:
        >>> import torch
        >>> UnitNormalization()(torch.tensor([[3.0, 4.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """

    def __init__(self, axis: int | list[int] | tuple[int, ...] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and all(_is_int(a) for a in axis):
            self.axis: int | list[int] = list(axis)
        elif _is_int(axis):
            self.axis = int(axis)  # type: ignore[arg-type]  # _is_int checked it
        else:
            raise TypeError(
                f"Expected `axis` to be an int or a list/tuple of ints. {received('axis', axis)} "
                "Pass e.g. axis=-1 or axis=[1, 2]."
            )
        self._dims: int | tuple[int, ...] = self.axis if isinstance(self.axis, int) else tuple(self.axis)
        self.supports_masking = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs if inputs.is_floating_point() else inputs.to(torch.get_default_dtype())
        return F.normalize(x, p=2.0, dim=self._dims, eps=1e-12)  # type: ignore[arg-type]  # torch accepts tuples

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        ndim = len(input_shape)
        for axis in [self.axis] if isinstance(self.axis, int) else self.axis:
            if not -ndim <= axis < ndim:
                raise ValueError(
                    f"Expected every axis to index one of the input's {ndim} dimensions. "
                    f"{received('axis', axis)} The input shape is {tuple(input_shape)}."
                )
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(axis=self.axis)
        return config


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
