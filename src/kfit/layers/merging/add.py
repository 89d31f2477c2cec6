"""`Add` and `add`: the element-wise sum of a list of tensors."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.merging.base_merge import Merge
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Add", "add"]


@register_keras_serializable(package="keras")
class Add(Merge):
    """Adds a list of tensors element by element (two or more, broadcasting as NumPy does).

    Masks do not change the values; the output mask is the OR of the input masks.

    Example:
        >>> Add()([torch.ones(2, 3), torch.full((2, 1), 2.0)])
        tensor([[3., 3., 3.],
                [3., 3., 3.]])
    """

    def merge(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None] | None) -> torch.Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


def add(inputs: list[Any], **kwargs: Any) -> Any:
    """Functional form of `Add`: builds the layer and calls it on `inputs`.

    Args:
        inputs: The tensors to add (eager or symbolic).
        **kwargs: Layer arguments such as `name`.

    Returns:
        Their element-wise sum.

    Example:
        >>> add([torch.ones(1, 2), torch.ones(1, 2)])
        tensor([[2., 2.]])
    """
    return Add(**kwargs)(inputs)
