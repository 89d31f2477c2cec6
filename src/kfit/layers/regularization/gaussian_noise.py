"""`GaussianNoise`: adds zero-mean Gaussian noise while training."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.layers.regularization.seeding import seeded_generator
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["GaussianNoise"]


@register_keras_serializable(package="keras")
class GaussianNoise(Layer):
    """Adds noise drawn from N(0, stddev²) to every value while training; the identity at
    inference. A regularizer, and a form of data augmentation for real-valued inputs.

    Args:
        stddev: Standard deviation of the noise, in [0, 1].
        seed: Seed of the layer's own generator; None draws from torch's global one.
        **kwargs: Layer arguments such as `name`.

    Raises:
        ValueError: when `stddev` is outside [0, 1].

    Example:
        >>> layer = GaussianNoise(0.1, seed=1)
        >>> x = torch.zeros(1000)
        >>> bool(layer(x, training=False).eq(0).all()), round(float(layer(x, training=True).std()), 1)
        (True, 0.1)
    """

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 <= stddev <= 1:
            raise ValueError(
                "Expected `stddev` to be a float between 0 and 1. "
                f"Received: stddev={stddev!r} (of type {type(stddev).__name__}). Pass e.g. stddev=0.1."
            )
        self.stddev = stddev
        self.seed = seed
        self.supports_masking = True
        self._generator: torch.Generator | None = None
        # No weights and nothing to check: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not training or self.stddev == 0:
            return inputs
        self._generator = seeded_generator(self.seed, self._generator, inputs.device)
        noise = torch.empty_like(inputs).normal_(0.0, self.stddev, generator=self._generator)
        return inputs + noise

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
