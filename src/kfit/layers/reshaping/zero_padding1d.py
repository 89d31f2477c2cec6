"""`ZeroPadding1D`: adds zero steps at the start and end of sequences."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from kfit.backend.config import standardize_data_format
from kfit.layers.convolutional.spatial import standardize_tuple
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["ZeroPadding1D"]


@register_keras_serializable(package="keras")
class ZeroPadding1D(Layer):
    """Pads the steps axis of `(batch, steps, features)` with zeros.

    Args:
        padding: Steps to add at both ends (an int), or `(start, end)`; default 1.
        data_format: `"channels_last"` or `"channels_first"` (`(batch, features, steps)`);
            None means the global default.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> ZeroPadding1D((1, 2))(torch.ones(1, 2, 1))[0, :, 0].tolist()
        [0.0, 1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, padding: int | tuple[int, int] = 1, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        start, end = self.padding
        # F.pad lists the last axis first.
        self._pads = [0, 0, start, end] if self.data_format == "channels_last" else [start, end]

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.pad(inputs, self._pads)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        axis = 1 if self.data_format == "channels_last" else 2
        shape = list(input_shape)
        length = shape[axis]
        if length is not None:
            shape[axis] = length + sum(self.padding)
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(padding=self.padding, data_format=self.data_format)
        return config
