"""`BaseConvTranspose`: what Conv1DTranspose, Conv2DTranspose and Conv3DTranspose share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from kfit import activations, constraints, initializers, regularizers
from kfit.backend.config import standardize_data_format
from kfit.layers.convolutional.base_conv import (
    channel_count,
    check_input_rank,
    check_strides_or_dilation,
    conv_bias,
    initializer_config,
    kernel_to_torch_order,
)
from kfit.layers.convolutional.spatial import (
    channels_first_order,
    channels_last_order,
    check_positive_int,
    deconv_crops,
    deconv_output_length,
    flat_pads,
    standardize_padding,
    standardize_tuple,
    store_in_torch_layout,
)
from kfit.layers.layer import Layer
from kfit.utils.errors import received

__all__ = ["BaseConvTranspose"]

_CONV_TRANSPOSE_FUNCTIONS: dict[int, Callable[..., torch.Tensor]] = {
    1: F.conv_transpose1d,
    2: F.conv_transpose2d,
    3: F.conv_transpose3d,
}


class BaseConvTranspose(Layer):
    """An N-D transposed convolution (the gradient of a convolution with respect to its input).

    The kernel has Keras's shape `(*kernel_size, filters, in_channels)` (output channels
    *before* input channels, the reverse of a convolution's), the bias `(filters,)`. Output
    sizes are Keras's: `length * stride` for `"same"`, `length * stride + max(span - stride, 0)`
    for `"valid"` (`span` is the dilated window), or with `output_padding`,
    `(length - 1) * stride + span - 2 * pad + output_padding` where `pad` is `span // 2` for
    `"same"`. torch computes the same values with its own `padding`/`output_padding`, which are
    worked out once here; the few cases torch cannot express end with a slice or a zero pad.

    Args:
        rank: Number of spatial dimensions (1, 2 or 3).
        filters: Number of output channels.
        kernel_size: Window size: an int or `rank` ints.
        strides: Upsampling step: an int or `rank` ints.
        padding: `"valid"` or `"same"`.
        output_padding: None, or extra steps at the end of each dimension (each less than
            its stride).
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        dilation_rate: Spacing of the window's taps.
        activation: Name or callable; None means linear.
        use_bias: Whether to add a bias vector.
        kernel_initializer: Initializer for the kernel.
        bias_initializer: Initializer for the bias.
        kernel_regularizer: Regularizer of the kernel.
        bias_regularizer: Regularizer of the bias.
        activity_regularizer: Regularizer of the output.
        kernel_constraint: Constraint of the kernel.
        bias_constraint: Constraint of the bias.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> layer = BaseConvTranspose(2, 4, 3, strides=2)
        >>> layer(torch.zeros(2, 8, 8, 3)).shape
        torch.Size([2, 17, 17, 4])
    """

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        output_padding: int | tuple[int, ...] | None = None,
        data_format: str | None = None,
        dilation_rate: int | tuple[int, ...] = 1,
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
        self.rank = rank
        self.filters = check_positive_int(filters, "filters", f"{type(self).__name__}(32, 3)")
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding)
        self.output_padding = (
            None
            if output_padding is None
            else standardize_tuple(output_padding, rank, "output_padding", allow_zero=True)
        )
        if self.output_padding is not None and any(
            op >= s for op, s in zip(self.output_padding, self.strides)
        ):
            raise ValueError(
                "Expected each `output_padding` to be less than the stride of its dimension. "
                f"{received('output_padding', output_padding)} {received('strides', strides)} "
                "Lower `output_padding` (or raise `strides`)."
            )
        check_strides_or_dilation(self.strides, self.dilation_rate)
        self.data_format = standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._linear = self.activation is activations.linear
        self._channels_last = self.data_format == "channels_last"
        self._to_first = channels_first_order(rank)
        self._to_last = channels_last_order(rank)
        self._conv_transpose = _CONV_TRANSPOSE_FUNCTIONS[rank]
        self._to_torch_kernel = kernel_to_torch_order(rank)
        self._plan_torch_arguments()
        if self._declared_input_shape is not None:
            self.build(self._declared_input_shape)
            self.built = True

    def _plan_torch_arguments(self) -> None:
        """Chooses torch's `padding` and `output_padding`, and what is left to do after it.

        torch's output is the full transposed convolution cropped by `padding` at both ends,
        then extended by `output_padding` (< max(stride, dilation)) at the end. Keras's output
        crops `(left, right)` of the full one (`spatial.deconv_crops`).
        """
        torch_padding, torch_output_padding, rest = [], [], []
        for k, s, d, i in zip(self.kernel_size, self.strides, self.dilation_rate, range(self.rank)):
            op = None if self.output_padding is None else self.output_padding[i]
            left, right = deconv_crops(k, self.padding, op, s, d)
            if left >= 0 and 0 <= left - right < max(s, d):
                torch_padding.append(left)
                torch_output_padding.append(left - right)
                rest.append((0, 0))
            else:
                p = max(min(left, right), 0)
                torch_padding.append(p)
                torch_output_padding.append(0)
                rest.append((left - p, right - p))
        self._torch_padding = tuple(torch_padding)
        self._torch_output_padding = tuple(torch_output_padding)
        # Steps still to drop (> 0) or to append as zeros (< 0), per dimension; None if none.
        self._rest: list[tuple[int, int]] | None = rest if any(r != (0, 0) for r in rest) else None
        # Appended zeros still get the bias (Keras adds it after the whole convolution).
        self._bias_after = any(left < 0 or right < 0 for left, right in rest)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        layer = type(self).__name__
        check_input_rank(input_shape, self.rank, layer)
        in_channels = channel_count(input_shape, self.data_format, layer)
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, self.filters, in_channels),
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
            inputs = inputs.to(kernel.dtype)
        x = inputs.permute(self._to_first) if self._channels_last else inputs
        bias = None if self._bias_after else self.bias
        y = self._conv_transpose(
            x, kernel.permute(self._to_torch_kernel), bias, self.strides, self._torch_padding,
            self._torch_output_padding, 1, self.dilation_rate,
        )
        if self._rest is not None:
            y = self._finish_crops(y, self._rest)
        if self._channels_last:
            y = y.permute(self._to_last)
        return y if self._linear else self.activation(y)

    def _finish_crops(self, y: torch.Tensor, rest: list[tuple[int, int]]) -> torch.Tensor:
        index = [slice(None), slice(None)]
        index += [slice(max(left, 0), y.shape[2 + i] - max(right, 0)) for i, (left, right) in enumerate(rest)]
        y = y[tuple(index)]
        extend = [(max(-left, 0), max(-right, 0)) for left, right in rest]
        if any(a or b for a, b in extend):
            y = F.pad(y, flat_pads(extend))
        if self._bias_after and self.bias is not None:
            y = y + self.bias.reshape(-1, *(1,) * self.rank)
        return y

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        spatial = input_shape[1:-1] if self._channels_last else input_shape[2:]
        lengths = tuple(
            deconv_output_length(
                n, k, self.padding, None if self.output_padding is None else self.output_padding[i], s, d
            )
            for i, (n, k, s, d) in enumerate(zip(spatial, self.kernel_size, self.strides, self.dilation_rate))
        )
        if self._channels_last:
            return (input_shape[0], *lengths, self.filters)
        return (input_shape[0], self.filters, *lengths)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            output_padding=self.output_padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
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
