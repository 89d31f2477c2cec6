"""`AveragePooling2D`: 2-D average pooling, with Keras's arguments and defaults."""

from __future__ import annotations

from typing import Any

from kfit.layers.pooling.base_pooling import BasePooling
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["AveragePooling2D"]


@register_keras_serializable(package="keras")
class AveragePooling2D(BasePooling):
    """2-D average pooling over `(height, width)`: the mean of each window, per channel.

    Inputs are `(batch, height, width, channels)` (channels second with `data_format="channels_first"`).
    Unlike the max pooling layers, `pool_size` has no default (as in Keras).

    Args:
        pool_size: Window size: an int or 2 ints (required, as in Keras).
        strides: Step of the window; None (the default) means `pool_size`.
        padding: `"valid"` (default) or `"same"` (TensorFlow's; padded positions are left out of the mean).
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        name: The layer's name.
        **kwargs: `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> layer = AveragePooling2D(2)
        >>> layer(torch.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
        [[2.5, 4.5], [10.5, 12.5]]
    """

    def __init__(
        self,
        pool_size: int | tuple[int, int],
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
            pool_mode="average",
            padding=padding,
            data_format=data_format,
            name=name,
            **kwargs,
        )
