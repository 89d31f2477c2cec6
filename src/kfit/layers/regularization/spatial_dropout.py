"""`SpatialDropout1D/2D/3D`: dropout that drops whole channels (feature maps) at once."""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.config import standardize_data_format
from kfit.layers.dropout import Dropout
from kfit.layers.regularization.seeding import seeded_generator
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["BaseSpatialDropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]


@register_keras_serializable(package="keras")
class BaseSpatialDropout(Dropout):
    """Dropout whose keep/drop draw is one per (sample, channel), shared over the spatial axes.

    In training each channel of each sample is zeroed with probability `rate` and the kept ones
    are scaled by `1 / (1 - rate)`; at inference the layer is the identity. Neighbouring
    positions in a feature map are strongly correlated, so dropping single values regularizes
    little: dropping whole maps does.

    Subclasses set `expected_ndim` and `channel_axis`.

    Example:
        >>> class StepDropout(BaseSpatialDropout):  # one draw per (sample, step)
        ...     expected_ndim = 3
        ...     channel_axis = 1
        >>> out = StepDropout(0.5, seed=0)(torch.ones(2, 4, 3), training=True)
        >>> bool((out == out[:, :, :1]).all())
        True
    """

    expected_ndim = 0
    channel_axis = -1

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.supports_masking = True
        self._scale = 1.0 / (1.0 - self.rate)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != self.expected_ndim:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                f"ndim={self.expected_ndim}, found ndim={len(input_shape)}. Full shape received: "
                f"{tuple(input_shape)}. {type(self).__name__} takes (batch, *spatial, channels) "
                "inputs (channels first with data_format='channels_first')."
            )

    def call(self, inputs: torch.Tensor, training: bool | None = False) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        noise_shape = [1] * inputs.dim()
        noise_shape[0] = inputs.shape[0]
        noise_shape[self.channel_axis] = inputs.shape[self.channel_axis]
        self._generator = seeded_generator(self.seed, self._generator, inputs.device)
        keep = torch.empty(noise_shape, dtype=inputs.dtype, device=inputs.device)
        keep.bernoulli_(1.0 - self.rate, generator=self._generator)
        return inputs * keep.mul_(self._scale)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        # Keras's spatial dropouts write exactly these keys (no `trainable`).
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


@register_keras_serializable(package="keras")
class SpatialDropout1D(BaseSpatialDropout):
    """Drops whole channels of `(batch, steps, channels)` inputs while training.

    Args:
        rate: Fraction of the channels to drop, in [0, 1).
        seed: Seed of the layer's own generator; None draws from torch's global one.
        name: The layer's name.
        dtype: The layer's dtype.

    Example:
        >>> layer = SpatialDropout1D(0.5, seed=0)
        >>> out = layer(torch.ones(1, 4, 3), training=True)
        >>> bool(((out == 0) | (out == 2)).all()), bool((out == out[:, :1]).all())
        (True, True)
    """

    expected_ndim = 3
    channel_axis = 2


class _ImageSpatialDropout(BaseSpatialDropout):
    def __init__(
        self,
        rate: float,
        data_format: str | None = None,
        seed: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.data_format = standardize_data_format(data_format)
        self.channel_axis = 1 if self.data_format == "channels_first" else self.expected_ndim - 1

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


@register_keras_serializable(package="keras")
class SpatialDropout2D(_ImageSpatialDropout):
    """Drops whole feature maps of images while training.

    Args:
        rate: Fraction of the channels to drop, in [0, 1).
        data_format: `"channels_last"` (batch, rows, cols, channels) or `"channels_first"`;
            None means `kfit.backend.image_data_format()`.
        seed: Seed of the layer's own generator; None draws from torch's global one.
        name: The layer's name.
        dtype: The layer's dtype.

    Example:
        >>> layer = SpatialDropout2D(0.5, seed=0)
        >>> out = layer(torch.ones(2, 4, 4, 3), training=True)
        >>> bool((out == out[:, :1, :1]).all()), bool((layer(out, training=False) == out).all())
        (True, True)
    """

    expected_ndim = 4


@register_keras_serializable(package="keras")
class SpatialDropout3D(_ImageSpatialDropout):
    """Drops whole feature maps of volumes `(batch, d1, d2, d3, channels)` while training.

    Args:
        rate: Fraction of the channels to drop, in [0, 1).
        data_format: `"channels_last"` or `"channels_first"`; None means
            `kfit.backend.image_data_format()`.
        seed: Seed of the layer's own generator; None draws from torch's global one.
        name: The layer's name.
        dtype: The layer's dtype.

    Example:
        >>> out = SpatialDropout3D(0.5, seed=0)(torch.ones(2, 2, 2, 2, 3), training=True)
        >>> bool((out == out[:, :1, :1, :1]).all())
        True
    """

    expected_ndim = 5
