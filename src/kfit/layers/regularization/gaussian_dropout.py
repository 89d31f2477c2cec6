"""`GaussianDropout`: multiplies by Gaussian noise of mean 1 while training."""

from __future__ import annotations

import math
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.layers.regularization.seeding import seeded_generator
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["GaussianDropout"]


@register_keras_serializable(package="keras")
class GaussianDropout(Layer):
    """Multiplies every value by noise drawn from N(1, rate / (1 - rate)) while training; the
    identity at inference. The noise has the variance of dropout's `keep / (1 - rate)` factor.

    Args:
        rate: The equivalent dropout rate, in [0, 1).
        seed: Seed of the layer's own generator; None draws from torch's global one.
        **kwargs: Layer arguments such as `name`.

    Raises:
        ValueError: when `rate` is outside [0, 1). (Keras accepts 1, then fails on the first
            training call dividing by zero.)

    Example:
        >>> layer = GaussianDropout(0.5, seed=1)
        >>> x = torch.ones(10000)
        >>> bool(layer(x, training=False).eq(1).all()), round(float(layer(x, training=True).std()), 1)
        (True, 1.0)
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(
                "Expected `rate` to be a float in [0, 1). "
                f"Received: rate={rate!r} (of type {type(rate).__name__}). Pass e.g. rate=0.2."
            )
        self.rate = rate
        self.seed = seed
        self.supports_masking = True
        self._stddev = math.sqrt(rate / (1.0 - rate))
        self._generator: torch.Generator | None = None
        # No weights and nothing to check: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        self._generator = seeded_generator(self.seed, self._generator, inputs.device)
        noise = torch.empty_like(inputs).normal_(1.0, self._stddev, generator=self._generator)
        return inputs * noise

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
