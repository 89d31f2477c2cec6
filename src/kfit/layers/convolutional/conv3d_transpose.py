"""`Conv3DTranspose`: 3-D transposed convolution (volumes), with Keras's arguments."""

from __future__ import annotations

from typing import Any

from kfit.layers.convolutional.base_conv_transpose import BaseConvTranspose
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Conv3DTranspose"]


@register_keras_serializable(package="keras")
class Conv3DTranspose(BaseConvTranspose):
    """3-D transposed convolution, often used to upsample (volumes).

    Inputs are `(batch, depth, height, width, channels)` (channels second with
    `data_format="channels_first"`). The kernel is `(kd, kh, kw, filters, in_channels)`: output
    channels before input channels, as in Keras. See `BaseConvTranspose` for the output sizes
    and every argument.

    Args:
        filters: Number of output channels.
        kernel_size: Window size: an int or 3 ints.
        strides: Upsampling step; default 1.
        padding: `"valid"` (default) or `"same"`.
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
            (It comes before `output_padding` here, as in Keras's Conv3DTranspose.)
        output_padding: None (default), or extra steps at the end of each dimension.
        dilation_rate: Spacing of the window's taps; default 1.
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
        >>> layer = Conv3DTranspose(4, 3, strides=2, padding="same")
        >>> layer(torch.zeros(2, 4, 4, 4, 3)).shape
        torch.Size([2, 8, 8, 8, 4])
        >>> [w.shape for w in layer.get_weights()]
        [(3, 3, 3, 4, 3), (4,)]
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int, int],
        strides: int | tuple[int, int, int] = (1, 1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        output_padding: int | tuple[int, int, int] | None = None,
        dilation_rate: int | tuple[int, int, int] = (1, 1, 1),
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
            rank=3,
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            output_padding=output_padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
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
