"""kfit.ops core ops against keras.ops: conversion rules, dtypes, scatter/slice and control flow."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from ops_parity import assert_no_problems, compare_op, describe_difference, keras, make, op_pair

import kfit.ops as kops
from kfit.ops.dtypes import result_type, standardize_dtype

CONVERSION_INPUTS = [
    [1, 2],
    [1.0, 2.0],
    [1, 2.0],
    [True, False],
    [[1, 2], [3, 4]],
    (1, 2),
    3,
    3.0,
    True,
    2**40,
    np.array([1, 2]),
    np.array([1.0, 2.0]),
    np.array([1, 2], dtype="int8"),
    np.array([1, 2], dtype="uint32"),
    np.array([1.0], dtype="float16"),
    np.array([True]),
    np.float64(2.0),
    np.float32(2.0),
    np.int64(3),
    [torch.tensor(1.0), torch.tensor(2.0)],
    torch.tensor([1, 2], dtype=torch.int16),
]


@pytest.mark.parametrize("value", CONVERSION_INPUTS, ids=lambda v: f"{type(v).__name__}:{v!r}"[:40])
def test_convert_to_tensor_gives_keras_dtypes(value) -> None:
    assert describe_difference(kops.convert_to_tensor(value), keras.ops.convert_to_tensor(value)) is None


@pytest.mark.parametrize("dtype", ["float32", "int8", "bool", "float16", "bfloat16", "int64", "uint8"])
def test_convert_to_tensor_and_cast_with_a_dtype_match_keras(dtype: str) -> None:
    problems = [
        compare_op(kops.convert_to_tensor, keras.ops.convert_to_tensor, [1.5, 2.0, 0.0], dtype),
        compare_op(kops.cast, keras.ops.cast, make("float32", seed=1) * 3, dtype),
        compare_op(kops.cast, keras.ops.cast, np.array([1, 0, 3]), dtype),
        compare_op(kops.cast, keras.ops.cast, [True, False], getattr(torch, dtype)),
    ]
    assert_no_problems([p for p in problems if p])


def test_result_type_is_keras_lattice_with_weak_scalars() -> None:
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "bfloat16", "float16", "float32", "float64"]
    dtypes = [*names, int, float, bool]
    problems = []
    for pair in itertools.product(dtypes, repeat=2):
        try:
            expected = keras.backend.result_type(*pair)
        except ValueError:
            continue
        if result_type(*pair) != expected:
            problems.append(f"{pair}: {result_type(*pair)} != {expected}")
    assert_no_problems(problems)
    assert result_type() == "float32"
    assert standardize_dtype(np.dtype("int16")) == "int16" and standardize_dtype(torch.bfloat16) == "bfloat16"


def test_queries_and_conversion_back_to_numpy() -> None:
    x = torch.ones(2, 3, dtype=torch.bfloat16, requires_grad=True)
    assert kops.shape(x) == (2, 3) and isinstance(kops.shape(x), tuple)
    assert kops.shape(np.ones((4, 1))) == (4, 1)
    assert kops.dtype(x) == keras.ops.dtype(x) == "bfloat16"
    assert kops.is_tensor(x) and not kops.is_tensor(np.ones(1))
    assert kops.convert_to_numpy(x).dtype == keras.ops.convert_to_numpy(x).dtype
    assert kops.convert_to_numpy([torch.ones(2), torch.zeros(2)]).shape == (2, 2)
    assert not kops.stop_gradient(x * 2).requires_grad


def test_saturate_cast_matches_keras() -> None:
    x = torch.tensor([-300.0, -1.5, 0.0, 200.7, 1e10])
    problems = [compare_op(*op_pair("saturate_cast"), x, dtype) for dtype in ("uint8", "int8", "int32", "float16")]
    problems.append(compare_op(*op_pair("saturate_cast"), torch.tensor([-5, 300]), "uint8"))
    assert_no_problems([p for p in problems if p])


def test_scatter_and_scatter_update_match_keras() -> None:
    indices = torch.tensor([[0, 1], [2, 0], [0, 1]])
    values = torch.tensor([1.0, 2.0, 3.0])
    inputs = make("float32", shape=(3, 2, 4), seed=2)
    updates = make("float32", shape=(3, 4), seed=3)
    unique = torch.tensor([[0, 1], [2, 0], [1, 1]])
    problems = [
        compare_op(*op_pair("scatter"), indices, values, (3, 2)),
        compare_op(*op_pair("scatter"), torch.tensor([[1], [0], [1]]), make("float32", shape=(3, 4)), (2, 4)),
        compare_op(*op_pair("scatter_update"), inputs, unique, updates),
        compare_op(*op_pair("scatter_update"), inputs, indices, updates, "add"),
        compare_op(*op_pair("scatter_update"), inputs, indices, updates, "max"),
        compare_op(*op_pair("scatter_update"), inputs, indices, updates, "min"),
        compare_op(*op_pair("scatter_update"), inputs, indices, updates, "mul"),
        compare_op(*op_pair("scatter_update"), torch.zeros(4, dtype=torch.int32), [[1], [3]], [5, 6]),
    ]
    assert_no_problems([p for p in problems if p])
    with pytest.raises(ValueError, match="reduction"):
        kops.scatter_update(inputs, indices, updates, "mean")


def test_slice_slice_update_and_unstack_match_keras() -> None:
    x = make("float32", shape=(4, 5, 3), seed=4)
    problems = [
        compare_op(*op_pair("slice"), x, (1, 2, 0), (2, 3, 3)),
        compare_op(*op_pair("slice"), x, torch.tensor([0, 1, 1]), torch.tensor([4, 2, 1])),
        compare_op(*op_pair("slice_update"), x, (1, 0, 1), torch.ones(2, 2, 2)),
        compare_op(*op_pair("slice_update"), x, torch.tensor([2, 3, 0]), torch.zeros(1, 2, 3)),
        compare_op(*op_pair("unstack"), x),
        compare_op(*op_pair("unstack"), x, 5, 1),
    ]
    assert_no_problems([p for p in problems if p])
    with pytest.raises(ValueError, match="num"):
        kops.unstack(x, num=3)


def test_cond_switch_and_loops_match_keras() -> None:
    x = torch.tensor(3.0)
    assert kops.cond(x > 2, lambda: x * 2, lambda: x) == keras.ops.cond(x > 2, lambda: x * 2, lambda: x)
    branches = [lambda a: a + 1, lambda a: a * 10, lambda a: -a]
    for index in (-1, 0, 1, 2, 7):
        assert kops.switch(index, branches, x) == keras.ops.switch(index, branches, x)
    body = lambda i, v: v + i * 2  # noqa: E731
    assert kops.fori_loop(1, 5, body, torch.tensor(0)) == keras.ops.fori_loop(1, 5, body, torch.tensor(0))
    single = kops.while_loop(lambda v: v < 10, lambda v: v * 2, 1)
    assert describe_difference(single, keras.ops.while_loop(lambda v: v < 10, lambda v: v * 2, 1)) is None
    pair = kops.while_loop(lambda a, b: a < 5, lambda a, b: (a + 1, b * 2), (0, 1.0), maximum_iterations=3)
    expected = keras.ops.while_loop(lambda a, b: a < 5, lambda a, b: (a + 1, b * 2), (0, 1.0), maximum_iterations=3)
    assert describe_difference(pair, expected) is None


def test_scan_and_map_match_keras() -> None:
    xs = make("float32", shape=(5, 3), seed=5)

    def step(carry, x):
        return carry + x, carry * x

    def nested(carry, x):
        return {"sum": carry["sum"] + x[0], "n": carry["n"] + 1}, (x[0] - x[1], x[1].sum())

    problems = [
        compare_op(*op_pair("scan"), step, torch.zeros(3), xs),
        compare_op(*op_pair("scan"), step, torch.zeros(3), xs, reverse=True),
        compare_op(*op_pair("scan"), lambda c, _: (c * 2, c), torch.tensor(1.0), None, 4),
        compare_op(*op_pair("map"), lambda row: row.sum() * 2, xs),
        compare_op(*op_pair("vectorized_map"), lambda row: row * row.sum(), xs),
    ]
    assert_no_problems([p for p in problems if p])
    carry, ys = kops.scan(nested, {"sum": torch.zeros(3), "n": torch.tensor(0)}, (xs, xs * 2))
    expected_carry, expected_ys = keras.ops.scan(nested, {"sum": torch.zeros(3), "n": torch.tensor(0)}, (xs, xs * 2))
    assert describe_difference(carry["sum"], expected_carry["sum"]) is None
    assert describe_difference(list(ys), list(expected_ys)) is None
    with pytest.raises(ValueError, match="length"):
        kops.scan(step, torch.zeros(3))
    with pytest.raises(TypeError, match="callable"):
        kops.scan(None, torch.zeros(3), xs)


def test_associative_scan_matches_keras() -> None:
    xs = make("float32", shape=(6, 2), seed=6)
    problems = [
        compare_op(*op_pair("associative_scan"), torch.add, xs, rtol=1e-5),
        compare_op(*op_pair("associative_scan"), torch.maximum, xs, reverse=True),
        compare_op(*op_pair("associative_scan"), torch.add, xs, axis=1, rtol=1e-5),
    ]
    assert_no_problems([p for p in problems if p])


def test_custom_gradient_replaces_the_backward_pass() -> None:
    @kops.custom_gradient
    def clipped_identity(x):
        return x * 1.0, lambda upstream: torch.clamp(upstream, -0.5, 0.5)

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (clipped_identity(x) * torch.tensor([3.0, -0.1])).sum().backward()
    assert x.grad.tolist() == [0.5, pytest.approx(-0.1)]


def test_values_that_are_not_tensors_follow_the_tensor_operand_device() -> None:
    # Under a meta default device, anything created from nothing lands on "meta", while values
    # converted beside a CPU tensor must stay on the CPU (on a GPU machine: beside a CUDA tensor).
    import kfit.random as krandom

    x = make("float32", shape=(2, 3), seed=7)
    generator = krandom.SeedGenerator(1)
    half, labels, starts, ends = torch.tensor(0.5), torch.tensor([0, 2]), torch.zeros(2), torch.ones(2)
    with torch.device("meta"):
        cpu_results = [
            kops.add(x, [1.0, 2.0, 3.0]),
            kops.add([1, 2, 3], x),
            kops.multiply(2, x),
            kops.maximum(x, np.zeros(3, dtype="float32")),
            kops.where(x > 0, 1, 0),
            kops.where(x > 0, x, 0.0),
            kops.clip(x, np.float32(-0.5), half),
            kops.matmul(x, np.ones((3, 2), dtype="float32")),
            kops.concatenate([x, [[1.0, 2.0, 3.0]]]),
            kops.take(x, [0, 1], axis=1),
            kops.one_hot(labels, 3),
            kops.scatter_update(x, [[0, 1]], [5.0]),
            kops.conv(x.reshape(1, 2, 3), np.ones((1, 3, 2), dtype="float32")),
            kops.dot_product_attention(x.reshape(1, 2, 1, 3), x.reshape(1, 2, 1, 3), x.reshape(1, 2, 1, 3)),
            kops.linspace(starts, ends, 3),
            krandom.dropout(x, 0.5, seed=generator),
            krandom.shuffle(x, seed=2),
        ]
        created = [
            kops.zeros((2,)),
            kops.arange(3),
            kops.convert_to_tensor([1, 2]),
            krandom.normal((2,), seed=generator),
            krandom.dropout(torch.ones(2, device="meta"), 0.5, seed=3),
        ]
    assert [r.device.type for r in cpu_results] == ["cpu"] * len(cpu_results)
    assert [r.device.type for r in created] == ["meta"] * len(created)


def test_ops_on_keras_tensors_record_graph_steps_named_as_keras_ops() -> None:
    import kfit

    inputs = kfit.Input((4,))
    mean = kops.mean(inputs, axis=-1, keepdims=True)
    outputs = kops.softmax(kops.concatenate([inputs, mean], axis=-1))
    assert outputs.shape == (None, 5) and kops.shape(outputs) == (None, 5) and kops.dtype(outputs) == "float32"
    assert [t._keras_history.operation.class_name for t in (mean, outputs)] == ["Mean", "Softmax"]
    model = kfit.Model(inputs, outputs)
    data = make("float32", shape=(3, 4), seed=8)
    expected = torch.softmax(torch.cat([data, data.mean(-1, keepdim=True)], -1), -1)
    assert torch.allclose(model(data), expected)
