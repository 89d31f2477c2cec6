"""`RandomImageLayer`: what the image augmentation layers share.

Each one has no weights, draws from a generator of its own when given a seed (else from
torch's global one), turns integer images into its compute dtype as Keras does, and is the
identity outside training.
"""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.config import standardize_data_format
from kfit.backend.dtypes import to_torch_dtype
from kfit.layers.layer import Layer
from kfit.layers.regularization.seeding import seeded_generator

__all__ = ["RandomImageLayer"]


class RandomImageLayer(Layer):
    """Base of `RandomFlip` and `RandomRotation`: seed, data format, and the inference identity.

    Subclasses implement `augment(images, generator)` for a float batch or single image.

    Example:
        >>> import torch
        >>> class Negate(RandomImageLayer):
        ...     def augment(self, images, generator):
        ...         return -images
        >>> layer = Negate(seed=0)
        >>> layer(torch.ones(1, 1, 1)).item(), layer(torch.ones(1, 1, 1), training=True).item()
        (1.0, -1.0)
    """

    def __init__(self, seed: int | None = None, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.data_format = standardize_data_format(data_format)
        self._generator: torch.Generator | None = None
        # No weights: built at construction, as in Keras.
        self.built = True

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not inputs.is_floating_point():
            inputs = inputs.to(to_torch_dtype(self.compute_dtype))
        if not training:
            return inputs
        self._generator = seeded_generator(self.seed, self._generator, inputs.device)
        return self.augment(inputs, self._generator)

    def augment(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The augmented images; `generator` is the layer's own, or None for torch's global one."""
        raise NotImplementedError(f"{type(self).__name__} must implement augment(images, generator).")
