"""`InputLayer` and `Input`: where a model's symbolic graph starts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kfit.backend.config import floatx
from kfit.backend.dtypes import standardize_dtype
from kfit.layers.layer import Layer
from kfit.layers.symbolic import KerasTensor, record
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Input", "InputLayer"]


@register_keras_serializable(package="keras")
class InputLayer(Layer):
    """The start of a model's graph: it holds the `KerasTensor` that `kfit.Input` returns.

    A functional model lists its InputLayers in `model.layers`; a `Sequential` keeps its own
    (when it starts with `kfit.Input`) out of `layers`, as Keras does. Called on a real tensor
    it returns it unchanged.

    Args:
        shape: The shape of one sample (no batch dimension); None for unknown sizes.
        batch_size: The fixed batch size, if any.
        dtype: The dtype of the input; default `floatx()` ("float32").
        sparse: Only False: kfit tensors are dense.
        ragged: Only False: torch has no ragged tensors.
        batch_shape: The full shape, batch first; instead of `shape` and `batch_size`.
        input_tensor: Accepted for Keras compatibility; only None.
        optional: Whether the input may be None (recorded; kfit always expects a value).
        name: The layer's name, also the name of its KerasTensor.

    Example:
        >>> layer = InputLayer(shape=(784,))
        >>> layer.batch_shape, layer.output.shape
        ((None, 784), (None, 784))
    """

    def __init__(
        self,
        shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        dtype: Any = None,
        sparse: bool | None = None,
        ragged: bool = False,
        batch_shape: Sequence[int | None] | None = None,
        input_tensor: Any = None,
        optional: bool = False,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Keras 2 names, still found in configs and code.
        if shape is None and batch_shape is None:
            shape = kwargs.pop("input_shape", None)
        if batch_shape is None:
            batch_shape = kwargs.pop("batch_input_shape", None)
        if shape is None and batch_shape is None:
            raise ValueError(
                "Expected `shape` (the shape of one sample, e.g. (784,)) or `batch_shape`. "
                "Received: neither. Pass InputLayer(shape=(784,))."
            )
        if shape is not None and batch_shape is not None:
            raise ValueError(
                "Expected either `shape` or `batch_shape`, not both. Received: "
                f"shape={shape!r} and batch_shape={batch_shape!r}. Pass one of them."
            )
        for flag, value in (("sparse", sparse), ("ragged", ragged)):
            if value:
                raise ValueError(
                    f"Expected {flag}=False: kfit inputs are dense torch tensors. Received: "
                    f"{flag}={value!r} (of type {type(value).__name__}). Leave it out."
                )
        if input_tensor is not None:
            raise ValueError(
                "Expected input_tensor=None: kfit builds each input's KerasTensor itself. "
                f"Received: input_tensor={input_tensor!r} (of type {type(input_tensor).__name__}). "
                "Pass the tensor's shape and dtype instead."
            )
        kwargs.pop("trainable", None)  # an input has no weights to train
        dtype = standardize_dtype(dtype if dtype is not None else floatx())
        tensor_name = name
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is not None:
            self.batch_shape: tuple[int | None, ...] = tuple(batch_shape)
        else:
            sample = (shape,) if isinstance(shape, int) else tuple(shape or ())
            self.batch_shape = (batch_size, *sample)
        self.sparse = False
        self.ragged = False
        self.optional = bool(optional)
        self._declared_input_shape = (None, *self.batch_shape[1:])
        self.built = True
        tensor = KerasTensor(self.batch_shape, dtype=dtype, name=tensor_name)
        record(self, (), {}, tensor)
        self._input_tensor = tensor

    @property
    def output(self) -> KerasTensor:
        """The KerasTensor this input feeds into the graph."""
        return self._input_tensor

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            "batch_shape": list(self.batch_shape),
            "dtype": self.dtype,
            "sparse": self.sparse,
            "ragged": self.ragged,
            "name": self.name,
            "optional": self.optional,
        }


def Input(
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    dtype: Any = None,
    sparse: bool | None = None,
    ragged: bool | None = None,
    batch_shape: Sequence[int | None] | None = None,
    name: str | None = None,
    tensor: Any = None,
    optional: bool = False,
) -> KerasTensor:
    """Starts a model: returns a symbolic `KerasTensor` with the given shape and dtype.

    Call layers on it to record a graph, then make a model of the graph with
    `kfit.Model(inputs, outputs)`; or put it first in a `Sequential` to declare its input
    shape. The batch dimension is left out of `shape` (it is None unless `batch_size` is given).

    Args:
        shape: The shape of one sample, e.g. `(784,)`; None for unknown sizes.
        batch_size: A fixed batch size, if any.
        dtype: The input's dtype; default "float32".
        sparse: Only False/None: kfit tensors are dense.
        ragged: Only False/None.
        batch_shape: The full shape, batch first, instead of `shape` and `batch_size`.
        name: The input's name (the InputLayer's and the KerasTensor's).
        tensor: Accepted for Keras compatibility; only None.
        optional: Whether the input may be None.

    Returns:
        The KerasTensor; its `_keras_history` points at the `InputLayer` that holds it.

    Example:
        >>> import kfit
        >>> inputs = Input(shape=(784,))
        >>> inputs.shape, inputs.dtype
        ((None, 784), 'float32')
        >>> model = kfit.Model(inputs, kfit.layers.Dense(10)(inputs))
        >>> model.output_shape
        (None, 10)
    """
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=sparse,
        ragged=bool(ragged),
        batch_shape=batch_shape,
        input_tensor=tensor,
        optional=optional,
        name=name,
    )
    return layer.output
