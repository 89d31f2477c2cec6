"""`Permute`: reorders the non-batch axes of its input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Permute"]


@register_keras_serializable(package="keras")
class Permute(Layer):
    """Permutes the axes after the batch axis following `dims`, counted from 1 as in Keras:
    `Permute((2, 1))` swaps the two axes of `(batch, steps, features)` inputs.

    The output is a view of the input (as `torch.permute` returns), not a copy.

    Args:
        dims: A permutation of `1..rank-1`; the batch axis stays first.
        **kwargs: Layer arguments such as `name`.

    Raises:
        ValueError: when `dims` is not a permutation of `1..len(dims)`, or the input's rank is
            not `len(dims) + 1`.

    Example:
        >>> Permute((2, 1))(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 3, 5])
    """

    def __init__(self, dims: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer: it must hold the axes "
                f"1, 2, ..., {len(self.dims)} in some order (1-based, without the batch axis). "
                f"Received: dims={dims!r} (of type {type(dims).__name__}). Pass e.g. dims=(2, 1)."
            )
        self._order = (0, *self.dims)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                f"ndim={len(self.dims) + 1}, found ndim={len(input_shape)}. Full shape received: "
                f"{tuple(input_shape)}. Give `dims` one entry per non-batch axis."
            )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.permute(self._order)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": self.dims}
