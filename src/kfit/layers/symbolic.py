"""Symbolic tensors and the graph they record: the machinery behind Keras's functional API.

`keras.Input(shape)` returns a `KerasTensor`: a shape (None for unknown dimensions) and a
dtype, with no data. A layer called on KerasTensors does not compute anything: `Layer.__call__`
hands the call to `symbolic_call`, which

1. builds the layer from the inputs' shapes (`Layer._maybe_build`, or `build(**shapes)` for a
   layer whose `build` takes one shape per call argument);
2. works out the outputs' shapes and dtypes without real data: from the layer's own
   `compute_output_shape` when its class defines one, else by running the call on `meta`
   tensors (no memory, no compute) with the layer's weights swapped for meta copies through
   `torch.func.functional_call`. Unknown dimensions get two different sizes in two runs; an
   output dimension that differs between the runs is unknown too;
3. records a `Node` (the layer, its call arguments with KerasTensors in them, its outputs) and
   returns new KerasTensors whose `_keras_history` is `(layer, node_index, tensor_index)`.

`kfit.models.functional` walks these nodes back from a model's outputs to its inputs and runs
them in order. Python operators on KerasTensors (`x + y`, `x * 2`, `x[:, 0]`, ...) and torch
functions called on them (`torch.cat([x, y], 1)`) are recorded the same way, as an
`Operation`: a function with a name, as Keras records its `ops`; `op_call` is the entry point
for `kfit.ops` functions called on KerasTensors.

A layer whose weights are created inside its `call` (a block that builds its sublayers on
first use) cannot run on meta tensors without losing those weights (a layer built on its
first input moves to that input's device), so such a layer runs once on zero tensors on its
own device first, to build them, as its first real call would; the shape inference after
that is on meta tensors again. A layer that cannot run on
meta tensors at all (it reads values back to the host) is inferred from zero tensors too, as
Keras's torch backend does.
"""

from __future__ import annotations

import inspect
import itertools
import operator
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch

from kfit.backend.dtypes import standardize_dtype, to_torch_dtype
from kfit.utils.naming import auto_name, uniquify

__all__ = [
    "KerasHistory",
    "KerasTensor",
    "Node",
    "Operation",
    "any_symbolic",
    "get_source_inputs",
    "is_keras_tensor",
    "layer_input",
    "layer_output",
    "op_call",
    "output_shapes",
    "symbolic_call",
    "symbolic_op",
]

Shape = tuple[int | None, ...]

# The sizes given to unknown dimensions in the two inference runs. They are large enough for
# the valid convolutions and strided poolings of ordinary networks, and differ after several
# halvings (32 -> 1 and 57 -> 2 after five), so a dimension that follows an unknown one is
# seen to change.
_PROBE_SIZES = (32, 57)


class KerasHistory(NamedTuple):
    """Where a KerasTensor comes from: the `operation` (layer) that made it, which of its calls
    (`node_index` into its inbound nodes), and which of that call's outputs (`tensor_index`)."""

    operation: Any
    node_index: int
    tensor_index: int


class KerasTensor:
    """A symbolic tensor: the shape and dtype of a value a model will compute, without data.

    `keras.Input` returns one; calling a layer (or a Python operator, or a torch function) on
    one returns new ones and records the call, so that `kfit.Model(inputs, outputs)` can run
    the recorded graph on real tensors later.

    Args:
        shape: The shape; `None` for a dimension not known in advance (the batch, usually).
        dtype: A dtype name or `torch.dtype`; kept as its Keras name (`"float32"`).
        sparse: Accepted for Keras compatibility; kfit tensors are dense.
        name: A unique name; by default `keras_tensor`, `keras_tensor_1`, ...

    Example:
        >>> import kfit
        >>> x = kfit.Input(shape=(3,))
        >>> x.shape, x.dtype, x.ndim
        ((None, 3), 'float32', 2)
        >>> y = kfit.layers.Dense(4)(x) * 2
        >>> y.shape, type(y._keras_history.operation).__name__
        ((None, 4), 'Operation')
    """

    # Torch prefers this class's `__torch_function__` over the tensors' own.
    __torch_function_priority__ = 1000

    def __init__(
        self,
        shape: Any,
        dtype: Any = "float32",
        sparse: bool = False,
        name: str | None = None,
    ) -> None:
        self._shape: Shape = _standardize_shape(shape)
        self._dtype = standardize_dtype(dtype)
        self.sparse = bool(sparse)
        self.ragged = False
        self.name = name or uniquify("keras_tensor")
        self._keras_history: KerasHistory | None = None
        # The symbolic mask the value will carry (a boolean KerasTensor), as in Keras.
        self._keras_mask: KerasTensor | None = None

    @property
    def shape(self) -> Shape:
        return self._shape

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def __repr__(self) -> str:
        return (
            f"<KerasTensor shape={self._shape}, dtype={self._dtype}, sparse={self.sparse}, "
            f"ragged={self.ragged}, name={self.name}>"
        )

    # ------------------------------------------------------------------ no data here
    def __bool__(self) -> bool:
        raise TypeError(
            "A symbolic KerasTensor cannot be used as a boolean: it has no value until the "
            f"model runs. Received: {self!r}. Use the condition inside a layer's `call`, where "
            "inputs are real tensors, or `kfit.ops.where`/`kfit.ops.cond`."
        )

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(
            "Iterating over a symbolic KerasTensor is not supported: its values are not known "
            f"until the model runs. Received: {self!r}. Index it instead (`x[:, 0]`), or loop "
            "inside a layer's `call`."
        )

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(self._no_value_message("converted to a NumPy array"))

    def __int__(self) -> int:
        raise TypeError(self._no_value_message("converted to an int"))

    def __float__(self) -> float:
        raise TypeError(self._no_value_message("converted to a float"))

    def _no_value_message(self, what: str) -> str:
        return (
            f"A symbolic KerasTensor cannot be {what}: it has no value until the model runs. "
            f"Received: {self!r}. Do the computation in a layer's `call` (a `kfit.layers.Layer` "
            "subclass), which gets real tensors, and call that layer on the KerasTensor."
        )

    # ------------------------------------------------------------------ recorded operators
    def __add__(self, other: Any) -> Any:
        return _operator("Add", operator.add, self, other)

    def __radd__(self, other: Any) -> Any:
        return _operator("Add", operator.add, other, self)

    def __sub__(self, other: Any) -> Any:
        return _operator("Subtract", operator.sub, self, other)

    def __rsub__(self, other: Any) -> Any:
        return _operator("Subtract", operator.sub, other, self)

    def __mul__(self, other: Any) -> Any:
        return _operator("Multiply", operator.mul, self, other)

    def __rmul__(self, other: Any) -> Any:
        return _operator("Multiply", operator.mul, other, self)

    def __matmul__(self, other: Any) -> Any:
        return _operator("Matmul", operator.matmul, self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return _operator("Matmul", operator.matmul, other, self)

    def __truediv__(self, other: Any) -> Any:
        return _operator("TrueDivide", operator.truediv, self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _operator("TrueDivide", operator.truediv, other, self)

    def __floordiv__(self, other: Any) -> Any:
        return _operator("FloorDivide", operator.floordiv, self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return _operator("FloorDivide", operator.floordiv, other, self)

    def __mod__(self, other: Any) -> Any:
        return _operator("Mod", operator.mod, self, other)

    def __rmod__(self, other: Any) -> Any:
        return _operator("Mod", operator.mod, other, self)

    def __pow__(self, other: Any) -> Any:
        return _operator("Power", operator.pow, self, other)

    def __rpow__(self, other: Any) -> Any:
        return _operator("Power", operator.pow, other, self)

    def __neg__(self) -> Any:
        return _operator("Negative", operator.neg, self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return _operator("Absolute", operator.abs, self)

    def __lt__(self, other: Any) -> Any:
        return _operator("Less", operator.lt, self, other)

    def __le__(self, other: Any) -> Any:
        return _operator("LessEqual", operator.le, self, other)

    def __gt__(self, other: Any) -> Any:
        return _operator("Greater", operator.gt, self, other)

    def __ge__(self, other: Any) -> Any:
        return _operator("GreaterEqual", operator.ge, self, other)

    # As in Keras, `==` keeps Python's identity meaning (KerasTensors are dict keys), and `!=`
    # is the element-wise op.
    __hash__ = object.__hash__

    def __ne__(self, other: Any) -> Any:
        return _operator("NotEqual", operator.ne, self, other)

    def __and__(self, other: Any) -> Any:
        return _operator("LogicalAnd", operator.and_, self, other)

    def __rand__(self, other: Any) -> Any:
        return _operator("LogicalAnd", operator.and_, other, self)

    def __or__(self, other: Any) -> Any:
        return _operator("LogicalOr", operator.or_, self, other)

    def __ror__(self, other: Any) -> Any:
        return _operator("LogicalOr", operator.or_, other, self)

    def __xor__(self, other: Any) -> Any:
        return _operator("LogicalXor", operator.xor, self, other)

    def __rxor__(self, other: Any) -> Any:
        return _operator("LogicalXor", operator.xor, other, self)

    def __invert__(self) -> Any:
        return _operator("LogicalNot", operator.invert, self)

    def __getitem__(self, key: Any) -> Any:
        return _operator("GetItem", get_item, self, key)

    def __round__(self, ndigits: int | None = None) -> Any:
        return symbolic_op(Operation(_round, "Round", config={"decimals": ndigits or 0}), (self,), {})

    def reshape(self, newshape: Any) -> Any:
        """Records a reshape to `newshape` (batch dimension included; -1 allowed)."""
        newshape = tuple(newshape) if isinstance(newshape, (list, tuple)) else (newshape,)
        return symbolic_op(Operation(_reshape, "Reshape", config={"newshape": newshape}), (self,), {})

    def squeeze(self, axis: int | None = None) -> Any:
        """Records dropping dimensions of size 1 (all of them, or `axis`)."""
        return symbolic_op(Operation(_squeeze, "Squeeze", config={"axis": axis}), (self,), {})

    @classmethod
    def __torch_function__(
        cls, func: Callable[..., Any], types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        # A torch function called on KerasTensors (`torch.cat([x, y], 1)`) becomes a step of
        # the graph, run on the real tensors later.
        return op_call(func, tuple(args), dict(kwargs or {}))


def _standardize_shape(shape: Any) -> Shape:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list, torch.Size)):
        raise ValueError(
            "Expected a shape: a tuple of ints, with None for unknown dimensions. "
            f"Received: shape={shape!r} (of type {type(shape).__name__}). Pass e.g. (None, 784)."
        )
    out: list[int | None] = []
    for d in shape:
        if d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0):
            out.append(None if d is None else int(d))
        elif hasattr(d, "__index__") and not isinstance(d, bool) and int(d) >= 0:
            out.append(int(d))
        else:
            raise ValueError(
                "Expected every dimension of a shape to be a non-negative int or None. "
                f"Received: shape={shape!r} (of type {type(shape).__name__}). Use None for a "
                "dimension that is not known in advance."
            )
    return tuple(out)


def is_keras_tensor(x: Any) -> bool:
    """Whether `x` is a symbolic `KerasTensor` (Keras's `keras.utils.is_keras_tensor`).

    Example:
        >>> import kfit
        >>> is_keras_tensor(kfit.Input((2,))), is_keras_tensor(torch.zeros(2))
        (True, False)
    """
    return isinstance(x, KerasTensor)


# ---------------------------------------------------------------------------- structures
def flatten(structure: Any) -> list[Any]:
    """The leaves of nested lists, tuples and dicts (dict values in insertion order)."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in flatten(item)]
    return [structure]


def map_structure(fn: Callable[[Any], Any], structure: Any) -> Any:
    """`structure` with `fn` applied to each leaf; lists, tuples and dicts keep their type."""
    if isinstance(structure, list):
        return [map_structure(fn, item) for item in structure]
    if isinstance(structure, tuple):
        values = [map_structure(fn, item) for item in structure]
        # Named tuples keep their type; other tuple types (torch's return types) become tuples.
        return structure._make(values) if hasattr(structure, "_make") else tuple(values)
    if isinstance(structure, dict):
        return {key: map_structure(fn, item) for key, item in structure.items()}
    return fn(structure)


def _contains_keras_tensor(structure: Any) -> bool:
    if isinstance(structure, KerasTensor):
        return True
    if isinstance(structure, (list, tuple)):
        return any(_contains_keras_tensor(item) for item in structure)
    if isinstance(structure, dict):
        return any(_contains_keras_tensor(item) for item in structure.values())
    return False


def any_symbolic(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether any argument (nested in lists, tuples or dicts) is a `KerasTensor`.

    Example:
        >>> import kfit
        >>> any_symbolic(([kfit.Input((2,)), 1.0],), {}), any_symbolic((torch.ones(1),), {})
        (True, False)
    """
    return _contains_keras_tensor(args) or (bool(kwargs) and _contains_keras_tensor(kwargs))


# ---------------------------------------------------------------------------- the graph
class Operation:
    """A function recorded in a functional graph, as Keras records its `ops`.

    Python operators on KerasTensors make these (`Add`, `Multiply`, `GetItem`, ...); so do
    torch functions called on KerasTensors. An Operation is not a layer: it has no weights,
    is not listed in `model.layers`, and shows up in `summary()` and `get_config()` under its
    `name` (`add`, `add_1`, ...) and Keras's class name.

    Args:
        fn: What the step computes, called with the real tensors in place of the KerasTensors.
        class_name: Keras's name of the op (`"Add"`); its snake case starts the default name.
        name: A unique name; by default from `class_name`, counted like layer names.
        config: The op's own arguments (`{"decimals": 0}`): passed to `fn` as keywords on
            every call and saved in `get_config()`, as Keras stores an op's settings.
        serializable: False for torch functions, which a Keras config cannot name.

    Example:
        >>> import kfit
        >>> y = kfit.Input((2,)) + 1.0
        >>> op = y._keras_history.operation
        >>> op.class_name, op.get_config()["name"].startswith("add")
        ('Add', True)
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        class_name: str,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        serializable: bool = True,
    ) -> None:
        self.fn = fn
        self.class_name = class_name
        self.name = name or auto_name(class_name)
        self.config = dict(config or {})
        self.serializable = serializable
        self._inbound_nodes: list[Node] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.config:
            kwargs = {**self.config, **kwargs}
        return self.fn(*args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.config}

    def __repr__(self) -> str:
        return f"<Operation {self.class_name} name={self.name}>"


def get_item(x: Any, key: Any) -> Any:
    """`x[key]`; a key saved to JSON comes back as a list, which here means a tuple of indices."""
    if isinstance(key, list) and any(k is None or k is Ellipsis or isinstance(k, slice) for k in key):
        key = tuple(key)
    return x[key]


def _reshape(x: torch.Tensor, newshape: Any) -> torch.Tensor:
    return torch.reshape(x, tuple(newshape))


def _round(x: torch.Tensor, decimals: int = 0) -> torch.Tensor:
    return torch.round(x, decimals=decimals)


def _squeeze(x: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    return torch.squeeze(x) if axis is None else torch.squeeze(x, axis)


# Keras's ops that Python operators and KerasTensor methods record, by class name: what
# `Functional.from_config` rebuilds a saved op from.
OPERATIONS: dict[str, Callable[..., Any]] = {
    "Add": operator.add,
    "Subtract": operator.sub,
    "Multiply": operator.mul,
    "Matmul": operator.matmul,
    "TrueDivide": operator.truediv,
    "Divide": operator.truediv,
    "FloorDivide": operator.floordiv,
    "Mod": operator.mod,
    "Power": operator.pow,
    "Negative": operator.neg,
    "Absolute": operator.abs,
    "Less": operator.lt,
    "LessEqual": operator.le,
    "Greater": operator.gt,
    "GreaterEqual": operator.ge,
    "NotEqual": operator.ne,
    "LogicalAnd": operator.and_,
    "LogicalOr": operator.or_,
    "LogicalXor": operator.xor,
    "LogicalNot": operator.invert,
    "GetItem": get_item,
    "Round": _round,
    "Reshape": _reshape,
    "Squeeze": _squeeze,
}


def _operator(class_name: str, fn: Callable[..., Any], *args: Any) -> Any:
    return symbolic_op(Operation(fn, class_name), args, {})


def op_function(class_name: str) -> Callable[..., Any] | None:
    """The function a saved op of Keras class `class_name` runs: an operator, or `kfit.ops`'s
    function of that name in snake case (`"Mean"` -> `kfit.ops.mean`); None if neither."""
    if class_name in OPERATIONS:
        return OPERATIONS[class_name]
    try:
        import kfit.ops as ops_module
    except ImportError:
        return None
    from kfit.utils.naming import to_snake_case

    found = getattr(ops_module, to_snake_case(class_name), None)
    return found if callable(found) else None


def op_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Records a call of the op function `fn` on KerasTensors, named as Keras names its ops.

    What a `kfit.ops` function does when one of its arguments is a KerasTensor: the step is
    saved as Keras's op class (`mean` -> `"Mean"`) and rebuilt from `kfit.ops` on load.

    Example:
        >>> import kfit
        >>> y = op_call(torch.exp, (kfit.Input((2,)),), {})
        >>> y._keras_history.operation.class_name, y.shape
        ('Exp', (None, 2))
    """
    name = getattr(fn, "__name__", type(fn).__name__).strip("_")
    class_name = "".join(part.capitalize() for part in name.split("_"))
    # An operator's class name (`Add`) is rebuilt as the operator, which is what
    # `kfit.ops.add` computes; any other op is rebuilt from `kfit.ops` by name.
    import kfit.ops as ops_module

    serializable = op_function(class_name) is fn or getattr(ops_module, name, None) is fn
    return symbolic_op(Operation(fn, class_name, serializable=serializable), args, kwargs)


class Node:
    """One recorded call: `operation(*call_args, **call_kwargs)` returned `outputs`.

    The arguments keep their structure, with KerasTensors where tensors will be; constants
    (`training=True`, the `2` of `x * 2`, a slice) stay as they were passed.

    Example:
        >>> import kfit
        >>> x = kfit.Input((2,))
        >>> dense = kfit.layers.Dense(3)
        >>> y = dense(x)
        >>> node = dense._inbound_nodes[0]
        >>> node.input_tensors == [x], node.output_tensors == [y]
        (True, True)
    """

    __slots__ = ("call_args", "call_kwargs", "input_tensors", "operation", "output_tensors", "outputs")

    def __init__(self, operation: Any, call_args: tuple[Any, ...], call_kwargs: dict[str, Any], outputs: Any) -> None:
        self.operation = operation
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs
        self.input_tensors: list[KerasTensor] = [
            t for t in flatten((call_args, call_kwargs)) if isinstance(t, KerasTensor)
        ]
        self.output_tensors: list[KerasTensor] = [t for t in flatten(outputs) if isinstance(t, KerasTensor)]

    @property
    def is_input(self) -> bool:
        """Whether this node starts the graph (an `Input`)."""
        return not self.input_tensors

    @property
    def parent_nodes(self) -> list[Node]:
        """The nodes that produced this node's inputs, in argument order."""
        parents = []
        for t in self.input_tensors:
            history = t._keras_history
            if history is not None:
                parents.append(inbound_nodes(history.operation)[history.node_index])
        return parents

    def __repr__(self) -> str:
        return f"<Node of {getattr(self.operation, 'name', self.operation)!r}>"


def inbound_nodes(operation: Any) -> list[Node]:
    """The calls recorded on a layer or operation so far, oldest first."""
    found = operation.__dict__.get("_inbound_nodes")
    if found is None:
        found = []
        operation.__dict__["_inbound_nodes"] = found
    return found


def record(operation: Any, args: tuple[Any, ...], kwargs: dict[str, Any], outputs: Any) -> Any:
    """Records `operation(*args, **kwargs) -> outputs` as a node and returns `outputs`.

    `outputs` holds new KerasTensors (or other values); each KerasTensor gets its history.
    """
    nodes = inbound_nodes(operation)
    node = Node(operation, args, kwargs, outputs)
    for index, tensor in enumerate(node.output_tensors):
        tensor._keras_history = KerasHistory(operation, len(nodes), index)
    nodes.append(node)
    return outputs


def get_source_inputs(tensor: Any) -> list[KerasTensor]:
    """The `Input` tensors that `tensor` is computed from, in the order Keras lists them.

    The graph is walked back from `tensor`, first argument first; each input appears once,
    where the walk first reaches it. A KerasTensor that no layer produced is its own source.

    Args:
        tensor: A KerasTensor (or a list or dict of them).

    Returns:
        The source KerasTensors, as a list.

    Raises:
        TypeError: when `tensor` holds no KerasTensor.

    Example:
        >>> import kfit
        >>> a, b = kfit.Input((2,), name="a"), kfit.Input((2,), name="b")
        >>> y = kfit.layers.Add()([kfit.layers.Dense(2)(b), a])
        >>> get_source_inputs(y) == [b, a]
        True
    """
    tensors = [t for t in flatten(tensor) if isinstance(t, KerasTensor)]
    if not tensors:
        raise TypeError(
            "Expected a KerasTensor, the output of a layer called on `kfit.Input(...)`. "
            f"Received: tensor={tensor!r} (of type {type(tensor).__name__}). Pass a symbolic "
            "tensor; a real tensor has no graph to walk."
        )
    sources: list[KerasTensor] = []
    visited: set[int] = set()
    # Depth first with an explicit stack: a deep network would exceed Python's recursion limit.
    stack = tensors[::-1]
    while stack:
        current = stack.pop()
        history = current._keras_history
        nodes = inbound_nodes(history.operation) if history is not None else []
        if not nodes:
            if all(current is not s for s in sources):
                sources.append(current)
            continue
        node = nodes[history.node_index]  # type: ignore[union-attr]
        if id(node) in visited:
            continue  # its sources are listed already
        visited.add(id(node))
        if node.is_input:
            sources.extend(t for t in node.output_tensors if all(t is not s for s in sources))
        else:
            stack.extend(node.input_tensors[::-1])
    return sources


def _node_attribute(layer: Any, what: str) -> Any:
    nodes = inbound_nodes(layer)
    if not nodes:
        # An AttributeError, as Keras raises: `hasattr(layer, "output")` stays False.
        raise AttributeError(
            f"Expected layer {getattr(layer, 'name', layer)!r} to have been called on a "
            f"KerasTensor before reading its `{what}`. Received: a layer never called "
            "symbolically. Call it on `kfit.Input(...)` (or inside a functional model) first."
        )
    node = nodes[0]
    if what == "input":
        tensors = node.input_tensors
    else:
        tensors = node.output_tensors
    return tensors[0] if len(tensors) == 1 else list(tensors)


def layer_input(layer: Any) -> Any:
    """The KerasTensor(s) a layer was first called on (Keras's `layer.input`).

    Like Keras 3, a layer called several times answers for its first call.

    Example:
        >>> import kfit
        >>> x = kfit.Input((2,))
        >>> dense = kfit.layers.Dense(3)
        >>> _ = dense(x)
        >>> layer_input(dense) is x
        True
    """
    return _node_attribute(layer, "input")


def layer_output(layer: Any) -> Any:
    """The KerasTensor(s) a layer's first call returned (Keras's `layer.output`).

    Example:
        >>> import kfit
        >>> dense = kfit.layers.Dense(3)
        >>> y = dense(kfit.Input((2,)))
        >>> layer_output(dense) is y
        True
    """
    return _node_attribute(layer, "output")


# ---------------------------------------------------------------------------- calls
def symbolic_call(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Calls `layer` on KerasTensors: builds it, infers its outputs and records the call.

    `Layer.__call__` sends every call with a KerasTensor among its arguments here. Plain torch
    modules can be called through it too (as `Sequential` does).

    Args:
        layer: A `kfit.layers.Layer` (or any `torch.nn.Module`).
        args: The positional arguments, with KerasTensors in them.
        kwargs: The keyword arguments (`training`, `mask`, other tensors, ...).

    Returns:
        New KerasTensors, in the structure the layer returns (a tensor, a list, ...).

    Example:
        >>> import kfit
        >>> y = symbolic_call(kfit.layers.Dense(4), (kfit.Input((3,)),), {})
        >>> y.shape, y.dtype
        ((None, 4), 'float32')
    """
    _build(layer, args, kwargs)
    previous_mask = _previous_mask(layer, args, kwargs)
    specs = _infer_from_compute_output_shape(layer, args, kwargs)
    if specs is None:
        # A layer whose call takes `mask` sees the incoming mask in the inference runs too (the
        # guide's TemporalSoftmax asserts it); the recorded call leaves it out, because at run
        # time the mask travels on the tensor.
        run_kwargs = kwargs
        if previous_mask is not None and "mask" not in kwargs and _call_takes_mask(layer):
            run_kwargs = {**kwargs, "mask": previous_mask}
        specs = _infer_by_running(layer, layer, args, run_kwargs)
    outputs = record(layer, args, kwargs, _to_keras_tensors(specs))
    mask = _infer_mask(layer, args, kwargs, previous_mask)
    if mask is not None:
        _attach_symbolic_masks(outputs, mask)
    return outputs


def _call_takes_mask(layer: Any) -> bool:
    return bool(getattr(layer, "_call_takes_mask", False))


def _previous_mask(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The mask a call receives: `mask=` when given, else the one its first input carries."""
    if kwargs.get("mask") is not None:
        return kwargs["mask"]
    first = args[0] if args else None
    if isinstance(first, KerasTensor):
        return first._keras_mask
    if isinstance(first, (list, tuple)):
        masks = [t._keras_mask if isinstance(t, KerasTensor) else None for t in first]
        return None if all(m is None for m in masks) else masks
    return None


def _infer_mask(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], previous_mask: Any) -> Any:
    """The output mask(s) of a symbolic call, from `compute_mask` run on stand-ins, or None."""
    from kfit.layers.layer import Layer

    if not isinstance(layer, Layer) or not args:
        return None
    if not (layer._makes_masks or (layer.supports_masking and previous_mask is not None)):
        return None

    def compute(size: int, device: torch.device) -> Any:
        first = _stand_ins(args[0], size, device)
        prev = _stand_ins(previous_mask, size, device)
        return map_structure(
            lambda t: _Spec(tuple(t.shape), standardize_dtype(t.dtype)) if isinstance(t, torch.Tensor) else None,
            layer.compute_mask(first, prev),
        )

    with torch.no_grad():
        try:
            runs = [compute(size, torch.device("meta")) for size in _PROBE_SIZES]
        except Exception:
            try:
                runs = [compute(size, torch.device("cpu")) for size in _PROBE_SIZES]
            except Exception:
                # A mask that cannot be worked out from shapes alone exists at run time only.
                return None
    merged = _merge_runs(runs[0], runs[1], layer.name)
    return map_structure(lambda m: KerasTensor(m.shape, m.dtype) if isinstance(m, _Spec) else None, merged)


def _attach_symbolic_masks(outputs: Any, mask: Any) -> None:
    tensors = [t for t in flatten(outputs) if isinstance(t, KerasTensor)]
    masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(tensors)
    for tensor, m in zip(tensors, masks):
        if isinstance(m, KerasTensor):
            tensor._keras_mask = m


def output_shapes(layer: Any, input_shape: Any) -> Any:
    """The output shape(s) of a built `layer` for inputs of `input_shape`, without recording.

    Inferred as `symbolic_call` infers them, with the batch dimension unknown; for shapes
    recorded at a real call (a subclassed model's layers).

    Example:
        >>> import kfit
        >>> layer = kfit.layers.Dense(3)
        >>> _ = layer(torch.ones(8, 4))
        >>> output_shapes(layer, (8, 4))
        (None, 3)
    """

    def symbolic(shape: Any) -> Any:
        if _is_shape(shape):
            return KerasTensor((None, *tuple(shape)[1:]))
        return [symbolic(s) for s in shape] if isinstance(shape, (list, tuple)) else shape

    args = (symbolic(input_shape),)
    specs = _infer_from_compute_output_shape(layer, args, {})
    if specs is None:
        specs = _infer_by_running(layer, layer, args, {})
    return map_structure(lambda s: s.shape if isinstance(s, _Spec) else s, specs)


def symbolic_op(op: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Records an `Operation` called on KerasTensors and returns its symbolic outputs.

    Example:
        >>> import kfit
        >>> y = symbolic_op(Operation(torch.exp, "Exp"), (kfit.Input((2,)),), {})
        >>> y.shape
        (None, 2)
    """
    specs = _infer_by_running(op, None, args, kwargs)
    return record(op, args, kwargs, _to_keras_tensors(specs))


class _Spec:
    """What an inference run learned about one output (not a tuple: structures recurse into those)."""

    __slots__ = ("dtype", "shape")

    def __init__(self, shape: Shape, dtype: str) -> None:
        self.shape = shape
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"{self.shape} {self.dtype}"


def _to_keras_tensors(specs: Any) -> Any:
    return map_structure(lambda s: KerasTensor(s.shape, s.dtype) if isinstance(s, _Spec) else s, specs)


def _shapes(structure: Any) -> Any:
    return map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else t, structure)


def _build(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if getattr(layer, "built", True) or not hasattr(layer, "_maybe_build"):
        return  # built already, or a torch module, which has nothing to build
    first = args[0] if args else next(iter(kwargs.values()))
    params = [
        p
        for p in inspect.signature(layer.build).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in params if p.default is p.empty]
    if len(required) <= 1:
        layer._maybe_build(_shapes(first))
        return
    # Keras maps a `build(query_shape, value_shape)` to the call's `query` and `value`.
    bound = inspect.signature(layer.call).bind_partial(*args, **kwargs).arguments
    shapes = {}
    for p in params:
        argument = p.name.removesuffix("_shape")
        if argument in bound:
            shapes[p.name] = _shapes(bound[argument])
        elif p.default is p.empty:
            raise ValueError(
                f"Expected the call of {type(layer).__name__} {layer.name!r} to pass an argument "
                f"`{argument}` for its build argument `{p.name}`. Received: call arguments "
                f"{sorted(bound)}. Name build's arguments after the call's, with `_shape` added."
            )
    layer._build_input_shape = _shapes(first)
    layer.build(**shapes)
    layer.built = True
    layer._apply_trainable()


def _overrides_compute_output_shape(layer: Any) -> bool:
    from kfit.layers.layer import Layer

    if not isinstance(layer, Layer):
        return False
    return getattr(type(layer), "compute_output_shape", None) is not Layer.compute_output_shape


def _is_shape(value: Any) -> bool:
    return isinstance(value, (tuple, list, torch.Size)) and all(
        d is None or (hasattr(d, "__index__") and not isinstance(d, bool)) for d in value
    )


def _infer_from_compute_output_shape(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Output specs from the layer's own `compute_output_shape`, or None to run the layer."""
    if len(args) != 1 or _contains_keras_tensor(kwargs) or not _overrides_compute_output_shape(layer):
        return None
    try:
        shapes = layer.compute_output_shape(_shapes(args[0]))
    except NotImplementedError:
        return None
    dtype = _output_dtype(layer, args[0])

    def to_spec(shape: Any) -> Any:
        if _is_shape(shape):
            return _Spec(_standardize_shape(shape), dtype)
        if isinstance(shape, (list, tuple)):
            return [to_spec(s) for s in shape]
        if isinstance(shape, dict):
            return {k: to_spec(s) for k, s in shape.items()}
        return shape

    return to_spec(shapes)


def _output_dtype(layer: Any, inputs: Any) -> str:
    # What the call would return: layers with floating weights compute in their dtype (Dense
    # casts integer pixels); weightless ones (Reshape, Flatten) keep their input's.
    dtype = layer.dtype
    for p in layer.parameters():
        if p.is_floating_point():
            dtype = standardize_dtype(p.dtype)
            break
    else:
        dtype = next((t.dtype for t in flatten(inputs) if isinstance(t, KerasTensor)), dtype)
    return _autocast_dtype(layer, dtype)


def _autocast_dtype(layer: Any, dtype: str) -> str:
    """`dtype` as the layer's policy leaves a floating output: in its compute dtype, once a
    mixed policy is in use (as `Layer._enter_precision` casts a real call's)."""
    from kfit.layers.layer import Layer, mixed_in_use

    if not (isinstance(layer, Layer) and mixed_in_use() and layer.autocast):
        return dtype
    # Imported here: kfit.ops loads every op, which `import kfit` leaves for first use.
    from kfit.ops.dtypes import FLOAT_DTYPES

    if dtype not in FLOAT_DTYPES or getattr(layer, "_is_keras_model", False):
        return dtype  # a model's outputs are its layers' own
    compute = layer.compute_dtype
    return compute if compute in FLOAT_DTYPES else dtype


def _unbuilt_sublayers(module: Any) -> bool:
    from kfit.layers.layer import Layer

    return isinstance(module, torch.nn.Module) and any(
        isinstance(m, Layer) and not m.built for m in module.modules() if m is not module
    )


def _infer_by_running(
    fn: Callable[..., Any], module: torch.nn.Module | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Output specs from running `fn` twice on stand-ins for the KerasTensors."""
    device = None
    if module is not None:
        device = next(itertools.chain(module.parameters(), module.buffers()), torch.empty(0)).device
        if device.type == "meta":
            device = torch.device("cpu")
    with _Quiet(module):
        if module is not None and _unbuilt_sublayers(module):
            # Its sublayers build on their first input and move to its device: that must be a
            # real one. One small real run builds them; the sizes below are then free.
            _run(fn, module, args, kwargs, _PROBE_SIZES[0], device or torch.device("cpu"))
        try:
            runs = [_run(fn, module, args, kwargs, size, torch.device("meta")) for size in _PROBE_SIZES]
        except Exception:
            # Something in the call needs values (a `.item()`, a NumPy conversion, a tensor
            # made on the default device): run it on zeros, as Keras's torch backend does.
            runs = [_run(fn, module, args, kwargs, size, device or torch.device("cpu")) for size in _PROBE_SIZES]
    return _merge_runs(runs[0], runs[1], getattr(module, "name", getattr(fn, "__name__", fn)))


class _Quiet:
    """Runs inference calls in inference mode, without autograd, leaving no trace on the layer.

    The layer and its sublayers go back to their own train/eval modes, and the losses the
    runs added (activity regularizers) are dropped.
    """

    def __init__(self, module: torch.nn.Module | None) -> None:
        self.module = module
        self.modes: list[tuple[torch.nn.Module, bool]] = []
        self.losses: list[tuple[Any, list[Any]]] = []
        self.no_grad = torch.no_grad()

    def __enter__(self) -> None:
        if self.module is not None:
            for m in self.module.modules():
                self.modes.append((m, m.training))
                if "_losses" in m.__dict__:
                    self.losses.append((m, list(m.__dict__["_losses"])))
            self.module.eval()
        self.no_grad.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.no_grad.__exit__(*exc)
        for m, mode in self.modes:
            m.training = mode
        for m, losses in self.losses:
            m.__dict__["_losses"] = losses


def _run(
    fn: Callable[..., Any],
    module: torch.nn.Module | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    size: int,
    device: torch.device,
) -> Any:
    real_args = _stand_ins(args, size, device)
    real_kwargs = _stand_ins(kwargs, size, device)
    if device.type != "meta" or module is None:
        outputs = fn(*real_args, **real_kwargs)
    else:
        state = {
            name: torch.empty_like(t, device="meta")
            for name, t in itertools.chain(module.named_parameters(), module.named_buffers())
        }
        outputs = torch.func.functional_call(module, state, tuple(real_args), real_kwargs, strict=False)
    return map_structure(
        lambda t: _Spec(tuple(t.shape), standardize_dtype(t.dtype)) if isinstance(t, torch.Tensor) else t,
        outputs,
    )


def _stand_ins(structure: Any, size: int, device: torch.device) -> Any:
    """Tensors in place of the KerasTensors: zeros, or all True for masks (so that nothing
    looks fully masked), with `size` for each unknown dimension."""

    def stand_in(value: Any) -> Any:
        if not isinstance(value, KerasTensor):
            return value
        shape = [size if d is None else d for d in value.shape]
        dtype = to_torch_dtype(value.dtype)
        if dtype == torch.bool:
            return torch.ones(shape, dtype=dtype, device=device)
        return torch.zeros(shape, dtype=dtype, device=device)

    return map_structure(stand_in, structure)


def _merge_runs(first: Any, second: Any, who: Any) -> Any:
    """The specs of two runs, with the dimensions that differ between them unknown (None)."""
    if isinstance(first, _Spec) and isinstance(second, _Spec) and len(first.shape) == len(second.shape):
        shape = tuple(a if a == b else None for a, b in zip(first.shape, second.shape))
        return _Spec(shape, first.dtype)
    if isinstance(first, (list, tuple)) and isinstance(second, (list, tuple)) and len(first) == len(second):
        merged = [_merge_runs(a, b, who) for a, b in zip(first, second)]
        return tuple(merged) if isinstance(first, tuple) else merged
    if isinstance(first, dict) and isinstance(second, dict) and first.keys() == second.keys():
        return {k: _merge_runs(first[k], second[k], who) for k in first}
    if isinstance(first, _Spec) or isinstance(second, _Spec):
        raise ValueError(
            f"Expected {who!r} to return outputs of the same structure and rank for inputs of "
            "any batch size. Received: outputs that changed structure or rank with the size of "
            f"an unknown dimension ({first} and {second}). Give the layer a "
            "`compute_output_shape(input_shape)` method."
        )
    return first
