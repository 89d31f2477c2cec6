"""`SeparableConv1D`: 1-D depthwise-then-pointwise convolution, with Keras's arguments."""

from __future__ import annotations

from typing import Any

from kfit.layers.convolutional.base_separable_conv import BaseSeparableConv
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["SeparableConv1D"]


@register_keras_serializable(package="keras")
class SeparableConv1D(BaseSeparableConv):
    """1-D separable convolution: a depthwise window per channel, then a 1x1 mix of channels.

    Inputs are `(batch, steps, channels)` (channels second with `data_format="channels_first"`). Weights, in
    order: `depthwise_kernel` `(k, in_channels, depth_multiplier)`, `pointwise_kernel`, `bias`; see `BaseSeparableConv`.

    Args:
        filters: Number of output channels.
        kernel_size: Window size: an int or 1 ints.
        strides: Step of the window; default 1.
        padding: `"valid"` (default) or `"same"`.
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        dilation_rate: Spacing of the window's taps; default 1.
        depth_multiplier: Depthwise filters per input channel; default 1.
        activation: Name or callable; None means linear.
        use_bias: Whether to add a bias (default True).
        depthwise_initializer: Default `"glorot_uniform"`.
        pointwise_initializer: Default `"glorot_uniform"`.
        bias_initializer: Default `"zeros"`.
        depthwise_regularizer: Optional regularizer of the depthwise kernel.
        pointwise_regularizer: Optional regularizer of the pointwise kernel.
        bias_regularizer: Optional regularizer of the bias.
        activity_regularizer: Optional regularizer of the output.
        depthwise_constraint: Optional constraint of the depthwise kernel.
        pointwise_constraint: Optional constraint of the pointwise kernel.
        bias_constraint: Optional constraint of the bias.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> import torch
        >>> layer = SeparableConv1D(4, 3)
        >>> layer(torch.zeros(2, 10, 3)).shape
        torch.Size([2, 8, 4])
        >>> [w.shape for w in layer.get_weights()]
        [(3, 3, 1), (1, 3, 4), (4,)]
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int],
        strides: int | tuple[int] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | tuple[int] = 1,
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            rank=1,
            depth_multiplier=depth_multiplier,
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            depthwise_initializer=depthwise_initializer,
            pointwise_initializer=pointwise_initializer,
            bias_initializer=bias_initializer,
            depthwise_regularizer=depthwise_regularizer,
            pointwise_regularizer=pointwise_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            depthwise_constraint=depthwise_constraint,
            pointwise_constraint=pointwise_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
