"""`Attention`: dot-product (Luong-style) attention over a `[query, value(, key)]` list.

Keras's numbers, step by step: scores `query @ keyᵀ` (times the `scale` weight with
`use_scale=True`; `score_mode="concat"` scores `concat_score_weight * sum(tanh(query + key))`
instead), masked by subtracting 1e9 where the value mask or the causal mask is False (not set
to -inf: a query with every key masked attends uniformly), a softmax over the keys, dropout on
the probabilities while training, the product with `value`, and zeros where the query mask is
False. There is no `1/sqrt(dim)` scaling: Keras has none.

When the scores need not be returned and no dropout applies, the dot-product form runs on
`torch.nn.functional.scaled_dot_product_attention` with the same additive mask, which gives
the same numbers without forming the `(Tq, Tv)` scores in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kfit.backend.dtypes import to_torch_dtype
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["Attention"]

Shape = tuple[int | None, ...]

# Keras subtracts this from masked scores (65504, float16's largest value, in float16).
_MASK_OFFSET = {torch.float16: 65504.0}
_MASK_OFFSET_DEFAULT = 1.0e9


def _check_list(name: str, value: Any, what: str) -> None:
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 3:
        raise ValueError(
            f"Expected `{name}` to be a list of 2 or 3 {what}: [query, value] or "
            f"[query, value, key]. Received: {name}={value!r} (of type {type(value).__name__}). "
            f"Call the layer as `layer([query, value])`."
        )


def _masks_of(inputs: Sequence[Any]) -> list[Any] | None:
    masks = [getattr(x, "_keras_mask", None) for x in inputs]
    return None if all(m is None for m in masks) else masks


@register_keras_serializable(package="keras")
class Attention(Layer):
    """Dot-product attention: `softmax(query @ keyᵀ) @ value`, with Keras's masks.

    Called on `[query (B, Tq, dim), value (B, Tv, dim_v)]` or `[query, value, key (B, Tv, dim)]`
    (`key` defaults to `value`); returns `(B, Tq, dim_v)`. Without options the layer has no
    weights; `use_scale=True` adds the scalar `scale` (starting at 1) and `score_mode="concat"`
    the scalar `concat_score_weight` (starting at 1).

    Args:
        use_scale: Whether to learn a scalar that multiplies the scores.
        score_mode: `"dot"` (query-key dot products) or `"concat"` (`tanh` of their sums).
        dropout: Dropout rate on the attention probabilities (while training).
        seed: Seed of that dropout.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: `[query, value]` or `[query, value, key]`.
        mask: `[query_mask, value_mask]` booleans `(B, Tq)`, `(B, Tv)`; each defaults to the
            mask its input carries. The output is zero where the query mask is False.
        training: Whether to apply dropout; defaults to the module's mode.
        return_attention_scores: Also return the probabilities `(B, Tq, Tv)` (after dropout,
            as Keras returns them).
        use_causal_mask: Forbid each query position to attend to later positions.

    Raises:
        ValueError: for an unknown `score_mode`, a bad `dropout`, or inputs that are not a
            list of 2 or 3 tensors.

    Example:
        >>> layer = Attention()
        >>> query, value = torch.ones(2, 3, 4), torch.ones(2, 5, 4)
        >>> layer([query, value]).shape
        torch.Size([2, 3, 4])
        >>> _, scores = layer([query, value], return_attention_scores=True)
        >>> scores[0, 0]
        tensor([0.2000, 0.2000, 0.2000, 0.2000, 0.2000])
    """

    def __init__(
        self,
        use_scale: bool = False,
        score_mode: str = "dot",
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                "Expected `score_mode` to be 'dot' or 'concat'. "
                f"Received: score_mode={score_mode!r} (of type {type(score_mode).__name__})."
            )
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(
                "Expected `dropout` to be a float in [0, 1). "
                f"Received: dropout={dropout!r} (of type {type(dropout).__name__}). "
                "Pass the fraction of attention probabilities to drop, e.g. dropout=0.1."
            )
        super().__init__(**kwargs)
        self.use_scale = use_scale
        self.score_mode = score_mode
        self.dropout = dropout
        self.seed = seed
        self._generator: torch.Generator | None = None

    def build(self, input_shape: Sequence[Shape]) -> None:
        _check_list("inputs", input_shape, "tensors")
        # Keras computes in the layer's dtype: float64 or integer inputs are cast to it.
        self._compute_dtype = to_torch_dtype(self.dtype)
        self._build_weights(input_shape)

    def _build_weights(self, input_shape: Sequence[Shape]) -> None:
        # Set only here: `add_weight` registers a weight under its name, which must be free.
        self.scale: torch.Tensor | None = (
            self.add_weight(shape=(), initializer="ones", name="scale") if self.use_scale else None
        )
        self.concat_score_weight: torch.Tensor | None = (
            self.add_weight(shape=(), initializer="ones", name="concat_score_weight")
            if self.score_mode == "concat"
            else None
        )

    def _scores_are_dot_products(self) -> bool:
        """Whether the scores are `query @ keyᵀ` (times a scalar), which the fused kernel forms."""
        return self.score_mode == "dot"

    def _calculate_scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """`(..., Tq, Tv)` scores of each query against each key, before masking."""
        if self.score_mode == "dot":
            scores = torch.matmul(query, key.transpose(-1, -2))
            return scores if self.scale is None else scores * self.scale
        pairs = query.unsqueeze(-2) + key.unsqueeze(-3)
        if self.scale is not None:
            pairs = self.scale * pairs
        assert self.concat_score_weight is not None
        return self.concat_score_weight * torch.tanh(pairs).sum(-1)

    def call(
        self,
        inputs: Sequence[torch.Tensor],
        mask: Sequence[torch.Tensor | None] | None = None,
        training: bool | None = None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        _check_list("inputs", inputs, "tensors")
        if mask is None:
            mask = _masks_of(inputs)
        elif not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
            raise ValueError(
                "Expected `mask` to be a list [query_mask, value_mask]. Received: "
                f"mask={mask!r} (of type {type(mask).__name__}). Pass one mask (or None) per input."
            )
        dtype = self._compute_dtype
        query = torch.as_tensor(inputs[0], dtype=dtype)
        value = torch.as_tensor(inputs[1], dtype=dtype, device=query.device)
        key = value if len(inputs) < 3 else torch.as_tensor(inputs[2], dtype=dtype, device=query.device)
        query_mask = None if mask is None or mask[0] is None else torch.as_tensor(mask[0], device=query.device).bool()
        value_mask = None if mask is None or mask[1] is None else torch.as_tensor(mask[1], device=query.device).bool()
        dropping = bool(training) and self.dropout > 0
        if (
            self._scores_are_dot_products()
            and not return_attention_scores
            and not dropping
            and query.dim() >= 3
        ):
            output = self._fused_attention(query, key, value, value_mask, use_causal_mask)
            scores = None
        else:
            output, scores = self._explicit_attention(
                query, key, value, value_mask, use_causal_mask, dropping
            )
        if query_mask is not None:
            output = torch.where(query_mask.unsqueeze(-1), output, 0.0)
        if return_attention_scores:
            assert scores is not None
            return output, scores
        return output

    def _scores_mask(
        self, value_mask: torch.Tensor | None, use_causal_mask: bool, tq: int, tv: int, device: torch.device
    ) -> torch.Tensor | None:
        """Where a query may attend to a key: `(..., 1 or Tq, Tv)` booleans, or None."""
        if value_mask is not None:
            value_mask = value_mask.unsqueeze(-2)
        if not use_causal_mask:
            return value_mask
        causal = torch.ones((1, tq, tv), dtype=torch.bool, device=device).tril()
        return causal if value_mask is None else value_mask & causal

    def _fused_attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        value_mask: torch.Tensor | None,
        use_causal_mask: bool,
    ) -> torch.Tensor:
        if self.scale is not None:
            query = query * self.scale
        if value_mask is None:
            # Causal rows always keep their first key, so -inf (is_causal) and Keras's -1e9
            # offset give the same probabilities.
            return torch.nn.functional.scaled_dot_product_attention(
                query, key, value, is_causal=use_causal_mask, scale=1.0
            )
        allowed = self._scores_mask(value_mask, use_causal_mask, query.shape[-2], key.shape[-2], query.device)
        assert allowed is not None
        bias = torch.zeros(allowed.shape, dtype=query.dtype, device=query.device).masked_fill_(
            allowed.logical_not(), -_MASK_OFFSET.get(query.dtype, _MASK_OFFSET_DEFAULT)
        )
        return torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=bias, scale=1.0)

    def _explicit_attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        value_mask: torch.Tensor | None,
        use_causal_mask: bool,
        dropping: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self._calculate_scores(query, key)
        allowed = self._scores_mask(value_mask, use_causal_mask, scores.shape[-2], scores.shape[-1], scores.device)
        if allowed is not None:
            offset = _MASK_OFFSET.get(scores.dtype, _MASK_OFFSET_DEFAULT)
            scores = torch.where(allowed, scores, scores - offset)
        weights = torch.softmax(scores, dim=-1)
        if dropping:
            weights = self._drop(weights)
        return torch.matmul(weights, value), weights

    def _drop(self, weights: torch.Tensor) -> torch.Tensor:
        if self.seed is None:
            return torch.nn.functional.dropout(weights, self.dropout, True)
        if self._generator is None:
            self._generator = torch.Generator(device=weights.device).manual_seed(self.seed)
        keep = torch.empty_like(weights).bernoulli_(1 - self.dropout, generator=self._generator)
        return weights * keep / (1 - self.dropout)

    def compute_mask(self, inputs: Any, mask: Any = None) -> torch.Tensor | None:
        """The output's mask: the query's mask (None without one)."""
        _check_list("inputs", inputs, "tensors")
        if mask is None:
            mask = _masks_of(inputs)
        if mask is None or mask[0] is None:
            return None
        return torch.as_tensor(mask[0])

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        _check_list("input_shape", input_shape, "shapes")
        query_shape, value_shape = tuple(input_shape[0]), tuple(input_shape[1])
        return (*query_shape[:-1], value_shape[-1])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            use_scale=self.use_scale,
            score_mode=self.score_mode,
            dropout=self.dropout,
            seed=self.seed,
        )
        return config
