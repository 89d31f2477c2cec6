"""`Minimum` and `minimum`: the element-wise minimum of a list of tensors."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.merging.base_merge import Merge, merge_skipping_masked
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Minimum", "minimum"]


@register_keras_serializable(package="keras")
class Minimum(Merge):
    """Takes the element-wise minimum of a list of tensors.

    Masked-out values are skipped, as in Keras: they are replaced by the other inputs' values.

    Example:
        >>> Minimum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])])
        tensor([[1., 2.]])
    """

    def merge(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None] | None) -> torch.Tensor:
        return merge_skipping_masked(torch.minimum, inputs, masks)


def minimum(inputs: list[Any], **kwargs: Any) -> Any:
    """Functional form of `Minimum`: builds the layer and calls it on `inputs`.

    Example:
        >>> minimum([torch.tensor([[1.0]]), torch.tensor([[3.0]])])
        tensor([[1.]])
    """
    return Minimum(**kwargs)(inputs)
