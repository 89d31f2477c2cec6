"""`Average` and `average`: the element-wise mean of a list of tensors."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.merging.base_merge import Merge
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Average", "average"]


@register_keras_serializable(package="keras")
class Average(Merge):
    """Averages a list of tensors element by element (masks do not change the values).

    Example:
        >>> Average()([torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 6.0]])])
        tensor([[2., 4.]])
    """

    def merge(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None] | None) -> torch.Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / len(inputs)


def average(inputs: list[Any], **kwargs: Any) -> Any:
    """Functional form of `Average`: builds the layer and calls it on `inputs`.

    Example:
        >>> average([torch.tensor([[1.0]]), torch.tensor([[3.0]])])
        tensor([[2.]])
    """
    return Average(**kwargs)(inputs)
