"""`Identity`: returns its inputs unchanged (a placeholder layer, as in Keras)."""

from __future__ import annotations

from typing import Any

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Identity"]


@register_keras_serializable(package="keras")
class Identity(Layer):
    """Returns its inputs unchanged; masks pass through.

    Example:
        >>> import torch
        >>> x = torch.ones(2, 3)
        >>> Identity()(x) is x
        True
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape
