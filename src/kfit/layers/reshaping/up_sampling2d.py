"""`UpSampling2D`: enlarges images by integer factors, by repetition or interpolation."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from kfit.backend.config import standardize_data_format
from kfit.layers.convolutional.spatial import standardize_tuple
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.errors import received

__all__ = ["UpSampling2D"]

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


@register_keras_serializable(package="keras")
class UpSampling2D(Layer):
    """Enlarges `(batch, height, width, channels)` images `size` times in each direction.

    `"nearest"` repeats each pixel; `"bilinear"` and `"bicubic"` interpolate as Keras does on
    torch (`F.interpolate` with half-pixel centers, `align_corners=False`, no antialiasing).
    For upsampling, TensorFlow's bilinear resize gives the same values; its bicubic uses
    another kernel coefficient, so bicubic matches Keras on torch, not on TensorFlow.

    Args:
        size: Factors `(height, width)`, or one int for both; default `(2, 2)`.
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        interpolation: `"nearest"` (default), `"bilinear"` or `"bicubic"` (any case).
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Raises:
        ValueError: for another interpolation (Keras's `"lanczos3"`/`"lanczos5"` are not
            available on torch), or a bad `size`.

    Example:
        >>> import torch
        >>> UpSampling2D(2)(torch.tensor([[[[1.0], [2.0]]]]))[0, :, :, 0].tolist()
        [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]
    """

    def __init__(
        self,
        size: int | tuple[int, int] = (2, 2),
        data_format: str | None = None,
        interpolation: str = "nearest",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.size = standardize_tuple(size, 2, "size")
        mode = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if mode not in _INTERPOLATIONS:
            raise ValueError(
                f"Expected `interpolation` to be one of {_INTERPOLATIONS}. "
                f"{received('interpolation', interpolation)} Use 'nearest' or 'bilinear'."
            )
        self.interpolation = str(mode)
        self._channels_last = self.data_format == "channels_last"

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        sh, sw = self.size
        if self.interpolation == "nearest":
            # One copy: a broadcast view with two repeat axes, merged into height and width.
            if self._channels_last:
                n, h, w, c = inputs.shape
                big = inputs[:, :, None, :, None, :].expand(n, h, sh, w, sw, c)
                return big.reshape(n, h * sh, w * sw, c)
            n, c, h, w = inputs.shape
            big = inputs[:, :, :, None, :, None].expand(n, c, h, sh, w, sw)
            return big.reshape(n, c, h * sh, w * sw)
        x = inputs.permute(0, 3, 1, 2) if self._channels_last else inputs
        y = F.interpolate(
            x, size=(x.shape[2] * sh, x.shape[3] * sw), mode=self.interpolation, align_corners=False
        )
        return y.permute(0, 2, 3, 1) if self._channels_last else y

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        def scaled(d: int | None, s: int) -> int | None:
            return None if d is None else d * s

        if self._channels_last:
            b, h, w, c = input_shape
            return (b, scaled(h, self.size[0]), scaled(w, self.size[1]), c)
        b, c, h, w = input_shape
        return (b, c, scaled(h, self.size[0]), scaled(w, self.size[1]))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(size=self.size, data_format=self.data_format, interpolation=self.interpolation)
        return config
