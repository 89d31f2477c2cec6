"""`Merge`: the base of the layers that combine a list of tensors element by element.

Shapes follow Keras: the batch dimensions must agree and the other dimensions broadcast as in
NumPy, except that an input of lower rank gains its missing axes right after the batch axis
(`(batch, 3)` merged with `(batch, 5, 3)` is read as `(batch, 1, 3)`).

Masks follow Keras too. The output mask (`compute_mask`) is the logical OR of the input masks,
and None as soon as one input has no mask. `Add`, `Subtract` and `Average` ignore masks when
computing values; `Multiply`, `Maximum` and `Minimum` skip masked positions (see their
docstrings).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = [
    "Merge",
    "broadcast_mask",
    "check_mask_list",
    "elementwise_shape",
    "is_shape_list",
    "merge_masks",
    "merge_skipping_masked",
]

Shape = tuple[int | None, ...]


def elementwise_shape(shape1: Sequence[int | None] | None, shape2: Sequence[int | None] | None) -> Shape | None:
    """The shape of an element-wise op on two shapes (without batch axes), or None if unknown.

    The shorter shape is aligned with the end of the longer one; a 1 broadcasts, None stays
    unknown.

    Raises:
        ValueError: when two known dimensions differ and neither is 1.

    Example:
        >>> elementwise_shape((5, 3), (1,))
        (5, 3)
    """
    if shape1 is None or shape2 is None:
        return None
    if len(shape1) < len(shape2):
        shape1, shape2 = shape2, shape1
    lead = len(shape1) - len(shape2)
    out: list[int | None] = list(shape1[:lead])
    for i, j in zip(shape1[lead:], shape2):
        if i is None or j is None:
            out.append(None)
        elif i == 1 or j == 1:
            out.append(j if i == 1 else i)
        elif i != j:
            raise ValueError(
                "Inputs have incompatible shapes. "
                f"Received shapes {tuple(shape1)} and {tuple(shape2)}. Element-wise merge layers "
                "need dimensions that are equal or 1 on every axis but the batch axis."
            )
        else:
            out.append(i)
    return tuple(out)


def broadcast_mask(mask: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """A mask with one axis fewer than `inputs` (a per-timestep mask), spread over the last axis.

    Example:
        >>> broadcast_mask(torch.tensor([[True, False]]), torch.zeros(1, 2, 3)).shape
        torch.Size([1, 2, 3])
    """
    if mask.dim() < inputs.dim():
        return mask.unsqueeze(-1).expand(inputs.shape)
    return mask


def merge_masks(inputs: Any, mask: Any) -> torch.Tensor | None:
    """Keras's output mask for element-wise merges: the OR of all masks, None if one is missing.

    Raises:
        ValueError: when `mask` or `inputs` is not a list, or their lengths differ.

    Example:
        >>> a, b = torch.tensor([True, False]), torch.tensor([False, False])
        >>> merge_masks([None, None], [a, b]).tolist(), merge_masks([None, None], [a, None])
        ([True, False], None)
    """
    if mask is None:
        return None
    check_mask_list(inputs, mask)
    if any(m is None for m in mask):
        return None
    out = mask[0]
    for m in mask[1:]:
        out = torch.logical_or(out, m)
    return out


def merge_skipping_masked(
    op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: list[torch.Tensor],
    masks: list[torch.Tensor | None] | None,
) -> torch.Tensor:
    """Folds `op` over `inputs`, where a masked-out value takes the running result's value.

    This is how Keras's `Maximum` and `Minimum` treat masks: they have no neutral element, so a
    masked-out position is filled with what the other inputs hold there (the first input's
    value where every input is masked out).

    Example:
        >>> x, y = torch.tensor([[5.0, 1.0]]), torch.tensor([[2.0, 3.0]])
        >>> merge_skipping_masked(torch.maximum, [x, y], [torch.tensor([[False, True]]), None])
        tensor([[2., 3.]])
    """
    out = inputs[0]
    if masks is None:
        for x in inputs[1:]:
            out = op(out, x)
        return out
    out_mask = None if masks[0] is None else broadcast_mask(masks[0], out)
    for x, m in zip(inputs[1:], masks[1:]):
        if m is not None:
            m = broadcast_mask(m, x)
            x = torch.where(m, x, out)
        if out_mask is not None:
            out = torch.where(out_mask, out, x)
        out_mask = torch.logical_or(out_mask, m) if out_mask is not None and m is not None else None
        out = op(out, x)
    return out


def check_mask_list(inputs: Any, mask: Any) -> None:
    """Raises unless `inputs` and `mask` are lists of the same length, as merge layers take them."""
    if not isinstance(mask, (list, tuple)):
        raise ValueError(
            "Expected `mask` to be a list with one mask (or None) per input. "
            f"Received: mask={mask!r} (of type {type(mask).__name__}). Pass e.g. mask=[m, None]."
        )
    if not isinstance(inputs, (list, tuple)):
        raise ValueError(
            "Expected `inputs` to be a list of tensors. "
            f"Received: inputs of type {type(inputs).__name__}. Pass the tensors to merge as a list."
        )
    if len(mask) != len(inputs):
        raise ValueError(
            "Expected the lists `inputs` and `mask` to have the same length. "
            f"Received: {len(inputs)} inputs and {len(mask)} masks. Pass one mask (or None) per input."
        )


def is_shape_list(input_shape: Any) -> bool:
    """Whether `input_shape` is a non-empty list (or tuple) of shapes, as merge layers get.

    Example:
        >>> is_shape_list([(2, 3), (2, 3)]), is_shape_list((2, 3))
        (True, False)
    """
    return (
        isinstance(input_shape, (list, tuple))
        and bool(input_shape)
        and all(isinstance(s, (list, tuple)) for s in input_shape)
    )


def _not_a_list_error(input_shape: Any) -> ValueError:
    return ValueError(
        "A merge layer should be called on a list of inputs. "
        f"Received: input_shape={input_shape!r} (of type {type(input_shape).__name__}; not a list "
        "of shapes). Pass the tensors to merge as a list, e.g. Add()([a, b])."
    )


@register_keras_serializable(package="keras")
class Merge(Layer):
    """Base class of the element-wise merge layers (`Add`, `Multiply`, ...).

    A subclass defines `merge(inputs, masks)`, which gets tensors of equal rank (`masks` is
    None, or one mask or None per input). The base class validates shapes once, in `build`,
    and computes the output shape and mask.

    Example:
        >>> class Diff(Merge):
        ...     def merge(self, inputs, masks):
        ...         return (inputs[0] - inputs[1]).abs()
        >>> Diff()([torch.tensor([[1.0]]), torch.tensor([[3.0]])])
        tensor([[2.]])
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True
        # Set by `build` when ranks differ: the lower-rank inputs get axes after the batch axis.
        self._reshape_required = False

    def build(self, input_shape: Any) -> None:
        if not is_shape_list(input_shape):
            raise _not_a_list_error(input_shape)
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(
                "Cannot merge tensors with different batch sizes. "
                f"Received tensors with shapes {list(input_shape)}. Pass tensors that share their "
                "first (batch) dimension."
            )
        self.compute_output_shape(input_shape)
        self._reshape_required = len({len(s) for s in input_shape}) > 1

    def call(self, inputs: Sequence[torch.Tensor], mask: Any = None) -> torch.Tensor:
        if not isinstance(inputs, (list, tuple)):
            raise _not_a_list_error(getattr(inputs, "shape", inputs))
        masks = None
        if mask is not None:
            check_mask_list(inputs, mask)
            if any(m is not None for m in mask):
                masks = list(mask)
        if self._reshape_required:
            rank = max(x.dim() for x in inputs)
            inputs = [x.reshape(x.shape[:1] + (1,) * (rank - x.dim()) + x.shape[1:]) for x in inputs]
            # Keras's reshaped inputs are new tensors, which carry no mask.
            masks = None
        return self.merge(list(inputs), masks)

    def merge(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None] | None) -> torch.Tensor:
        """Combines tensors of equal rank; `masks` is None or has one entry per input."""
        raise NotImplementedError(f"{type(self).__name__} must define `merge(inputs, masks)`.")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        if not is_shape_list(input_shape):
            raise _not_a_list_error(input_shape)
        out = tuple(input_shape[0][1:])
        for shape in input_shape[1:]:
            merged = elementwise_shape(out, tuple(shape[1:]))
            assert merged is not None  # both shapes are known here
            out = merged
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        batch = next(iter(batch_sizes)) if len(batch_sizes) == 1 else None
        return (batch, *out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> torch.Tensor | None:
        return merge_masks(inputs, mask)
