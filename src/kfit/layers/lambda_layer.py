"""`Lambda`: wraps a function of tensors as a layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["Lambda"]


@register_keras_serializable(package="keras")
class Lambda(Layer):
    """Calls `function(inputs, **arguments)`: a layer made from a function without weights.

    Args:
        function: The function to call on the inputs.
        output_shape: The output shape (without the batch dimension), or a function of the
            input shape; when None it is inferred by running the function on shapes only.
        mask: A mask for the outputs, or a function `(inputs, mask) -> mask`.
        arguments: Extra keyword arguments for `function`.

    Saving: kfit never loads code from a file, so only a named, importable function (or one
    registered with `register_keras_serializable`) can be saved in a config; a `lambda` cannot.

    Example:
        >>> import torch
        >>> Lambda(lambda x: x * 2)(torch.ones(1, 2)).tolist()
        [[2.0, 2.0]]
    """

    def __init__(
        self,
        function: Callable[..., Any],
        output_shape: Any = None,
        mask: Any = None,
        arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                "Expected `function` to be callable. Received: "
                f"function={function!r} (of type {type(function).__name__}). Pass a function of "
                "the layer's inputs, e.g. Lambda(lambda x: x * 2)."
            )
        self.function = function
        self.output_shape = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        self.supports_masking = mask is not None
        self._makes_masks = mask is not None
        self.built = True

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        if callable(self.mask):
            return self.mask(inputs, previous_mask)
        return self.mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self.output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self.output_shape):
            return self.output_shape(input_shape)
        return (input_shape[0], *tuple(self.output_shape))

    def get_config(self) -> dict[str, Any]:
        if getattr(self.function, "__name__", "<lambda>") == "<lambda>":
            raise ValueError(
                "Expected a named function to save in a Lambda layer's config. Received: "
                "function=<lambda>. kfit does not store code in files (loading it would run it); "
                "define the function with `def` at module level, or register it with "
                "`kfit.saving.register_keras_serializable`."
            )
        config = super().get_config()
        config.update(
            function=serialize_keras_object(self.function),
            output_shape=None if callable(self.output_shape) else self.output_shape,
            arguments=self.arguments,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Lambda:
        config = dict(config)
        config["function"] = deserialize_keras_object(config["function"])
        return cls(**config)
