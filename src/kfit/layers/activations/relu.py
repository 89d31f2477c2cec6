"""`ReLU`: the rectified linear unit as a layer, optionally leaky, capped and shifted."""

from __future__ import annotations

from typing import Any

import torch

from kfit import activations
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["ReLU"]


def _check_non_negative(name: str, value: Any, allow_none: bool) -> None:
    if (value is None and allow_none) or (value is not None and value >= 0):
        return
    raise ValueError(
        f"Expected `{name}` of a ReLU layer to be a non-negative number"
        f"{' or None' if allow_none else ''}. Received: {name}={value!r} (of type "
        f"{type(value).__name__}). Pass e.g. {name}={6.0 if name == 'max_value' else 0.0}."
    )


@register_keras_serializable(package="keras")
class ReLU(Layer):
    """Rectified linear unit: `x` above `threshold`, `negative_slope * (x - threshold)` below,
    capped at `max_value`.

    Args:
        max_value: Upper bound of the output, or None for no cap.
        negative_slope: Slope below the threshold.
        threshold: Values at or below it are zeroed (or scaled by `negative_slope`).
        **kwargs: Layer arguments such as `name`.

    Raises:
        ValueError: when an argument is negative (or `negative_slope`/`threshold` is None).

    Example:
        >>> ReLU(max_value=6.0)(torch.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """

    def __init__(
        self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        _check_non_negative("max_value", max_value, allow_none=True)
        _check_non_negative("negative_slope", negative_slope, allow_none=False)
        _check_non_negative("threshold", threshold, allow_none=False)
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold
        self.supports_masking = True
        # The plain ReLU (the default) is one fused kernel.
        self._plain = max_value is None and negative_slope == 0 and threshold == 0
        # No weights and nothing to check: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self._plain:
            return torch.nn.functional.relu(inputs)
        return activations.relu(
            inputs, negative_slope=self.negative_slope, max_value=self.max_value, threshold=self.threshold
        )

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }
