"""`BaseDepthwiseConv`: what DepthwiseConv1D and DepthwiseConv2D share."""

from __future__ import annotations

from typing import Any

import torch

from kfit import activations, constraints, initializers, regularizers
from kfit.backend.config import standardize_data_format
from kfit.layers.convolutional.base_conv import (
    CONV_FUNCTIONS,
    channel_count,
    check_input_rank,
    check_strides_or_dilation,
    conv_bias,
    initializer_config,
)
from kfit.layers.convolutional.spatial import (
    SpatialWindow,
    check_positive_int,
    standardize_padding,
    standardize_tuple,
    store_in_torch_layout,
)
from kfit.layers.layer import Layer

__all__ = ["BaseDepthwiseConv", "depthwise_to_torch_order"]


def depthwise_to_torch_order(rank: int) -> tuple[int, ...]:
    """The permutation from a Keras depthwise kernel `(*window, in, multiplier)` to
    `(in, multiplier, *window)`, which reshapes (as a view) to torch's `(in * multiplier, 1,
    *window)`.

    Example:
        >>> depthwise_to_torch_order(2)
        (2, 3, 0, 1)
    """
    return (rank, rank + 1, *range(rank))


class BaseDepthwiseConv(Layer):
    """A depthwise convolution: each input channel is convolved with its own
    `depth_multiplier` filters, and nothing mixes channels.

    The weight is named `kernel` (as in Keras's DepthwiseConv layers; SeparableConv calls its
    own `depthwise_kernel`) with shape `(*kernel_size, in_channels, depth_multiplier)`; output
    channel `c * depth_multiplier + m` comes from input channel `c`. The bias is
    `(in_channels * depth_multiplier,)`. torch runs it as a grouped convolution with one
    group per input channel.

    Args:
        rank: Number of spatial dimensions (1 or 2).
        depth_multiplier: Number of filters per input channel.
        kernel_size: Window size: an int or `rank` ints.
        strides: Step of the window.
        padding: `"valid"` or `"same"`.
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        dilation_rate: Spacing of the window's taps.
        activation: Name or callable; None means linear.
        use_bias: Whether to add a bias vector.
        depthwise_initializer: Initializer for the kernel.
        bias_initializer: Initializer for the bias.
        depthwise_regularizer: Regularizer of the kernel.
        bias_regularizer: Regularizer of the bias.
        activity_regularizer: Regularizer of the output.
        depthwise_constraint: Constraint of the kernel.
        bias_constraint: Constraint of the bias.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> layer = BaseDepthwiseConv(2, 2, 3)
        >>> layer(torch.zeros(2, 8, 8, 3)).shape
        torch.Size([2, 6, 6, 6])
    """

    def __init__(
        self,
        rank: int,
        depth_multiplier: int,
        kernel_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | tuple[int, ...] = 1,
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
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.rank = rank
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier", "depth_multiplier=1")
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        check_strides_or_dilation(self.strides, self.dilation_rate)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._linear = self.activation is activations.linear
        self._window = SpatialWindow(
            rank, self.kernel_size, self.strides, self.dilation_rate, self.padding, self.data_format
        )
        self._conv = CONV_FUNCTIONS[rank]
        self._to_torch_kernel = depthwise_to_torch_order(rank)
        if self._declared_input_shape is not None:
            self.build(self._declared_input_shape)
            self.built = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        layer = type(self).__name__
        check_input_rank(input_shape, self.rank, layer)
        self._in_channels = channel_count(input_shape, self.data_format, layer)
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, self._in_channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
            name="kernel",
        )
        store_in_torch_layout(self.kernel, self._to_torch_kernel)
        self._torch_kernel_shape = (self._in_channels * self.depth_multiplier, 1, *self.kernel_size)
        self.bias = conv_bias(self, self._in_channels * self.depth_multiplier)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        kernel = self.kernel
        if inputs.dtype != kernel.dtype:
            inputs = inputs.to(kernel.dtype)
        window = self._window
        x, padding = window.to_torch(inputs)
        torch_kernel = kernel.permute(self._to_torch_kernel).reshape(self._torch_kernel_shape)
        y = self._conv(
            x, torch_kernel, self.bias, window.strides, padding, window.dilation_rate, self._in_channels
        )
        y = window.from_torch(y)
        return y if self._linear else self.activation(y)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        out_channels = None if channels is None else channels * self.depth_multiplier
        return self._window.output_shape(input_shape, out_channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            depth_multiplier=self.depth_multiplier,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            depthwise_initializer=initializer_config(self.depthwise_initializer),
            bias_initializer=initializer_config(self.bias_initializer),
            depthwise_regularizer=regularizers.serialize(self.depthwise_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
            depthwise_constraint=constraints.serialize(self.depthwise_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint),
        )
        return config
