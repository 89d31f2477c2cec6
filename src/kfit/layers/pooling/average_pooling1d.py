"""`AveragePooling1D`: 1-D average pooling, with Keras's arguments and defaults."""

from __future__ import annotations

from typing import Any

from kfit.layers.pooling.base_pooling import BasePooling
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["AveragePooling1D"]


@register_keras_serializable(package="keras")
class AveragePooling1D(BasePooling):
    """1-D average pooling over `steps`: the mean of each window, per channel.

    Inputs are `(batch, steps, channels)` (channels second with `data_format="channels_first"`).
    Unlike the max pooling layers, `pool_size` has no default (as in Keras).

    Args:
        pool_size: Window size: an int or 1 ints (required, as in Keras).
        strides: Step of the window; None (the default) means `pool_size`.
        padding: `"valid"` (default) or `"same"` (TensorFlow's; padded positions are left out of the mean).
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        name: The layer's name.
        **kwargs: `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> layer = AveragePooling1D(3, strides=1, padding="same")
        >>> layer(torch.arange(4.0).reshape(1, 4, 1))[0, :, 0].tolist()
        [0.5, 1.0, 2.0, 2.5]
    """

    def __init__(
        self,
        pool_size: int | tuple[int],
        strides: int | tuple[int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            pool_size,
            strides,
            pool_dimensions=1,
            pool_mode="average",
            padding=padding,
            data_format=data_format,
            name=name,
            **kwargs,
        )
