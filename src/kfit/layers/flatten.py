"""`Flatten`: collapses every dimension but the batch."""

from __future__ import annotations

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Flatten"]


@register_keras_serializable(package="keras")
class Flatten(Layer):
    """Reshapes `(batch, d1, d2, ...)` to `(batch, d1 * d2 * ...)`.

    Example:
        >>> Flatten()(torch.zeros(2, 3, 4)).shape
        torch.Size([2, 12])
    """

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape(inputs.shape[0], -1)
