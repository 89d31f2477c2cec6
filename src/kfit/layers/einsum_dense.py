"""`EinsumDense`: a dense layer whose product with the kernel is any einsum equation.

The equation names the input, the kernel and the output axes (`"abc,cde->abde"` maps
`(batch, time, 16)` to `(batch, time, heads, size)` with a `(16, heads, size)` kernel). The
kernel's shape is read off the equation: an axis shared with the output takes the size given
in `output_shape`, an axis shared only with the input takes the input's size. `...` may stand
for leading axes (`"...b,bc->...c"`) or trailing ones (`"ab...,bc->ac..."`); those axes pass
through unchanged. The bias covers the output axes named in `bias_axes` and every output axis
after the first of them (those get size 1), so it broadcasts against the output.

`MultiHeadAttention` projects its inputs with this layer, as Keras does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from kfit import activations, constraints, initializers, regularizers
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["EinsumDense", "EinsumShapes", "analyze_einsum"]

Shape = tuple[int | None, ...]

_PLAIN = re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$")
_LEFT_ELIDED = re.compile(r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)$")
_RIGHT_ELIDED = re.compile(r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.$")


class EinsumShapes(NamedTuple):
    """What an `EinsumDense` equation implies for one input shape."""

    kernel: tuple[int, ...]
    """The kernel's shape."""
    bias: tuple[int, ...] | None
    """The bias's shape, or None without `bias_axes`."""
    output: Shape
    """The full output shape, batch axis first."""
    input_axes: list[int]
    """Kernel axes summed against the input (the fan-in of variance-scaling initializers)."""
    output_axes: list[int]
    """Kernel axes that reach the output (the fan-out)."""


def analyze_einsum(
    equation: str,
    bias_axes: str | None,
    input_shape: Sequence[int | None],
    output_shape: Sequence[int | None],
) -> EinsumShapes:
    """Works out the kernel, bias and output shapes of an `EinsumDense` layer.

    Args:
        equation: `"<input>,<kernel>-><output>"`, optionally with `...` at the start of the
            input and output specs or at the end of both.
        bias_axes: Output axis letters that the bias covers, or None for no bias.
        input_shape: The input's shape, batch axis first (None for unknown sizes).
        output_shape: The output's shape without the batch axis and without the axes that
            `...` stands for; None entries are taken from the input where an axis is shared.

    Returns:
        An `EinsumShapes`.

    Raises:
        ValueError: when the equation is not of a supported form, or the shapes disagree with it.

    Example:
        >>> shapes = analyze_einsum("abc,cde->abde", "de", (None, 7, 16), (None, 2, 8))
        >>> shapes.kernel, shapes.bias, shapes.output
        ((16, 2, 8), (2, 8), (None, 7, 2, 8))
    """
    left_elided = False
    match = _PLAIN.match(equation)
    if match is None:
        match = _LEFT_ELIDED.match(equation)
        left_elided = match is not None
    if match is None:
        match = _RIGHT_ELIDED.match(equation)
    if match is None:
        raise ValueError(
            "Expected `equation` of the form 'ab,bc->ac', '...b,bc->...c' or 'ab...,bc->ac...' "
            f"(letters only, `...` on both the input and the output side). Received: "
            f"equation={equation!r} (of type {type(equation).__name__}). Write one operand for "
            "the input, one for the kernel and the output after '->'."
        )
    input_spec, weight_spec, output_spec = match.groups()
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(input_spec)
    if elided < 0 or (elided > 0 and "..." not in equation):
        raise ValueError(
            f"Expected an input of rank {len(input_spec)} for equation {equation!r}. Received: "
            f"input_shape={input_shape!r}. Give an input with one axis per letter of "
            f"{input_spec!r}, or add '...' to the equation."
        )
    # The full output shape: batch axis, then the axes `...` stands for and the given sizes.
    given = list(output_shape)
    if left_elided:
        full: list[int | None] = [input_shape[0], *input_shape[1:elided], *given]
        offset = elided
    else:
        full = [input_shape[0], *given, *input_shape[len(input_shape) - elided :]]
        offset = 0
    if len(full) - offset - (0 if left_elided else elided) != len(output_spec):
        raise ValueError(
            f"Expected `output_shape` to give {len(output_spec) - 1} sizes for the output axes "
            f"{output_spec[1:]!r} of equation {equation!r} (all but the batch axis). Received: "
            f"output_shape={tuple(output_shape)!r}. Pass one size (or None) per output axis."
        )
    input_index = {dim: i + offset for i, dim in enumerate(input_spec)}
    output_index = {dim: i + offset for i, dim in enumerate(output_spec)}
    for dim, i in input_index.items():
        if dim in output_index:
            out = full[output_index[dim]]
            if out is None:
                full[output_index[dim]] = input_shape[i]
            elif input_shape[i] is not None and out != input_shape[i]:
                raise ValueError(
                    f"Expected the output to keep the input's size on the shared axis {dim!r} "
                    f"of equation {equation!r}. Received: input size {input_shape[i]} and "
                    f"output size {out} (output_shape={tuple(output_shape)!r}). Pass None or "
                    f"{input_shape[i]} for that axis in `output_shape`."
                )
    for dim in output_spec:
        if dim not in input_spec and dim not in weight_spec:
            raise ValueError(
                f"Expected every output axis of equation {equation!r} to come from the input or "
                f"the kernel. Received: output axis {dim!r}, in neither {input_spec!r} nor "
                f"{weight_spec!r}. Fix the equation."
            )
    kernel: list[int | None] = []
    input_axes: list[int] = []
    output_axes: list[int] = []
    for i, dim in enumerate(weight_spec):
        if dim in output_index:
            kernel.append(full[output_index[dim]])
            output_axes.append(i)
        elif dim in input_index:
            kernel.append(input_shape[input_index[dim]])
            input_axes.append(i)
        else:
            raise ValueError(
                f"Expected every kernel axis of equation {equation!r} to appear in the input or "
                f"the output. Received: kernel axis {dim!r}, in neither {input_spec!r} nor "
                f"{output_spec!r}. Fix the equation."
            )
    if any(d is None for d in kernel):
        raise ValueError(
            f"Expected every kernel axis of equation {equation!r} to have a known size. "
            f"Received: kernel shape {tuple(kernel)!r} from input_shape={input_shape!r} and "
            f"output_shape={tuple(output_shape)!r}. Give the sizes of the kernel's output axes "
            "in `output_shape` and of its input axes in the input."
        )
    bias: tuple[int, ...] | None = None
    if bias_axes is not None:
        missing = [c for c in bias_axes if c not in output_spec]
        if missing:
            raise ValueError(
                f"Expected `bias_axes` to name output axes of equation {equation!r} "
                f"({output_spec!r}). Received: bias_axes={bias_axes!r} (of type "
                f"{type(bias_axes).__name__}); {missing[0]!r} is not an output axis."
            )
        first = min(output_spec.index(c) for c in bias_axes)
        sizes = [full[output_index[c]] if c in bias_axes else 1 for c in output_spec[first:]]
        if any(s is None for s in sizes):
            raise ValueError(
                f"Expected the bias axes {bias_axes!r} to have known sizes. Received: "
                f"output shape {tuple(full)!r}. Give their sizes in `output_shape`."
            )
        # Axes that a trailing `...` stands for come after the spec: the bias spans them as 1s.
        trailing = 0 if left_elided else elided
        bias = tuple(int(s) for s in sizes if s is not None) + (1,) * trailing
    return EinsumShapes(
        tuple(int(d) for d in kernel if d is not None), bias, tuple(full), input_axes, output_axes
    )


@register_keras_serializable(package="keras")
class EinsumDense(Layer):
    """A dense layer that multiplies its input with its kernel by an einsum equation.

    See the module docstring for how the equation, `output_shape` and `bias_axes` give the
    weight shapes. The weights are `kernel` then `bias` (when `bias_axes` is given), as in
    Keras. A variance-scaling kernel initializer (glorot, he, lecun) counts the kernel axes
    summed against the input as its fan-in and those reaching the output as its fan-out.

    Args:
        equation: The einsum equation, e.g. `"ab,bc->ac"` (a Dense layer).
        output_shape: Sizes of the output axes after the batch axis (an int for one axis); the
            axes that `...` stands for are left out. None entries follow the input.
        activation: Name or callable applied to the output; None means linear.
        bias_axes: Letters of the output axes the bias covers; None for no bias.
        kernel_initializer: Initializer for the kernel.
        bias_initializer: Initializer for the bias.
        kernel_regularizer: Regularizer for the kernel.
        bias_regularizer: Regularizer for the bias.
        kernel_constraint: Constraint for the kernel.
        bias_constraint: Constraint for the bias.
        quantization_config: Accepted for Keras configs; only None is supported.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`, `activity_regularizer`).

    Raises:
        ValueError: for a non-None `quantization_config`.

    Example:
        >>> layer = EinsumDense("abc,cde->abde", output_shape=(None, 2, 8), bias_axes="de")
        >>> layer(torch.ones(4, 7, 16)).shape
        torch.Size([4, 7, 2, 8])
        >>> [tuple(w.shape) for w in layer.weights]
        [(16, 2, 8), (2, 8)]
    """

    def __init__(
        self,
        equation: str,
        output_shape: int | Sequence[int | None],
        activation: Any = None,
        bias_axes: str | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        quantization_config: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if quantization_config is not None:
            raise ValueError(
                "Expected quantization_config=None: kfit does not quantize EinsumDense. "
                f"Received: quantization_config={quantization_config!r} (of type "
                f"{type(quantization_config).__name__}). Leave it out."
            )
        if not isinstance(equation, str):
            raise ValueError(
                "Expected `equation` to be a string such as 'ab,bc->ac'. "
                f"Received: equation={equation!r} (of type {type(equation).__name__})."
            )
        self.equation = equation
        self.partial_output_shape: tuple[int | None, ...] = (
            (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        )
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self._linear = activations.serialize(self.activation) == "linear"
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.quantization_config = None
        if self._declared_input_shape is not None:
            self._maybe_build(self._declared_input_shape)

    def build(self, input_shape: Sequence[int | None]) -> None:
        shapes = analyze_einsum(self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        kernel_initializer = self.kernel_initializer
        if (
            isinstance(kernel_initializer, initializers.VarianceScaling)
            and (kernel_initializer.input_axes is None or kernel_initializer.output_axes is None)
        ):
            # The fans of a kernel such as (16, heads, size) are 16 and heads * size, which the
            # default rule for rank-3 kernels (a 1D convolution's) would get wrong.
            config = {
                **kernel_initializer.get_config(),
                "input_axes": shapes.input_axes,
                "output_axes": shapes.output_axes,
            }
            kernel_initializer = type(kernel_initializer).from_config(config)
        self.kernel = self.add_weight(
            shape=shapes.kernel,
            initializer=kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.bias = (
            self.add_weight(
                shape=shapes.bias,
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
            if shapes.bias is not None
            else None
        )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        kernel = self.kernel
        if inputs.dtype != kernel.dtype:
            # Keras computes in the layer's dtype; integer inputs are cast too.
            inputs = inputs.to(kernel.dtype)
        out = torch.einsum(self.equation, inputs, kernel)
        if self.bias is not None:
            out = out + self.bias
        return out if self._linear else self.activation(out)

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> Shape:
        return analyze_einsum(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        ).output

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            output_shape=self.partial_output_shape,
            equation=self.equation,
            activation=activations.serialize(self.activation),
            bias_axes=self.bias_axes,
            kernel_initializer=_serialize_initializer(self.kernel_initializer),
            bias_initializer=_serialize_initializer(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint),
            quantization_config=None,
        )
        return config


def _serialize_initializer(initializer: Any) -> Any:
    # None (Keras's "use the default") is written as None, as Keras writes it.
    return None if initializer is None else initializers.serialize(initializer)
