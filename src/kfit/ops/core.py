"""Core ops: conversion, dtype and shape queries, slicing and scattering, and control flow.

These are `keras.ops`'s core ops on torch. Control flow runs eagerly, as in Keras's torch
backend: `cond` and `while_loop` read their predicate on the host (a device sync on GPUs),
`scan`, `map` and `fori_loop` are Python loops, and `vectorized_map` is `torch.vmap`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from kfit.ops import operands
from kfit.ops.dtypes import standardize_dtype, to_torch_dtype
from kfit.ops.graph import keras_op
from kfit.utils.errors import received

__all__ = [
    "associative_scan",
    "cast",
    "cond",
    "convert_to_numpy",
    "convert_to_tensor",
    "custom_gradient",
    "dtype",
    "fori_loop",
    "is_tensor",
    "map",
    "saturate_cast",
    "scan",
    "scatter",
    "scatter_update",
    "shape",
    "slice",
    "slice_update",
    "stop_gradient",
    "switch",
    "unstack",
    "vectorized_map",
    "while_loop",
]


@keras_op
def convert_to_tensor(
    x: Any, dtype: Any = None, sparse: bool | None = None, ragged: bool | None = None
) -> torch.Tensor:
    """Converts a tensor, array, Python number or list to a torch tensor with Keras's dtypes.

    Python ints become int32, Python floats `floatx()`, numpy arrays keep their dtype (see
    `kfit.ops.operands` for the whole table). A tensor is returned as it is unless `dtype`
    asks for a cast.

    Args:
        x: The value to convert.
        dtype: The dtype wanted, or None for the defaults.
        sparse: Only None/False: torch tensors here are dense.
        ragged: Only None/False: torch has no ragged tensors.

    Raises:
        ValueError: for `sparse=True` or `ragged=True`.

    Example:
        >>> convert_to_tensor([1, 2]).dtype, convert_to_tensor(2.5).dtype
        (torch.int32, torch.float32)
    """
    for name, flag in (("sparse", sparse), ("ragged", ragged)):
        if flag:
            raise ValueError(
                f"Expected `{name}` to be None or False: kfit's tensors are dense torch tensors. "
                f"{received(name, flag)} Drop the `{name}` argument."
            )
    return operands.convert_to_tensor(x, dtype)


def convert_to_numpy(x: Any) -> np.ndarray:
    """Returns a numpy copy of a tensor (detached, on the host) or array-like.

    bfloat16 tensors become `ml_dtypes.bfloat16` arrays when `ml_dtypes` is installed (as in
    Keras), float32 arrays otherwise. A list of tensors becomes one stacked array.

    Example:
        >>> convert_to_numpy(torch.tensor([1.0, 2.0])).tolist()
        [1.0, 2.0]
    """
    if isinstance(x, (list, tuple)):
        return np.array([convert_to_numpy(item) for item in x])
    if not isinstance(x, torch.Tensor):
        return np.asarray(x)
    x = x.detach()
    if x.dtype == torch.bfloat16:
        host = x.cpu().float().numpy()
        try:
            import ml_dtypes
        except ImportError:
            return host
        return host.astype(ml_dtypes.bfloat16)
    return x.cpu().numpy()


def is_tensor(x: Any) -> bool:
    """Whether `x` is a torch tensor (Keras variables here are tensors too).

    Example:
        >>> is_tensor(torch.ones(1)), is_tensor(np.ones(1))
        (True, False)
    """
    return isinstance(x, torch.Tensor)


def shape(x: Any) -> tuple[int, ...]:
    """The shape of `x` as a Python tuple of ints.

    Example:
        >>> shape(torch.ones(2, 3))
        (2, 3)
    """
    if isinstance(x, torch.Tensor):
        return tuple(x.shape)
    if hasattr(x, "shape"):  # a numpy array, or a symbolic KerasTensor (None for unknown sizes)
        return tuple(x.shape)
    return tuple(np.shape(x))


def dtype(x: Any) -> str:
    """The Keras name of the dtype `x` has (or would have once converted).

    Example:
        >>> dtype(torch.ones(1, dtype=torch.int8)), dtype([1.0])
        ('int8', 'float32')
    """
    if isinstance(x, torch.Tensor):
        return standardize_dtype(x.dtype)
    if isinstance(x, np.ndarray) or type(x).__name__ == "KerasTensor":
        return standardize_dtype(x.dtype)
    return standardize_dtype(convert_to_tensor(x).dtype)


@keras_op
def cast(x: Any, dtype: Any) -> torch.Tensor:
    """Casts `x` to `dtype` (a no-op for a tensor that already has it).

    Example:
        >>> cast(torch.tensor([1.7, -1.7]), "int32")
        tensor([ 1, -1], dtype=torch.int32)
    """
    return operands.convert_to_tensor(x, to_torch_dtype(dtype))


@keras_op
def saturate_cast(x: Any, dtype: Any) -> torch.Tensor:
    """Casts `x` to `dtype`, clipping values to the range of `dtype` first.

    Example:
        >>> saturate_cast(torch.tensor([-3.0, 300.0]), "uint8")
        tensor([  0, 255], dtype=torch.uint8)
    """
    x = operands.convert_to_tensor(x)
    target = to_torch_dtype(dtype)
    if target == torch.bool:
        return x.to(target)
    info = torch.finfo(target) if target.is_floating_point else torch.iinfo(target)
    if x.dtype.is_floating_point or x.dtype.is_complex:
        source = torch.finfo(x.dtype)
        low, high = builtins.max(info.min, source.min), builtins.min(info.max, source.max)
    elif x.dtype == torch.bool:
        return x.to(target)
    else:
        source_int = torch.iinfo(x.dtype)
        low, high = builtins.max(info.min, source_int.min), builtins.min(info.max, source_int.max)
    return torch.clamp(x, low, high).to(target)


@keras_op
def stop_gradient(variable: Any) -> torch.Tensor:
    """Returns `variable` cut from the autograd graph (its gradient is zero).

    Example:
        >>> w = torch.ones(2, requires_grad=True)
        >>> stop_gradient(w * 2).requires_grad
        False
    """
    return operands.convert_to_tensor(variable).detach()


def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """Returns `true_fn()` if `pred` is true, else `false_fn()` (only one branch runs).

    A tensor `pred` is read on the host, a device sync on accelerators.

    Example:
        >>> cond(torch.tensor(True), lambda: 1, lambda: 2)
        1
    """
    return true_fn() if bool(pred) else false_fn()


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands_: Any) -> Any:
    """Calls `branches[index](*operands)`, clamping `index` into the range of `branches`.

    Example:
        >>> switch(5, [lambda x: x + 1, lambda x: x * 10], 3)
        30
    """
    if not branches:
        raise ValueError(
            f"Expected at least one branch. {received('branches', branches)} Pass a list of callables."
        )
    position = builtins.min(builtins.max(int(index), 0), len(branches) - 1)
    return branches[position](*operands_)


def _flatten(tree: Any) -> tuple[list[Any], Any]:
    """Leaves of nested lists/tuples/dicts and a spec to rebuild the structure."""
    if isinstance(tree, dict):
        keys = sorted(tree)
        leaves: list[Any] = []
        specs = []
        for key in keys:
            sub_leaves, spec = _flatten(tree[key])
            leaves.extend(sub_leaves)
            specs.append((len(sub_leaves), spec))
        return leaves, ("dict", keys, specs)
    if isinstance(tree, (list, tuple)):
        leaves = []
        specs = []
        for item in tree:
            sub_leaves, spec = _flatten(item)
            leaves.extend(sub_leaves)
            specs.append((len(sub_leaves), spec))
        return leaves, (type(tree), None, specs)
    return [tree], None


def _unflatten(spec: Any, leaves: Sequence[Any]) -> Any:
    if spec is None:
        return leaves[0]
    kind, keys, specs = spec
    items = []
    start = 0
    for count, sub_spec in specs:
        items.append(_unflatten(sub_spec, leaves[start : start + count]))
        start += count
    if kind == "dict":
        return dict(zip(keys, items))
    if kind is list:
        return items
    if kind is tuple:
        return tuple(items)
    return kind(*items)  # a namedtuple


def scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
) -> tuple[Any, Any]:
    """Loops `carry, y = f(carry, x)` over the leading axis of `xs`; returns the last carry and stacked ys.

    When `f` returns None as `y`, the second result is None.

    Args:
        f: Takes `(carry, x)` and returns `(new_carry, y)`; `y` may be None.
        init: The first carry (any nest of tensors).
        xs: A nest of tensors sliced along axis 0, or None (then `length` is required).
        length: The number of steps when `xs` is None.
        reverse: Loop from the last element to the first (the ys keep input order).
        unroll: Accepted for compatibility; the loop runs eagerly either way.

    Raises:
        TypeError: if `f` is not callable.
        ValueError: if neither `xs` nor `length` is given, or `unroll` is not a positive int/bool.

    Example:
        >>> carry, ys = scan(lambda c, x: (c + x, c * x), torch.tensor(0.0), torch.arange(1.0, 4.0))
        >>> carry, ys
        (tensor(6.), tensor([0., 2., 9.]))
    """
    if not callable(f):
        raise TypeError(f"Expected `f` to be a callable. {received('f', f)} Pass a function of (carry, x).")
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(
            f"Expected `unroll` to be a positive int or a bool. {received('unroll', unroll)} Pass e.g. unroll=1."
        )
    if xs is None and length is None:
        raise ValueError(
            "Expected `xs` to scan over or a `length`. Received: xs=None and length=None. "
            "Pass the sequence as `xs`, or the number of steps as `length`."
        )
    x_leaves: list[torch.Tensor] = []
    x_spec = None
    if xs is not None:
        x_leaves, x_spec = _as_tensors(xs)
    steps = int(length) if length is not None else x_leaves[0].shape[0]
    carry = _tensor_nest(init)
    ys = []
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for i in order:
        x = _unflatten(x_spec, [leaf[i] for leaf in x_leaves]) if x_leaves else None
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys or ys[0] is None:
        return carry, None
    y_leaves_per_step = [_flatten(y)[0] for y in ys]
    _, y_spec = _flatten(ys[0])
    stacked = [
        torch.stack([operands.convert_to_tensor(step[j]) for step in y_leaves_per_step])
        for j in range(len(y_leaves_per_step[0]))
    ]
    return carry, _unflatten(y_spec, stacked)


def associative_scan(f: Callable[[Any, Any], Any], elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """Inclusive prefix scan of an associative `f` along `axis` (e.g. a cumulative sum when `f` adds).

    `f` is applied to slices (keepdims along `axis`) in sequence; results equal a parallel
    scan for associative `f`.

    Example:
        >>> associative_scan(lambda a, b: a + b, torch.tensor([1, 2, 3]))
        tensor([1, 3, 6])
    """
    leaves, spec = _flatten(elems)
    leaves = [operands.convert_to_tensor(leaf) for leaf in leaves]
    n = leaves[0].shape[axis]
    indices = range(n - 1, -1, -1) if reverse else range(n)
    outputs = []
    running: Any = None
    for i in indices:
        current = _unflatten(spec, [leaf.narrow(axis, i, 1) for leaf in leaves])
        running = current if running is None else (f(current, running) if reverse else f(running, current))
        outputs.append(_flatten(running)[0])
    if reverse:
        outputs.reverse()
    joined = [torch.cat([step[j] for step in outputs], dim=axis) for j in range(len(leaves))]
    return _unflatten(spec, joined)


def map(f: Callable[[Any], Any], xs: Any) -> Any:
    """Applies `f` to each slice of `xs` along axis 0 and stacks the results.

    Example:
        >>> map(lambda x: x * 2, torch.tensor([1, 2]))
        tensor([2, 4])
    """
    return scan(lambda carry, x: (carry, f(x)), (), xs)[1]


def fori_loop(lower: int, upper: int, body_fun: Callable[[int, Any], Any], init_val: Any) -> Any:
    """Returns `val` after `val = body_fun(i, val)` for `i` in `range(lower, upper)`.

    Example:
        >>> fori_loop(0, 4, lambda i, v: v + i, torch.tensor(0))
        tensor(6)
    """
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(
    cond: Callable[..., Any],
    body: Callable[..., Any],
    loop_vars: Any,
    maximum_iterations: int | None = None,
) -> Any:
    """Runs `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` holds (at most `maximum_iterations` times).

    A tuple/list `loop_vars` is unpacked into the calls and a tuple is returned; a single
    value is passed and returned as it is.

    Example:
        >>> while_loop(lambda i: i < 5, lambda i: i + 2, torch.tensor(0))
        tensor(6)
    """
    is_sequence = isinstance(loop_vars, (list, tuple))
    values = tuple(loop_vars) if is_sequence else (loop_vars,)
    values = tuple(_tensor_nest(value) for value in values)
    count = 0
    while (maximum_iterations is None or count < maximum_iterations) and bool(cond(*values)):
        result = body(*values)
        values = tuple(result) if isinstance(result, (list, tuple)) else (result,)
        count += 1
    return values if is_sequence else values[0]


def _tensor_nest(value: Any) -> Any:
    """The same nest with every leaf converted to a tensor."""
    leaves, spec = _as_tensors(value)
    return _unflatten(spec, leaves)


def _as_tensors(value: Any) -> tuple[list[torch.Tensor], Any]:
    """The leaves of a nest converted to tensors, and the nest's spec."""
    leaves, spec = _flatten(value)
    return [operands.convert_to_tensor(leaf) for leaf in leaves], spec


def vectorized_map(function: Callable[[Any], Any], elements: Any) -> Any:
    """Maps `function` over axis 0 of `elements` in one batched call (`torch.vmap`).

    Example:
        >>> vectorized_map(lambda row: row.sum(), torch.ones(3, 2))
        tensor([2., 2., 2.])
    """
    return torch.vmap(function)(elements)


@keras_op
def scatter(indices: Any, values: Any, shape: Sequence[int]) -> torch.Tensor:
    """A zero tensor of `shape` with `values` added at `indices` (repeated indices accumulate).

    Args:
        indices: Integer tensor `(N, k)`: each row indexes the first `k` dimensions.
        values: `(N, *shape[k:])` values to add.
        shape: The output shape.

    Example:
        >>> scatter([[0], [2], [0]], [1.0, 2.0, 3.0], (3,))
        tensor([4., 0., 2.])
    """
    values = operands.convert_to_tensor(values)
    indices = operands.convert_to_tensor(indices, device=values.device).long()
    out = torch.zeros(tuple(shape), dtype=values.dtype, device=values.device)
    depth = indices.shape[-1]
    indices = indices.reshape(-1, depth)
    values = values.reshape((-1, *tuple(shape)[depth:]))
    return out.index_put_(tuple(indices.T), values, accumulate=True)


@keras_op
def scatter_update(inputs: Any, indices: Any, updates: Any, reduction: str | None = None) -> torch.Tensor:
    """A copy of `inputs` with `updates` written at `indices` (or combined by `reduction`).

    Args:
        inputs: The tensor to update.
        indices: Integer tensor `(N, k)`; each row indexes the first `k` dimensions.
        updates: `(N, *inputs.shape[k:])` new values.
        reduction: None (overwrite), `"add"`, `"max"`, `"min"` or `"mul"`.

    Raises:
        ValueError: for an unknown `reduction`.

    Example:
        >>> scatter_update(torch.zeros(3), [[1]], [5.0])
        tensor([0., 5., 0.])
    """
    inputs = operands.convert_to_tensor(inputs)
    indices = operands.convert_to_tensor(indices, device=inputs.device).long()
    updates = operands.convert_to_tensor(updates, inputs.dtype, device=inputs.device)
    out = inputs.clone()
    index = tuple(indices.T)
    if reduction is None:
        out[index] = updates
        return out
    if reduction == "add":
        return out.index_put_(index, updates, accumulate=True)
    modes = {"max": "amax", "min": "amin", "mul": "prod"}
    if reduction not in modes:
        raise ValueError(
            "Expected `reduction` to be None, 'add', 'max', 'min' or 'mul'. "
            f"{received('reduction', reduction)} Pass one of those."
        )
    # Flatten the indexed dimensions to one so that scatter_reduce_ combines repeated indices.
    depth = indices.shape[-1]
    lead = inputs.shape[:depth]
    flat_index = torch.zeros(indices.shape[0], dtype=torch.long, device=inputs.device)
    for d in range(depth):
        flat_index = flat_index * lead[d] + indices[:, d]
    flat = out.reshape(-1, *inputs.shape[depth:])
    expanded = flat_index.reshape(-1, *([1] * (flat.dim() - 1))).expand_as(updates.reshape(-1, *flat.shape[1:]))
    flat.scatter_reduce_(0, expanded, updates.reshape(-1, *flat.shape[1:]), reduce=modes[reduction])
    return flat.reshape(inputs.shape)


@keras_op
def slice(inputs: Any, start_indices: Any, shape: Any) -> torch.Tensor:
    """The block of `inputs` of size `shape` that starts at `start_indices`.

    Example:
        >>> slice(torch.arange(10).reshape(2, 5), (0, 1), (2, 2))
        tensor([[1, 2],
                [6, 7]])
    """
    inputs = operands.convert_to_tensor(inputs)
    starts = _int_list(start_indices)
    sizes = _int_list(shape)
    out = inputs
    for dim, (start, size) in enumerate(zip(starts, sizes)):
        out = out.narrow(dim, start, inputs.shape[dim] - start if size == -1 else size)
    return out


@keras_op
def slice_update(inputs: Any, start_indices: Any, updates: Any) -> torch.Tensor:
    """A copy of `inputs` with the block at `start_indices` replaced by `updates`.

    Example:
        >>> slice_update(torch.zeros(4), (1,), torch.ones(2))
        tensor([0., 1., 1., 0.])
    """
    inputs = operands.convert_to_tensor(inputs)
    updates = operands.convert_to_tensor(updates, device=inputs.device)
    starts = _int_list(start_indices)
    out = inputs.clone()
    region = out
    for dim, start in enumerate(starts):
        region = region.narrow(dim, start, updates.shape[dim])
    region.copy_(updates)
    return out


def _int_list(values: Any) -> list[int]:
    if isinstance(values, torch.Tensor):
        return [int(v) for v in values.tolist()]
    return [int(v) for v in values]


@keras_op
def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[torch.Tensor]:
    """Splits `x` along `axis` into a list of tensors with that axis removed.

    Raises:
        ValueError: if `num` is given and differs from `x.shape[axis]`.

    Example:
        >>> [t.tolist() for t in unstack(torch.tensor([[1, 2], [3, 4]]))]
        [[1, 2], [3, 4]]
    """
    x = operands.convert_to_tensor(x)
    if num is not None and num != x.shape[axis]:
        raise ValueError(
            f"Expected `num` to equal x.shape[{axis}]={x.shape[axis]}. {received('num', num)} "
            "Pass num=None to unstack along the whole axis."
        )
    return list(x.unbind(axis))


def custom_gradient(f: Callable[..., tuple[Any, Callable[..., Any]]]) -> Callable[..., Any]:
    """Decorates `f`, which returns `(output, grad_fn)`, so that backprop calls `grad_fn(upstream)`.

    `grad_fn` receives the output's gradient (as `upstream`, positionally) and returns one
    gradient per positional tensor input of `f` (a single tensor when there is one input).

    Example:
        >>> @custom_gradient
        ... def log1pexp(x):
        ...     e = torch.exp(x)
        ...     return torch.log1p(e), lambda upstream: upstream * (1 - 1 / (1 + e))
        >>> x = torch.tensor(100.0, requires_grad=True)
        >>> log1pexp(x).backward(); x.grad
        tensor(1.)
    """

    class _Function(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, *args: Any) -> Any:
            with torch.enable_grad():
                output, grad_fn = f(*args)
            ctx.grad_fn = grad_fn
            return output.detach() if isinstance(output, torch.Tensor) else output

        @staticmethod
        def backward(ctx: Any, *upstream: Any) -> Any:
            grads = ctx.grad_fn(*upstream)
            return tuple(grads) if isinstance(grads, (list, tuple)) else grads

    def wrapper(*args: Any) -> Any:
        return _Function.apply(*args)

    wrapper.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapper.__doc__ = f.__doc__
    return wrapper
