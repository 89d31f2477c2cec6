"""`Conv2D`: 2-D convolution over images, with Keras's arguments and weight layout."""

from __future__ import annotations

from typing import Any

from kfit.layers.convolutional.base_conv import BaseConv
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Conv2D"]


@register_keras_serializable(package="keras")
class Conv2D(BaseConv):
    """2-D convolution: `activation(conv2d(inputs, kernel) + bias)` over `(height, width)`.

    Inputs are `(batch, height, width, channels)` (or `(batch, channels, height, width)` with
    `data_format="channels_first"`). The kernel is `(kh, kw, in_channels // groups, filters)`
    as in Keras; see `BaseConv` for every argument and for how it runs on torch.

    Args:
        filters: Number of output channels.
        kernel_size: Window size: an int or 2 ints.
        strides: Step of the window; default 1.
        padding: `"valid"` (default) or `"same"`.
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        dilation_rate: Spacing of the window's taps; default 1.
        groups: Number of channel groups; default 1.
        activation: Name or callable; None means linear.
        use_bias: Whether to add a bias (default True).
        kernel_initializer: Default `"glorot_uniform"`.
        bias_initializer: Default `"zeros"`.
        kernel_regularizer: Optional regularizer of the kernel.
        bias_regularizer: Optional regularizer of the bias.
        activity_regularizer: Optional regularizer of the output.
        kernel_constraint: Optional constraint of the kernel.
        bias_constraint: Optional constraint of the bias.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> layer = Conv2D(4, 3, padding="same", activation="relu")
        >>> layer(torch.zeros(2, 8, 8, 3)).shape
        torch.Size([2, 8, 8, 4])
        >>> [w.shape for w in layer.get_weights()]
        [(3, 3, 3, 4), (4,)]
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | tuple[int, int] = (1, 1),
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            rank=2,
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            groups=groups,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
