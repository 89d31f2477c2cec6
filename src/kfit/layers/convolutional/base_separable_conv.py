"""`BaseSeparableConv`: what SeparableConv1D and SeparableConv2D share."""

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
    kernel_to_torch_order,
)
from kfit.layers.convolutional.base_depthwise_conv import depthwise_to_torch_order
from kfit.layers.convolutional.spatial import (
    SpatialWindow,
    check_positive_int,
    standardize_padding,
    standardize_tuple,
    store_in_torch_layout,
)
from kfit.layers.layer import Layer

__all__ = ["BaseSeparableConv"]


class BaseSeparableConv(Layer):
    """A depthwise convolution (one window per input channel) followed by a pointwise one
    (a 1x1 convolution that mixes channels), then the bias and the activation.

    Weights, in Keras's order: `depthwise_kernel` `(*kernel_size, in_channels,
    depth_multiplier)`, `pointwise_kernel` `(*(1,) * rank, in_channels * depth_multiplier,
    filters)`, `bias` `(filters,)`. The window's strides, padding and dilation belong to the
    depthwise step.

    Args:
        rank: Number of spatial dimensions (1 or 2).
        depth_multiplier: Number of depthwise filters per input channel.
        filters: Number of output channels.
        kernel_size: Window size: an int or `rank` ints.
        strides: Step of the window.
        padding: `"valid"` or `"same"`.
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        dilation_rate: Spacing of the window's taps.
        activation: Name or callable; None means linear.
        use_bias: Whether to add a bias vector.
        depthwise_initializer: Initializer for the depthwise kernel.
        pointwise_initializer: Initializer for the pointwise kernel.
        bias_initializer: Initializer for the bias.
        depthwise_regularizer: Regularizer of the depthwise kernel.
        pointwise_regularizer: Regularizer of the pointwise kernel.
        bias_regularizer: Regularizer of the bias.
        activity_regularizer: Regularizer of the output.
        depthwise_constraint: Constraint of the depthwise kernel.
        pointwise_constraint: Constraint of the pointwise kernel.
        bias_constraint: Constraint of the bias.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> layer = BaseSeparableConv(2, 1, 4, 3)
        >>> layer(torch.zeros(2, 8, 8, 3)).shape
        torch.Size([2, 6, 6, 4])
    """

    def __init__(
        self,
        rank: int,
        depth_multiplier: int,
        filters: int,
        kernel_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | tuple[int, ...] = 1,
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
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        layer = type(self).__name__
        self.rank = rank
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier", "depth_multiplier=1")
        self.filters = check_positive_int(filters, "filters", f"{layer}(32, 3)")
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        check_strides_or_dilation(self.strides, self.dilation_rate)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._linear = self.activation is activations.linear
        self._window = SpatialWindow(
            rank, self.kernel_size, self.strides, self.dilation_rate, self.padding, self.data_format
        )
        self._conv = CONV_FUNCTIONS[rank]
        self._depthwise_to_torch = depthwise_to_torch_order(rank)
        self._pointwise_to_torch = kernel_to_torch_order(rank)
        if self._declared_input_shape is not None:
            self.build(self._declared_input_shape)
            self.built = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        layer = type(self).__name__
        check_input_rank(input_shape, self.rank, layer)
        self._in_channels = channel_count(input_shape, self.data_format, layer)
        depth = self._in_channels * self.depth_multiplier
        self.depthwise_kernel = self.add_weight(
            shape=(*self.kernel_size, self._in_channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
            name="depthwise_kernel",
        )
        store_in_torch_layout(self.depthwise_kernel, self._depthwise_to_torch)
        self._depthwise_shape = (depth, 1, *self.kernel_size)
        self.pointwise_kernel = self.add_weight(
            shape=(*(1,) * self.rank, depth, self.filters),
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
            name="pointwise_kernel",
        )
        store_in_torch_layout(self.pointwise_kernel, self._pointwise_to_torch)
        self.bias = conv_bias(self, self.filters)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        depthwise = self.depthwise_kernel
        if inputs.dtype != depthwise.dtype:
            inputs = inputs.to(depthwise.dtype)
        window = self._window
        x, padding = window.to_torch(inputs)
        x = self._conv(
            x,
            depthwise.permute(self._depthwise_to_torch).reshape(self._depthwise_shape),
            None,
            window.strides,
            padding,
            window.dilation_rate,
            self._in_channels,
        )
        y = self._conv(x, self.pointwise_kernel.permute(self._pointwise_to_torch), self.bias)
        y = window.from_torch(y)
        return y if self._linear else self.activation(y)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return self._window.output_shape(input_shape, self.filters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            depth_multiplier=self.depth_multiplier,
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            depthwise_initializer=initializer_config(self.depthwise_initializer),
            pointwise_initializer=initializer_config(self.pointwise_initializer),
            bias_initializer=initializer_config(self.bias_initializer),
            depthwise_regularizer=regularizers.serialize(self.depthwise_regularizer),
            pointwise_regularizer=regularizers.serialize(self.pointwise_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
            depthwise_constraint=constraints.serialize(self.depthwise_constraint),
            pointwise_constraint=constraints.serialize(self.pointwise_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint),
        )
        return config
