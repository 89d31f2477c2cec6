"""`AdditiveAttention`: Bahdanau-style attention, scoring `sum(scale * tanh(query + key))`.

Everything after the scores (masks, softmax, dropout, the product with `value`, the query
mask) is `Attention`'s, as in Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kfit.layers.attention.attention import Attention, Shape
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["AdditiveAttention"]


@register_keras_serializable(package="keras")
class AdditiveAttention(Attention):
    """Additive attention: scores `sum(scale * tanh(query + key), axis=-1)` over the features.

    Called like `Attention`, on `[query (B, Tq, dim), value (B, Tv, dim_v)(, key (B, Tv, dim))]`.
    With `use_scale=True` (the default) the layer has one weight, `scale` of shape `(dim,)`,
    glorot-uniform initialised as in Keras.

    Args:
        use_scale: Whether to learn the per-feature `scale`.
        dropout: Dropout rate on the attention probabilities (while training).
        seed: Seed of that dropout.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`).

    Example:
        >>> layer = AdditiveAttention()
        >>> layer([torch.ones(2, 3, 4), torch.ones(2, 5, 4)]).shape
        torch.Size([2, 3, 4])
        >>> [tuple(w.shape) for w in layer.weights]
        [(4,)]
    """

    def __init__(
        self,
        use_scale: bool = True,
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def _build_weights(self, input_shape: Sequence[Shape]) -> None:
        self.concat_score_weight = None
        if not self.use_scale:
            self.scale = None
            return
        dim = tuple(input_shape[0])[-1]
        if dim is None:
            raise ValueError(
                "Expected the query's last dimension to be known: it is the size of the `scale` "
                f"weight. Received: input_shape={input_shape!r}. Give the inputs a known feature size."
            )
        self.scale = self.add_weight(shape=(dim,), initializer="glorot_uniform", name="scale")

    def _scores_are_dot_products(self) -> bool:
        return False

    def _calculate_scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        pairs = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        return pairs.sum(-1) if self.scale is None else torch.matmul(pairs, self.scale)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]
        return config
