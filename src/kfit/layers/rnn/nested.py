"""Nested inputs, states and outputs for `RNN`: cells that take or return lists, tuples or dicts.

A cell may read several sequences at once (`cell.call((x1, x2), states)`), keep states of any
rank (`state_size = [(10,), (20, 30)]`) and return several outputs (`output_size` nested the
same way). `RNN` sends such calls here, once per call, so that the plain single-tensor loop keeps
no per-step structure handling.

How sizes read: at the top level `state_size` is a list with one entry per state. Below it an
int `n` is a state of shape `(batch, n)`, a tuple of ints `(a, b)` a state of shape
`(batch, a, b)`, and a list (or dict) a group of states. `output_size` reads the same way, except
that at the top level a tuple of ints is one output's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from kfit.layers.symbolic import flatten
from kfit.utils.errors import received

__all__ = [
    "first_mask",
    "first_shape",
    "has_shape_leaf",
    "is_nested",
    "is_nested_shape",
    "pack",
    "run_nested",
    "size_to_shapes",
    "step_shapes",
    "zeros_for_sizes",
]


def is_nested(value: Any) -> bool:
    """Whether `value` is a list, tuple or dict (of tensors), rather than one tensor.

    Example:
        >>> is_nested((torch.zeros(1), torch.zeros(1))), is_nested(torch.zeros(1))
        (True, False)
    """
    return isinstance(value, (list, tuple, dict))


def is_nested_shape(shape: Any) -> bool:
    """Whether `shape` is a structure of shapes rather than one shape.

    Example:
        >>> is_nested_shape(((None, 5, 3), (None, 5, 2))), is_nested_shape((None, 5, 3))
        (True, False)
    """
    if isinstance(shape, dict):
        return True
    return isinstance(shape, (list, tuple)) and any(isinstance(d, (list, tuple, dict)) for d in shape)


def _is_shape_leaf(size: Any) -> bool:
    return isinstance(size, tuple) and all(isinstance(d, int) and not isinstance(d, bool) for d in size)


def size_to_shapes(size: Any, prefix: tuple[Any, ...]) -> Any:
    """The shapes for a (possibly nested) state or output size, each after `prefix`.

    Example:
        >>> size_to_shapes([(10,), (20, 30)], (None,))
        [(None, 10), (None, 20, 30)]
    """
    if isinstance(size, int):
        return (*prefix, size)
    if _is_shape_leaf(size):
        return (*prefix, *size)
    if isinstance(size, dict):
        return {key: size_to_shapes(item, prefix) for key, item in size.items()}
    if isinstance(size, (list, tuple)):
        return [size_to_shapes(item, prefix) for item in size]
    raise ValueError(
        "Expected a state or output size to be an int, a tuple of ints (a shape), or a list or "
        f"dict of those. {received('size', size)} Set the cell's `state_size`/`output_size` so."
    )


def has_shape_leaf(sizes: Any) -> bool:
    """Whether a structure of sizes holds a multi-dimensional (tuple) or dict entry."""
    if isinstance(sizes, dict) or _is_shape_leaf(sizes):
        return True
    return isinstance(sizes, (list, tuple)) and any(has_shape_leaf(s) for s in sizes)


def zeros_for_sizes(state_size: list[Any], batch_size: int, dtype: torch.dtype | None = None) -> list[Any]:
    """Zero states for each top-level entry of `state_size`, nested as the sizes are.

    Example:
        >>> [s.shape for s in zeros_for_sizes([(4,), (2, 3)], 5)]
        [torch.Size([5, 4]), torch.Size([5, 2, 3])]
    """
    shapes = [size_to_shapes(size, (batch_size,)) for size in state_size]
    return [_map_shapes(lambda s: torch.zeros(s, dtype=dtype), shape) for shape in shapes]


def _map_shapes(fn: Callable[[Any], Any], shapes: Any) -> Any:
    if isinstance(shapes, dict):
        return {key: _map_shapes(fn, item) for key, item in shapes.items()}
    if isinstance(shapes, list):
        return [_map_shapes(fn, item) for item in shapes]
    return fn(shapes)


def step_shapes(sequences_shape: Any, layer_name: str) -> Any:
    """The per-step shapes a cell is built with: each input's shape without its time axis."""

    def drop_time(shape: Any) -> Any:
        if isinstance(shape, dict):
            return {key: drop_time(item) for key, item in shape.items()}
        if is_nested_shape(shape):
            return type(shape)(drop_time(item) for item in shape)
        shape = tuple(shape)
        if len(shape) < 3:
            raise ValueError(
                f"Expected each input of {layer_name} to have shape (batch, time, ...). "
                f"{received('input_shape', shape)} Add a time axis to that input."
            )
        return (shape[0], *shape[2:])

    return drop_time(sequences_shape)


def first_shape(shapes: Any) -> tuple[Any, ...]:
    """The first shape in a structure of shapes (the shape itself when not nested).

    Example:
        >>> first_shape({"a": ((None, 5, 3), (None, 5, 2))})
        (None, 5, 3)
    """
    while is_nested_shape(shapes):
        shapes = next(iter(shapes.values())) if isinstance(shapes, dict) else shapes[0]
    return tuple(shapes)


def first_mask(mask: Any) -> Any:
    """The first mask given in a structure of masks, or None: the steps are shared, so one
    mask applies to every input, state and output.

    Example:
        >>> first_mask([None, "m1", "m2"]), first_mask(None)
        ('m1', None)
    """
    given = [m for m in flatten(mask) if m is not None] if mask is not None else []
    return given[0] if given else None


def pack(template: Any, leaves: Iterator[Any]) -> Any:
    """`template`'s nesting (lists, tuples, dicts) filled with the next items of `leaves`.

    Example:
        >>> pack({"a": 0, "b": (0, 0)}, iter([1, 2, 3]))
        {'a': 1, 'b': (2, 3)}
    """
    if isinstance(template, dict):
        return {key: pack(item, leaves) for key, item in template.items()}
    if isinstance(template, tuple):
        return tuple(pack(item, leaves) for item in template)
    if isinstance(template, list):
        return [pack(item, leaves) for item in template]
    return next(leaves)


def _where(valid: torch.Tensor, new: Any, old: Any) -> Any:
    """`new` where the step is valid, `old` elsewhere, leaf by leaf."""
    new_leaves, old_leaves = flatten(new), flatten(old)
    kept = [torch.where(valid.view(-1, *([1] * (n.dim() - 1))), n, o) for n, o in zip(new_leaves, old_leaves)]
    return pack(new, iter(kept))


def run_nested(
    step: Callable[[Any, Any], tuple[Any, Any]],
    sequences: Any,
    states: list[Any],
    mask: torch.Tensor | None,
    *,
    go_backwards: bool,
    return_sequences: bool,
    zero_output_for_mask: bool,
    layer_name: str,
) -> tuple[Any, Any, list[Any]]:
    """Runs `step` over the time axis of nested `sequences`; returns (last, sequence, states).

    Every leaf of `sequences` is `(batch, time, ...)`; the cell gets the same nesting with the
    time axis taken out. A `(batch, time)` mask applies to every leaf of the states and outputs.
    `sequence` is the outputs' nesting with each leaf stacked on axis 1 (None unless
    `return_sequences`).

    Example:
        >>> def step(inputs, states):
        ...     a, b = inputs
        ...     total = states[0] + a + b.sum(-1)
        ...     return (total, b), [total]
        >>> x = (torch.ones(2, 3, 4), torch.ones(2, 3, 4, 5))
        >>> last, seq, states = run_nested(step, x, [torch.zeros(2, 4)], None, go_backwards=False,
        ...                                return_sequences=True, zero_output_for_mask=False,
        ...                                layer_name="RNN")
        >>> last[0][0, 0].item(), seq[1].shape
        (18.0, torch.Size([2, 3, 4, 5]))
    """
    leaves = flatten(sequences)
    length = leaves[0].shape[1]
    for leaf in leaves:
        if leaf.dim() < 3 or leaf.shape[1] != length:
            raise ValueError(
                f"Expected every input of {layer_name} to have shape (batch, time, ...) with "
                f"the same number of steps ({length}). {received('input_shape', tuple(leaf.shape))} "
                "Pad the sequences to one length."
            )
    if length == 0:
        raise ValueError(
            f"Expected at least one time step in the inputs of {layer_name}. "
            f"{received('input_shape', tuple(leaves[0].shape))} Pass sequences of length >= 1."
        )
    steps = [leaf.unbind(1) for leaf in leaves]
    times = range(length - 1, -1, -1) if go_backwards else range(length)
    valid_steps = mask.bool().unbind(1) if mask is not None else None
    outputs: list[Any] = []
    previous: Any = None
    for t in times:
        inputs = pack(sequences, iter([s[t] for s in steps]))
        output, new_states = step(inputs, states)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        if valid_steps is not None:
            valid = valid_steps[t]
            new_states = _where(valid, new_states, states)
            if zero_output_for_mask or previous is None:
                previous = pack(output, iter([torch.zeros_like(o) for o in flatten(output)]))
            output = _where(valid, output, previous)
        states = new_states
        previous = output
        if return_sequences:
            outputs.append(output)
    sequence = None
    if return_sequences:
        per_step = [flatten(o) for o in outputs]
        stacked = [torch.stack([o[i] for o in per_step], dim=1) for i in range(len(per_step[0]))]
        sequence = pack(outputs[0], iter(stacked))
    return previous, sequence, states
