"""`Embedding`: integer ids to dense vectors, one row of a `(input_dim, output_dim)` table each."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from kfit import constraints, initializers, regularizers
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import serialize_keras_object
from kfit.utils.errors import received

__all__ = ["Embedding"]

_INDEX_DTYPES = (torch.int32, torch.int64)


@register_keras_serializable(package="keras")
class Embedding(Layer):
    """Looks up a row of the `embeddings` table for every id: `(batch, steps)` ids give
    `(batch, steps, output_dim)` vectors.

    Ids may have any integer dtype; float ids holding whole numbers are cast, as Keras casts
    them. With `mask_zero=True`, id 0 is padding: the output carries the mask `ids != 0`, which
    the following layers (an LSTM, say) read, and `input_dim` must count id 0.

    With `lora_rank` (or after `enable_lora(rank)`) the table is frozen and the lookup uses
    `embeddings + (lora_alpha / lora_rank) * lora_embeddings_a @ lora_embeddings_b`, where only
    the two low-rank factors are trained.

    Args:
        input_dim: Size of the vocabulary: the largest id plus one.
        output_dim: Size of each vector.
        embeddings_initializer: Initializer of the table; `"uniform"` is Keras's
            RandomUniform(-0.05, 0.05).
        embeddings_regularizer: Regularizer of the table.
        embeddings_constraint: Constraint of the table.
        mask_zero: Whether id 0 is padding, masked for the following layers.
        weights: Initial table, a `(input_dim, output_dim)` array (or a one-element list of it).
        lora_rank: Rank of a LoRA update to enable at build time; None for none.
        lora_alpha: Scale of the LoRA update (default: `lora_rank`).
        **kwargs: Layer arguments (`name`, `trainable`, `dtype`, ...); Keras 2's
            `input_length` is accepted and ignored.

    Raises:
        ValueError: when `input_dim` or `output_dim` is not a positive integer.

    Example:
        >>> import torch
        >>> layer = Embedding(10, 3, mask_zero=True)
        >>> out = layer(torch.tensor([[4, 0]]))
        >>> tuple(out.shape), out._keras_mask.tolist(), tuple(layer.embeddings.shape)
        ((1, 2, 3), [[True, False]], (10, 3))
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        weights: Any = None,
        lora_rank: int | None = None,
        lora_alpha: float | None = None,
        **kwargs: Any,
    ) -> None:
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Expected `{arg}` to be a positive integer. {received(arg, value)} "
                    "Pass e.g. Embedding(input_dim=1000, output_dim=64)."
                )
        # Keras's get_config writes `quantization_config: None`; kfit has no quantized lookups.
        quantization_config = kwargs.pop("quantization_config", None)
        if quantization_config is not None:
            raise NotImplementedError(
                "Expected quantization_config=None: kfit does not quantize embeddings. "
                f"{received('quantization_config', quantization_config)} Leave it out."
            )
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        # Without mask_zero no mask is ever made, so calls may skip the mask machinery.
        self._makes_masks = mask_zero
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        if weights is not None:
            self._maybe_build(None)
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape: Any = None) -> None:
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )
        # Built by `build()` alone too, as Keras code calls it before `enable_lora`.
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, self.lora_alpha)

    def enable_lora(
        self,
        rank: int,
        lora_alpha: float | None = None,
        a_initializer: Any = "he_uniform",
        b_initializer: Any = "zeros",
    ) -> None:
        """Freezes the table and adds trainable low-rank factors, so that fine-tuning trains
        `(input_dim + output_dim) * rank` values instead of the whole table.

        Args:
            rank: The rank of the update.
            lora_alpha: Its scale (default: `rank`).
            a_initializer: Initializer of `lora_embeddings_a`, `(input_dim, rank)`.
            b_initializer: Initializer of `lora_embeddings_b`, `(rank, output_dim)`; zeros
                make the update start at nothing.

        Raises:
            ValueError: when the layer has a constraint, is not built, or LoRA is already on.

        Example:
            >>> layer = Embedding(10, 4)
            >>> layer.build()
            >>> layer.enable_lora(2)
            >>> [(w.name, w.requires_grad) for w in layer.weights]
            [('embeddings', False), ('lora_embeddings_a', True), ('lora_embeddings_b', True)]
        """
        if self.embeddings_constraint is not None:
            raise ValueError(
                "Expected a layer without `embeddings_constraint`: LoRA cannot keep the merged "
                f"table within it. {received('embeddings_constraint', self.embeddings_constraint)} "
                "Remove the constraint to enable LoRA."
            )
        if not self.built:
            raise ValueError(
                "Expected a built layer: LoRA factors are shaped like the table. Received: an "
                f"unbuilt layer {self.name!r}. Call `layer.build()` first."
            )
        if self.lora_enabled:
            raise ValueError(
                f"Expected LoRA to be off. Received: it is already on for {self.name!r}, with "
                f"rank {self.lora_rank}. Enable it once per layer."
            )
        self.lora_embeddings_a = self.add_weight(
            name="lora_embeddings_a",
            shape=(self.input_dim, rank),
            initializer=initializers.get(a_initializer),
            dtype=torch.float32,
            regularizer=self.embeddings_regularizer,
        )
        self.lora_embeddings_b = self.add_weight(
            name="lora_embeddings_b",
            shape=(rank, self.output_dim),
            initializer=initializers.get(b_initializer),
            dtype=torch.float32,
            regularizer=self.embeddings_regularizer,
        )
        # Keras keeps the frozen table first among the weights, where it was created.
        self.embeddings.requires_grad_(False)
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        ids = inputs if inputs.dtype in _INDEX_DTYPES else inputs.to(torch.int32)
        if not self.lora_enabled:
            return F.embedding(ids, self.embeddings)
        scale = self.lora_alpha / self.lora_rank  # type: ignore[operator]  # both set with LoRA on
        update = (self.lora_embeddings_a @ self.lora_embeddings_b).to(self.embeddings.dtype)
        return F.embedding(ids, self.embeddings + scale * update)

    def compute_mask(self, inputs: torch.Tensor, mask: Any = None) -> torch.Tensor | None:
        if not self.mask_zero:
            return None
        return inputs != 0

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape, self.output_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            input_dim=self.input_dim,
            output_dim=self.output_dim,
            embeddings_initializer=serialize_keras_object(self.embeddings_initializer),
            embeddings_regularizer=regularizers.serialize(self.embeddings_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
            embeddings_constraint=constraints.serialize(self.embeddings_constraint),
            mask_zero=self.mask_zero,
            quantization_config=None,
        )
        if self.lora_rank:
            config.update(lora_rank=self.lora_rank, lora_alpha=self.lora_alpha)
        return config
