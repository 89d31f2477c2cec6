"""`Softmax`: softmax over an axis (or several), as a layer that honours a mask."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Softmax"]


def _large_negative(dtype: torch.dtype) -> float:
    # Keras's fill for masked logits: low enough to vanish after exp, and representable in
    # float16 (whose max is ~65504).
    return -3e4 if dtype == torch.float16 else -1e9


@register_keras_serializable(package="keras")
class Softmax(Layer):
    """Softmax over `axis`, with optional masking.

    With a mask (boolean, or numbers where > 0.5 means kept), masked logits are replaced by a
    large negative number before the softmax, so the kept positions share all the probability,
    and masked positions are 0 in the output, even where a whole row is masked. The mask must
    broadcast to the input, NumPy-style.

    Args:
        axis: The axis, or a tuple/list of axes, to normalize over.
        **kwargs: Layer arguments such as `name`.

    Example:
        >>> x = torch.tensor([[1.0, 1.0, 5.0]])
        >>> Softmax()(x, mask=torch.tensor([[True, True, False]]))
        tensor([[0.5000, 0.5000, 0.0000]])
    """

    def __init__(self, axis: int | tuple[int, ...] | list[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True
        # No weights and nothing to check: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            mask = self._checked_mask(inputs, mask)
            inputs = torch.where(mask, inputs, _large_negative(inputs.dtype))
        if isinstance(self.axis, (tuple, list)) and len(self.axis) > 1:
            axes = tuple(self.axis)
            out = torch.exp(inputs - torch.logsumexp(inputs, dim=axes, keepdim=True))
        else:
            axis = self.axis[0] if isinstance(self.axis, (tuple, list)) else self.axis
            out = torch.softmax(inputs, dim=axis)
        if mask is not None:
            # A fully masked row would otherwise come out uniform.
            out = torch.where(mask, out, 0.0)
        return out

    @staticmethod
    def _checked_mask(inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        compatible = mask.dim() <= inputs.dim() and all(
            m in (1, i) for m, i in zip(reversed(mask.shape), reversed(inputs.shape))
        )
        if not compatible:
            raise ValueError(
                "Expected a `mask` that broadcasts to `inputs`: no more axes, and each mask "
                f"dimension 1 or equal to the input's. Received: inputs.shape={tuple(inputs.shape)}, "
                f"mask.shape={tuple(mask.shape)}. Pass a mask shaped like the inputs."
            )
        return mask if mask.dtype == torch.bool else mask > 0.5

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
