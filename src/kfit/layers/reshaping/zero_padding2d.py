"""`ZeroPadding2D`: adds rows and columns of zeros around images."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from kfit.backend.config import standardize_data_format
from kfit.layers.convolutional.spatial import standardize_pairs
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["ZeroPadding2D"]


@register_keras_serializable(package="keras")
class ZeroPadding2D(Layer):
    """Pads the height and width of `(batch, height, width, channels)` images with zeros.

    Args:
        padding: An int (every side), `(symmetric_height, symmetric_width)`, or
            `((top, bottom), (left, right))`; default `(1, 1)`, stored as `((1, 1), (1, 1))`.
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> ZeroPadding2D(((1, 0), (0, 1)))(torch.ones(1, 1, 1, 1))[0, :, :, 0].tolist()
        [[0.0, 0.0], [1.0, 0.0]]
    """

    def __init__(
        self,
        padding: int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] = (1, 1),
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.padding = standardize_pairs(padding, 2, "padding")
        (top, bottom), (left, right) = self.padding
        # F.pad lists the last axis first.
        pads = [left, right, top, bottom]
        self._pads = [0, 0, *pads] if self.data_format == "channels_last" else pads

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.pad(inputs, self._pads)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        first = 1 if self.data_format == "channels_last" else 2
        shape = list(input_shape)
        for axis, pair in zip((first, first + 1), self.padding):
            length = shape[axis]
            if length is not None:
                shape[axis] = length + sum(pair)
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(padding=self.padding, data_format=self.data_format)
        return config
