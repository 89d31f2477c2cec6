"""`clone_model`: the same architecture with new layers and freshly initialised weights.

What gets cloned, and how (Keras 3's rules):

| model | how | `clone_function` / `input_tensors` / `call_function` |
|---|---|---|
| `Sequential` | each layer cloned, stacked again on a new `Input` | yes / one `kfit.Input` / no |
| functional (`Model(inputs, outputs)`) | the graph's calls replayed with cloned layers | yes / yes / yes |
| subclassed | rebuilt from `get_config()` | no / no / no |

A compiled model's clone is compiled the same way (`get_compile_config`), with a new optimizer.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from kfit.layers.input_layer import Input, InputLayer
from kfit.layers.layer import Layer
from kfit.layers.symbolic import KerasTensor, Operation, flatten, map_structure, symbolic_call, symbolic_op
from kfit.models.functional import Functional
from kfit.models.model import Model
from kfit.models.sequential import Sequential
from kfit.saving.model_io import layer_record, rebuild_layer
from kfit.saving.object_registration import custom_object_scope
from kfit.utils.errors import received

__all__ = ["clone_model"]

CloneFunction = Callable[[Any], Any]


def clone_model(
    model: Model,
    input_tensors: Any = None,
    clone_function: CloneFunction | None = None,
    call_function: Callable[..., Any] | None = None,
    recursive: bool = False,
    **kwargs: Any,
) -> Model:
    """Returns a new model with `model`'s architecture and new, freshly initialised weights.

    Like calling the model on new inputs, except that every layer is replaced by a copy made
    from its config, so nothing is shared with the original (not even a variable two of its
    layers shared: each gets its own copy).

    Args:
        model: A `Sequential`, a functional model, or a subclassed model with `get_config()`.
        input_tensors: KerasTensors to build the clone on instead of new `kfit.Input`s, in
            the structure of `model.input` (for a `Sequential`: one tensor from `kfit.Input`).
        clone_function: `fn(layer) -> layer`, called once per layer (InputLayers excepted;
            a layer shared between several calls is cloned once); return the layer itself to
            share it. Default: a new layer from `layer.get_config()`.
        call_function: `fn(layer, *args, **kwargs) -> outputs`, called instead of
            `layer(*args, **kwargs)` for each cloned layer of a functional model, e.g. to
            insert a layer after some of them.
        recursive: Whether nested `Sequential` and functional models are cloned with
            `clone_model` (with these arguments) rather than passed to `clone_function`.

    Returns:
        The clone; compiled as `model` is when `model` is compiled.

    Raises:
        ValueError: for unknown keyword arguments; for `clone_function`, `input_tensors` or
            `call_function` with a model they do not apply to; for a layer that has no config
            (a plain torch module: pass a `clone_function` that copies it).
        TypeError: when a subclassed model cannot be rebuilt from its `get_config()`.

    Example:
        >>> import kfit, torch
        >>> model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(2, name="d")])
        >>> clone = clone_model(model)
        >>> clone.layers[0].name, clone.layers[0] is model.layers[0]
        ('d', False)
        >>> bool(torch.equal(clone.layers[0].kernel, model.layers[0].kernel))
        False
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(
            f"Expected only the arguments of clone_model. Received: unexpected keyword "
            f"arguments {sorted(kwargs)}. Remove them."
        )
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "Expected call_function=None for a Sequential model: its layers are only "
                "listed, never called while the model is built. "
                f"{received('call_function', call_function)} Use call_function with a "
                "functional model, or wrap layers with clone_function instead."
            )
        wrapped = _wrap_clone_function(clone_function, None, recursive, cache)
        clone: Model = _clone_sequential(model, wrapped, input_tensors)
    elif _is_functional(model) and (
        _has_default_config(model) or clone_function is not None or input_tensors is not None
    ):
        wrapped = _wrap_clone_function(clone_function, call_function, recursive, cache)
        clone = _clone_functional(model, wrapped, input_tensors, call_function)
    else:
        if clone_function is not None or input_tensors is not None:
            raise ValueError(
                "Expected `clone_function` and `input_tensors` only with a Sequential or "
                f"functional model. Received: a model of type {type(model).__name__!r}, with "
                f"clone_function={clone_function!r} and input_tensors={input_tensors!r}. "
                "Leave them out: a subclassed model is cloned from its get_config()."
            )
        if call_function is not None:
            raise ValueError(
                "Expected `call_function` only with a functional model. Received: a model of "
                f"type {type(model).__name__!r}. Leave it out."
            )
        clone = _from_own_config(model)
    if model.compiled:
        clone.compile_from_config(model.get_compile_config())
    return clone


def _is_functional(model: Any) -> bool:
    """A model that runs a recorded graph: `Model(inputs, outputs)`, or a subclass that called
    `super().__init__(inputs, outputs)` (Keras makes those Functional too)."""
    return isinstance(model, Model) and not isinstance(model, Sequential) and model._functional_graph() is not None


def _has_default_config(model: Model) -> bool:
    return type(model).get_config in (Model.get_config, Functional.get_config)


def _from_own_config(layer: Any) -> Any:
    """A new layer (or model) made from `layer`'s config, its class found without registration."""
    cls = type(layer)
    if not isinstance(layer, Layer) or (cls is Model and getattr(layer, "_wrapped", False)):
        raise ValueError(
            "Expected a kfit layer or model, which can be rebuilt from its get_config(). "
            f"Received: {cls.__module__}.{cls.__name__}, a torch module without a config. Pass "
            "clone_function=fn where fn(module) returns a new module, e.g. "
            "copy.deepcopy(module) followed by module.reset_parameters()."
        )
    with custom_object_scope({cls.__name__: cls}):
        return rebuild_layer(layer_record(layer, f"{type(layer).__name__} {getattr(layer, 'name', '')!r}"))


def _wrap_clone_function(
    clone_function: CloneFunction | None,
    call_function: Callable[..., Any] | None,
    recursive: bool,
    cache: dict[int, Any] | None,
) -> CloneFunction:
    """`clone_function` (or the default), cloning each layer once and nested models as asked."""
    if clone_function is not None and not callable(clone_function):
        raise ValueError(
            f"Expected `clone_function` to be a callable. {received('clone_function', clone_function)} "
            "Pass a function that takes a layer and returns its replacement."
        )
    clone_layer = clone_function or _from_own_config
    seen: dict[int, Any] = {} if cache is None else cache

    def wrapped(layer: Any) -> Any:
        if id(layer) in seen:
            return seen[id(layer)]
        if recursive and isinstance(layer, Sequential):
            clone = clone_model(layer, clone_function=clone_function, recursive=True, cache=seen)
        elif recursive and _is_functional(layer):
            clone = clone_model(
                layer, clone_function=clone_function, call_function=call_function, recursive=True, cache=seen
            )
        else:
            clone = clone_layer(layer)
        seen[id(layer)] = clone
        return clone

    return wrapped


def _clone_sequential(model: Sequential, clone_function: CloneFunction, input_tensors: Any) -> Sequential:
    layers: list[Any] = [clone_function(layer) for layer in model.layers]
    if input_tensors is not None:
        tensor = input_tensors
        if isinstance(tensor, (list, tuple)):
            if len(tensor) != 1:
                raise ValueError(
                    "Expected `input_tensors` to hold a single tensor for a Sequential model. "
                    f"Received: {len(tensor)} tensors. Pass one `kfit.Input(...)`."
                )
            tensor = tensor[0]
        history = getattr(tensor, "_keras_history", None)
        if not isinstance(tensor, KerasTensor) or history is None or not isinstance(history.operation, InputLayer):
            raise ValueError(
                "Expected `input_tensors` to be a KerasTensor from `kfit.Input` for a Sequential "
                f"model. {received('input_tensors', input_tensors)} Pass kfit.Input(shape=...)."
            )
        layers.insert(0, tensor)
    elif model._input_layer is not None:
        source = model._input_layer
        layers.insert(
            0, Input(batch_shape=source.batch_shape, dtype=source.dtype, name=source.name, optional=source.optional)
        )
    return Sequential(layers, name=model.name, trainable=model.trainable)


def _clone_functional(
    model: Model,
    clone_function: CloneFunction,
    input_tensors: Any,
    call_function: Callable[..., Any] | None,
) -> Model:
    graph = model._functional_graph()
    if input_tensors is None:
        input_tensors = map_structure(
            lambda t: Input(batch_shape=t.shape, dtype=t.dtype, name=t.name), graph.input_structure
        )
    else:
        given = flatten(input_tensors)
        if not all(isinstance(t, KerasTensor) for t in given) or len(given) != len(graph.inputs):
            raise ValueError(
                f"Expected `input_tensors` to be {len(graph.inputs)} KerasTensors in the "
                f"structure of model.input ({model.input!r}). "
                f"{received('input_tensors', input_tensors)} Pass one kfit.Input per model input."
            )
    if isinstance(graph.input_structure, dict) and isinstance(input_tensors, dict):
        new_inputs = [input_tensors[key] for key in sorted(graph.input_structure)]
    else:
        new_inputs = flatten(input_tensors)
    # Each old KerasTensor's replacement, by identity.
    replacement: dict[int, Any] = {id(old): new for old, new in zip(graph.inputs, new_inputs)}

    def swap(value: Any) -> Any:
        return replacement[id(value)] if isinstance(value, KerasTensor) else value

    for node in graph.nodes:
        if node.is_input:
            continue
        args = tuple(map_structure(swap, list(node.call_args)))
        kwargs = map_structure(swap, dict(node.call_kwargs))
        operation = node.operation
        if isinstance(operation, Operation):
            # Ops hold no weights: the clone gets an op of the same name and settings.
            fresh = Operation(
                operation.fn, operation.class_name, name=operation.name,
                config=operation.config, serializable=operation.serializable,
            )
            outputs = symbolic_op(fresh, args, kwargs)
        else:
            layer = clone_function(operation)
            if call_function is not None:
                outputs = call_function(layer, *args, **kwargs)
            elif isinstance(layer, Layer):
                outputs = layer(*args, **kwargs)
            elif isinstance(layer, torch.nn.Module):
                outputs = symbolic_call(layer, args, kwargs)
            else:
                outputs = layer(*args, **kwargs)
        for old, new in zip(flatten(node.outputs), flatten(outputs)):
            if isinstance(old, KerasTensor):
                replacement[id(old)] = new
    outputs = map_structure(swap, graph.output_structure)
    cls = type(model)
    if _functional_like_constructor(cls):
        return cls(input_tensors, outputs, name=model.name)
    # Keras does the same: a subclass whose constructor takes other arguments comes back as
    # a plain functional model.
    return Functional(input_tensors, outputs, name=model.name)


def _functional_like_constructor(cls: Any) -> bool:
    """Whether `cls(inputs, outputs, name=...)` builds the model, as for `Functional`."""
    if cls is Functional or cls is Model:
        return True
    wanted = list(inspect.signature(Functional.__init__).parameters)[1:]
    present = [
        name for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ][1:]
    return present == wanted
