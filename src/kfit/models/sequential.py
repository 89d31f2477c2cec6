"""`Sequential`: a linear stack of layers (kfit layers or any torch modules)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from kfit.layers.input_layer import InputLayer
from kfit.layers.layer import Layer
from kfit.layers.symbolic import KerasTensor, symbolic_call
from kfit.models.functional import Graph
from kfit.models.model import Model
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.naming import to_snake_case

__all__ = ["Sequential"]


@register_keras_serializable(package="keras")
class Sequential(Model):
    """A stack of layers applied in order; any `torch.nn.Module` can be one of them.

    With an input shape known up front (`kfit.Input(shape)` first, or `input_dim` /
    `input_shape` on the first layer) every layer is called at once on that symbolic input,
    which creates every weight and gives `inputs`, `outputs`, `layer.output` and `summary()`
    their shapes; otherwise that happens on the first batch. Calling the model runs the layers
    in a plain loop.

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
    # Kept out of torch's module registry (set through __dict__): the InputLayer is not one of
    # `layers`, as in Keras, and the KerasTensor the last layer returned.
    _input_layer: InputLayer | None
    _symbolic_output: Any

    def __init__(
        self,
        layers: Iterable[Any] | None = None,
        trainable: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name)
        self._layers: list[torch.nn.Module] = []
        self.__dict__["_input_layer"] = None
        # The KerasTensor the last layer returned, while the input shape is known.
        self.__dict__["_symbolic_output"] = None
        self.__dict__["_graph"] = None
        # Built once the input shape is known: at once, or from the first batch.
        self.built = False
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[torch.nn.Module]:
        return list(self._layers)

    def add(self, layer: Any) -> None:
        """Appends a layer (or any torch module) to the stack.

        `kfit.Input(shape)` (or an `InputLayer`) is accepted first, to declare the input shape.
        """
        if isinstance(layer, KerasTensor):
            history = layer._keras_history
            if history is None or not isinstance(history.operation, InputLayer):
                raise ValueError(
                    "Expected a KerasTensor added to a Sequential model to come from "
                    f"`kfit.Input`. Received: {layer!r}, the output of "
                    f"{getattr(history, 'operation', None)!r}. Add the layers themselves, or "
                    "build a functional model with kfit.Model(inputs, outputs)."
                )
            layer = history.operation
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(
                    "Expected an `Input` only as the first element of a Sequential model. "
                    f"Received: {layer.name!r} after {len(self._layers)} layers. Move it first."
                )
            self._start_graph(layer)
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
        declared = layer._declared_input_shape if isinstance(layer, Layer) else None
        self.add_module(name, layer)
        self._layers.append(layer)
        if len(self._layers) == 1 and self._input_layer is None and declared is not None:
            # `input_shape=` on the first layer: Keras makes the InputLayer itself.
            self._start_graph(InputLayer(batch_shape=declared))
        elif self._symbolic_output is not None:
            self._extend_graph([layer])

    def pop(self) -> torch.nn.Module:
        """Removes and returns the last layer."""
        if not self._layers:
            raise IndexError("Expected a Sequential model with layers to pop. Received: an empty model.")
        layer = self._layers.pop()
        for name, child in list(self.named_children()):
            if child is layer:
                delattr(self, name)
        if self._input_layer is not None:
            # The remaining layers are called once more, as Keras rebuilds a popped model.
            self.__dict__["_symbolic_output"] = self._input_layer.output
            self._extend_graph(self._layers)
        return layer

    def build(self, input_shape: Any = None) -> None:
        """Builds every layer for inputs of `input_shape` (batch dimension first).

        The layers are called on a `kfit.Input` of that shape, so `inputs`, `outputs`,
        `layer.output` and `summary()` work, as after `kfit.Input` first. The batch size is
        left unknown.

        Example:
            >>> import kfit
            >>> model = kfit.Sequential([kfit.layers.Dense(3)])
            >>> model.build((None, 4))
            >>> model.output_shape, model.layers[0].kernel.shape
            ((None, 3), torch.Size([4, 3]))
        """
        if self._input_layer is not None:
            return
        if not isinstance(input_shape, (tuple, list)) or not all(
            d is None or isinstance(d, int) for d in input_shape
        ):
            # Several inputs (a merge layer first): the layers build on the first batch.
            return
        self._start_graph(InputLayer(batch_shape=(None, *tuple(input_shape)[1:])))

    def _start_graph(self, input_layer: InputLayer) -> None:
        self.__dict__["_input_layer"] = input_layer
        self._declared_input_shape = input_layer._declared_input_shape
        self.__dict__["_symbolic_output"] = input_layer.output
        self._extend_graph(self._layers)

    def _extend_graph(self, layers: list[torch.nn.Module]) -> None:
        """Calls `layers` in turn on the last symbolic output, which builds them."""
        x = self._symbolic_output
        for layer in layers:
            x = layer(x) if isinstance(layer, Layer) else symbolic_call(layer, (x,), {})
        self.__dict__["_symbolic_output"] = x
        self.__dict__["_graph"] = None
        self.built = True

    def _functional_graph(self) -> Any:
        graph = self.__dict__.get("_graph")
        if graph is None and self._input_layer is not None:
            graph = Graph(self._input_layer.output, self._symbolic_output)
            self.__dict__["_graph"] = graph
        return graph

    def call(self, inputs: Any) -> Any:
        x = inputs
        for layer in self._layers:
            x = layer(x)
        return x

    def _expected_input_shape(self) -> tuple[int | None, ...] | None:
        if self._input_layer is not None:
            return self._input_layer._declared_input_shape
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

    def get_config(self) -> dict[str, Any]:
        """Keras's Sequential config: name, trainable, dtype, a record per layer and the input shape.

        As in Keras, the layers start with the InputLayer's record once the input shape is
        known (`kfit.Input` first, `input_shape=` on the first layer, or `build`), and
        `build_input_shape` repeats it. Torch modules, which have no Keras config, are left
        out (`save` and `to_json` refuse them).

        Example:
            >>> import kfit
            >>> model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(2, name="d")], name="s")
            >>> config = model.get_config()
            >>> [r["class_name"] for r in config["layers"]], config["build_input_shape"]
            (['InputLayer', 'Dense'], (None, 3))
            >>> kfit.Sequential.from_config(config).layers[0].name
            'd'
        """
        from kfit.saving.serialization_lib import serialize_keras_object

        config = Layer.get_config(self)
        config.pop("input_shape", None)
        input_layer = self._input_layer
        records = [] if input_layer is None else [serialize_keras_object(input_layer)]
        records += [serialize_keras_object(layer) for layer in self._layers if isinstance(layer, Layer)]
        config["layers"] = records
        if input_layer is not None:
            config["build_input_shape"] = tuple(input_layer.batch_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Any:
        """Rebuilds a `Sequential` from `get_config()` (kfit's, or Keras's with its InputLayer
        first), with fresh weights.

        Layers are looked up as `load_model` looks them up: the registry, `custom_objects`
        and the active `custom_object_scope`.
        """
        from kfit.saving.model_io import rebuild_layer
        from kfit.saving.object_registration import custom_object_scope

        records = list(config.get("layers", []))
        with custom_object_scope(custom_objects or {}):
            layers = [rebuild_layer(record) for record in records]
        shape = config.get("build_input_shape")
        if shape is not None and not (records and records[0].get("class_name") == "InputLayer"):
            layers.insert(0, InputLayer(shape=tuple(shape[1:])))
        return cls(layers=layers, trainable=config.get("trainable", True), name=config.get("name"))

