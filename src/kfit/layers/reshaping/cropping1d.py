"""`Cropping1D`: drops steps at the start and end of sequences."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.convolutional.spatial import standardize_tuple
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Cropping1D"]


def check_crop(length: int | None, crop: tuple[int, ...], layer: str, axis: str) -> None:
    """Raises when cropping `crop` would leave no steps of a dimension of `length`."""
    if length is not None and sum(crop) >= length:
        raise ValueError(
            f"Expected the cropping of {layer} to leave at least one step of the {axis} axis. "
            f"Received: cropping={crop!r} for a length of {length}. Crop less, or check the "
            "input's shape."
        )


@register_keras_serializable(package="keras")
class Cropping1D(Layer):
    """Crops the steps axis of `(batch, steps, features)` (Keras's only layout for it).

    Args:
        cropping: Steps to drop at both ends (an int), or `(start, end)`; default `(1, 1)`.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Raises:
        ValueError: at the call, when the cropping leaves no step.

    Example:
        >>> import torch
        >>> Cropping1D()(torch.arange(5.0).reshape(1, 5, 1))[0, :, 0].tolist()
        [1.0, 2.0, 3.0]
    """

    def __init__(self, cropping: int | tuple[int, int] = (1, 1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        length = inputs.shape[1]
        check_crop(length, self.cropping, "Cropping1D", "steps")
        start, end = self.cropping
        return inputs[:, start : length - end]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        length = input_shape[1]
        check_crop(length, self.cropping, "Cropping1D", "steps")
        return (input_shape[0], None if length is None else length - sum(self.cropping), input_shape[2])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(cropping=self.cropping)
        return config
