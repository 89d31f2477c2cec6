"""`plot_model` and `model_to_dot`: a model's layer graph drawn with pydot and Graphviz.

Both are optional dependencies: `pip install pydot` (or `pip install kfit[plot]`) for the
graph, and Graphviz's `dot` program (from your system's package manager or
https://graphviz.org/download/) to render it to an image. The drawing follows Keras 3's: one
box per layer (an HTML table with its name, class and, on request, shapes, dtype, activation
and trainable state) and one edge per connection of the graph.
"""

from __future__ import annotations

import importlib
import itertools
import os
from typing import Any

from kfit.utils.errors import received

__all__ = ["model_to_dot", "plot_model"]

_PYDOT_MISSING = (
    "Expected the `pydot` package to draw the model, but it is not installed. Install it "
    "with `pip install pydot` (or `pip install kfit[plot]`)."
)


def _pydot() -> Any:
    try:
        import pydot
    except ImportError:
        raise ImportError(_PYDOT_MISSING) from None
    return pydot


def _check_graphviz(pydot: Any) -> None:
    """Renders an empty graph, which fails when Graphviz's `dot` program cannot be run."""
    try:
        pydot.Dot.create(pydot.Dot())
    except (OSError, AssertionError, getattr(pydot, "PydotException", OSError)) as e:
        raise ImportError(
            "Expected Graphviz's `dot` program on the PATH to render the model, but it could "
            f"not be run ({e}). Install Graphviz (e.g. `apt-get install graphviz`, `brew "
            "install graphviz`, or see https://graphviz.org/download/), or draw the graph "
            "without rendering it with `kfit.utils.model_to_dot(model)`."
        ) from None


def _class_name(layer: Any) -> str:
    # A recorded op (`x + y`) is an Operation named after Keras's op class ("Add").
    return getattr(layer, "class_name", None) or type(layer).__name__


def _activation_name(layer: Any) -> str:
    activation = layer.activation
    return str(getattr(activation, "name", None) or getattr(activation, "__name__", None) or activation)


def _format_shape(shape: Any) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, dict):
        return ", ".join(f"{key}: {value}" for key, value in shape.items())
    return str(shape)


def _tensor_attribute(layer: Any, which: str, attribute: str) -> Any:
    """`layer.input`/`layer.output` mapped to each tensor's shape or dtype; None if unknown."""
    from kfit.layers.symbolic import KerasTensor, layer_input, layer_output, map_structure

    try:
        tensors = layer_input(layer) if which == "input" else layer_output(layer)
    except (AttributeError, ValueError, IndexError):
        return None
    if tensors is None:
        return None
    return map_structure(lambda t: getattr(t, attribute) if isinstance(t, KerasTensor) else t, tensors)


def _label(layer: Any, options: dict[str, bool]) -> str:
    """The box of one layer: an HTML-like Graphviz table laid out as Keras lays it out."""
    class_name = _class_name(layer)
    show_shapes, show_dtype, show_trainable = options["show_shapes"], options["show_dtype"], options["show_trainable"]
    colspan = max(1, int(show_dtype) + int(show_trainable) + 2 * int(show_shapes))
    title = f"<b>{layer.name}</b> ({class_name})" if options["show_layer_names"] else f"<b>{class_name}</b>"
    rows = [
        f'<tr><td colspan="{colspan}" bgcolor="black"><font point-size="16" color="white">'
        f"{title}</font></td></tr>"
    ]
    if options["show_layer_activations"] and getattr(layer, "activation", None) is not None:
        rows.append(
            f'<tr><td bgcolor="white" colspan="{colspan}"><font point-size="14">'
            f"Activation: <b>{_activation_name(layer)}</b></font></td></tr>"
        )
    cells = []
    if show_shapes:
        if class_name != "InputLayer":
            shape = _format_shape(_tensor_attribute(layer, "input", "shape"))
            cells.append(f'<td bgcolor="white"><font point-size="14">Input shape: <b>{shape}</b></font></td>')
        shape = _format_shape(_tensor_attribute(layer, "output", "shape"))
        cells.append(f'<td bgcolor="white"><font point-size="14">Output shape: <b>{shape}</b></font></td>')
    if show_dtype:
        dtype = _tensor_attribute(layer, "output", "dtype")
        cells.append(f'<td bgcolor="white"><font point-size="14">Output dtype: <b>{dtype or "?"}</b></font></td>')
    has_weights = any(True for _ in getattr(layer, "parameters", lambda: iter(()))())
    if show_trainable and hasattr(layer, "trainable") and has_weights:
        color, text = ("forestgreen", "Trainable") if layer.trainable else ("firebrick", "Non-trainable")
        cells.append(f'<td bgcolor="{color}"><font point-size="14" color="white"><b>{text}</b></font></td>')
    if cells:
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">{"".join(rows)}</table>>'


def _node(pydot: Any, layer: Any, options: dict[str, bool]) -> Any:
    node = pydot.Node(str(id(layer)), label=_label(layer, options))
    node.set("fontname", "Helvetica")
    node.set("border", "0")
    node.set("margin", "0")
    return node


def _add_edge(pydot: Any, dot: Any, source: Any, target: Any) -> None:
    source_id, target_id = str(id(source)), str(id(target))
    if not dot.get_edge(source_id, target_id):
        edge = pydot.Edge(source_id, target_id)
        edge.set("penwidth", "2")
        dot.add_edge(edge)


def _is_sequential(layer: Any) -> bool:
    from kfit.models.sequential import Sequential

    return isinstance(layer, Sequential)


def _graph_of(layer: Any) -> Any:
    """The graph a functional model runs (None for other layers and for a Sequential)."""
    from kfit.models.model import Model

    if isinstance(layer, Model) and not _is_sequential(layer):
        return layer._functional_graph()
    return None


def _is_nested_model(layer: Any) -> bool:
    return _is_sequential(layer) or _graph_of(layer) is not None


def _output_producer(model: Any, index: int) -> Any:
    """The innermost layer that computes output `index` of a nested model."""
    while _is_nested_model(model):
        if _is_sequential(model):
            model, index = model.layers[-1], 0
        else:
            history = _graph_of(model).outputs[index]._keras_history
            model, index = history.operation, history.tensor_index
    return model


def _input_consumer(model: Any, index: int) -> Any:
    """The innermost layer that receives input `index` of a nested model."""
    while _is_nested_model(model):
        if _is_sequential(model):
            model = model.layers[0]
        else:
            model = _graph_of(model).inputs[index]._keras_history.operation
    return model


def model_to_dot(
    model: Any,
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    subgraph: bool = False,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    splines: str = "ortho",
    **kwargs: Any,
) -> Any:
    """Returns a `pydot.Dot` graph of the model: a node per layer, an edge per connection.

    A `Sequential` is drawn as a chain of its layers, a functional model as its graph (ops
    such as `x + y` included, InputLayers first), a subclassed model as one box.

    Args:
        model: A built kfit model.
        show_shapes: Whether each box shows its input and output shapes.
        show_dtype: Whether each box shows its output dtype.
        show_layer_names: Whether each box shows the layer's name before its class.
        rankdir: Graphviz's layout direction: "TB" (top to bottom) or "LR" (left to right).
        expand_nested: Whether nested models are drawn as clusters of their own layers.
        dpi: The resolution of a rendered image.
        subgraph: Whether to return a `pydot.Cluster` (for drawing inside another graph).
        show_layer_activations: Whether boxes of layers with an `activation` show it.
        show_trainable: Whether boxes of layers with weights say if they are trainable.
        splines: How Graphviz draws edges ("ortho", "curved", "polyline", "spline", "line").

    Raises:
        ImportError: when pydot is not installed (the message says how to install it).
        ValueError: for a model that is not built yet, or an unknown keyword argument.

    Example:
        >>> import kfit
        >>> x = kfit.Input((3,), name="x")
        >>> model = kfit.Model(x, kfit.layers.Dense(2, name="out")(x))
        >>> dot = model_to_dot(model)
        >>> len(dot.get_edges()), len(dot.get_node(str(id(model.get_layer("out")))))
        (1, 1)
    """
    pydot = _pydot()
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError(
            "Expected no `layer_range`: Keras 3 dropped it from model_to_dot and plot_model. "
            "Received: a layer_range. Draw a sub-model instead."
        )
    if kwargs:
        raise ValueError(
            f"Expected only the arguments of model_to_dot. Received: unknown keyword arguments "
            f"{sorted(kwargs)}. Remove them."
        )
    if not getattr(model, "built", False):
        raise ValueError(
            "Expected a built model to draw. Received: a model that is not built yet. Build "
            "it first with model.build(input_shape), by starting it with kfit.Input, or by "
            "calling it on a batch of data."
        )
    options = {
        "show_layer_names": show_layer_names,
        "show_layer_activations": show_layer_activations,
        "show_dtype": show_dtype,
        "show_shapes": show_shapes,
        "show_trainable": show_trainable,
    }
    if subgraph:
        dot = pydot.Cluster(style="dashed", graph_name=model.name)
        dot.set("label", model.name)
        dot.set("labeljust", "l")
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="record")

    graph = _graph_of(model)
    if _is_sequential(model):
        layers = list(model.layers)
    elif graph is not None:
        layers = list(graph.operations)
    else:
        dot.add_node(_node(pydot, model, options))
        return dot

    for layer in layers:
        if expand_nested and _is_nested_model(layer):
            dot.add_subgraph(
                model_to_dot(
                    layer, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested,
                    subgraph=True, show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                )
            )
        else:
            dot.add_node(_node(pydot, layer, options))

    if graph is None:
        # A Sequential: a chain (its InputLayer is not drawn, as in Keras).
        for source, target in itertools.pairwise(layers):
            if expand_nested:
                source, target = _output_producer(source, 0), _input_consumer(target, 0)
            _add_edge(pydot, dot, source, target)
        return dot
    for layer in layers:
        for node in graph.nodes_of(layer):
            for input_index, tensor in enumerate(node.input_tensors):
                history = tensor._keras_history
                source, target = history.operation, layer
                if expand_nested:
                    source = _output_producer(source, history.tensor_index)
                    target = _input_consumer(target, input_index)
                _add_edge(pydot, dot, source, target)
    return dot


def plot_model(
    model: Any,
    to_file: str | os.PathLike[str] = "model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = False,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    splines: str = "ortho",
    **kwargs: Any,
) -> Any:
    """Draws the model's graph (see `model_to_dot`) into an image file, written atomically.

    The format comes from the file's extension (`.png` without one): anything Graphviz
    renders (`png`, `svg`, `pdf`, `dot`, ...). Needs pydot and Graphviz's `dot` program.

    Args:
        model: A built kfit model.
        to_file: Where to write the image.
        show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
            show_layer_activations, show_trainable, splines: As for `model_to_dot`
            (`show_layer_names` is off by default here, as in Keras 3).

    Returns:
        An `IPython.display.Image` of the file when IPython is installed (so a notebook
        shows it) and the file is not a PDF; else None.

    Raises:
        ImportError: when pydot or Graphviz's `dot` program is missing; the message says
            how to install it.
        ValueError: for a model that is not built yet, or an unknown keyword argument.

    Example:
        >>> import kfit
        >>> model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(2)])
        >>> plot_model(model, to_file="model.png", show_shapes=True)  # doctest: +SKIP
    """
    pydot = _pydot()
    _check_graphviz(pydot)
    dot = model_to_dot(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        expand_nested=expand_nested,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        splines=splines,
        **kwargs,
    )
    if not isinstance(to_file, (str, os.PathLike)):
        raise TypeError(
            f"Expected `to_file` to be a path. {received('to_file', to_file)} Pass e.g. 'model.png'."
        )
    path = os.fspath(to_file)
    extension = os.path.splitext(path)[1][1:] or "png"
    from kfit.saving.atomic import atomic_write_bytes

    atomic_write_bytes(path, dot.create(format=extension))
    if extension == "pdf":
        return None
    try:
        # IPython is optional: a notebook shows the returned image inline.
        display = importlib.import_module("IPython.display")
    except ImportError:
        return None
    return display.Image(filename=path)
