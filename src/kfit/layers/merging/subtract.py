"""`Subtract` and `subtract`: the element-wise difference of exactly two tensors."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.merging.base_merge import Merge
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Subtract", "subtract"]


def _two_inputs_error(what: str, value: Any) -> ValueError:
    return ValueError(
        f"A `Subtract` layer should be called on exactly 2 inputs. Received: {what}={value!r} "
        f"(of type {type(value).__name__}). Pass a list of two tensors, e.g. Subtract()([a, b])."
    )


@register_keras_serializable(package="keras")
class Subtract(Merge):
    """Computes `inputs[0] - inputs[1]`; it takes exactly two tensors.

    Raises:
        ValueError: when called on a list that does not hold exactly two tensors.

    Example:
        >>> Subtract()([torch.tensor([[3.0, 1.0]]), torch.tensor([[1.0, 1.0]])])
        tensor([[2., 0.]])
    """

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if len(input_shape) != 2:
            raise _two_inputs_error("input_shape", input_shape)

    def merge(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None] | None) -> torch.Tensor:
        if len(inputs) != 2:
            raise _two_inputs_error("inputs", [tuple(x.shape) for x in inputs])
        return inputs[0] - inputs[1]


def subtract(inputs: list[Any], **kwargs: Any) -> Any:
    """Functional form of `Subtract`: builds the layer and calls it on the two `inputs`.

    Example:
        >>> subtract([torch.tensor([[3.0]]), torch.tensor([[1.0]])])
        tensor([[2.]])
    """
    return Subtract(**kwargs)(inputs)
