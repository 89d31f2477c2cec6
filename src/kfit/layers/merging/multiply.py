"""`Multiply` and `multiply`: the element-wise product of a list of tensors."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.merging.base_merge import Merge, broadcast_mask
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Multiply", "multiply"]


@register_keras_serializable(package="keras")
class Multiply(Merge):
    """Multiplies a list of tensors element by element.

    With masks, as in Keras: a masked-out value counts as 1 (it leaves the product alone), and
    when every input has a mask, positions masked out in all of them are 0 in the output.

    Example:
        >>> Multiply()([torch.tensor([[2.0, 3.0]]), torch.tensor([[4.0, 5.0]])])
        tensor([[ 8., 15.]])
    """

    def merge(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None] | None) -> torch.Tensor:
        if masks is None:
            out = inputs[0]
            for x in inputs[1:]:
                out = out * x
            return out
        every_input_masked = all(m is not None for m in masks)
        product: torch.Tensor | None = None
        kept: torch.Tensor | None = None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = broadcast_mask(m, x)
                x = torch.where(m, x, 1.0)
                if every_input_masked:
                    kept = m if kept is None else torch.logical_or(kept, m)
            product = x if product is None else product * x
        assert product is not None
        if kept is not None:
            product = torch.where(kept, product, 0.0)
        return product


def multiply(inputs: list[Any], **kwargs: Any) -> Any:
    """Functional form of `Multiply`: builds the layer and calls it on `inputs`.

    Example:
        >>> multiply([torch.tensor([[2.0]]), torch.tensor([[4.0]])])
        tensor([[8.]])
    """
    return Multiply(**kwargs)(inputs)
