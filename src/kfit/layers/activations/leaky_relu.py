"""`LeakyReLU`: `x` for positive inputs, `negative_slope * x` otherwise, as a layer."""

from __future__ import annotations

import warnings
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["LeakyReLU"]


@register_keras_serializable(package="keras")
class LeakyReLU(Layer):
    """Leaky rectified linear unit.

    The layer's default slope is 0.3, while the function `kfit.activations.leaky_relu`
    defaults to 0.2: both are Keras's defaults.

    Args:
        negative_slope: Slope for negative inputs (non-negative). Keras 2's `alpha` is accepted,
            with a deprecation warning.
        **kwargs: Layer arguments such as `name`.

    Raises:
        ValueError: when `negative_slope` is None or negative.

    Example:
        >>> LeakyReLU()(torch.tensor([-1.0, 2.0]))
        tensor([-0.3000,  2.0000])
    """

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(
                "Expected `negative_slope` of a LeakyReLU layer to be a non-negative float. "
                f"Received: negative_slope={negative_slope!r} (of type {type(negative_slope).__name__}). "
                "Pass e.g. negative_slope=0.3."
            )
        self.negative_slope = negative_slope
        self.supports_masking = True
        # No weights and nothing to check: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}
