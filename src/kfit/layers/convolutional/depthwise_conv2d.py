"""`DepthwiseConv2D`: 2-D depthwise convolution, with Keras's arguments and weight names."""

from __future__ import annotations

from typing import Any

from kfit.layers.convolutional.base_depthwise_conv import BaseDepthwiseConv
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["DepthwiseConv2D"]


@register_keras_serializable(package="keras")
class DepthwiseConv2D(BaseDepthwiseConv):
    """2-D depthwise convolution: each input channel gets its own `depth_multiplier` filters.

    Inputs are `(batch, height, width, channels)` (channels second with `data_format="channels_first"`). The weight is
    named `kernel`, shape `(kh, kw, in_channels, depth_multiplier)`, and the bias has `in_channels * depth_multiplier`
    entries, as in Keras; see `BaseDepthwiseConv`.

    Args:
        kernel_size: Window size: an int or 2 ints.
        strides: Step of the window; default 1.
        padding: `"valid"` (default) or `"same"`.
        depth_multiplier: Filters per input channel; default 1.
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        dilation_rate: Spacing of the window's taps; default 1.
        activation: Name or callable; None means linear.
        use_bias: Whether to add a bias (default True).
        depthwise_initializer: Default `"glorot_uniform"`.
        bias_initializer: Default `"zeros"`.
        depthwise_regularizer: Optional regularizer of the kernel.
        bias_regularizer: Optional regularizer of the bias.
        activity_regularizer: Optional regularizer of the output.
        depthwise_constraint: Optional constraint of the kernel.
        bias_constraint: Optional constraint of the bias.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> layer = DepthwiseConv2D(3, depth_multiplier=2)
        >>> layer(torch.zeros(2, 8, 8, 3)).shape
        torch.Size([2, 6, 6, 6])
        >>> [w.shape for w in layer.get_weights()]
        [(3, 3, 3, 2), (6,)]
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: int | tuple[int, int] = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            rank=2,
            depth_multiplier=depth_multiplier,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            depthwise_initializer=depthwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            depthwise_constraint=depthwise_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
