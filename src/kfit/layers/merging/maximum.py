"""`Maximum` and `maximum`: the element-wise maximum of a list of tensors."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.merging.base_merge import Merge, merge_skipping_masked
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Maximum", "maximum"]


@register_keras_serializable(package="keras")
class Maximum(Merge):
    """Takes the element-wise maximum of a list of tensors.

    Masked-out values are skipped, as in Keras: they are replaced by the other inputs' values.

    Example:
        >>> Maximum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])])
        tensor([[3., 5.]])
    """

    def merge(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None] | None) -> torch.Tensor:
        return merge_skipping_masked(torch.maximum, inputs, masks)


def maximum(inputs: list[Any], **kwargs: Any) -> Any:
    """Functional form of `Maximum`: builds the layer and calls it on `inputs`.

    Example:
        >>> maximum([torch.tensor([[1.0]]), torch.tensor([[3.0]])])
        tensor([[3.]])
    """
    return Maximum(**kwargs)(inputs)
