"""`InputLayer` and `Input`: declare the shape a model expects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Input", "InputLayer"]


@register_keras_serializable(package="keras")
class InputLayer(Layer):
    """Declares the per-sample input shape of a `Sequential` model; it passes inputs through.

    Example:
        >>> InputLayer(shape=(784,)).batch_shape
        (None, 784)
    """

    def __init__(
        self,
        shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        dtype: Any = None,
        batch_shape: Sequence[int | None] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if shape is None and batch_shape is None:
            shape = kwargs.pop("input_shape", None)
        if shape is None and batch_shape is None:
            raise ValueError(
                "Expected `shape` (the shape of one sample, e.g. (784,)) or `batch_shape`. "
                "Received: neither. Pass InputLayer(shape=(784,))."
            )
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.batch_shape: tuple[int | None, ...] = (
            tuple(batch_shape) if batch_shape is not None else (batch_size, *tuple(shape or ()))
        )
        self._declared_input_shape = (None, *self.batch_shape[1:])
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "batch_shape": list(self.batch_shape), "dtype": self._dtype}


def Input(
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    dtype: Any = None,
    batch_shape: Sequence[int | None] | None = None,
    name: str | None = None,
) -> InputLayer:
    """Declares a model input; put it first in a `Sequential`.

    kfit models are torch modules rather than symbolic graphs, so `Input` returns the
    `InputLayer` itself rather than a symbolic tensor.

    Example:
        >>> import kfit
        >>> model = kfit.Sequential([Input(shape=(784,)), kfit.layers.Dense(10)])
        >>> model.input_shape
        (None, 784)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name)
