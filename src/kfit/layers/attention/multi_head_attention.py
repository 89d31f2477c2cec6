"""`MultiHeadAttention`: Keras's multi-head attention, on torch's fused attention kernel.

The query, key and value are projected per head by `EinsumDense` sublayers (`query_dense`,
`key_dense`, `value_dense`; Keras's weight names `query/kernel`, `query/bias`, ...), attended
with `softmax(Q Kᵀ / sqrt(key_dim)) V`, and projected back by `output_dense`. The attribute
names are the keys Keras's `.weights.h5` files use for these sublayers.

Which kernel runs, and why the numbers still match Keras's:

- No scores asked for, and no dropout to apply: `torch.nn.functional.scaled_dot_product_attention`
  (flash or memory-efficient kernels where torch has them). A causal mask alone goes in as
  `is_causal`; other masks as an additive bias of -0.7 x the largest float, as Keras on torch
  passes them, so a query row with every key masked attends uniformly, as in Keras's fast path.
- Scores asked for, or dropout while training: the explicit product, masked as Keras's
  `Softmax` layer masks (masked scores set to -1e9, masked probabilities then set to 0: a fully
  masked row attends to nothing).
- Keras takes the explicit path whenever `dropout > 0` or the inputs are not 3D, even at
  inference. kfit still uses the fused kernel there and zeroes the fully masked rows afterwards,
  which gives the explicit path's numbers.

Masks follow Keras 3.15: the query's mask is the `_keras_mask` the query tensor carries (Keras
overwrites an explicit `query_mask` argument with it), and `value_mask` / `key_mask` default to
the masks that `value` / `key` carry. The output carries the query's mask.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from kfit import constraints, initializers, regularizers
from kfit.layers.dropout import Dropout
from kfit.layers.einsum_dense import EinsumDense
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["MultiHeadAttention"]

Shape = tuple[int | None, ...]

# Keras's mask fills: the additive bias of its fused path (torch backend) and the score its
# Softmax layer gives masked positions.
_FUSED_NEGATIVE = {torch.float16: -0.7 * 65500.0}
_FUSED_NEGATIVE_DEFAULT = -0.7 * 3.38953e38
_SOFTMAX_NEGATIVE = {torch.float16: -3e4}
_SOFTMAX_NEGATIVE_DEFAULT = -1e9


def _positive_int(name: str, value: Any, hint: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"Expected `{name}` to be a positive integer. "
            f"Received: {name}={value!r} (of type {type(value).__name__}). {hint}"
        )


def _projection_equation(free_dims: int, bound_dims: int, output_dims: int) -> tuple[str, str, int]:
    """`(equation, bias_axes, output rank)` of a projection that keeps the first `free_dims`
    input axes, sums the next `bound_dims` against the kernel and adds `output_dims` axes."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims : free_dims + bound_dims]
    out = letters[free_dims + bound_dims : free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{out}->{free}{out}", out, free_dims + output_dims


def _partial_shape(rank_without_batch: int, known_last: Sequence[int]) -> list[int | None]:
    return [None] * (rank_without_batch - len(known_last)) + list(known_last)


def _shape(x: Any) -> Shape:
    return tuple(x.shape) if isinstance(x, torch.Tensor) else tuple(np.shape(x))


@register_keras_serializable(package="keras")
class MultiHeadAttention(Layer):
    """Multi-head attention ("Attention is all you need"), with Keras's weights and masks.

    Called as `layer(query, value, key=None, ...)`; `key` defaults to `value`. With
    `query (B, T, Dq)` and `value (B, S, Dv)` the output is `(B, T, Dq)` (or `output_shape`)
    and the scores `(B, num_heads, T, S)`. The weights, in Keras's order: `query/kernel`
    `(Dq, heads, key_dim)`, `query/bias`, `key/kernel` `(Dk, heads, key_dim)`, `key/bias`,
    `value/kernel` `(Dv, heads, value_dim)`, `value/bias`, `attention_output/kernel`
    `(heads, value_dim, Dq)`, `attention_output/bias` (with `use_gate`, `gate/kernel` and
    `gate/bias` come after the key's). The projections are built on the first call, from the
    shapes of all three inputs, or by `build(query_shape, value_shape, key_shape=None)`.

    Args:
        num_heads: Number of attention heads.
        key_dim: Size of each head for the query and key.
        value_dim: Size of each head for the value; None means `key_dim`.
        dropout: Dropout rate on the attention probabilities (while training).
        use_bias: Whether the projections have biases.
        output_shape: Sizes of the output's last axes (an int for one); None projects back to
            the query's last dimension.
        attention_axes: Axes attended over (ints, negative allowed); None means every axis but
            the batch and the features, e.g. the time axis of 3D inputs.
        sliding_window: If set, a query attends only to keys within `sliding_window - 1`
            positions of its own (combine with `use_causal_mask` for a causal window).
        flash_attention: True restricts torch to its flash kernel (an error where it cannot
            run, and no scores or dropout); None or False let torch choose.
        kernel_initializer: Initializer of the projection kernels.
        bias_initializer: Initializer of the projection biases.
        kernel_regularizer: Regularizer of the projection kernels.
        bias_regularizer: Regularizer of the projection biases.
        activity_regularizer: Regularizer of each projection's output (as in Keras, it is
            given to the projections, not to this layer).
        kernel_constraint: Constraint of the projection kernels.
        bias_constraint: Constraint of the projection biases.
        use_gate: Whether to gate the attention output with a sigmoid projection of the query.
        seed: Seed of the attention dropout.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        query: `(B, T, Dq)` (or more axes, with `attention_axes`).
        value: `(B, S, Dv)`.
        key: `(B, S, Dk)`; defaults to `value`.
        query_mask: Ignored, as in Keras 3.15; the query's mask is `query._keras_mask`.
        value_mask: `(B, S)` booleans; defaults to `value._keras_mask`.
        key_mask: `(B, S)` booleans; defaults to `key._keras_mask` when `key` is given.
        attention_mask: `(B, T, S)` booleans, True where a query may attend to a key.
        return_attention_scores: Also return the attention probabilities `(B, heads, T, S)`.
        training: Whether to apply dropout; defaults to the module's mode.
        use_causal_mask: Forbid each query position to attend to later key positions.

    Raises:
        ValueError: for invalid arguments, or `flash_attention=True` with dropout.

    Example:
        >>> layer = MultiHeadAttention(num_heads=2, key_dim=4)
        >>> out, scores = layer(torch.ones(3, 5, 6), torch.ones(3, 7, 8), return_attention_scores=True)
        >>> tuple(out.shape), tuple(scores.shape)
        ((3, 5, 6), (3, 2, 5, 7))
        >>> [tuple(w.shape) for w in layer.weights][::2]
        [(6, 2, 4), (8, 2, 4), (8, 2, 4), (2, 4, 6)]
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: int | Sequence[int] | None = None,
        attention_axes: int | Sequence[int] | None = None,
        sliding_window: int | None = None,
        flash_attention: bool | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        use_gate: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        _positive_int("num_heads", num_heads, "Pass the number of heads, e.g. num_heads=8.")
        _positive_int("key_dim", key_dim, "Pass the size of each head, e.g. key_dim=64.")
        if value_dim is not None:
            _positive_int("value_dim", value_dim, "Pass a head size, or None to use key_dim.")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(
                "Expected `dropout` to be a float in [0, 1). "
                f"Received: dropout={dropout!r} (of type {type(dropout).__name__}). "
                "Pass the fraction of attention probabilities to drop, e.g. dropout=0.1."
            )
        if output_shape:
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            elif not isinstance(output_shape, (list, tuple)):
                raise ValueError(
                    "Expected `output_shape` to be an int, a list or a tuple. "
                    f"Received: output_shape={output_shape!r} (of type "
                    f"{type(output_shape).__name__}). Pass e.g. output_shape=64."
                )
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(
                "Expected `attention_axes` to be an int, a list or a tuple. "
                f"Received: attention_axes={attention_axes!r} (of type "
                f"{type(attention_axes).__name__}). Pass e.g. attention_axes=(1, 2)."
            )
        if sliding_window is not None:
            _positive_int("sliding_window", sliding_window, "Pass a window size, or None.")
        if flash_attention and dropout > 0:
            raise ValueError(
                "Expected dropout=0 with flash_attention=True: the flash kernel cannot drop "
                f"attention probabilities. Received: dropout={dropout!r}. Set dropout=0.0 or "
                "leave flash_attention as None."
            )
        super().__init__(**kwargs)
        self.supports_masking = True
        self._num_heads = num_heads
        self._key_dim = key_dim
        self._value_dim = value_dim if value_dim else key_dim
        self._dropout = float(dropout)
        self._use_bias = use_bias
        self._use_gate = use_gate
        self._output_shape: tuple[int, ...] | None = tuple(output_shape) if output_shape else None
        self._attention_axes: tuple[int, ...] | None = (
            tuple(attention_axes) if attention_axes is not None else None
        )
        self._sliding_window = sliding_window
        self._flash_attention = bool(flash_attention)
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._projection_activity_regularizer = regularizers.get(activity_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(key_dim))
        self._projections_built = False

    @property
    def num_heads(self) -> int:
        return self._num_heads

    @property
    def key_dim(self) -> int:
        return self._key_dim

    @property
    def value_dim(self) -> int:
        return self._value_dim

    @property
    def dropout(self) -> float:
        return self._dropout

    @property
    def use_bias(self) -> bool:
        return self._use_bias

    @property
    def attention_axes(self) -> tuple[int, ...] | None:
        return self._attention_axes

    # ------------------------------------------------------------------ building
    def _projection(self, equation_rank: int, head_size: int, name: str, **extra: Any) -> EinsumDense:
        equation, bias_axes, output_rank = _projection_equation(equation_rank - 1, 1, 2)
        return self._einsum_dense(
            equation, _partial_shape(output_rank - 1, [self._num_heads, head_size]), bias_axes, name, **extra
        )

    def _einsum_dense(
        self, equation: str, output_shape: list[int | None], bias_axes: str, name: str, **extra: Any
    ) -> EinsumDense:
        # Each projection gets its own copy of the initializers, as in Keras: a seeded
        # initializer would otherwise give every projection the same values.
        return EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self._use_bias else None,
            kernel_initializer=_copy(self._kernel_initializer),
            bias_initializer=_copy(self._bias_initializer),
            kernel_regularizer=self._kernel_regularizer,
            bias_regularizer=self._bias_regularizer,
            activity_regularizer=self._projection_activity_regularizer,
            kernel_constraint=self._kernel_constraint,
            bias_constraint=self._bias_constraint,
            dtype=self._dtype,
            name=name,
            **extra,
        )

    def build(  # type: ignore[override]  # Keras's signature: one shape per call argument
        self,
        query_shape: Sequence[int | None],
        value_shape: Sequence[int | None],
        key_shape: Sequence[int | None] | None = None,
    ) -> None:
        """Creates the projections from the input shapes (`key_shape` defaults to `value_shape`).

        Keras's signature: the functional API passes the shapes of the call's `query`, `value`
        and `key`; a first eager call builds from its tensors.
        """
        if self._projections_built:
            return
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                "Expected `value` and `key` to have equal shapes except for the last axis. "
                f"Received: value_shape={value_shape!r} and key_shape={key_shape!r}. Pass a key "
                "with one entry per value position."
            )
        self._prepare_attention(len(value_shape) + 1)
        # The attribute names are Keras's `.weights.h5` keys; the assignment order is its
        # weight order (query, key, gate, value, output).
        self.query_dense = self._projection(len(query_shape), self._key_dim, "query")
        self.query_dense._maybe_build(query_shape)
        self.key_dense = self._projection(len(key_shape), self._key_dim, "key")
        self.key_dense._maybe_build(key_shape)
        if self._use_gate:
            self._gate_dense = self._projection(
                len(query_shape), self._value_dim, "gate", activation="sigmoid"
            )
            self._gate_dense._maybe_build(query_shape)
        self.value_dense = self._projection(len(value_shape), self._value_dim, "value")
        self.value_dense._maybe_build(value_shape)
        self._dropout_layer = Dropout(rate=self._dropout, seed=self.seed, dtype=self._dtype)
        output_shape = self._output_shape or (query_shape[-1],)
        equation, bias_axes, output_rank = _projection_equation(len(query_shape) - 1, 2, len(output_shape))
        self.output_dense = self._einsum_dense(
            equation,
            _partial_shape(output_rank - 1, [d for d in output_shape if d is not None]),
            bias_axes,
            "attention_output",
        )
        heads_shape = list(self.query_dense.compute_output_shape(query_shape))
        heads_shape[-1] = self._value_dim
        self.output_dense._maybe_build(tuple(heads_shape))
        self._projections_built = True
        self.built = True

    def _prepare_attention(self, rank: int) -> None:
        """Works out, once, how to lay the projected `(B, ..., heads, size)` tensors out for
        attention: every other axis first (heads included), then the attended axes, then size."""
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(
                a + rank - 1 if isinstance(a, int) and a < 0 else a for a in self._attention_axes
            )
        axes = self._attention_axes
        if (
            not axes
            or any(not isinstance(a, int) or not 0 < a < rank - 2 for a in axes)
            or len(set(axes)) != len(axes)
        ):
            raise ValueError(
                "Expected `attention_axes` to name distinct axes of the inputs other than the "
                f"batch and feature axes (1 to {rank - 3}, or -2 down to {2 - rank}). Received: "
                f"attention_axes={self._attention_axes!r} for inputs of rank {rank - 1}. Pass "
                "e.g. attention_axes=(1, 2) for (batch, height, width, channels) inputs."
            )
        batch_axes = [i for i in range(rank - 1) if i not in axes]
        self._head_layout = (*batch_axes, *axes, rank - 1)
        self._head_layout_inverse = tuple(int(i) for i in np.argsort(self._head_layout))
        self._num_batch_axes = len(batch_axes)
        # The common case: (B, T, heads, size) attended over T, torch's own layout after a swap.
        self._standard_layout = self._head_layout == (0, 2, 1, 3)

    def _build_from_input(self, inputs: Any) -> None:
        # `Layer.__call__` builds from the first argument alone, which cannot size the key and
        # value projections: `call` builds from all its tensors instead.
        return

    def _build_on_first_call(self, query: Any, value: Any, key: Any) -> None:
        self._build_input_shape = _shape(query)
        self.build(_shape(query), _shape(value), None if key is None else _shape(key))
        if isinstance(query, torch.Tensor):
            self.to(query.device)
        self._apply_trainable()

    # ------------------------------------------------------------------ calling
    def call(
        self,
        query: torch.Tensor,
        value: torch.Tensor,
        key: torch.Tensor | None = None,
        query_mask: torch.Tensor | None = None,
        value_mask: torch.Tensor | None = None,
        key_mask: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        return_attention_scores: bool = False,
        training: bool | None = None,
        use_causal_mask: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if not self._projections_built:
            self._build_on_first_call(query, value, key)
        if self._flash_attention and return_attention_scores:
            raise ValueError(
                "Expected return_attention_scores=False with flash_attention=True: the flash "
                "kernel does not form the scores. Received: return_attention_scores=True. Build "
                "the layer with flash_attention=None to get the scores."
            )
        # Keras 3.15 reads the query's mask from the tensor, whatever `query_mask` says.
        query_mask = getattr(query, "_keras_mask", None)
        if value_mask is None:
            value_mask = getattr(value, "_keras_mask", None)
        if key_mask is None and key is not None:
            key_mask = getattr(key, "_keras_mask", None)
        if key is None:
            key = value
        causal_only = (
            use_causal_mask
            and self._standard_layout
            and query_mask is None
            and value_mask is None
            and key_mask is None
            and attention_mask is None
            and self._sliding_window is None
        )
        mask = None
        if not causal_only:
            mask = self._attention_mask(
                query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
            )
        gate = self._gate_dense(query) if self._use_gate else None
        q = self.query_dense(query)
        k = self.key_dense(key)
        v = self.value_dense(value)
        output, scores = self._attend(
            q, k, v, mask, bool(training), return_attention_scores, causal_only
        )
        if gate is not None:
            output = output * gate
        output = self.output_dense(output)
        if query_mask is not None:
            output._keras_mask = query_mask
        if return_attention_scores:
            assert scores is not None
            return output, scores
        return output

    def _attention_mask(
        self,
        query: Any,
        value: Any,
        query_mask: Any,
        value_mask: Any,
        key_mask: Any,
        attention_mask: Any,
        use_causal_mask: bool,
    ) -> torch.Tensor | None:
        """Keras's combined boolean mask, `(B, T, S)` for 3D inputs: True where a query
        position may attend to a key position."""
        device = query.device if isinstance(query, torch.Tensor) else None
        combined: torch.Tensor | None = None

        def both(mask: torch.Tensor) -> torch.Tensor:
            return mask if combined is None else combined & mask

        if query_mask is not None:
            combined = torch.as_tensor(query_mask, device=device).bool().unsqueeze(-1)
        if value_mask is not None:
            combined = both(torch.as_tensor(value_mask, device=device).bool().unsqueeze(-2))
        if key_mask is not None:
            combined = both(torch.as_tensor(key_mask, device=device).bool().unsqueeze(-2))
        if use_causal_mask or self._sliding_window is not None:
            t, s = _shape(query)[1], _shape(value)[1]
            assert t is not None and s is not None
            if use_causal_mask:
                combined = both(torch.ones((1, t, s), dtype=torch.bool, device=device).tril())
            if self._sliding_window is not None:
                rows = torch.arange(t, device=device).unsqueeze(1)
                cols = torch.arange(s, device=device).unsqueeze(0)
                combined = both(((rows - cols).abs() < self._sliding_window).unsqueeze(0))
        if attention_mask is not None:
            given = torch.as_tensor(attention_mask, device=device).bool()
            combined = given if combined is None else given & combined
        return combined

    def _attend(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None,
        training: bool,
        return_scores: bool,
        is_causal: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attention on projected `(B, ..., heads, size)` tensors; returns the output in that
        layout and, when asked, the probabilities in Keras's scores layout."""
        layout = self._head_layout
        n_attn = len(layout) - 1 - self._num_batch_axes
        qh, kh, vh = q.permute(layout), k.permute(layout), v.permute(layout)
        q_attn_shape = qh.shape[self._num_batch_axes : -1]
        k_attn_shape = kh.shape[self._num_batch_axes : -1]
        if n_attn > 1:
            # Several attended axes act as one flattened sequence.
            qh, kh, vh = (t.flatten(self._num_batch_axes, -2) for t in (qh, kh, vh))
        if mask is not None:
            while mask.dim() < self._num_batch_axes + 2 * n_attn:
                mask = mask.unsqueeze(-2 * n_attn - 1)
            if n_attn > 1:
                full = (*qh.shape[:-2], *q_attn_shape, *k_attn_shape)
                mask = mask.expand(full).reshape(*qh.shape[:-1], kh.shape[-2])
        scores: torch.Tensor | None = None
        if return_scores or (training and self._dropout > 0):
            if is_causal:
                # Only the fused kernel takes `is_causal`; here the mask is spelled out.
                mask = torch.ones(
                    (qh.shape[-2], kh.shape[-2]), dtype=torch.bool, device=qh.device
                ).tril()
            output, scores = self._explicit_attention(qh, kh, vh, mask, training)
        else:
            output = self._fused_attention(qh, kh, vh, mask, is_causal)
        if n_attn > 1:
            output = output.unflatten(-2, q_attn_shape)
            if scores is not None:
                scores = scores.reshape(*scores.shape[:-2], *q_attn_shape, *k_attn_shape)
        return output.permute(self._head_layout_inverse), scores

    def _fused_attention(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None,
        is_causal: bool,
    ) -> torch.Tensor:
        bias = None
        if mask is not None:
            negative = _FUSED_NEGATIVE.get(q.dtype, _FUSED_NEGATIVE_DEFAULT)
            bias = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill_(
                mask.logical_not(), negative
            )
        if self._flash_attention:
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                return torch.nn.functional.scaled_dot_product_attention(
                    q, k, v, attn_mask=bias, is_causal=is_causal, scale=self._inverse_sqrt_key_dim
                )
        output = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, is_causal=is_causal, scale=self._inverse_sqrt_key_dim
        )
        if mask is not None and (self._dropout > 0 or not self._standard_layout):
            # Keras computes these cases explicitly, where a query with every key masked gets
            # all-zero probabilities instead of the fused path's uniform ones.
            output = output * mask.any(-1, keepdim=True)
        return output

    def _explicit_attention(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None,
        training: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = torch.matmul(q * self._inverse_sqrt_key_dim, k.transpose(-1, -2))
        if mask is not None:
            scores = scores.masked_fill(
                mask.logical_not(), _SOFTMAX_NEGATIVE.get(scores.dtype, _SOFTMAX_NEGATIVE_DEFAULT)
            )
        probabilities = torch.softmax(scores, dim=-1)
        if mask is not None:
            probabilities = probabilities.masked_fill(mask.logical_not(), 0.0)
        dropped = probabilities
        if self._dropout > 0:
            dropped = self._dropout_layer(probabilities, training=training)
        return torch.matmul(dropped, v), probabilities

    # ------------------------------------------------------------------ shapes and config
    def compute_output_shape(
        self,
        query_shape: Sequence[int | None],
        value_shape: Sequence[int | None] | None = None,
        key_shape: Sequence[int | None] | None = None,
    ) -> Shape:
        query_shape = tuple(query_shape)
        if value_shape is not None and key_shape is not None and tuple(value_shape)[1:-1] != tuple(key_shape)[1:-1]:
            raise ValueError(
                "Expected `value` and `key` to have equal shapes except for the last axis. "
                f"Received: value_shape={tuple(value_shape)!r} and key_shape={tuple(key_shape)!r}."
            )
        if self._output_shape:
            return query_shape[:-1] + self._output_shape
        return query_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            num_heads=self._num_heads,
            key_dim=self._key_dim,
            value_dim=self._value_dim,
            dropout=self._dropout,
            use_bias=self._use_bias,
            use_gate=self._use_gate,
            output_shape=self._output_shape,
            attention_axes=self._attention_axes,
            sliding_window=self._sliding_window,
            kernel_initializer=_serialize_initializer(self._kernel_initializer),
            bias_initializer=_serialize_initializer(self._bias_initializer),
            kernel_regularizer=regularizers.serialize(self._kernel_regularizer),
            bias_regularizer=regularizers.serialize(self._bias_regularizer),
            activity_regularizer=regularizers.serialize(self._projection_activity_regularizer),
            kernel_constraint=constraints.serialize(self._kernel_constraint),
            bias_constraint=constraints.serialize(self._bias_constraint),
            seed=self.seed,
        )
        return config


def _copy(initializer: Any) -> Any:
    return initializer.clone() if isinstance(initializer, initializers.Initializer) else initializer


def _serialize_initializer(initializer: Any) -> Any:
    return None if initializer is None else initializers.serialize(initializer)
