"""`GlobalAveragePooling1D`: the mean over all steps of each channel, as in Keras."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.pooling.base_global_pooling import BaseGlobalPooling
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["GlobalAveragePooling1D"]


@register_keras_serializable(package="keras")
class GlobalAveragePooling1D(BaseGlobalPooling):
    """Global average pooling: `(batch, steps, channels)` becomes `(batch, channels)`.

    It supports masking: with a `(batch, steps)` boolean mask (from `Masking` or
    `Embedding(mask_zero=True)`, or passed as `mask=`), the mean is over the unmasked steps,
    and the output carries no mask.

    Args:
        data_format: `"channels_last"` (default via the global setting) or `"channels_first"`.
        keepdims: Whether to keep the pooled dimensions with length 1 (default False).
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> layer = GlobalAveragePooling1D()
        >>> layer(torch.arange(6.0).reshape(1, 3, 2)).tolist()
        [[2.0, 3.0]]
    """

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(pool_dimensions=1, data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return torch.mean(inputs, dim=self._axes, keepdim=self.keepdims)
        # The mean over the unmasked steps only (a fully masked row gives 0/0, as in Keras).
        weights = mask.to(inputs.dtype).unsqueeze(-1 if self.data_format == "channels_last" else 1)
        total = torch.sum(inputs * weights, dim=self._axes, keepdim=self.keepdims)
        return total / torch.sum(weights, dim=self._axes, keepdim=self.keepdims)

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        # The steps are gone, and with them the mask.
        return None
