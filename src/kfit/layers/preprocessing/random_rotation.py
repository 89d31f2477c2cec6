"""`RandomRotation`: turns images by a random angle about their centre while training."""

from __future__ import annotations

import math
from typing import Any

import torch

from kfit.layers.preprocessing.random_image_layer import RandomImageLayer
from kfit.ops.image import affine_transform
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.errors import received

__all__ = ["RandomRotation"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")


def _factor_range(factor: Any) -> tuple[float, float]:
    """`factor` as a sorted `(lower, upper)` pair of turn fractions, each in [-1, 1]."""
    problem = (
        "Expected `factor` to be a number in [-1, 1] or a pair of numbers (lower, upper) in that range. "
        f"{received('factor', factor)} Pass e.g. factor=0.1 for up to ±36° (0.1 of a full turn)."
    )
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(isinstance(f, (int, float)) for f in factor):
            raise ValueError(problem)
        if factor[0] > 1 or factor[1] < -1:
            raise ValueError(problem)
        lower, upper = sorted(factor)
        return lower, upper
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        if not -1 <= factor <= 1:
            raise ValueError(problem)
        return -abs(factor), abs(factor)
    raise ValueError(problem)


def _rotation_transforms(angles: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`(N, 8)` `affine_transform` rows that turn `(height, width)` images by `angles`
    (radians, counter-clockwise on screen) about the image centre.

    Example:
        >>> rows = _rotation_transforms(torch.zeros(1), 5, 5)
        >>> rows.tolist()
        [[1.0, -0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]]
    """
    cos, sin = angles.cos(), angles.sin()
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    zeros = torch.zeros_like(angles)
    # Output pixel p reads input R (p - c) + c: the rotation R about the centre c.
    return torch.stack([cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos, zeros, zeros], dim=1)


@register_keras_serializable(package="keras")
class RandomRotation(RandomImageLayer):
    """Data augmentation: while training, turns each image by its own angle drawn uniformly from
    `factor` (fractions of a full turn); the identity at inference.

    Points that fall outside the image are filled per `fill_mode` (see
    `kfit.ops.image.affine_transform`). Integer images come out in the layer's compute dtype
    (float32 by default). Images are `(H, W, C)` or `(N, H, W, C)`, channels first per
    `data_format`.

    Args:
        factor: A number `f` in [-1, 1] for angles in `[-f, f] * 2π`, or a pair `(lower, upper)`.
        fill_mode: `"reflect"`, `"wrap"`, `"constant"` or `"nearest"`.
        interpolation: `"bilinear"` or `"nearest"`.
        seed: Seed of the layer's own generator; None draws from torch's global one.
        fill_value: The value outside the image with `fill_mode="constant"`.
        data_format: `"channels_last"`, `"channels_first"` or None (the global default).
        **kwargs: Layer arguments (`name`, `dtype`, ...).

    Raises:
        ValueError: for a `factor` out of range.
        NotImplementedError: for an unsupported `fill_mode` or `interpolation`, as in Keras.

    Example:
        >>> import torch
        >>> image = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1)
        >>> quarter_turn = RandomRotation((0.25, 0.25))
        >>> quarter_turn(image, training=True)[..., 0].round().tolist()
        [[2.0, 4.0], [1.0, 3.0]]
    """

    def __init__(
        self,
        factor: Any,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_range(factor)
        if fill_mode not in _FILL_MODES:
            raise NotImplementedError(
                f"Expected `fill_mode` to be one of {_FILL_MODES}. {received('fill_mode', fill_mode)} "
                "Pass e.g. fill_mode='reflect' (Keras's default)."
            )
        if interpolation not in _INTERPOLATIONS:
            raise NotImplementedError(
                f"Expected `interpolation` to be one of {_INTERPOLATIONS}. "
                f"{received('interpolation', interpolation)} Pass e.g. interpolation='bilinear'."
            )
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def augment(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        batched = images.dim() == 4
        spatial = images.shape[-3:-1] if self.data_format == "channels_last" else images.shape[-2:]
        count = images.shape[0] if batched else 1
        lower, upper = (f * 360.0 for f in self.factor)
        degrees = lower + (upper - lower) * torch.rand(count, generator=generator, device=images.device)
        transforms = _rotation_transforms(degrees * (math.pi / 180.0), spatial[0], spatial[1])
        return affine_transform(
            images,
            transforms if batched else transforms[0],
            interpolation=self.interpolation,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": self.factor,
            "data_format": self.data_format,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "interpolation": self.interpolation,
            "seed": self.seed,
        }
