"""`model.summary()`: Keras 3's table of layers, output shapes and parameter counts.

The text is what Keras prints when its output is not a terminal: a box-drawn table whose
columns split the line as Keras's default `positions` do, cells wrapped at spaces (a word too
long for its column ends in `…`), then the parameter totals with their sizes in bytes. A
functional model that is not a plain chain gets a fourth column, "Connected to", naming each
call's inputs as `layer[node][tensor]`.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.layers.symbolic import Operation, flatten, inbound_nodes, output_shapes
from kfit.utils import io_utils

__all__ = ["print_summary", "readable_memory_size"]


def readable_memory_size(size: float) -> str:
    """Bytes as Keras prints them: `920.00 B`, `1.50 KB`, ... (powers of 1024).

    Example:
        >>> readable_memory_size(920), readable_memory_size(1536)
        ('920.00 B', '1.50 KB')
    """
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _format_shape(shape: Sequence[int | None]) -> str:
    return f"({', '.join(str(d) for d in shape)})"


def _output_shape(layer: Any) -> str:
    nodes = inbound_nodes(layer) if isinstance(layer, (torch.nn.Module, Operation)) else []
    if nodes:
        outputs = nodes[-1].outputs
        shapes = [_format_shape(t.shape) for t in flatten(outputs) if hasattr(t, "shape")]
        if len(shapes) == 1:
            return shapes[0]
        return "[" + ", ".join(shapes) + "]"
    build_shape = getattr(layer, "_build_input_shape", None)
    if isinstance(layer, Layer) and layer.built and build_shape is not None:
        # A layer built by a subclassed model's call, on a real batch: its output shape for
        # that input shape, the batch size left unknown.
        try:
            shape = output_shapes(layer, build_shape)
        except Exception:  # a layer whose call needs more than one input shape
            return "?"
        return _describe(shape)
    return "?"


def _describe(shape: Any) -> str:
    if _is_shape(shape):
        return _format_shape(shape)
    if isinstance(shape, (list, tuple)):
        return "[" + ", ".join(_describe(s) for s in shape) + "]"
    return str(shape)


def _is_shape(value: Any) -> bool:
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


def _param_count(layer: Any) -> str:
    if isinstance(layer, Operation):
        return "0"
    if isinstance(layer, Layer) and not layer.built:
        return "0 (unbuilt)"
    return f"{sum(p.numel() for p in layer.parameters()):,}"


def _connections(layer: Any, relevant: set[int]) -> str:
    from kfit.models.functional import name_of

    parts = []
    for node in inbound_nodes(layer):
        if id(node) not in relevant:
            continue
        for tensor in node.input_tensors:
            history = tensor._keras_history
            assert history is not None  # every tensor in a graph was made by a call
            parts.append(f"{name_of(history.operation)}[{history.node_index}][{history.tensor_index}]")
    return ", ".join(parts) or "-"


def _is_chain(graph: Any) -> bool:
    """Whether a graph is a plain chain: one call per depth, one input per call, no sharing."""
    by_depth: dict[int, int] = {}
    for node in graph.nodes:
        depth = graph.node_depths[id(node)]
        by_depth[depth] = by_depth.get(depth, 0) + 1
        if len(node.input_tensors) > 1:
            return False
    if any(count > 1 for count in by_depth.values()):
        return False
    return all(len(graph.nodes_of(layer)) <= 1 for layer in graph.layers)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = word if not current else f"{current} {word}"
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines]


def _column_widths(line_length: int, positions: Sequence[float]) -> list[int]:
    """Column widths (padding included) as Keras computes them from `positions`."""
    stops = [int(p * line_length) if p <= 1 else int(p) for p in positions]
    widths = [b - a for a, b in zip([0, *stops[:-1]], stops)]
    if any(w < 4 for w in widths):
        raise ValueError(
            "Expected `line_length` and `positions` to leave at least 4 characters per column. "
            f"Received: line_length={line_length!r}, positions={list(positions)!r}. Pass a "
            "larger line_length."
        )
    # The table is `line_length` wide, borders included: the columns give up the difference,
    # spread evenly from the left, as rich (which Keras draws with) does.
    excess = sum(widths) + len(widths) + 1 - line_length
    remaining = len(widths)
    for i, w in enumerate(widths):
        if excess <= 0:
            break
        cut = min(w, round(excess / remaining))
        widths[i] = w - cut
        excess -= cut
        remaining -= 1
    return widths


def _table(header: list[str], rows: list[list[str]], widths: list[int], align: list[str]) -> list[str]:
    def render(cells: list[str], bar: str) -> list[str]:
        wrapped = [_wrap(cell, w - 2) for cell, w in zip(cells, widths)]
        height = max(len(lines) for lines in wrapped)
        out = []
        for i in range(height):
            parts = []
            for lines, w, how in zip(wrapped, widths, align):
                text = lines[i] if i < len(lines) else ""
                if how == "right":
                    text = text.rjust(w - 2)
                elif how == "center":
                    text = text.center(w - 2)
                else:
                    text = text.ljust(w - 2)
                parts.append(f" {text} ")
            out.append(bar + bar.join(parts) + bar)
        return out

    lines = ["┏" + "┳".join("━" * w for w in widths) + "┓"]
    lines += render(header, "┃")
    lines.append("┡" + "╇".join("━" * w for w in widths) + "┩")
    for i, row in enumerate(rows):
        if i:
            lines.append("├" + "┼".join("─" * w for w in widths) + "┤")
        lines += render(row, "│")
    lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
    return lines


def _count_and_size(tensors: list[torch.Tensor]) -> tuple[int, int]:
    unique = {id(t): t for t in tensors}.values()
    return sum(t.numel() for t in unique), sum(t.numel() * t.element_size() for t in unique)


def _optimizer_state(model: Any) -> tuple[int, int] | None:
    """Keras's optimizer variable count: the iteration count, the learning rate, the slots."""
    from kfit.optimizers import Optimizer

    optimizer = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or not isinstance(optimizer, Optimizer) or not optimizer.built:
        return None
    slots = [t for state in optimizer.state.values() for t in state.values() if isinstance(t, torch.Tensor)]
    count, size = _count_and_size(slots)
    return count + 2, size + 8


def _layer_range(layers: list[Any], layer_range: Sequence[str] | None) -> tuple[int, int]:
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2 or not all(isinstance(p, str) for p in layer_range):
        raise ValueError(
            "Expected `layer_range` to be two layer names (or regular expressions): the first "
            f"and last layer to show. Received: layer_range={layer_range!r}. Pass e.g. "
            "('dense', 'dense_2')."
        )
    names = [getattr(layer, "name", "") for layer in layers]
    starts = [i for i, n in enumerate(names) if re.match(layer_range[0], n)]
    ends = [i for i, n in enumerate(names) if re.match(layer_range[1], n)]
    if not starts or not ends or starts[0] > ends[-1]:
        raise ValueError(
            f"Expected `layer_range` to name layers of the model, first before last. Received: "
            f"layer_range={layer_range!r}, for layers {names}. Pass names from that list."
        )
    return starts[0], ends[-1] + 1


def print_summary(
    model: Any,
    line_length: int | None = None,
    positions: Sequence[float] | None = None,
    print_fn: Callable[..., Any] | None = None,
    expand_nested: bool = False,
    show_trainable: bool = False,
    layer_range: Sequence[str] | None = None,
) -> None:
    """Prints `model`'s summary table (see `kfit.Model.summary`).

    Example:
        >>> import kfit
        >>> x = kfit.Input((3,), name="x")
        >>> model = kfit.Model(x, kfit.layers.Dense(2, name="out")(x), name="tiny")
        >>> print_summary(model, line_length=60)
        Model: "tiny"
        ┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┓
        ┃ Layer (type)             ┃ Output Shape      ┃   Param # ┃
        ┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━┩
        │ x (InputLayer)           │ (None, 3)         │         0 │
        ├──────────────────────────┼───────────────────┼───────────┤
        │ out (Dense)              │ (None, 2)         │         8 │
        └──────────────────────────┴───────────────────┴───────────┘
         Total params: 8 (32.00 B)
         Trainable params: 8 (32.00 B)
         Non-trainable params: 0 (0.00 B)
    """
    from kfit.models.functional import name_of
    from kfit.models.sequential import Sequential

    graph = model._functional_graph() if hasattr(model, "_functional_graph") else None
    # A Sequential lists its layers without its InputLayer, as a chain.
    functional = graph is not None and not isinstance(model, Sequential)
    layers: list[Any] = list(graph.operations) if graph is not None and functional else list(model.layers)
    chain = not functional or _is_chain(graph)
    if chain:
        default_length, positions = 88, positions or [0.45, 0.80, 1.0]
        header, align = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"]
    else:
        default_length, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        align = ["left", "left", "right", "left"]
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        align.append("center")
    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    widths = _column_widths(line_length, positions)
    relevant = {id(node) for node in graph.nodes} if graph is not None else set()

    def fields(layer: Any, prefix: str = "") -> list[str]:
        kind = layer.class_name if isinstance(layer, Operation) else type(layer).__name__
        name = name_of(layer)
        row = [f"{prefix}{name} ({kind})", _output_shape(layer), _param_count(layer)]
        if not chain:
            row.append(_connections(layer, relevant))
        if show_trainable:
            has_weights = isinstance(layer, torch.nn.Module) and any(True for _ in layer.parameters())
            row.append(("Y" if getattr(layer, "trainable", True) else "N") if has_weights else "-")
        return row

    def rows_of(layer: Any, level: int = 0) -> list[list[str]]:
        prefix = "   " * level + "└ " if level else ""
        out = [fields(layer, prefix)]
        nested = getattr(layer, "layers", None) if isinstance(layer, torch.nn.Module) else None
        if expand_nested and isinstance(nested, list):
            for sub in nested:
                out.extend(rows_of(sub, level + 1))
        return out

    first, last = _layer_range(layers, layer_range)
    rows = [row for layer in layers[first:last] for row in rows_of(layer)]
    lines = [f'Model: "{model.name}"', *_table(header, rows, widths, align)]
    trainable, trainable_size = _count_and_size(list(model.trainable_weights))
    frozen, frozen_size = _count_and_size(list(model.non_trainable_weights))
    optimizer = _optimizer_state(model)
    total, total_size = trainable + frozen, trainable_size + frozen_size
    if optimizer is not None:
        total, total_size = total + optimizer[0], total_size + optimizer[1]
    lines.append(f" Total params: {total:,} ({readable_memory_size(total_size)})")
    lines.append(f" Trainable params: {trainable:,} ({readable_memory_size(trainable_size)})")
    lines.append(f" Non-trainable params: {frozen:,} ({readable_memory_size(frozen_size)})")
    if optimizer is not None:
        lines.append(f" Optimizer params: {optimizer[0]:,} ({readable_memory_size(optimizer[1])})")
    text = "\n".join(lines) + "\n"
    # Keras hands the whole table to `print_fn` at once; so does the log, as one record.
    if print_fn is None:
        io_utils.print_msg(text, line_break=False)
    else:
        print_fn(text)
