"""`Dropout`: zeroes a fraction of inputs while training, scaling the rest."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Dropout"]


@register_keras_serializable(package="keras")
class Dropout(Layer):
    """Sets each input to 0 with probability `rate` during training, scaling the others by
    `1 / (1 - rate)`; it is the identity at inference.

    Example:
        >>> layer = Dropout(0.5).eval()
        >>> layer(torch.ones(3))
        tensor([1., 1., 1.])
    """

    def __init__(
        self,
        rate: float,
        noise_shape: Any = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(
                "Expected `rate` to be a float in [0, 1). "
                f"Received: rate={rate!r} (of type {type(rate).__name__}). "
                "Pass the fraction of inputs to drop, e.g. Dropout(0.2)."
            )
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed
        self._generator: torch.Generator | None = None
        # Per-timestep values stay where they are, so a mask passes through (as in Keras).
        self.supports_masking = True

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None and self.seed is None:
            return torch.nn.functional.dropout(inputs, self.rate, True)
        shape = inputs.shape if self.noise_shape is None else tuple(
            inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)
        )
        if self.seed is not None and self._generator is None:
            self._generator = torch.Generator(device=inputs.device).manual_seed(self.seed)
        keep = torch.empty(shape, device=inputs.device).bernoulli_(
            1 - self.rate, generator=self._generator
        )
        return inputs * keep / (1 - self.rate)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": self.noise_shape,
            "seed": self.seed,
        }
