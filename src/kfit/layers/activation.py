"""`Activation`: applies an activation function as a layer."""

from __future__ import annotations

from typing import Any

import torch

from kfit import activations
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Activation"]


@register_keras_serializable(package="keras")
class Activation(Layer):
    """Applies `activation` to its input.

    Example:
        >>> Activation("relu")(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        # Elementwise: a mask passes through unchanged, as in Keras.
        self.supports_masking = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation(inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
