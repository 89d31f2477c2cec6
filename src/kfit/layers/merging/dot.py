"""`Dot` and `dot`: the per-sample dot product of two tensors along chosen axes."""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.config import epsilon
from kfit.layers.merging.base_merge import Merge, Shape
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Dot", "dot"]


def _axes_pair(axes: int | tuple[int, int] | list[int], rank1: int, rank2: int) -> tuple[int, int]:
    """Non-negative axes for inputs of the given ranks."""
    if isinstance(axes, int):
        return (axes % rank1, axes % rank2) if axes < 0 else (axes, axes)
    return (axes[0] % rank1 if axes[0] < 0 else axes[0], axes[1] % rank2 if axes[1] < 0 else axes[1])


def _two_inputs_error(input_shape: Any) -> ValueError:
    return ValueError(
        "A `Dot` layer should be called on a list of 2 inputs. "
        f"Received: input_shape={input_shape!r} (of type {type(input_shape).__name__}). "
        "Pass two tensors, e.g. Dot(axes=1)([a, b])."
    )


@register_keras_serializable(package="keras")
class Dot(Merge):
    """Dot product of two tensors sample by sample, summing `x` over `axes[0]` against `y` over
    `axes[1]`.

    The output holds `x`'s other non-batch axes, then `y`'s; when none are left it is
    `(batch, 1)`. With `normalize=True` both inputs are L2-normalized along their dot axis first,
    so the output is the cosine similarity. The output has no mask.

    Args:
        axes: One axis for both inputs, or a pair `(axis_of_x, axis_of_y)`; never the batch axis.
        normalize: Whether to L2-normalize both inputs along the dot axes first.
        **kwargs: Layer arguments such as `name`.

    Raises:
        TypeError: when `axes` is neither an int nor a list/tuple.
        ValueError: when `axes` does not hold two ints, or the summed axes differ in size.

    Example:
        >>> Dot(axes=1)([torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]])])
        tensor([[11.]])
        >>> Dot(axes=(2, 2))([torch.ones(2, 3, 4), torch.ones(2, 5, 4)]).shape
        torch.Size([2, 3, 5])
    """

    def __init__(self, axes: int | tuple[int, int] | list[int], normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(
                    "Expected `axes` to be an int or a list/tuple of two ints. "
                    f"Received: axes={axes!r} (of type {type(axes).__name__}). Pass e.g. axes=1 or axes=(1, 2)."
                )
            if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise ValueError(
                    "Expected `axes` to hold two integers, one axis per input. "
                    f"Received: axes={axes!r} (of type {type(axes).__name__}). Pass e.g. axes=(1, 2)."
                )
        self.axes = axes
        self.normalize = normalize

    def build(self, input_shape: Any) -> None:
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise _two_inputs_error(input_shape)
        shape1, shape2 = input_shape
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError(
                "Expected both inputs of a `Dot` layer to have a batch axis and at least one more. "
                f"Received: input_shape={input_shape!r}. Add a feature axis, e.g. x[:, None]."
            )
        a1, a2 = _axes_pair(self.axes, len(shape1), len(shape2))
        if a1 == 0 or a2 == 0:
            raise ValueError(
                "Expected `axes` to leave out the batch axis 0. "
                f"Received: axes={self.axes!r} (of type {type(self.axes).__name__}). Count axes "
                "from 1, or from the end with negative numbers."
            )
        d1, d2 = shape1[a1], shape2[a2]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(
                f"Incompatible input shapes: axis values {d1} (at axis {a1}) != {d2} (at axis {a2}). "
                f"Full input shapes: {tuple(shape1)}, {tuple(shape2)}. Choose `axes` whose sizes match."
            )

    def merge(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None] | None) -> torch.Tensor:
        if len(inputs) != 2:
            raise _two_inputs_error([tuple(x.shape) for x in inputs])
        x, y = inputs
        a1, a2 = _axes_pair(self.axes, x.dim(), y.dim())
        if self.normalize:
            x = torch.nn.functional.normalize(x, dim=a1, eps=epsilon())
            y = torch.nn.functional.normalize(y, dim=a2, eps=epsilon())
        # One batched matmul: x as (batch, rest_of_x, k) against y as (batch, k, rest_of_y).
        x = x.movedim(a1, -1)
        y = y.movedim(a2, 1)
        batch, size = x.shape[0], x.shape[-1]
        out = torch.bmm(x.reshape(batch, -1, size), y.reshape(batch, size, -1))
        out = out.reshape(x.shape[:-1] + y.shape[2:])
        return out.unsqueeze(-1) if out.dim() == 1 else out

    def compute_output_shape(self, input_shape: Any) -> Shape:
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise _two_inputs_error(input_shape)
        shape1, shape2 = list(input_shape[0]), list(input_shape[1])
        a1, a2 = _axes_pair(self.axes, len(shape1), len(shape2))
        del shape1[a1]
        del shape2[a2]
        out = shape1 + shape2[1:]
        return tuple([*out, 1] if len(out) == 1 else out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs: list[Any], axes: int | tuple[int, int] | list[int] = -1, normalize: bool = False, **kwargs: Any) -> Any:
    """Functional form of `Dot`: builds the layer and calls it on the two `inputs`.

    Args:
        inputs: Two tensors (eager or symbolic).
        axes: The axis (or pair of axes) to sum over; Keras's default is the last axis.
        normalize: Whether to L2-normalize both inputs along those axes first (cosine similarity).
        **kwargs: Layer arguments such as `name`.

    Returns:
        The per-sample dot products.

    Example:
        >>> dot([torch.tensor([[3.0, 4.0]]), torch.tensor([[3.0, 4.0]])], axes=1, normalize=True)
        tensor([[1.]])
    """
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
