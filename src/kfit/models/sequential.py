"""`Sequential`: a linear stack of layers (kfit layers or any torch modules)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from kfit.layers.input_layer import InputLayer
from kfit.layers.layer import Layer
from kfit.models.model import Model
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.naming import to_snake_case

__all__ = ["Sequential"]


@register_keras_serializable(package="keras")
class Sequential(Model):
    """A stack of layers applied in order; any `torch.nn.Module` can be one of them.

    With an input shape known up front (`kfit.Input(shape)` first, or `input_dim` /
    `input_shape` on the first layer) every weight is created at once; otherwise on the first
    batch.

    Example:
        >>> import kfit, torch
        >>> model = kfit.Sequential([kfit.Input(shape=(4,)), kfit.layers.Dense(8, activation="relu")])
        >>> model.add(torch.nn.Linear(8, 1))
        >>> model(torch.zeros(2, 4)).shape
        torch.Size([2, 1])
        >>> [type(layer).__name__ for layer in model.layers]
        ['Dense', 'Linear']
    """

    # Keras's weight files key a Sequential's layers by class: see saving/keras_h5.py.
    _lists_its_layers = True

    def __init__(
        self,
        layers: Iterable[torch.nn.Module] | None = None,
        trainable: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name)
        self._layers: list[torch.nn.Module] = []
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[torch.nn.Module]:
        return list(self._layers)

    def add(self, layer: torch.nn.Module) -> None:
        """Appends a layer (or any torch module) to the stack."""
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(
                    "Expected an `Input` only as the first element of a Sequential model. "
                    f"Received: {layer.name!r} after {len(self._layers)} layers. Move it first."
                )
            self._declared_input_shape = layer._declared_input_shape
            return
        if not isinstance(layer, torch.nn.Module):
            raise TypeError(
                "Expected a layer: a `kfit.layers.Layer` or any `torch.nn.Module`. "
                f"Received: layer={layer!r} (of type {type(layer).__name__}). "
                "Pass an instance, e.g. `kfit.layers.Dense(10)`."
            )
        # Submodule names count per class within this model (dense, dense_1, ...), as Keras
        # names weight paths, so state_dict keys and weight files match between two instances
        # of the same architecture whatever the layers' display names are.
        base = to_snake_case(type(layer).__name__)
        count = sum(1 for other in self._layers if to_snake_case(type(other).__name__) == base)
        name = base if count == 0 else f"{base}_{count}"
        if not self._layers and self._declared_input_shape is None and isinstance(layer, Layer):
            self._declared_input_shape = layer._declared_input_shape
        self.add_module(name, layer)
        self._layers.append(layer)
        if self._declared_input_shape is not None and not self._is_built():
            self._build_with_zeros(self._declared_input_shape)

    def pop(self) -> torch.nn.Module:
        """Removes and returns the last layer."""
        if not self._layers:
            raise IndexError("Expected a Sequential model with layers to pop. Received: an empty model.")
        layer = self._layers.pop()
        for name, child in list(self.named_children()):
            if child is layer:
                delattr(self, name)
        return layer

    def _build_with_zeros(self, input_shape: tuple[int | None, ...]) -> None:
        # Creating weights now makes get_weights()/summary() work before any data is seen.
        sample = torch.zeros((1, *[1 if d is None else d for d in input_shape[1:]]))
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                self(sample)
        finally:
            self.train(was_training)

    def call(self, inputs: Any) -> Any:
        x = inputs
        for layer in self._layers:
            x = layer(x)
        return x

    def _expected_input_shape(self) -> tuple[int | None, ...] | None:
        if self._declared_input_shape is not None:
            return self._declared_input_shape
        first = self._layers[0] if self._layers else None
        input_dim = getattr(first, "input_dim", None)
        if first is not None and getattr(first, "built", False) and isinstance(input_dim, int):
            return (None, input_dim)
        if isinstance(first, torch.nn.Linear):
            return (None, first.in_features)
        return None

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        return self._expected_input_shape()

    def _summary_rows(self) -> list[tuple[str, str, int]]:
        shape = self._expected_input_shape()
        rows = []
        for layer in self._layers:
            if shape is not None:
                try:
                    shape = _output_shape(layer, shape)
                except Exception:  # a module that cannot run on zeros: show no shape
                    shape = None
            label = f"{getattr(layer, 'name', type(layer).__name__.lower())} ({type(layer).__name__})"
            rows.append((label, str(shape) if shape is not None else "?", sum(p.numel() for p in layer.parameters())))
        return rows

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self._layers
                if isinstance(layer, Layer)
            ],
        }


def _output_shape(layer: torch.nn.Module, shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
    if isinstance(layer, Layer):
        return layer.compute_output_shape(shape)
    device = next((p.device for p in layer.parameters()), None)
    with torch.no_grad():
        out = layer(torch.zeros(tuple(1 if d is None else d for d in shape), device=device))
    return (None, *tuple(out.shape[1:]))
