"""`UpSampling1D`: repeats each step `size` times, as Keras does."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.errors import received

__all__ = ["UpSampling1D"]


@register_keras_serializable(package="keras")
class UpSampling1D(Layer):
    """Repeats each step of a `(batch, steps, features)` input `size` times along the steps.

    Args:
        size: Number of repeats (a positive int); default 2.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Raises:
        TypeError: when `size` is not an int.
        ValueError: when `size` is not positive.

    Example:
        >>> import torch
        >>> UpSampling1D(2)(torch.tensor([[[1.0], [2.0]]]))[0, :, 0].tolist()
        [1.0, 1.0, 2.0, 2.0]
    """

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"Expected `size` to be an int. {received('size', size)} Pass e.g. size=2.")
        if size <= 0:
            raise ValueError(f"Expected `size` to be positive. {received('size', size)} Pass e.g. size=2.")
        self.size = size

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # One copy: a broadcast view with a repeat axis, then merged into the steps.
        batch, steps, features = inputs.shape
        repeated = inputs.unsqueeze(2).expand(batch, steps, self.size, features)
        return repeated.reshape(batch, steps * self.size, features)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else steps * self.size, input_shape[2])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(size=self.size)
        return config
