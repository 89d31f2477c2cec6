"""`Reshape`: gives each sample a new shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Reshape"]


@register_keras_serializable(package="keras")
class Reshape(Layer):
    """Reshapes each sample to `target_shape` (the batch dimension is kept; one -1 is allowed).

    Example:
        >>> Reshape((3, 4))(torch.zeros(2, 12)).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape(inputs.shape[0], *self.target_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}
