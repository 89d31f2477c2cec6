"""`RandomFlip`: flips images left-right and/or top-bottom at random while training."""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.config import standardize_data_format
from kfit.backend.dtypes import to_torch_dtype
from kfit.layers.layer import Layer
from kfit.layers.regularization.seeding import seeded_generator
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.errors import received

__all__ = ["RandomFlip"]

_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


@register_keras_serializable(package="keras")
class RandomFlip(Layer):
    """Data augmentation: while training, flips each image with probability 0.5; the identity
    at inference (`predict`, `evaluate`, or `training=False`).

    As in Keras, one coin is tossed per image: with `"horizontal_and_vertical"` a chosen image is
    flipped along both axes at once (turned by 180°). Integer images come out in the layer's
    compute dtype (float32 by default). Images are `(H, W, C)` or `(N, H, W, C)`, channels
    first per `data_format`.

    Args:
        mode: `"horizontal"` (left-right), `"vertical"` (top-bottom) or `"horizontal_and_vertical"`.
        seed: Seed of the layer's own generator; None draws from torch's global one.
        data_format: `"channels_last"`, `"channels_first"` or None (the global default).
        **kwargs: Layer arguments (`name`, `dtype`, ...).

    Raises:
        ValueError: for an unknown `mode`.

    Example:
        >>> import torch
        >>> layer = RandomFlip("horizontal", seed=0)
        >>> images = torch.arange(4.0).reshape(1, 1, 4, 1)
        >>> bool(layer(images).equal(images))  # inference: unchanged
        True
        >>> out = layer(images, training=True)
        >>> bool(out.equal(images) or out.equal(images.flip(2)))
        True
    """

    def __init__(
        self,
        mode: str = "horizontal_and_vertical",
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ValueError(f"Expected `mode` to be one of {_MODES}. {received('mode', mode)}")
        self.mode = mode
        self.seed = seed
        self.data_format = standardize_data_format(data_format)
        self._generator: torch.Generator | None = None
        # No weights: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not inputs.is_floating_point():
            inputs = inputs.to(to_torch_dtype(self.compute_dtype))
        if not training:
            return inputs
        unbatched = inputs.dim() == 3
        images = inputs.unsqueeze(0) if unbatched else inputs
        self._generator = seeded_generator(self.seed, self._generator, images.device)
        flip = torch.rand(images.shape[0], generator=self._generator, device=images.device) <= 0.5
        height_axis = 1 if self.data_format == "channels_last" else 2
        axes = {
            "horizontal": [height_axis + 1],
            "vertical": [height_axis],
            "horizontal_and_vertical": [height_axis, height_axis + 1],
        }[self.mode]
        out = torch.where(flip.view(-1, 1, 1, 1), images.flip(axes), images)
        return out.squeeze(0) if unbatched else out

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "seed": self.seed, "mode": self.mode}
