"""`MaxPooling1D`: 1-D max pooling, with Keras's arguments and defaults."""

from __future__ import annotations

from typing import Any

from kfit.layers.pooling.base_pooling import BasePooling
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["MaxPooling1D"]


@register_keras_serializable(package="keras")
class MaxPooling1D(BasePooling):
    """1-D max pooling over `steps`: the maximum of each window, per channel.

    Inputs are `(batch, steps, channels)` (channels second with `data_format="channels_first"`).

    Args:
        pool_size: Window size: an int or 1 ints; default 2.
        strides: Step of the window; None (the default) means `pool_size`.
        padding: `"valid"` (default) or `"same"` (TensorFlow's; padded positions never win).
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        name: The layer's name.
        **kwargs: `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> layer = MaxPooling1D()
        >>> layer(torch.arange(6.0).reshape(1, 6, 1))[0, :, 0].tolist()
        [1.0, 3.0, 5.0]
    """

    def __init__(
        self,
        pool_size: int | tuple[int] = 2,
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
            pool_mode="max",
            padding=padding,
            data_format=data_format,
            name=name,
            **kwargs,
        )
