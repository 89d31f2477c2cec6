"""`Functional`: a model made of a recorded graph of layer calls, `kfit.Model(inputs, outputs)`.

Building a model walks the graph back from its outputs to its inputs once (`Graph`):

- the nodes (recorded calls) it needs, in an order where every node comes after the nodes
  that feed it; that order, compiled into a flat list of steps over numbered slots, is what a
  call runs, so a call costs one Python loop over the layers, as a hand-written `forward` does;
- every node's depth (its distance from the outputs), which orders `model.layers` as Keras
  does: deepest first, then in the order the walk met them;
- the layers (InputLayers, nested models, shared layers once), registered as torch
  submodules under their snake-cased class name (`dense`, `dense_1`, ...) so that two models
  of one architecture have the same `state_dict()` keys, and Keras's weight-file keys.

`Model(inputs, outputs)` returns a `Functional`. A `Model` subclass that calls
`super().__init__(inputs, outputs)` gets the same graph as its `call`.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from kfit.backend.dtypes import to_torch_dtype
from kfit.layers.symbolic import (
    KerasTensor,
    Node,
    Operation,
    flatten,
    inbound_nodes,
    map_structure,
    op_function,
    symbolic_op,
)
from kfit.models.model import Model
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.naming import to_snake_case

__all__ = ["Functional", "Graph", "functional_config", "functional_from_config"]


class _Ref:
    """A slot of the value list, standing where a KerasTensor stood in a node's arguments."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _fill(template: Any, values: list[Any]) -> Any:
    if type(template) is _Ref:
        return values[template.index]
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    if isinstance(template, tuple):
        return tuple(_fill(item, values) for item in template)
    if isinstance(template, dict):
        return {key: _fill(item, values) for key, item in template.items()}
    return template


def _structure_of(value: Any, what: str) -> tuple[Any, list[KerasTensor]]:
    """A model's `inputs`/`outputs` as given (dicts sorted by key) and their flat list."""
    if isinstance(value, KerasTensor):
        return value, [value]
    structure: Any
    if isinstance(value, Mapping):
        # Keras orders dict inputs and outputs by key.
        structure, flat = dict(value), [value[key] for key in sorted(value)]
    elif isinstance(value, (list, tuple)):
        structure, flat = list(value), list(value)
    else:
        flat, structure = [], value
    bad = [v for v in flat if not isinstance(v, KerasTensor)]
    if not flat or bad:
        raise ValueError(
            f"Expected `{what}` to be a KerasTensor, or a list or dict of KerasTensors (from "
            f"`kfit.Input` and layers called on it). Received: {what}={value!r} (of type "
            f"{type(value).__name__}). Build them with e.g. `x = kfit.Input((4,))` and "
            "`y = kfit.layers.Dense(1)(x)`."
        )
    return structure, flat


class Graph:
    """The graph between some KerasTensors: what a functional model runs and describes.

    Args:
        inputs: A KerasTensor, a list of them, or a dict (its values are taken sorted by key).
        outputs: The same forms.

    Raises:
        ValueError: if an output does not depend only on the inputs ("graph disconnected"),
            or two layers share a name.

    Example:
        >>> import kfit
        >>> x = kfit.Input((3,))
        >>> graph = Graph(x, kfit.layers.Dense(2)(x))
        >>> [type(layer).__name__ for layer in graph.layers]
        ['InputLayer', 'Dense']
        >>> graph(torch.ones(4, 3)).shape
        torch.Size([4, 2])
    """

    def __init__(self, inputs: Any, outputs: Any) -> None:
        self.input_structure, self.inputs = _structure_of(inputs, "inputs")
        self.output_structure, self.outputs = _structure_of(outputs, "outputs")
        self.nodes = self._walk()
        self.node_depths, self.operations = self._depths()
        self.layers: list[Any] = [op for op in self.operations if not isinstance(op, Operation)]
        self._check_names()
        self._compile_plan()

    # ------------------------------------------------------------------ mapping the graph
    def _walk(self) -> list[Node]:
        """The nodes from the inputs to the outputs, each after the nodes that feed it."""
        input_ids = {id(t) for t in self.inputs}
        order: list[Node] = []
        done: set[int] = set()

        def source(tensor: KerasTensor) -> Node | None:
            history = tensor._keras_history
            if history is None:
                raise ValueError(
                    "Expected every KerasTensor in the graph to come from `kfit.Input` or a "
                    f"layer call. Received: {tensor!r}, made directly. Start the graph with "
                    "`kfit.Input(shape)`."
                )
            node = inbound_nodes(history.operation)[history.node_index]
            if id(tensor) in input_ids:
                # A model input: its InputLayer joins the graph; an intermediate tensor given
                # as an input cuts the graph there.
                return node if node.is_input else None
            if node.is_input:
                raise ValueError(
                    "Graph disconnected: expected every output to be computed from the model's "
                    f"inputs. Received: {tensor!r} (from input {history.operation.name!r}), "
                    f"which is not among inputs {[t.name for t in self.inputs]}. Add it to "
                    "`inputs`, or compute the outputs from the inputs given."
                )
            return node

        for start in (*self.outputs, *self.inputs):
            first = source(start)
            if first is None or id(first) in done:
                continue
            # An explicit stack: a graph deeper than Python's recursion limit is fine.
            stack: list[tuple[Node, Any]] = [(first, iter(first.input_tensors))]
            active = {id(first)}
            while stack:
                node, pending = stack[-1]
                for tensor in pending:
                    parent = source(tensor)
                    if parent is None or id(parent) in done:
                        continue
                    if id(parent) in active:
                        raise ValueError(f"Expected an acyclic graph. Received: a cycle through {parent!r}.")
                    active.add(id(parent))
                    stack.append((parent, iter(parent.input_tensors)))
                    break
                else:
                    stack.pop()
                    active.discard(id(node))
                    done.add(id(node))
                    order.append(node)
        return order

    def _depths(self) -> tuple[dict[int, int], list[Any]]:
        """Each node's depth (0 at the outputs) and the operations, deepest first."""
        in_graph = {id(node) for node in self.nodes}
        node_depth: dict[int, int] = {}
        op_depth: dict[int, int] = {}
        for node in reversed(self.nodes):
            depth = node_depth.setdefault(id(node), 0)
            # A shared layer sits at the deepest of its calls' depths.
            depth = max(depth, op_depth.get(id(node.operation), 0))
            op_depth[id(node.operation)] = depth
            node_depth[id(node)] = depth
            for parent in node.parent_nodes:
                if id(parent) in in_graph:
                    node_depth[id(parent)] = max(node_depth.get(id(parent), 0), depth + 1)
        first_seen: dict[int, int] = {}
        operations: list[Any] = []
        for node in self.nodes:
            if id(node.operation) not in first_seen:
                first_seen[id(node.operation)] = len(operations)
                operations.append(node.operation)
        operations.sort(key=lambda op: (-op_depth[id(op)], first_seen[id(op)]))
        return node_depth, operations

    def _check_names(self) -> None:
        # Plain torch modules (in a Sequential) have no names to clash.
        counts = collections.Counter(op.name for op in self.operations if isinstance(getattr(op, "name", None), str))
        for name, count in counts.items():
            if count > 1:
                raise ValueError(
                    f'The name "{name}" is used {count} times in the model. All operation '
                    f"names should be unique. Received: layers {[op.name for op in self.operations]}. "
                    "Give each layer its own `name=`, or leave names out to number them."
                )

    def nodes_of(self, operation: Any) -> list[Node]:
        """The calls of `operation` that belong to this graph, in call order."""
        in_graph = {id(node) for node in self.nodes}
        return [node for node in inbound_nodes(operation) if id(node) in in_graph]

    # ------------------------------------------------------------------ the run
    def _compile_plan(self) -> None:
        slots: dict[int, int] = {}
        for tensor in self.inputs:
            slots.setdefault(id(tensor), len(slots))
        steps: list[tuple[Any, ...]] = []
        for node in self.nodes:
            if node.is_input:
                continue
            op = node.operation
            # An op without settings runs its function directly: one call less per step.
            fn: Callable[..., Any] = op.fn if isinstance(op, Operation) and not op.config else op
            args = map_structure(lambda v: _Ref(slots[id(v)]) if isinstance(v, KerasTensor) else v, node.call_args)
            kwargs = map_structure(lambda v: _Ref(slots[id(v)]) if isinstance(v, KerasTensor) else v, node.call_kwargs)
            outputs = node.outputs
            positions = []
            for position, leaf in enumerate(flatten(outputs)):
                if isinstance(leaf, KerasTensor):
                    positions.append((position, slots.setdefault(id(leaf), len(slots))))
            single_out = isinstance(outputs, KerasTensor)
            if len(args) == 1 and type(args[0]) is _Ref and not kwargs and single_out:
                # The common case: one tensor in, one out.
                steps.append((fn, args[0].index, positions[0][1]))
            elif single_out:
                steps.append((fn, args, kwargs, positions[0][1]))
            else:
                steps.append((fn, args, kwargs, None, positions))
        self._size = len(slots)
        self._steps = steps
        self._input_slots = [slots[id(t)] for t in self.inputs]
        self._input_specs = [(to_torch_dtype(t.dtype), t.ndim, t.shape) for t in self.inputs]
        self._output_slots = [slots[id(t)] for t in self.outputs]

    def __call__(self, inputs: Any) -> Any:
        values: list[Any] = [None] * self._size
        for slot, spec, value in zip(self._input_slots, self._input_specs, self._flat_inputs(inputs)):
            values[slot] = _conform(value, spec)
        for step in self._steps:
            if len(step) == 3:
                fn, source, target = step
                values[target] = fn(values[source])
            elif len(step) == 4:
                fn, args, kwargs, target = step
                values[target] = fn(*_fill(args, values), **_fill(kwargs, values))
            else:
                fn, args, kwargs, _, positions = step
                leaves = flatten(fn(*_fill(args, values), **_fill(kwargs, values)))
                for position, slot in positions:
                    values[slot] = leaves[position]
        return self._pack_outputs(values)

    def _flat_inputs(self, inputs: Any) -> list[Any]:
        structure = self.input_structure
        expected = len(self.inputs)
        if isinstance(inputs, Mapping):
            keys = sorted(structure) if isinstance(structure, dict) else [t.name for t in self.inputs]
            missing = [k for k in keys if k not in inputs]
            if missing:
                raise ValueError(
                    f"Missing data for input {missing[0]!r}. Expected a dict with the keys "
                    f"{keys} (the model's {'input keys' if isinstance(structure, dict) else 'input names'}). "
                    f"Received: a dict with keys {list(inputs)}. Key the data by those names."
                )
            return [inputs[k] for k in keys]
        if isinstance(inputs, (list, tuple)):
            if len(inputs) == expected:
                return list(inputs)
        elif expected == 1:
            return [inputs]
        received = f"{len(inputs)} inputs" if isinstance(inputs, (list, tuple)) else "1 input"
        names = list(structure) if isinstance(structure, dict) else [t.name for t in self.inputs]
        raise ValueError(
            f"Expected {expected} inputs for the model's inputs {names}. Received: {received}. "
            "Pass a list with one array per input, in order, or a dict keyed by these names."
        )

    def _pack_outputs(self, values: list[Any]) -> Any:
        structure = self.output_structure
        slots = self._output_slots
        if isinstance(structure, KerasTensor) or (len(slots) == 1 and isinstance(structure, list)):
            # Keras returns a lone output as a tensor, even when given as a list of one.
            return values[slots[0]]
        if isinstance(structure, dict):
            return {key: values[slot] for key, slot in zip(sorted(structure), slots)}
        return [values[slot] for slot in slots]

    # ------------------------------------------------------------------ describing
    def output_names(self) -> list[str]:
        return [name_of(t._keras_history.operation) for t in self.outputs]  # type: ignore[union-attr]


def name_of(operation: Any) -> str:
    """A layer's name; a plain torch module's snake-cased class name."""
    name = getattr(operation, "name", None)
    return name if isinstance(name, str) else to_snake_case(type(operation).__name__)


def _conform(value: Any, spec: tuple[torch.dtype, int, tuple[int | None, ...]]) -> Any:
    """An input as the model's Input declares it: a tensor of its dtype and rank."""
    dtype, ndim, shape = spec
    if not isinstance(value, torch.Tensor):
        if value is None:
            return value
        value = torch.as_tensor(np.asarray(value))
    if value.dtype != dtype:
        value = value.to(dtype)
    rank = value.dim()
    if rank != ndim:
        # Keras accepts a missing or extra trailing axis of size 1: labels of shape (n,) for
        # an Input of shape (1,).
        if rank == ndim - 1 and shape[-1] == 1:
            value = value.unsqueeze(-1)
        elif rank == ndim + 1 and value.shape[-1] == 1:
            value = value.squeeze(-1)
        else:
            raise ValueError(
                f"Expected an input of shape {shape} (rank {ndim}). Received: an input of "
                f"shape {tuple(value.shape)}. Reshape the data so that each sample has shape "
                f"{shape[1:]}."
            )
    return value


# ---------------------------------------------------------------------------- registration
def attach_graph(model: Model, inputs: Any, outputs: Any) -> Graph:
    """Makes `model` run the graph between `inputs` and `outputs`; registers its layers."""
    graph = Graph(inputs, outputs)
    counts: dict[str, int] = {}
    for layer in graph.layers:
        if not isinstance(layer, torch.nn.Module):
            continue
        base = to_snake_case(type(layer).__name__)
        count = counts.get(base, 0)
        counts[base] = count + 1
        # Per-class counters in `layers` order: Keras's weight-file keys, and state_dict
        # keys that match between two models of one architecture.
        model.add_module(base if count == 0 else f"{base}_{count}", layer)
    model.__dict__["_graph"] = graph
    # Keras's weight files key a functional model's layers by class: see saving/keras_h5.py.
    model.__dict__["_lists_its_layers"] = True
    return graph


@register_keras_serializable(package="keras")
class Functional(Model):
    """A model defined by a graph of layers: what `kfit.Model(inputs, outputs)` returns.

    Calling it runs the recorded layer calls in order on real tensors; inputs may be a tensor,
    a list (in the order of `inputs`) or a dict (keyed as `inputs` was). It is a torch module:
    its layers are submodules, named by class (`dense`, `dense_1`, ...).

    Args:
        inputs: A KerasTensor from `kfit.Input`, or a list or dict of them.
        outputs: KerasTensors computed from the inputs (one, a list or a dict).
        name: The model's name; default `functional`, `functional_1`, ...
        trainable: Whether its weights are trained.

    Example:
        >>> import kfit
        >>> inputs = kfit.Input(shape=(4,))
        >>> hidden = kfit.layers.Dense(8, activation="relu")(inputs)
        >>> model = kfit.Model(inputs, [kfit.layers.Dense(1, name="a")(hidden), kfit.layers.Dense(2, name="b")(hidden)])
        >>> type(model).__name__, model.output_names
        ('Functional', ['a', 'b'])
        >>> [tuple(y.shape) for y in model(torch.ones(3, 4))]
        [(3, 1), (3, 2)]
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return functional_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Functional:
        return functional_from_config(cls, config, custom_objects)


# ---------------------------------------------------------------------------- config
_OPS_MODULE = "keras.src.ops.numpy"


def _tensor_record(tensor: KerasTensor, node_indices: dict[int, int]) -> dict[str, Any]:
    history = tensor._keras_history
    assert history is not None
    node = inbound_nodes(history.operation)[history.node_index]
    return {
        "class_name": "__keras_tensor__",
        "config": {
            "shape": list(tensor.shape),
            "dtype": tensor.dtype,
            "keras_history": [history.operation.name, node_indices[id(node)], history.tensor_index],
        },
    }


def _argument_record(value: Any, node_indices: dict[int, int]) -> Any:
    from kfit.saving.serialization_lib import serialize_keras_object

    if isinstance(value, KerasTensor):
        return _tensor_record(value, node_indices)
    if isinstance(value, slice):
        return {"class_name": "__slice__", "config": {"start": value.start, "stop": value.stop, "step": value.step}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, (list, tuple)):
        return [_argument_record(v, node_indices) for v in value]
    if isinstance(value, dict):
        return {str(k): _argument_record(v, node_indices) for k, v in value.items()}
    return serialize_keras_object(value)


def _build_config(layer: Any) -> dict[str, Any] | None:
    shape = getattr(layer, "_build_input_shape", None)
    if shape is None:
        shape = getattr(layer, "_declared_input_shape", None)
    if shape is None:
        return None
    return {"input_shape": _as_lists(shape)}


def _as_lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    return value


def _io_record(structure: Any, flat: list[KerasTensor], node_indices: dict[int, int]) -> Any:
    def one(tensor: KerasTensor) -> list[Any]:
        history = tensor._keras_history
        assert history is not None
        node = inbound_nodes(history.operation)[history.node_index]
        return [history.operation.name, node_indices[id(node)], history.tensor_index]

    if isinstance(structure, KerasTensor):
        return one(structure)
    if isinstance(structure, dict):
        return {key: one(value) for key, value in structure.items()}
    return [one(t) for t in flat]


def functional_config(model: Model) -> dict[str, Any]:
    """Keras's config of a functional model: its layers, their calls, its inputs and outputs.

    Example:
        >>> import kfit
        >>> x = kfit.Input((3,))
        >>> config = functional_config(kfit.Model(x, kfit.layers.Dense(2)(x)))
        >>> sorted(config), [entry["class_name"] for entry in config["layers"]]
        (['input_layers', 'layers', 'name', 'output_layers', 'trainable'], ['InputLayer', 'Dense'])
    """
    from kfit.saving.model_io import layer_record

    graph: Graph = model.__dict__["_graph"]
    # Node indices in a config count only the calls inside this model.
    node_indices: dict[int, int] = {}
    for op in graph.operations:
        for index, node in enumerate(graph.nodes_of(op)):
            node_indices[id(node)] = index
    layers = []
    for op in graph.operations:
        if isinstance(op, Operation):
            if not op.serializable:
                raise ValueError(
                    f"Expected every step of model {model.name!r} to be savable in a config. "
                    f"Received: the torch function step {op.name!r} ({op.fn!r}), which a Keras "
                    "config cannot name. Wrap the computation in a layer (a `kfit.layers.Layer` "
                    "subclass with `get_config`) and call that layer instead."
                )
            entry: dict[str, Any] = {
                "module": _OPS_MODULE,
                "class_name": op.class_name,
                "config": op.get_config(),
                "registered_name": op.class_name,
            }
        else:
            entry = layer_record(op, f"layer {op.name!r}")
            build_config = None if op.__class__.__name__ == "InputLayer" else _build_config(op)
            if build_config is not None:
                entry["build_config"] = build_config
        entry["name"] = op.name
        entry["inbound_nodes"] = [
            {
                "args": _argument_record(list(node.call_args), node_indices),
                "kwargs": _argument_record(node.call_kwargs, node_indices),
            }
            for node in graph.nodes_of(op)
            if not node.is_input
        ]
        layers.append(entry)
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": _io_record(graph.input_structure, graph.inputs, node_indices),
        "output_layers": _io_record(graph.output_structure, graph.outputs, node_indices),
    }


def _rebuild_argument(value: Any, tensors: dict[tuple[str, int], list[KerasTensor]]) -> Any:
    if isinstance(value, list):
        return [_rebuild_argument(v, tensors) for v in value]
    if isinstance(value, dict):
        class_name = value.get("class_name")
        inner: Any = value.get("config")
        if class_name == "__keras_tensor__":
            name, node_index, tensor_index = inner["keras_history"]
            return tensors[(name, node_index)][tensor_index]
        if class_name == "__slice__":
            return slice(inner["start"], inner["stop"], inner["step"])
        if class_name == "__ellipsis__":
            return Ellipsis
        if class_name is not None and "config" in value:
            from kfit.saving.serialization_lib import deserialize_keras_object

            return deserialize_keras_object(value)
        return {k: _rebuild_argument(v, tensors) for k, v in value.items()}
    return value


def _references(value: Any) -> list[tuple[str, int]]:
    if isinstance(value, list):
        return [ref for v in value for ref in _references(v)]
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            name, node_index, _ = value["config"]["keras_history"]
            return [(name, node_index)]
        return [ref for v in value.values() for ref in _references(v)]
    return []


def _is_op_entry(entry: Mapping[str, Any]) -> bool:
    module = str(entry.get("module") or "")
    return module.startswith(("keras.src.ops", "keras.ops", "kfit.ops"))


def functional_from_config(cls: type[Model], config: Mapping[str, Any], custom_objects: Any = None) -> Any:
    """Rebuilds a functional model from `functional_config`'s output (or Keras's).

    Each layer is rebuilt from its record, then its calls are replayed on KerasTensors in an
    order where every call's inputs exist, which builds the layers as the original calls did.

    Example:
        >>> import kfit
        >>> x = kfit.Input((3,))
        >>> model = kfit.Model(x, kfit.layers.Dense(2)(x) * 2.0)
        >>> clone = functional_from_config(Functional, functional_config(model))
        >>> clone.output_shape, [type(layer).__name__ for layer in clone.layers]
        ((None, 2), ['InputLayer', 'Dense'])
    """
    from kfit.saving.model_io import rebuild_layer
    from kfit.saving.object_registration import custom_object_scope

    for key in ("layers", "input_layers", "output_layers"):
        if key not in config:
            raise ValueError(
                f"Expected a functional model's config with the key {key!r} (and 'layers', "
                "'input_layers', 'output_layers'). Received: config with keys "
                f"{sorted(config)}. Pass what get_config() of a functional model returned."
            )
    created: dict[str, Any] = {}
    pending: dict[str, collections.deque[Any]] = {}
    tensors: dict[tuple[str, int], list[KerasTensor]] = {}
    replayed: collections.Counter[str] = collections.Counter()
    with custom_object_scope(custom_objects or {}):
        for entry in config["layers"]:
            name = entry.get("name") or entry["config"]["name"]
            if _is_op_entry(entry):
                op_config = dict(entry.get("config") or {})
                op_config.pop("name", None)
                class_name = entry["class_name"]
                fn = op_function(class_name)
                if fn is None:
                    raise ValueError(
                        f"Expected the saved op {name!r} to be one kfit can run: an operator "
                        f"or a `kfit.ops` function. Received: class_name={class_name!r} (of "
                        f"type str), which kfit.ops does not define (as "
                        f"{to_snake_case(class_name)!r}). Replace it with a layer in the model."
                    )
                layer: Any = Operation(fn, class_name, name=name, config=op_config)
            else:
                layer = rebuild_layer(entry)
            created[name] = layer
            pending[name] = collections.deque(entry.get("inbound_nodes") or [])
            if type(layer).__name__ == "InputLayer":
                tensors[(name, 0)] = [layer.output]
                replayed[name] = 1
        progress = True
        while progress and any(pending.values()):
            progress = False
            for name, queue in pending.items():
                # A layer's calls replay in their order, each once its inputs exist.
                while queue and all(ref in tensors for ref in _references(queue[0])):
                    node_config = queue.popleft()
                    layer = created[name]
                    args = _rebuild_argument(node_config.get("args", []), tensors)
                    kwargs = _rebuild_argument(node_config.get("kwargs", {}), tensors)
                    if isinstance(layer, Operation):
                        if layer.class_name == "GetItem" and len(args) == 2 and isinstance(args[1], list):
                            args[1] = tuple(args[1])  # JSON turned the index tuple into a list
                        out = symbolic_op(layer, tuple(args), kwargs)
                    else:
                        out = layer(*args, **kwargs)
                    tensors[(name, replayed[name])] = [t for t in flatten(out) if isinstance(t, KerasTensor)]
                    replayed[name] += 1
                    progress = True
    stuck = {name: len(queue) for name, queue in pending.items() if queue}
    if stuck:
        raise ValueError(
            "Expected every layer call in the config to depend on inputs and other calls it "
            f"lists. Received: calls of {sorted(stuck)} whose inputs no layer produces. The "
            "config is damaged or incomplete; save the model again."
        )

    def resolve(record: Any) -> Any:
        if isinstance(record, dict):
            return {key: resolve(value) for key, value in record.items()}
        if record and isinstance(record[0], str):
            name, node_index, tensor_index = record
            return tensors[(name, node_index)][tensor_index]
        return [resolve(r) for r in record]

    inputs = resolve(config["input_layers"])
    outputs = resolve(config["output_layers"])
    model = cls(inputs=inputs, outputs=outputs, name=config.get("name"))
    if config.get("trainable") is False:
        model.trainable = False
    return model
