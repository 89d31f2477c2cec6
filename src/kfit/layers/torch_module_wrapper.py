"""`TorchModuleWrapper`: Keras's wrapper that makes a `torch.nn.Module` a layer."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["TorchModuleWrapper"]


@register_keras_serializable(package="keras")
class TorchModuleWrapper(Layer):
    """Wraps a `torch.nn.Module` as a layer; its parameters train with the model's.

    kfit takes torch modules as layers directly (`Sequential([torch.nn.Linear(4, 2)])`); this
    class exists so Keras code that wraps them runs unchanged.

    Example:
        >>> import torch
        >>> layer = TorchModuleWrapper(torch.nn.Linear(4, 2))
        >>> layer(torch.ones(3, 4)).shape, len(layer.trainable_weights)
        (torch.Size([3, 2]), 2)
    """

    def __init__(self, module: torch.nn.Module, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                "Expected `module` to be a torch.nn.Module. Received: "
                f"module={module!r} (of type {type(module).__name__}). Pass a module instance, "
                "e.g. TorchModuleWrapper(torch.nn.Linear(4, 2))."
            )
        self.module = module
        self.built = True

    def call(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("training", None)
        return self.module(*args, **kwargs)
