"""`BaseConv`: what Conv1D, Conv2D and Conv3D share (arguments, weights, call, config)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from kfit import activations, constraints, initializers, regularizers
from kfit.backend.config import standardize_data_format
from kfit.layers.convolutional.spatial import (
    SpatialWindow,
    check_positive_int,
    standardize_padding,
    standardize_tuple,
    store_in_torch_layout,
)
from kfit.layers.layer import Layer
from kfit.utils.errors import received

__all__ = [
    "CONV_FUNCTIONS",
    "BaseConv",
    "channel_count",
    "check_input_rank",
    "check_strides_or_dilation",
    "conv_bias",
    "initializer_config",
    "kernel_to_torch_order",
]

CONV_FUNCTIONS: dict[int, Callable[..., torch.Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def kernel_to_torch_order(rank: int) -> tuple[int, ...]:
    """The permutation from a Keras kernel `(*window, a, b)` to torch's `(b, a, *window)`.

    A convolution kernel is `(*window, in, out)` in Keras and `(out, in, *window)` in torch; a
    transposed convolution's is `(*window, out, in)` in Keras and `(in, out, *window)` in torch:
    the same permutation.

    Example:
        >>> kernel_to_torch_order(2)
        (3, 2, 0, 1)
    """
    return (rank + 1, rank, *range(rank))


def channel_count(input_shape: tuple[int | None, ...], data_format: str, layer: str) -> int:
    """The number of input channels, which a layer with weights needs to know.

    Raises:
        ValueError: when the channel dimension is None.

    Example:
        >>> channel_count((None, 8, 8, 3), "channels_last", "Conv2D")
        3
    """
    channels = input_shape[-1] if data_format == "channels_last" else input_shape[1]
    if channels is None:
        raise ValueError(
            f"Expected the channel dimension of the input of {layer} to be known "
            f"({'last' if data_format == 'channels_last' else 'second'} axis for "
            f"data_format={data_format!r}). Received: input_shape={input_shape!r}. "
            "Give the model an Input with a known number of channels."
        )
    return int(channels)


def initializer_config(initializer: Any) -> Any:
    """Keras's config entry for an initializer argument: None stays None."""
    return None if initializer is None else initializers.serialize(initializer)


def check_input_rank(input_shape: tuple[int | None, ...], rank: int, layer: str) -> None:
    """Raises when an input shape is not `(batch, *spatial, channels)` for a rank-`rank` layer.

    Example:
        >>> check_input_rank((None, 8, 8, 3), 2, "Conv2D")
    """
    if len(input_shape) != rank + 2:
        raise ValueError(
            f"Expected the input of {layer} to have {rank + 2} dimensions (batch, "
            f"{rank} spatial, channels). Received: input_shape={tuple(input_shape)!r}. "
            "Reshape the input, or use the layer of the matching rank."
        )


def conv_bias(layer: Any, size: int) -> Any:
    """The `(size,)` bias named `bias` of a convolution layer, from its `bias_*` arguments, or
    None when `layer.use_bias` is False."""
    if not layer.use_bias:
        return None
    return layer.add_weight(
        shape=(size,),
        initializer=layer.bias_initializer,
        regularizer=layer.bias_regularizer,
        constraint=layer.bias_constraint,
        name="bias",
    )


class BaseConv(Layer):
    """An N-D convolution: `activation(conv(inputs, kernel) + bias)`.

    The kernel has Keras's shape `(*kernel_size, in_channels // groups, filters)`, the bias
    `(filters,)`. In memory the kernel is torch's `(filters, in // groups, *kernel_size)`, so
    each call hands torch a view (see `spatial.store_in_torch_layout`). Channels-last inputs
    run as a channels-first view whose memory is torch's `channels_last` format, so no layer
    copies its input or output to change layout.

    Args:
        rank: Number of spatial dimensions (1, 2 or 3).
        filters: Number of output channels.
        kernel_size: Window size: an int or `rank` ints.
        strides: Step of the window: an int or `rank` ints.
        padding: `"valid"`, `"same"` (TensorFlow's, the odd step at the end) or, for rank 1,
            `"causal"` (the sequence is padded at its start only).
        data_format: `"channels_last"` or `"channels_first"`; None means
            `kfit.backend.image_data_format()`.
        dilation_rate: Spacing of the window's taps; strides and dilation cannot both exceed 1.
        groups: Number of groups the input channels are split into; each has its own filters.
        activation: Name or callable; None means linear.
        use_bias: Whether to add a bias vector.
        kernel_initializer: Initializer for the kernel.
        bias_initializer: Initializer for the bias.
        kernel_regularizer: Regularizer of the kernel (its loss joins `layer.losses`).
        bias_regularizer: Regularizer of the bias.
        activity_regularizer: Regularizer of the output.
        kernel_constraint: Constraint the optimizer applies to the kernel after each update.
        bias_constraint: Constraint for the bias.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> layer = BaseConv(2, 4, 3)
        >>> layer(torch.zeros(2, 8, 8, 3)).shape
        torch.Size([2, 6, 6, 4])
    """

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | tuple[int, ...] = 1,
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
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        layer = type(self).__name__
        self.rank = rank
        self.filters = check_positive_int(filters, "filters", f"{layer}(32, 3)")
        self.groups = check_positive_int(groups, "groups", "groups=1")
        if self.filters % self.groups:
            raise ValueError(
                "Expected `filters` to be a multiple of `groups`. "
                f"Received: filters={filters!r}, groups={groups!r}. "
                "Choose a number of filters that the groups share evenly."
            )
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding, allow_causal=rank == 1)
        self.data_format = standardize_data_format(data_format)
        check_strides_or_dilation(self.strides, self.dilation_rate)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._linear = self.activation is activations.linear
        self._window = SpatialWindow(
            rank, self.kernel_size, self.strides, self.dilation_rate, self.padding, self.data_format
        )
        self._conv = CONV_FUNCTIONS[rank]
        self._to_torch_kernel = kernel_to_torch_order(rank)
        if self._declared_input_shape is not None:
            self.build(self._declared_input_shape)
            self.built = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        layer = type(self).__name__
        check_input_rank(input_shape, self.rank, layer)
        in_channels = channel_count(input_shape, self.data_format, layer)
        if in_channels % self.groups:
            raise ValueError(
                f"Expected the number of input channels of {layer} to be a multiple of "
                f"`groups`. Received: {in_channels} input channels, groups={self.groups!r}. "
                "Change `groups`, or the number of channels of the previous layer."
            )
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, in_channels // self.groups, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        store_in_torch_layout(self.kernel, self._to_torch_kernel)
        self.bias = conv_bias(self, self.filters)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        kernel = self.kernel
        if inputs.dtype != kernel.dtype:
            # Keras casts inputs to the layer's dtype; integer pixels (uint8) are common input.
            inputs = inputs.to(kernel.dtype)
        window = self._window
        padding = window.fixed_padding
        if padding is None:
            # 'same' with a stride or an even window, or 'causal': padded by size.
            x, padding = window.to_torch(inputs)
        else:
            x = inputs.permute(window.to_first) if window.channels_last else inputs
        y = self._conv(
            x, kernel.permute(self._to_torch_kernel), self.bias, window.strides, padding,
            window.dilation_rate, self.groups,
        )
        if window.channels_last:
            y = y.permute(window.to_last)
        return y if self._linear else self.activation(y)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return self._window.output_shape(input_shape, self.filters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
            groups=self.groups,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializer_config(self.kernel_initializer),
            bias_initializer=initializer_config(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint),
        )
        return config


def check_strides_or_dilation(strides: tuple[int, ...], dilation_rate: tuple[int, ...]) -> None:
    """Keras's rule: a window cannot both skip (strides > 1) and spread (dilation > 1)."""
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(
            "Expected `strides` or `dilation_rate` to be 1: a window cannot both step by more "
            f"than 1 and be dilated. {received('strides', strides)} "
            f"{received('dilation_rate', dilation_rate)} Set one of them to 1."
        )
