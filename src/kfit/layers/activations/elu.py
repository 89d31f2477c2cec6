"""`ELU`: the exponential linear unit as a layer."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["ELU"]


@register_keras_serializable(package="keras")
class ELU(Layer):
    """Exponential linear unit: `x` for positive inputs, `alpha * (exp(x) - 1)` otherwise.

    Args:
        alpha: Scale of the negative part.
        **kwargs: Layer arguments such as `name`.

    Example:
        >>> ELU()(torch.tensor([-1.0, 2.0]))
        tensor([-0.6321,  2.0000])
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = alpha
        self.supports_masking = True
        # No weights and nothing to check: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}
