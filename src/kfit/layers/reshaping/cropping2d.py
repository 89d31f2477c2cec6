"""`Cropping2D`: drops rows and columns at the borders of images."""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.config import standardize_data_format
from kfit.layers.convolutional.spatial import standardize_pairs
from kfit.layers.layer import Layer
from kfit.layers.reshaping.cropping1d import check_crop
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Cropping2D"]


@register_keras_serializable(package="keras")
class Cropping2D(Layer):
    """Crops the height and width of `(batch, height, width, channels)` images.

    The default crops nothing (unlike Cropping1D's, which drops one step at each end), as in
    Keras.

    Args:
        cropping: An int (every side), `(symmetric_height, symmetric_width)`, or
            `((top, bottom), (left, right))`; default `((0, 0), (0, 0))`.
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Raises:
        ValueError: at the call, when the cropping leaves no row or column.

    Example:
        >>> import torch
        >>> Cropping2D(((1, 0), (0, 1)))(torch.arange(4.0).reshape(1, 2, 2, 1))[0, :, :, 0].tolist()
        [[2.0]]
    """

    def __init__(
        self,
        cropping: int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0)),
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.cropping = standardize_pairs(cropping, 2, "cropping")
        self._first = 1 if self.data_format == "channels_last" else 2

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        (top, bottom), (left, right) = self.cropping
        height, width = inputs.shape[self._first], inputs.shape[self._first + 1]
        check_crop(height, self.cropping[0], "Cropping2D", "height")
        check_crop(width, self.cropping[1], "Cropping2D", "width")
        if self._first == 1:
            return inputs[:, top : height - bottom, left : width - right]
        return inputs[:, :, top : height - bottom, left : width - right]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        shape = list(input_shape)
        for axis, crop, name in zip((self._first, self._first + 1), self.cropping, ("height", "width")):
            length = shape[axis]
            check_crop(length, crop, "Cropping2D", name)
            if length is not None:
                shape[axis] = length - sum(crop)
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(cropping=self.cropping, data_format=self.data_format)
        return config
