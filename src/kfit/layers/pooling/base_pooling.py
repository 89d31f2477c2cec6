"""`BasePooling`: the max and average pooling layers' shared arguments, shapes and call.

`"same"` padding is TensorFlow's (and so Keras's): the output has `ceil(length / stride)`
steps and the odd padded step goes at the end. Padded positions never win a max, and an
average is taken over the real positions of its window only (a corner window of a 3x3
average over 4 real pixels divides by 4). torch pools with symmetric padding natively, so
the common cases cost nothing extra; asymmetric padding is applied with `F.pad` first.

Keras 3.15 on the torch backend averages asymmetric `"same"` windows over replicated edge
values instead (keras-team/keras#23233 fixes it to TensorFlow's rule); kfit keeps TensorFlow's
rule, which the TensorFlow and JAX backends follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from kfit.backend.config import standardize_data_format
from kfit.layers.convolutional.spatial import (
    SpatialWindow,
    flat_pads,
    standardize_padding,
    standardize_tuple,
)
from kfit.layers.layer import Layer
from kfit.utils.errors import received

__all__ = ["BasePooling"]

_MAX_POOL: dict[int, Callable[..., torch.Tensor]] = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL: dict[int, Callable[..., torch.Tensor]] = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class BasePooling(Layer):
    """Max or average pooling over `pool_dimensions` spatial dimensions.

    Args:
        pool_size: Window size: an int or `pool_dimensions` ints.
        strides: Step of the window; None means `pool_size`.
        pool_dimensions: Number of spatial dimensions (1, 2 or 3).
        pool_mode: `"max"` or `"average"`.
        padding: `"valid"` or `"same"` (see the module docstring).
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> layer = BasePooling(2, None, 2, pool_mode="average")
        >>> layer(torch.ones(1, 4, 4, 3)).shape
        torch.Size([1, 2, 2, 3])
    """

    def __init__(
        self,
        pool_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] | None,
        pool_dimensions: int,
        pool_mode: str = "max",
        padding: str = "valid",
        data_format: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        if pool_mode not in ("max", "average"):
            raise ValueError(
                f"Expected `pool_mode` to be 'max' or 'average'. {received('pool_mode', pool_mode)} "
                "Use one of the two."
            )
        self.pool_size = standardize_tuple(pool_size, pool_dimensions, "pool_size")
        self.strides = (
            self.pool_size if strides is None else standardize_tuple(strides, pool_dimensions, "strides")
        )
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.pool_mode = pool_mode
        self.pool_dimensions = pool_dimensions
        self._window = SpatialWindow(
            pool_dimensions, self.pool_size, self.strides, (1,) * pool_dimensions, self.padding,
            self.data_format,
        )
        self._max = pool_mode == "max"
        self._pool = (_MAX_POOL if self._max else _AVG_POOL)[pool_dimensions]

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        window = self._window
        if self._max:
            # -inf padding never wins a max: TensorFlow's "same" max pooling.
            x, padding = window.to_torch(inputs, pad_value=float("-inf"))
            return window.from_torch(self._pool(x, self.pool_size, self.strides, padding))
        x = inputs.permute(window.to_first) if window.channels_last else inputs
        fixed = window.fixed_padding
        if fixed is not None:
            padding = fixed
        else:
            pads = window.pads(x.shape[2:])
            if any(before != after for before, after in pads):
                return window.from_torch(self._average_over_real_positions(x, pads))
            padding = tuple(before for before, _ in pads)
        # Padded zeros are not counted: TensorFlow's (and Keras's) "same" average.
        y = self._pool(x, self.pool_size, self.strides, padding, count_include_pad=False)
        return window.from_torch(y)

    def _average_over_real_positions(self, x: torch.Tensor, pads: list[tuple[int, int]]) -> torch.Tensor:
        # torch pads only symmetrically, so pad with zeros first: each window's mean over its
        # whole size, divided by the share of it that is real, is the mean over the real part.
        flat = flat_pads(pads)
        sums = self._pool(F.pad(x, flat), self.pool_size, self.strides, 0)
        ones = x.new_ones((1, 1, *x.shape[2:]))
        share = self._pool(F.pad(ones, flat), self.pool_size, self.strides, 0)
        return sums / share

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        return self._window.output_shape(input_shape, channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            pool_size=self.pool_size,
            padding=self.padding,
            strides=self.strides,
            data_format=self.data_format,
        )
        return config
