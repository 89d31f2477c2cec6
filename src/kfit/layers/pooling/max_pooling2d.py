"""`MaxPooling2D`: 2-D max pooling, with Keras's arguments and defaults."""

from __future__ import annotations

from typing import Any

from kfit.layers.pooling.base_pooling import BasePooling
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["MaxPooling2D"]


@register_keras_serializable(package="keras")
class MaxPooling2D(BasePooling):
    """2-D max pooling over `(height, width)`: the maximum of each window, per channel.

    Inputs are `(batch, height, width, channels)` (channels second with `data_format="channels_first"`).

    Args:
        pool_size: Window size: an int or 2 ints; default (2, 2).
        strides: Step of the window; None (the default) means `pool_size`.
        padding: `"valid"` (default) or `"same"` (TensorFlow's; padded positions never win).
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        name: The layer's name.
        **kwargs: `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> layer = MaxPooling2D()
        >>> layer(torch.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
    """

    def __init__(
        self,
        pool_size: int | tuple[int, int] = (2, 2),
        strides: int | tuple[int, int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            pool_size,
            strides,
            pool_dimensions=2,
            pool_mode="max",
            padding=padding,
            data_format=data_format,
            name=name,
            **kwargs,
        )
