"""`Dense`: `activation(inputs @ kernel + bias)`, with the kernel stored `(in, out)` as in Keras."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kfit import activations, constraints, initializers, regularizers
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Dense"]


@register_keras_serializable(package="keras")
class Dense(Layer):
    """A densely connected layer.

    The kernel has Keras's shape `(input_dim, units)` (the transpose of `torch.nn.Linear`'s
    weight), so `get_weights()` and `set_weights()` exchange arrays with Keras unchanged.
    In memory it is column-major, the bytes of `nn.Linear`'s weight: on a CPU, MKL multiplies
    a batch by a narrow row-major kernel (2 to 16 units) two to three times slower, and that is
    the classifier head of most models. The kernel starts glorot-uniform and the bias at zeros,
    as in Keras.

    Args:
        units: size of the output's last dimension.
        activation: name or callable; None means linear.
        use_bias: whether to add a bias vector.
        kernel_initializer: name or initializer for the kernel.
        bias_initializer: name or initializer for the bias.
        kernel_regularizer: name or callable (see `kfit.regularizers`) whose penalty on the
            kernel joins `layer.losses` and the training loss.
        bias_regularizer: the same for the bias.
        activity_regularizer: a penalty on the layer's output, divided by the batch size.
        kernel_constraint: name or callable (see `kfit.constraints`) that the optimizer
            applies to the kernel after each update.
        bias_constraint: the same for the bias.
        lora_rank: Keras's LoRA adapter rank; kfit supports only None (no adapter).
        lora_alpha: Keras's LoRA scale; only None is supported.
        quantization_config: Keras's quantization settings; only None is supported.
        **kwargs: `name`, `input_dim`, `input_shape`, `trainable`, `dtype`.

    Raises:
        ValueError: for `units` that is not a positive integer.
        NotImplementedError: for a LoRA or quantization setting.

    Example:
        >>> layer = Dense(4, activation="relu", input_dim=3, kernel_regularizer="l2")
        >>> [w.shape for w in layer.get_weights()]
        [(3, 4), (4,)]
        >>> layer(torch.ones(2, 3)).shape
        torch.Size([2, 4])
        >>> len(layer.losses)  # the kernel's L2 penalty
        1
    """

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        lora_rank: int | None = None,
        lora_alpha: float | None = None,
        quantization_config: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        for argument, value in (
            ("lora_rank", lora_rank),
            ("lora_alpha", lora_alpha),
            ("quantization_config", quantization_config),
        ):
            if value is not None:
                raise NotImplementedError(
                    f"Expected {argument}=None: kfit's Dense has no LoRA adapters or "
                    f"quantization. Received: {argument}={value!r} (of type "
                    f"{type(value).__name__}). Leave it out (or None); for LoRA, add the "
                    "low-rank matrices in a layer of your own."
                )
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                "Expected `units` to be a positive integer. "
                f"Received: units={units!r} (of type {type(units).__name__}). "
                "Pass the number of output features, e.g. Dense(64)."
            )
        self.units = units
        # Dense maps the last axis only: the mask over the leading (time) axes passes through,
        # so Embedding(mask_zero=True) -> Dense -> LSTM keeps the padding mask, as in Keras.
        self.supports_masking = True
        self.activation = activations.get(activation)
        self._linear = activation is None or activations.serialize(self.activation) == "linear"
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        if self._declared_input_shape is not None:
            self.build(self._declared_input_shape)
            self.built = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(
                "Expected the last dimension of the input shape of a Dense layer to be known. "
                f"Received: input_shape={input_shape!r}. Pass e.g. input_shape=(784,)."
            )
        self.input_dim = int(in_dim)
        # A None initializer is Keras's default for a float weight, glorot-uniform, which
        # `add_weight` applies (to the bias too).
        self.kernel = self.add_weight(
            shape=(self.input_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        # Shape (in, out), strides (1, in): see the class docstring. Optimizer slots and
        # gradients follow a parameter's strides, so the whole update keeps this layout.
        # Swapping the storage keeps the Variable that `add_weight` registered.
        values = self.kernel.data
        self.kernel.data = values.new_empty((self.units, self.input_dim)).t().copy_(values)
        self.bias = (
            self.add_weight(
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
            if self.use_bias
            else None
        )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        kernel = self.kernel
        if inputs.dtype != kernel.dtype:
            # Keras casts inputs to the layer's dtype; integer pixels (uint8) are common input.
            inputs = inputs.to(kernel.dtype)
        if inputs.dim() == 2 and self.bias is not None:
            out = torch.addmm(self.bias, inputs, kernel)
        else:
            out = inputs @ kernel
            if self.bias is not None:
                out = out + self.bias
        return out if self._linear else self.activation(out)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=_initializer_config(self.kernel_initializer),
            bias_initializer=_initializer_config(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint),
            quantization_config=None,
        )
        return config


def _initializer_config(
    initializer: initializers.Initializer | Callable[..., torch.Tensor] | None,
) -> dict[str, Any] | None:
    # None (Keras's default) is written as None, as Keras writes it.
    return None if initializer is None else initializers.serialize(initializer)
