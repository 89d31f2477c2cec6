"""`RepeatVector`: repeats a `(batch, features)` input `n` times along a new time axis."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["RepeatVector"]


@register_keras_serializable(package="keras")
class RepeatVector(Layer):
    """Turns `(batch, features)` into `(batch, n, features)` by repeating each sample `n` times
    (as when an encoder's summary vector feeds every step of a decoder RNN).

    Args:
        n: How many times to repeat; a positive int.
        **kwargs: Layer arguments such as `name`.

    Raises:
        TypeError: when `n` is not an int.
        ValueError: when `n` is not positive, or the input is not 2-D.

    Example:
        >>> RepeatVector(3)(torch.tensor([[1.0, 2.0]]))
        tensor([[[1., 2.],
                 [1., 2.],
                 [1., 2.]]])
    """

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(
                f"Expected an integer value for `n`. Received: n={n!r} (of type {type(n).__name__}). "
                "Pass the number of repetitions, e.g. RepeatVector(3)."
            )
        if n <= 0:
            raise ValueError(
                f"Argument `n` should be a positive integer. Received: n={n!r} (of type "
                f"{type(n).__name__}). Pass the number of repetitions, e.g. RepeatVector(3)."
            )
        self.n = n

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 2:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: expected ndim=2, "
                f"found ndim={len(input_shape)}. Full shape received: {tuple(input_shape)}. "
                "RepeatVector takes (batch, features); flatten the input first."
            )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # A copy, not an expanded view: later in-place ops must not write to shared memory.
        return inputs.unsqueeze(1).repeat(1, self.n, 1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}
