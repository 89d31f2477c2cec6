"""`GlobalMaxPooling2D`: the maximum over all pixels of each channel, as in Keras."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.pooling.base_global_pooling import BaseGlobalPooling
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["GlobalMaxPooling2D"]


@register_keras_serializable(package="keras")
class GlobalMaxPooling2D(BaseGlobalPooling):
    """Global max pooling: `(batch, height, width, channels)` becomes `(batch, channels)`.

    Args:
        data_format: `"channels_last"` (default via the global setting) or `"channels_first"`.
        keepdims: Whether to keep the pooled dimensions with length 1 (default False).
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> layer = GlobalMaxPooling2D()
        >>> layer(torch.arange(8.0).reshape(1, 2, 2, 2)).tolist()
        [[6.0, 7.0]]
    """

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(pool_dimensions=2, data_format=data_format, keepdims=keepdims, **kwargs)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.amax(inputs, dim=self._axes, keepdim=self.keepdims)
