"""`ActivityRegularization`: passes its input through and adds an L1/L2 penalty on it as a loss."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["ActivityRegularization"]


@register_keras_serializable(package="keras")
class ActivityRegularization(Layer):
    """The identity, plus the loss `(l1 * sum(|x|) + l2 * sum(x²)) / batch_size` on each call.

    The loss joins `layer.losses` (and the model's training loss). Like Keras's activity
    regularizers it is divided by the batch size, and it is added at inference too.

    Args:
        l1: L1 factor.
        l2: L2 factor.
        **kwargs: Layer arguments such as `name`.

    Example:
        >>> layer = ActivityRegularization(l1=0.1)
        >>> _ = layer(torch.ones(2, 3))
        >>> [round(float(v), 4) for v in layer.losses]
        [0.3]
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l1 = l1
        self.l2 = l2
        self.supports_masking = True
        # No weights and nothing to check: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        penalty = inputs.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * inputs.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * inputs.square().sum()
        if inputs.dim() > 0:
            penalty = penalty / inputs.shape[0]
        self.add_loss(penalty)
        return inputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
