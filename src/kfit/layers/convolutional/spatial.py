"""Arguments, shape arithmetic and memory layout shared by the spatial layers.

Keras's spatial layers read their arguments the same way: an int stands for the same value in
every spatial dimension, `padding` is `"valid"` or `"same"` (plus `"causal"` for Conv1D), and
`"same"` pads as TensorFlow does: the output has `ceil(length / stride)` steps and, when the
padding needed is odd, the extra step goes at the end (right, bottom). torch's own `"same"`
only exists for stride 1, so the layers ask `same_padding` for the amounts and pass them to torch.

Layout: kfit's channels-last layers run torch's channels-first kernels on a permuted *view* of
their input (`to_channels_first`). For a contiguous `(batch, *spatial, channels)` tensor that
view has exactly the memory layout torch calls `channels_last`, which its convolution and
pooling kernels run natively and keep for their outputs, so no layer copies its input to
change layout and `to_channels_last` of the result is again a free view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from kfit.utils.errors import received

__all__ = [
    "SpatialWindow",
    "channels_first_order",
    "channels_last_order",
    "check_positive_int",
    "conv_output_length",
    "deconv_crops",
    "deconv_output_length",
    "flat_pads",
    "same_padding",
    "standardize_padding",
    "standardize_pairs",
    "standardize_tuple",
    "store_in_torch_layout",
]


def standardize_tuple(value: Any, n: int, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """Reads a spatial argument: an int repeated `n` times, or `n` ints.

    Args:
        value: An int, or a sequence of `n` ints.
        n: The number of spatial dimensions.
        name: The argument's name, for the error message.
        allow_zero: Whether 0 is allowed (paddings, croppings); otherwise values must be >= 1.

    Returns:
        A tuple of `n` ints.

    Raises:
        ValueError: when `value` is not of that form, or holds a value out of range.

    Example:
        >>> standardize_tuple(3, 2, "kernel_size"), standardize_tuple([1, 2], 2, "strides")
        ((3, 3), (1, 2))
    """
    lowest = 0 if allow_zero else 1
    if isinstance(value, int) and not isinstance(value, bool):
        values: tuple[Any, ...] = (value,) * n
    elif isinstance(value, Sequence) and not isinstance(value, str):
        values = tuple(value)
    else:
        values = ()
    if len(values) != n or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= lowest for v in values
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"Expected `{name}` to be a {kind} integer or a tuple of {n} {kind} integers. "
            f"{received(name, value)} Pass e.g. {name}={lowest + 1} or "
            f"{name}={(lowest + 1,) * n}."
        )
    return values


def standardize_pairs(value: Any, n: int, name: str) -> tuple[tuple[int, int], ...]:
    """Reads a ZeroPadding/Cropping amount: `(before, after)` for each of `n` dimensions.

    An int applies to both ends of every dimension; `n` entries give each dimension its own,
    as an int (both ends) or a pair `(before, after)`. Values must be non-negative ints.

    Raises:
        ValueError: for any other form.

    Example:
        >>> standardize_pairs(1, 2, "padding"), standardize_pairs((1, (2, 3)), 2, "padding")
        (((1, 1), (1, 1)), ((1, 1), (2, 3)))
    """
    entries = (value,) * n if _is_int(value) else value
    if isinstance(entries, Sequence) and not isinstance(entries, str) and len(entries) == n:
        pairs: list[tuple[int, int]] = []
        for entry in entries:
            try:
                before, after = standardize_tuple(entry, 2, name, allow_zero=True)
            except ValueError:
                break
            pairs.append((before, after))
        else:
            return tuple(pairs)
    example = ((1, 1),) * n
    raise ValueError(
        f"Expected `{name}` to be a non-negative int, or {n} entries each an int or a "
        f"(before, after) pair of non-negative ints. {received(name, value)} "
        f"Pass e.g. {name}=1 or {name}={example}."
    )


def standardize_padding(value: Any, allow_causal: bool = False) -> str:
    """Reads a `padding` argument: `"valid"`, `"same"` (any case), or `"causal"` when allowed.

    Raises:
        ValueError: for any other value.

    Example:
        >>> standardize_padding("SAME"), standardize_padding("causal", allow_causal=True)
        ('same', 'causal')
    """
    options = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    padding = value.lower() if isinstance(value, str) else value
    if padding not in options:
        raise ValueError(
            f"Expected `padding` to be one of {options}. {received('padding', value)} "
            + (
                "Pass 'valid' (no padding) or 'same' (output length ceil(input / stride))."
                if not allow_causal
                else "Pass 'valid', 'same', or 'causal' (pad the start of the sequence only)."
            )
        )
    return str(padding)


def conv_output_length(
    length: int | None, kernel_size: int, padding: str, stride: int, dilation: int = 1
) -> int | None:
    """The length of one spatial dimension after a convolution or a pooling window.

    `"valid"` keeps the windows that fit: `ceil((length - span + 1) / stride)` with
    `span = (kernel_size - 1) * dilation + 1`; `"same"` and `"causal"` give `ceil(length / stride)`.
    Unknown lengths (None) stay unknown; a window larger than the input gives 0.

    Example:
        >>> conv_output_length(9, 3, "same", 2), conv_output_length(9, 3, "valid", 2)
        (5, 4)
    """
    if length is None:
        return None
    if padding == "valid":
        span = (kernel_size - 1) * dilation + 1
        return max(0, -(-(length - span + 1) // stride))
    return -(-length // stride)


def same_padding(length: int, kernel_size: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's `"same"` padding of one dimension: `(before, after)`, the odd step after.

    Example:
        >>> same_padding(9, 3, 2), same_padding(8, 2, 1), same_padding(8, 4, 2)
        ((1, 1), (0, 1), (1, 1))
    """
    span = (kernel_size - 1) * dilation + 1
    out = -(-length // stride)
    total = max((out - 1) * stride + span - length, 0)
    return total // 2, total - total // 2


def deconv_output_length(
    length: int | None,
    kernel_size: int,
    padding: str,
    output_padding: int | None,
    stride: int,
    dilation: int = 1,
) -> int | None:
    """The length of one spatial dimension after a transposed convolution, as Keras gives it.

    Without `output_padding`: `length * stride`, plus `max(span - stride, 0)` for `"valid"`.
    With it: `(length - 1) * stride + span - 2 * pad + output_padding`, where `pad` is
    `span // 2` for `"same"` and 0 for `"valid"`.

    Example:
        >>> deconv_output_length(8, 3, "valid", None, 2), deconv_output_length(8, 3, "same", None, 2)
        (17, 16)
    """
    if length is None:
        return None
    span = (kernel_size - 1) * dilation + 1
    if output_padding is None:
        return length * stride + (max(span - stride, 0) if padding == "valid" else 0)
    pad = span // 2 if padding == "same" else 0
    return (length - 1) * stride + span - 2 * pad + output_padding


def deconv_crops(
    kernel_size: int, padding: str, output_padding: int | None, stride: int, dilation: int = 1
) -> tuple[int, int]:
    """How much of a full transposed convolution Keras keeps, per dimension: `(left, right)`.

    The full transposed convolution of a length-`n` input has `(n - 1) * stride + span` steps
    (torch's output with `padding=0`). Keras's output drops `left` steps at the start and
    `right` at the end; a negative `right` means that many zero steps are appended (when the
    stride is longer than the kernel, or `output_padding` asks for them). The amounts do not
    depend on the input length.

    Example:
        >>> deconv_crops(3, "same", None, 2), deconv_crops(1, "valid", None, 3)
        ((0, 1), (0, -2))
    """
    span = (kernel_size - 1) * dilation + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        before, after = span - 1, span - 1 + extra
    else:
        total = stride + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
        before = min(total // 2 + total % 2, span - 1)
        after = total - before
    return span - 1 - before, span - 1 - after


def channels_first_order(rank: int) -> tuple[int, ...]:
    """The permutation that views `(batch, *spatial, channels)` as `(batch, channels, *spatial)`.

    Example:
        >>> channels_first_order(2)
        (0, 3, 1, 2)
    """
    return (0, rank + 1, *range(1, rank + 1))


def channels_last_order(rank: int) -> tuple[int, ...]:
    """The permutation that views `(batch, channels, *spatial)` as `(batch, *spatial, channels)`.

    Example:
        >>> channels_last_order(2)
        (0, 2, 3, 1)
    """
    return (0, *range(2, rank + 2), 1)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive_int(value: Any, name: str, example: str) -> int:
    """`value` when it is a positive int; otherwise a ValueError saying how to fix it.

    Example:
        >>> check_positive_int(4, "filters", "Conv2D(32, 3)")
        4
    """
    if not _is_int(value) or value <= 0:
        raise ValueError(
            f"Expected `{name}` to be a positive integer. {received(name, value)} "
            f"Pass e.g. {example}."
        )
    return int(value)


def store_in_torch_layout(variable: torch.Tensor, to_torch: Sequence[int]) -> None:
    """Re-lays out a weight's memory so that `variable.permute(to_torch)` is contiguous.

    A convolution kernel keeps Keras's shape (`(kh, kw, in, out)`, what `get_weights` returns)
    but torch's memory order (`(out, in, kh, kw)`), so handing it to `F.conv2d` costs a view,
    not a copy, at every call. Gradients and optimizer slots follow a parameter's strides, so
    the whole update keeps this layout. The Variable object stays the same; only its storage
    changes.

    Example:
        >>> kernel = torch.nn.Parameter(torch.zeros(3, 3, 2, 4))
        >>> store_in_torch_layout(kernel, (3, 2, 0, 1))
        >>> kernel.shape, kernel.permute(3, 2, 0, 1).is_contiguous()
        (torch.Size([3, 3, 2, 4]), True)
    """
    values = variable.data
    storage = values.new_empty([values.shape[d] for d in to_torch])
    inverse = sorted(range(len(to_torch)), key=lambda d: to_torch[d])
    variable.data = storage.permute(inverse).copy_(values)


class SpatialWindow:
    """The spatial side of a sliding-window layer: window, strides, dilation, padding, layout.

    Convolutions and poolings share it. `to_torch` turns an input into the channels-first
    view torch's kernels take and says which symmetric padding to pass them; `from_torch`
    turns their result back into the layer's data format.

    Args:
        rank: Number of spatial dimensions.
        kernel_size: Window size per spatial dimension.
        strides: Step per spatial dimension.
        dilation_rate: Dilation per spatial dimension.
        padding: `"valid"`, `"same"` or `"causal"` (already standardized).
        data_format: `"channels_last"` or `"channels_first"` (already standardized).

    Example:
        >>> window = SpatialWindow(2, (3, 3), (2, 2), (1, 1), "same", "channels_last")
        >>> x, pad = window.to_torch(torch.zeros(1, 9, 9, 4))
        >>> tuple(x.shape), pad, window.output_shape((None, 9, 9, 4), 8)
        ((1, 4, 9, 9), (1, 1), (None, 5, 5, 8))
    """

    def __init__(
        self,
        rank: int,
        kernel_size: tuple[int, ...],
        strides: tuple[int, ...],
        dilation_rate: tuple[int, ...],
        padding: str,
        data_format: str,
    ) -> None:
        self.rank = rank
        self.kernel_size = kernel_size
        self.strides = strides
        self.dilation_rate = dilation_rate
        self.padding = padding
        self.channels_last = data_format == "channels_last"
        self.to_first = channels_first_order(rank)
        self.to_last = channels_last_order(rank)
        spans = [(k - 1) * d + 1 for k, d in zip(kernel_size, dilation_rate)]
        # The padding torch gets when it is the same for every input size; None when it has
        # to be worked out from the input's size (see `pads`).
        self.fixed_padding: tuple[int, ...] | None = None
        if padding == "valid":
            self.fixed_padding = (0,) * rank
        elif padding == "same" and all(s == 1 for s in strides) and all(n % 2 for n in spans):
            self.fixed_padding = tuple((n - 1) // 2 for n in spans)
        self._causal = padding == "causal"
        self._spans = spans

    def pads(self, spatial_shape: Sequence[int]) -> list[tuple[int, int]]:
        """`(before, after)` padding per spatial dimension for an input of this size."""
        if self._causal:
            return [(n - 1, 0) for n in self._spans]
        if self.padding == "valid":
            return [(0, 0)] * self.rank
        return [
            same_padding(length, k, s, d)
            for length, k, s, d in zip(spatial_shape, self.kernel_size, self.strides, self.dilation_rate)
        ]

    def to_torch(self, inputs: torch.Tensor, pad_value: float = 0.0) -> tuple[torch.Tensor, tuple[int, ...]]:
        """The channels-first view of `inputs`, padded when torch cannot pad it symmetrically.

        Args:
            inputs: The layer's input, in its data format.
            pad_value: The value of explicitly padded positions (max pooling pads with -inf).

        Returns:
            `(x, padding)`: `x` for torch's kernel, and the symmetric `padding` to pass it.
        """
        x = inputs.permute(self.to_first) if self.channels_last else inputs
        if self.fixed_padding is not None:
            return x, self.fixed_padding
        pads = self.pads(x.shape[2:])
        if all(before == after for before, after in pads):
            return x, tuple(before for before, _ in pads)
        return F.pad(x, flat_pads(pads), value=pad_value), (0,) * self.rank

    def from_torch(self, outputs: torch.Tensor) -> torch.Tensor:
        """Torch's channels-first result, viewed in the layer's data format."""
        return outputs.permute(self.to_last) if self.channels_last else outputs

    def output_shape(self, input_shape: Sequence[int | None], channels: int | None) -> tuple[int | None, ...]:
        """The output shape for `input_shape` (batch first) when the output has `channels`."""
        spatial = tuple(input_shape[1:-1] if self.channels_last else input_shape[2:])
        lengths = tuple(
            conv_output_length(n, k, self.padding, s, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )
        if any(length == 0 for length in lengths):
            raise ValueError(
                f"Expected each spatial dimension of the input to hold at least one window of "
                f"size {self.kernel_size} (dilation {self.dilation_rate}) with padding "
                f"{self.padding!r}. Received: input_shape={tuple(input_shape)!r}. Use a larger "
                "input, a smaller window, or padding='same'."
            )
        if self.channels_last:
            return (input_shape[0], *lengths, channels)
        return (input_shape[0], channels, *lengths)


def flat_pads(pads: Sequence[tuple[int, int]]) -> list[int]:
    """`F.pad`'s argument for `(before, after)` pairs given first dimension first.

    Example:
        >>> flat_pads([(0, 1), (2, 3)])
        [2, 3, 0, 1]
    """
    flat: list[int] = []
    for before, after in reversed(pads):
        flat.extend((before, after))
    return flat
