"""`AlphaDropout`: dropout for self-normalizing (SELU) networks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.layers.regularization.seeding import seeded_generator
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["AlphaDropout"]

# SELU's constants: dropped values are set to SELU's negative saturation value, -scale * alpha.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@register_keras_serializable(package="keras")
class AlphaDropout(Layer):
    """Dropout that keeps the mean and variance of SELU activations: while training, dropped
    values are set to SELU's negative saturation value and the result is rescaled and shifted
    by an affine map that restores zero mean and unit variance. The identity at inference.

    Args:
        rate: Fraction of the values to drop, in [0, 1).
        noise_shape: Shape of the keep/drop draw, broadcast over the input; None entries take
            the input's size (e.g. `(None, 1, None)` drops the same features at every step).
        seed: Seed of the layer's own generator; None draws from torch's global one.
        **kwargs: Layer arguments such as `name`.

    Raises:
        ValueError: when `rate` is outside [0, 1).

    Example:
        >>> layer = AlphaDropout(0.2, seed=1)
        >>> x = torch.randn(20000, generator=torch.Generator().manual_seed(0))
        >>> y = layer(x, training=True)
        >>> abs(float(y.mean())) < 0.05, round(float(y.std()), 1), bool(layer(x, training=False).equal(x))
        (True, 1.0, True)
    """

    def __init__(
        self, rate: float, noise_shape: Sequence[int | None] | None = None, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(
                "Expected `rate` to be a float in [0, 1). "
                f"Received: rate={rate!r} (of type {type(rate).__name__}). Pass e.g. rate=0.1."
            )
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed
        self.supports_masking = True
        dropped_value = -_SELU_ALPHA * _SELU_SCALE
        self._dropped_value = dropped_value
        self._a = ((1 - rate) * (1 + rate * dropped_value**2)) ** -0.5
        self._b = -self._a * dropped_value * rate
        self._generator: torch.Generator | None = None
        # No weights and nothing to check: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None:
            shape: Sequence[int] = inputs.shape
        else:
            shape = [inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        self._generator = seeded_generator(self.seed, self._generator, inputs.device)
        keep = torch.empty(shape, dtype=inputs.dtype, device=inputs.device)
        keep.bernoulli_(1.0 - self.rate, generator=self._generator)
        dropped = inputs * keep + self._dropped_value * (1 - keep)
        return self._a * dropped + self._b

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}
