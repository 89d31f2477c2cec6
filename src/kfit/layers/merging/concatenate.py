"""`Concatenate` and `concatenate`: joins a list of tensors along one axis."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.merging.base_merge import Merge, Shape, check_mask_list, is_shape_list
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Concatenate", "concatenate"]


def _shapes_error(input_shape: Any) -> ValueError:
    return ValueError(
        "A `Concatenate` layer requires inputs with matching shapes except for the concatenation "
        f"axis. Received: input_shape={input_shape!r}. Check that every input has the same rank and "
        "the same sizes on the other axes, or pick another `axis`."
    )


def _list_error(input_shape: Any) -> ValueError:
    return ValueError(
        "A `Concatenate` layer should be called on a list of inputs. "
        f"Received: input_shape={input_shape!r} (of type {type(input_shape).__name__}). "
        "Pass the tensors as a list, e.g. Concatenate()([a, b])."
    )


@register_keras_serializable(package="keras")
class Concatenate(Merge):
    """Concatenates a list of tensors along `axis` (the last one by default).

    The inputs must agree on every other axis. Masks: the output mask is built as in Keras:
    each input's mask is spread over its full shape (all True for an input without one), the
    pieces are joined along `axis`, and a position stays unmasked if any of its values along the
    last axis is. For the default `axis=-1` that is the OR of the masks, with a missing mask
    counting as all True.

    Args:
        axis: The axis to join along; the batch axis is 0.
        **kwargs: Layer arguments such as `name`.

    Example:
        >>> Concatenate()([torch.zeros(2, 3), torch.ones(2, 1)]).shape
        torch.Size([2, 4])
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape: Any) -> None:
        if not is_shape_list(input_shape):
            raise _list_error(input_shape)
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise _shapes_error(input_shape)
        (rank,) = ranks
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Expected `axis` to be an axis of the inputs (rank {rank}). Received: "
                f"axis={self.axis!r} (of type {type(self.axis).__name__}). Pass an axis in "
                f"[{-rank}, {rank - 1}]."
            )
        concat_axis = self.axis % rank
        for i in range(rank):
            if i == concat_axis:
                continue
            known = {s[i] for s in input_shape} - {None}
            if len(known) > 1:
                raise _shapes_error(input_shape)

    def merge(self, inputs: list[torch.Tensor], masks: list[torch.Tensor | None] | None) -> torch.Tensor:
        return torch.cat(inputs, dim=self.axis)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        if not is_shape_list(input_shape):
            raise _list_error(input_shape)
        out = list(input_shape[0])
        for shape in input_shape[1:]:
            if out[self.axis] is None or shape[self.axis] is None:
                out[self.axis] = None
                break
            out[self.axis] += shape[self.axis]
        return tuple(out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> torch.Tensor | None:
        if mask is None:
            return None
        check_mask_list(inputs, mask)
        if all(m is None for m in mask):
            return None
        pieces = []
        for x, m in zip(inputs, mask):
            if m is None:
                pieces.append(torch.ones((), dtype=torch.bool, device=x.device).expand(x.shape))
            elif m.dim() < x.dim():
                pieces.append(m.unsqueeze(-1).expand(x.shape))
            else:
                pieces.append(m)
        return torch.cat(pieces, dim=self.axis).any(dim=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs: list[Any], axis: int = -1, **kwargs: Any) -> Any:
    """Functional form of `Concatenate`: builds the layer and calls it on `inputs`.

    Args:
        inputs: The tensors to join (eager or symbolic).
        axis: The axis to join along.
        **kwargs: Layer arguments such as `name`.

    Returns:
        The joined tensor.

    Example:
        >>> concatenate([torch.zeros(1, 2), torch.ones(1, 1)])
        tensor([[0., 0., 1.]])
    """
    return Concatenate(axis=axis, **kwargs)(inputs)
