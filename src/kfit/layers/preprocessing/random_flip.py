"""`RandomFlip`: flips images left-right and/or top-bottom at random while training."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.preprocessing.random_image_layer import RandomImageLayer
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.errors import received

__all__ = ["RandomFlip"]

_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


@register_keras_serializable(package="keras")
class RandomFlip(RandomImageLayer):
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
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in _MODES:
            raise ValueError(
                f"Expected `mode` to be one of {_MODES}. {received('mode', mode)} "
                "Pass e.g. mode='horizontal' for left-right flips."
            )
        self.mode = mode

    def augment(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        unbatched = images.dim() == 3
        batch = images.unsqueeze(0) if unbatched else images
        flip = torch.rand(batch.shape[0], generator=generator, device=batch.device) <= 0.5
        height_axis = 1 if self.data_format == "channels_last" else 2
        axes = {
            "horizontal": [height_axis + 1],
            "vertical": [height_axis],
            "horizontal_and_vertical": [height_axis, height_axis + 1],
        }[self.mode]
        out = torch.where(flip.view(-1, 1, 1, 1), batch.flip(axes), batch)
        return out.squeeze(0) if unbatched else out

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "seed": self.seed, "mode": self.mode}
