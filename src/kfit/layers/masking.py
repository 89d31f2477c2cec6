"""`Masking`: marks the steps of a sequence whose features all equal `mask_value` as padding."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import deserialize_keras_object

__all__ = ["Masking"]


@register_keras_serializable(package="keras")
class Masking(Layer):
    """Masks the steps whose features all equal `mask_value`, for the layers that follow.

    For `(batch, steps, features)` inputs a step is masked when every one of its features
    equals `mask_value`. The output is the input with masked steps set to zero, and it carries
    the `(batch, steps)` boolean mask (True where a step is kept) that RNNs and pooling layers
    read.

    Args:
        mask_value: The padding value.
        **kwargs: Layer arguments (`name`, `dtype`, ...).

    Example:
        >>> import torch
        >>> x = torch.tensor([[[1.0, 2.0], [-1.0, -1.0], [3.0, -1.0]]])
        >>> out = Masking(mask_value=-1.0)(x)
        >>> out.tolist(), out._keras_mask.tolist()
        ([[[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]]], [[True, False, True]])
    """

    def __init__(self, mask_value: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(mask_value, dict) and mask_value.get("config") is not None:
            # A tensor or array value, as `get_config` wrote it.
            mask_value = deserialize_keras_object(mask_value)
        self.mask_value = mask_value
        self.supports_masking = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        kept = torch.any(inputs != self.mask_value, dim=-1, keepdim=True)
        return torch.where(kept, inputs, 0)

    def compute_mask(self, inputs: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return torch.any(inputs != self.mask_value, dim=-1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(mask_value=self.mask_value)
        return config
