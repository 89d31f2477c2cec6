"""`Model`: a `torch.nn.Module` with Keras's training API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.trainers.trainer import Trainer
from kfit.utils.errors import received

__all__ = ["Model", "model_from_json"]


@register_keras_serializable(package="keras")
class Model(Trainer, Layer):
    """A trainable model. Four ways to make one:

    - `Model(inputs, outputs)` with KerasTensors from `kfit.Input` and layers called on them:
      a functional model (`kfit.models.functional.Functional`), which runs that graph;
    - subclass it and define `call(self, inputs)` (add a `training` argument to receive the
      mode, as Keras passes it), or pass `inputs` and `outputs` to `super().__init__` to run
      a graph while overriding other methods (`train_step`, ...);
    - `kfit.Sequential([...])`;
    - `Model(module)` wraps any `torch.nn.Module` (tuple inputs are passed as positional
      arguments and dict inputs as keyword arguments, as torch modules expect).

    It is itself a `torch.nn.Module`: `parameters()`, `state_dict()`, `.to()` and hooks work.

    Example:
        >>> import numpy as np, kfit
        >>> class TwoLayer(kfit.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = kfit.layers.Dense(8, activation="relu")
        ...         self.out = kfit.layers.Dense(1)
        ...     def call(self, x):
        ...         return self.out(self.hidden(x))
        >>> model = TwoLayer()
        >>> model.compile(optimizer="adam", loss="mse")
        >>> _ = model.fit(np.ones((8, 4)), np.ones(8), verbose=0)
        >>> [w.shape for w in model.get_weights()]
        [(4, 8), (8,), (8, 1), (1,)]
        >>> wrapped = kfit.Model(torch.nn.Linear(4, 1))
        >>> wrapped.predict(np.ones((2, 4)), verbose=0).shape
        (2, 1)
        >>> inputs = kfit.Input(shape=(4,))
        >>> functional = kfit.Model(inputs, kfit.layers.Dense(1)(inputs))
        >>> functional.predict(np.ones((2, 4)), verbose=0).shape
        (2, 1)
    """

    # Keras paths do not include model names: a nested model's weights keep their own paths.
    _is_keras_model = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # `Model(inputs, outputs)` is a functional model, as in Keras.
        if cls is Model and _functional_arguments(args, kwargs):
            from kfit.models.functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _functional_arguments(args, kwargs):
            inputs = args[0] if args else kwargs.pop("inputs")
            outputs = args[1] if len(args) > 1 else kwargs.pop("outputs")
            super().__init__(**kwargs)
            self._init_trainer()
            self._wrapped = False
            from kfit.models.functional import attach_graph

            attach_graph(self, inputs, outputs)
            if not self.trainable:
                self.trainable = False  # freezes the layers just attached
            self.built = True
            return
        module = None
        if args and isinstance(args[0], torch.nn.Module):
            module, args = args[0], args[1:]
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(
                "Expected `Model(inputs, outputs)` with KerasTensors, `Model(module)`, or a "
                f"subclass that defines `call`. Received: positional arguments {args!r} and "
                f"keywords {sorted(kwargs)}. Pass both `inputs` and `outputs` (from "
                "`kfit.Input` and layers called on it), or wrap a torch module with "
                "`kfit.Model(module)`."
            )
        super().__init__(**kwargs)
        self._init_trainer()
        self._wrapped = module is not None
        if module is not None:
            self.module = module
        self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        graph = self._functional_graph()
        if graph is not None:
            # A subclass built with `super().__init__(inputs, outputs)` runs its graph.
            return graph(inputs)
        if not self._wrapped:
            raise NotImplementedError(
                f"Expected {type(self).__name__} to define `call(self, inputs)` (or `forward`). "
                "Received: a Model subclass without either. Define `call`, or wrap a module "
                "with `kfit.Model(module)`."
            )
        kwargs.pop("training", None)
        if isinstance(inputs, dict):
            return self.module(*args, **inputs, **kwargs)
        if isinstance(inputs, (tuple, list)):
            return self.module(*inputs, *args, **kwargs)
        return self.module(inputs, *args, **kwargs)

    def _is_built(self) -> bool:
        for m in self.modules():
            if isinstance(m, Layer) and not isinstance(m, Model) and not m.built:
                return False
        return not any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in self.parameters())

    def _expected_input_shape(self) -> tuple[int | None, ...] | None:
        return self._declared_input_shape

    def to(self, *args: Any, **kwargs: Any) -> Model:
        """Moves the model like `torch.nn.Module.to`; training then uses that device.

        Example:
            >>> import kfit, torch
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> model.to(torch.float64).layers[0].kernel.dtype
            torch.float64
        """
        result = super().to(*args, **kwargs)
        # `Module.to` takes the target device first or as `device=`, or a tensor whose device
        # it copies (first or as `tensor=`); a dtype alone leaves the device as it was.
        target = args[0] if args else kwargs.get("device", kwargs.get("tensor"))
        if isinstance(target, torch.Tensor):
            target = target.device
        if isinstance(target, (str, int, torch.device)):
            self._explicit_device = torch.device(target)
            self._device = self._explicit_device
        return result

    # ------------------------------------------------------------------ layers and graph
    def _functional_graph(self) -> Any:
        """The graph this model runs or describes (`kfit.models.functional.Graph`), if any."""
        return self.__dict__.get("_graph")

    @property
    def layers(self) -> list[torch.nn.Module]:
        """The model's layers: for a functional model in graph order (InputLayers included),
        else the sublayers it holds, in the order they were assigned."""
        graph = self._functional_graph()
        if graph is not None:
            return list(graph.layers)
        return list(self.children())

    def get_layer(self, name: str | None = None, index: int | None = None) -> torch.nn.Module:
        """Returns a layer of `layers` by name or by position.

        Raises:
            ValueError: when both or neither are given, the index is out of range, or no
                layer has the name.

        Example:
            >>> import kfit
            >>> x = kfit.Input((2,))
            >>> model = kfit.Model(x, kfit.layers.Dense(1, name="out")(x))
            >>> model.get_layer("out") is model.get_layer(index=1)
            True
        """
        if name is not None and index is not None:
            raise ValueError(
                "Provide only a layer name or a layer index, not both. "
                f"Received: index={index!r}, name={name!r}. Pass one of them."
            )
        layers = self.layers
        if index is not None:
            if not isinstance(index, int) or isinstance(index, bool):
                raise ValueError(
                    f"Expected `index` to be an int. {received('index', index)} "
                    "Pass a position in `model.layers`."
                )
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(layers)} layers. Received: index={index!r} (of type int). Pass an "
                    f"index below {len(layers)}."
                )
            return layers[index]
        if name is None:
            raise ValueError(
                "Provide either a layer name or layer index at `get_layer`. Received: "
                "name=None and index=None. Pass e.g. get_layer('dense') or get_layer(index=0)."
            )
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        raise ValueError(
            f"No such layer: {name}. Existing layers are: "
            f"{[getattr(layer, 'name', type(layer).__name__) for layer in layers]}. "
            f"{received('name', name)} Pass one of those names."
        )

    def _graph_or_raise(self, attribute: str) -> Any:
        graph = self._functional_graph()
        if graph is None:
            # An AttributeError, as in Keras, so `hasattr(model, "inputs")` is False.
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {attribute!r}: it has no "
                "symbolic inputs. Build it from `kfit.Input` (a functional model, or a "
                "Sequential that starts with `kfit.Input`)."
            )
        return graph

    @property
    def inputs(self) -> list[Any]:
        """The model's input KerasTensors, as a list (a dict's values sorted by key)."""
        return list(self._graph_or_raise("inputs").inputs)

    @property
    def outputs(self) -> list[Any]:
        """The model's output KerasTensors, as a list (a dict's values sorted by key)."""
        return list(self._graph_or_raise("outputs").outputs)

    @property
    def input(self) -> Any:
        """The input KerasTensor(s), in the structure the model was built with (for a model
        without a graph, what its first symbolic call received, as for any layer)."""
        graph = self._functional_graph()
        if graph is None:
            from kfit.layers.symbolic import layer_input

            return layer_input(self)
        return _as_given(graph.input_structure)

    @property
    def output(self) -> Any:
        """The output KerasTensor(s), in the structure the model was built with (for a model
        without a graph, what its first symbolic call returned, as for any layer)."""
        graph = self._functional_graph()
        if graph is None:
            from kfit.layers.symbolic import layer_output

            return layer_output(self)
        return _as_given(graph.output_structure)

    @property
    def input_shape(self) -> Any:
        """The input shape (a tuple), or a list of them for several inputs."""
        return _shapes_of(self._graph_or_raise("input_shape").inputs)

    @property
    def output_shape(self) -> Any:
        """The output shape (a tuple), or a list of them for several outputs."""
        return _shapes_of(self._graph_or_raise("output_shape").outputs)

    @property
    def output_names(self) -> list[str] | None:
        """The names of the layers that produce the outputs (Keras names losses and metrics
        after them: `dense_1_loss`); None for a model without a graph."""
        graph = self._functional_graph()
        return None if graph is None else graph.output_names()

    def compile(self, *args: Any, **kwargs: Any) -> None:
        super().compile(*args, **kwargs)
        names = self.output_names
        if names is not None:
            for compiled in (self._compile_loss, self._compile_metrics):
                if compiled is not None:
                    compiled.output_names = list(names)

    compile.__doc__ = Trainer.compile.__doc__

    def get_config(self) -> dict[str, Any]:
        graph = self._functional_graph()
        if graph is not None and type(self).__init__ is Model.__init__:
            # A subclass built from inputs and outputs saves its graph, as Keras does.
            from kfit.models.functional import functional_config

            return functional_config(self)
        return super().get_config()

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Any:
        if "layers" in config and "input_layers" in config:
            from kfit.models.functional import functional_from_config

            return functional_from_config(cls, config, custom_objects)
        return cls(**config)

    def to_json(self, **kwargs: Any) -> str:
        """Returns the model's architecture (and compile arguments) as a Keras 3 JSON string.

        Rebuild it with `kfit.models.model_from_json` (or Keras's `model_from_json`): the
        layers are new, with fresh weights. A `Sequential` and a functional model of built-in
        layers are written exactly as Keras writes them, so each library reads the other's.

        Args:
            **kwargs: Passed to `json.dumps` (`indent=2`, ...).

        Raises:
            ValueError: when a part of the model is a torch module without a Keras config.

        Example:
            >>> import kfit
            >>> model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(2)])
            >>> clone = kfit.models.model_from_json(model.to_json())
            >>> clone.output_shape, clone.layers[0] is model.layers[0]
            ((None, 2), False)
        """
        import json

        from kfit.saving.model_io import get_compile_config, layer_record

        record = layer_record(self, "model")
        build_shape = None
        input_layer = self.__dict__.get("_input_layer")
        layers = record["config"].get("layers")
        if input_layer is not None and isinstance(layers, list):
            # Keras lists a Sequential's InputLayer first and records the input shape twice.
            build_shape = list(input_layer.batch_shape)
            if not (layers and layers[0].get("class_name") == "InputLayer"):
                layers.insert(0, layer_record(input_layer, "the model's input"))
            record["config"]["build_input_shape"] = build_shape
            record["config"].setdefault("trainable", self.trainable)
        if type(self).__name__ == "Functional" and type(self).__module__ == "kfit.models.functional":
            # Keras's own spelling of its Functional class, so that Keras finds it.
            record["module"], record["registered_name"] = "keras.src.models.functional", "Functional"
        record["build_config"] = {"input_shape": build_shape}
        record["compile_config"] = get_compile_config(self) or {}
        return json.dumps(record, **kwargs)

    # ------------------------------------------------------------------ weights files
    def save_weights(self, filepath: str | Path, overwrite: bool = True) -> None:
        """Saves every weight to `.weights.h5` or `.safetensors`, atomically.

        Example:
            >>> import kfit, tempfile, os
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
            >>> model.save_weights(path)
            >>> model.load_weights(path)
        """
        from kfit.saving.weights import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def save(self, filepath: str | Path, overwrite: bool = True) -> None:
        """Saves the model to a `.keras` archive: config, weights and optimizer state, atomically.

        Load it back with `kfit.models.load_model(filepath)`.

        Example:
            >>> import kfit, tempfile, os
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> model.compile(optimizer="adam", loss="mse")
            >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
            >>> model.save(path)
            >>> type(kfit.models.load_model(path).optimizer).__name__
            'Adam'
        """
        from kfit.saving.model_io import save_model

        save_model(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: str | Path, skip_mismatch: bool = False, by_name: bool = False) -> None:
        """Loads weights saved by `save_weights`; every shape is checked before any is changed.

        A legacy Keras `.h5` file (Keras 2's format, e.g. the published ImageNet weights) is
        matched layer by layer in order, or by layer name with `by_name=True`.
        """
        from kfit.saving.weights import load_weights

        load_weights(self, filepath, strict=not skip_mismatch, by_name=by_name)

    # ------------------------------------------------------------------ summary
    def summary(
        self,
        line_length: int | None = None,
        positions: list[float] | None = None,
        print_fn: Any = None,
        expand_nested: bool = False,
        show_trainable: bool = False,
        layer_range: list[str] | tuple[str, str] | None = None,
    ) -> None:
        """Prints the layers, their output shapes and parameter counts, as Keras 3 does.

        A functional model that is not a plain chain gets a "Connected to" column. The whole
        text goes to `print_fn` in one call (Keras 3's behaviour), or is printed.

        Args:
            line_length: Total width; default: Keras's (88, or 108 with "Connected to"),
                capped at the terminal's width minus 4.
            positions: Where the columns end, as fractions of `line_length`.
            print_fn: Called with the text instead of printing it.
            expand_nested: Whether to list the layers of nested models too.
            show_trainable: Whether to add a column saying if each layer is trainable.
            layer_range: The names (or regular expressions) of the first and last layer to show.

        Example:
            >>> import kfit
            >>> model = kfit.Sequential([kfit.Input((784,)), kfit.layers.Dense(1, name="dense")], name="seq")
            >>> model.summary(line_length=76)
            Model: "seq"
            ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
            ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
            ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
            │ dense (Dense)                   │ (None, 1)              │           785 │
            └─────────────────────────────────┴────────────────────────┴───────────────┘
             Total params: 785 (3.07 KB)
             Trainable params: 785 (3.07 KB)
             Non-trainable params: 0 (0.00 B)
        """
        from kfit.models.summary import print_summary

        print_summary(
            self,
            line_length=line_length,
            positions=positions,
            print_fn=print_fn,
            expand_nested=expand_nested,
            show_trainable=show_trainable,
            layer_range=layer_range,
        )

def model_from_json(json_string: str, custom_objects: dict[str, Any] | None = None) -> Any:
    """Builds a new model from a `to_json()` string (kfit's or Keras 3's), with fresh weights.

    When the JSON holds compile arguments (a compiled model's), the model is compiled with them,
    as Keras does.

    Args:
        json_string: What `model.to_json()` returned.
        custom_objects: Maps class and function names to the user classes and functions the
            JSON names (registered ones and the active `custom_object_scope` are found too).

    Raises:
        ValueError: for text that is not a JSON object, or a class that cannot be found.

    Example:
        >>> import kfit
        >>> x = kfit.Input((4,))
        >>> model = kfit.Model(x, kfit.layers.Dense(2, name="out")(x))
        >>> [layer.name for layer in model_from_json(model.to_json()).layers][1:]
        ['out']
    """
    import json

    from kfit.saving.model_io import rebuild_layer
    from kfit.saving.object_registration import custom_object_scope

    try:
        config = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(
            f"Expected a JSON string written by model.to_json() ({e}). "
            f"{received('json_string', str(json_string)[:80])} Pass the string itself."
        ) from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Expected the JSON of a model: an object with 'class_name' and 'config'. "
            f"{received('json_string', str(json_string)[:80])} Pass what model.to_json() returned."
        )
    with custom_object_scope(dict(custom_objects or {})):
        model = rebuild_layer(config)
        compile_config = config.get("compile_config")
        if compile_config and isinstance(model, Model):
            model.compile_from_config(compile_config)
    return model


def _functional_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a Model constructor call passes inputs and outputs (Keras's rule)."""
    return (
        len(args) == 2
        or (len(args) == 1 and "outputs" in kwargs)
        or ("inputs" in kwargs and "outputs" in kwargs)
    )


def _as_given(structure: Any) -> Any:
    if isinstance(structure, (dict, list)):
        return type(structure)(structure)
    return structure


def _shapes_of(tensors: list[Any]) -> Any:
    shapes = [tuple(t.shape) for t in tensors]
    return shapes[0] if len(shapes) == 1 else shapes
