"""kfit.ops numpy-like ops against keras.ops (torch backend): values, dtypes and shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ops_parity import ALL_DTYPES, assert_no_problems, compare_op, describe_difference, keras, make, op_pair

import kfit.ops as kops
import kfit.ops.numpy as knp

UNARY = {
    "abs": "any",
    "absolute": "any",
    "negative": "any",
    "sign": "any",
    "square": "any",
    "sqrt": "positive",
    "exp": "any",
    "exp2": "any",
    "expm1": "any",
    "log": "positive",
    "log2": "positive",
    "log10": "positive",
    "log1p": "positive",
    "sin": "any",
    "cos": "any",
    "tan": "unit",
    "arcsin": "unit",
    "arccos": "unit",
    "arctan": "any",
    "sinh": "any",
    "cosh": "any",
    "tanh": "any",
    "arcsinh": "any",
    "arccosh": "ge1",
    "arctanh": "unit",
    "floor": "any",
    "ceil": "any",
    "round": "any",
    "trunc": "any",
    "reciprocal": "positive",
    "isnan": "any",
    "isinf": "any",
    "isfinite": "any",
    "isneginf": "any",
    "isposinf": "any",
    "logical_not": "any",
    "nan_to_num": "any",
    "ravel": "any",
    "copy": "any",
    "sinc": "any",
    "deg2rad": "any",
    "rad2deg": "any",
    "cbrt": "any",
    "fabs": "any",
    "signbit": "any",
    "bitwise_invert": "any",
    "rsqrt": "positive",
    "erf": "any",
    "erfinv": "unit",
    "erfc": "any",
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_matches_keras_for_every_dtype(name: str) -> None:
    ours, theirs = op_pair(name)
    problems = []
    for dtype in ALL_DTYPES:
        problem = compare_op(ours, theirs, make(dtype, kind=UNARY[name]), keras_may_fail=True)
        if problem:
            problems.append(f"{name}({dtype}): {problem}")
    assert_no_problems(problems)


BINARY = {
    "add": "any",
    "subtract": "any",
    "multiply": "any",
    "divide": "positive",
    "true_divide": "positive",
    "floor_divide": "positive",
    "mod": "positive",
    "fmod": "positive",
    "power": "positive",
    "maximum": "any",
    "minimum": "any",
    "fmax": "any",
    "fmin": "any",
    "arctan2": "any",
    "hypot": "any",
    "logaddexp": "any",
    "logaddexp2": "any",
    "divide_no_nan": "any",
    "equal": "any",
    "not_equal": "any",
    "greater": "any",
    "greater_equal": "any",
    "less": "any",
    "less_equal": "any",
    "logical_and": "any",
    "logical_or": "any",
    "logical_xor": "any",
    "heaviside": "any",
    "isclose": "any",
    "outer": "any",
    "kron": "any",
    "bitwise_and": "any",
    "bitwise_or": "any",
    "bitwise_xor": "any",
    "gcd": "positive",
    "lcm": "positive",
    "nextafter": "any",
}
MIXED_PAIRS = [
    ("int32", "float32"),
    ("int8", "uint8"),
    ("float16", "float32"),
    ("bfloat16", "float16"),
    ("bool", "int32"),
    ("int64", "float16"),
    ("uint8", "int32"),
]


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_matches_keras_for_dtype_pairs(name: str) -> None:
    ours, theirs = op_pair(name)
    pairs = [(d, d) for d in ALL_DTYPES] + MIXED_PAIRS
    problems = []
    for a, b in pairs:
        x1 = make(a, kind=BINARY[name], seed=1)
        x2 = make(b, kind=BINARY[name], seed=2)
        problem = compare_op(ours, theirs, x1, x2, keras_may_fail=True)
        if problem:
            problems.append(f"{name}({a}, {b}): {problem}")
    assert_no_problems(problems)


SCALAR_OPS = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "power",
    "maximum",
    "minimum",
    "floor_divide",
    "mod",
    "equal",
    "greater",
    "less_equal",
    "divide_no_nan",
    "arctan2",
]


@pytest.mark.parametrize("name", SCALAR_OPS)
def test_tensor_with_python_scalar_follows_keras_weak_types(name: str) -> None:
    ours, theirs = op_pair(name)
    problems = []
    for dtype in ALL_DTYPES:
        x = make(dtype, kind="positive", seed=3)
        for scalar in (2, 2.5, True):
            for args in ((x, scalar), (scalar, x)):
                problem = compare_op(ours, theirs, *args, keras_may_fail=True)
                if problem:
                    kinds = tuple(dtype if isinstance(a, torch.Tensor) else type(a).__name__ for a in args)
                    problems.append(f"{name}{kinds}: {problem}")
    assert_no_problems(problems)


def test_two_python_scalars_and_numpy_arrays_convert_like_keras() -> None:
    problems = []
    for name in ("add", "multiply", "subtract", "divide", "maximum"):
        ours, theirs = op_pair(name)
        for args in ((1, 2), (1.5, 2), (np.ones(3), 2), (np.ones(3, dtype="float32"), [1, 2, 3]), ([1, 2], [3.0, 4.0])):
            problem = compare_op(ours, theirs, *args)
            if problem:
                problems.append(f"{name}{args}: {problem}")
    assert_no_problems(problems)


REDUCTIONS = [
    "sum",
    "prod",
    "mean",
    "max",
    "min",
    "amax",
    "amin",
    "std",
    "var",
    "all",
    "any",
    "ptp",
    "logsumexp",
    "median",
    "nansum",
    "nanmean",
    "nanmax",
    "nanmin",
    "nanprod",
    "nanvar",
    "nanstd",
    "nanmedian",
]
AXES = [None, 0, -1, (0, 2), ()]


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_matches_keras_for_axes_keepdims_and_dtypes(name: str) -> None:
    ours, theirs = op_pair(name)
    problems = []
    for dtype in ALL_DTYPES:
        x = make(dtype, shape=(2, 3, 4), seed=4)
        for axis in AXES:
            for keepdims in (False, True):
                if keepdims and axis is None and name not in ("mean", "std", "var", "logsumexp", "median"):
                    continue  # Keras on torch drops keepdims here; kfit keeps dims as numpy does.
                if axis == () and name in ("std", "nanmax", "nanmin"):
                    continue  # Keras on torch reduces every axis here; kfit reduces none, as numpy.
                problem = compare_op(ours, theirs, x, axis=axis, keepdims=keepdims, rtol=1e-5, keras_may_fail=True)
                if problem:
                    problems.append(f"{name}({dtype}, axis={axis}, keepdims={keepdims}): {problem}")
    assert_no_problems(problems)


def test_full_reductions_keep_all_dims_like_numpy() -> None:
    x = torch.arange(6.0).reshape(2, 3)
    for name in ("max", "min", "amax", "amin", "sum", "mean", "argmax"):
        out = getattr(kops, name)(x, axis=None, keepdims=True)
        assert out.shape == (1, 1), name
    assert kops.max(x, initial=10.0).item() == 10.0


@pytest.mark.parametrize("name", ["argmax", "argmin", "nanargmax", "nanargmin", "argsort", "sort"])
def test_index_reductions_match_keras(name: str) -> None:
    ours, theirs = op_pair(name)
    problems = []
    for dtype in ALL_DTYPES:
        x = make(dtype, shape=(3, 5), seed=5)
        for axis in (None, 0, -1):
            kwargs = {"axis": axis}
            problem = compare_op(ours, theirs, x, keras_may_fail=True, **kwargs)
            if problem:
                problems.append(f"{name}({dtype}, axis={axis}): {problem}")
    assert_no_problems(problems)


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "nancumsum", "nancumprod", "count_nonzero"])
def test_cumulative_and_counting_ops_match_keras(name: str) -> None:
    ours, theirs = op_pair(name)
    problems = []
    for dtype in ALL_DTYPES:
        x = make(dtype, shape=(3, 4), kind="unit" if name.endswith("prod") else "any", seed=6)
        for axis in (None, 0, 1):
            problem = compare_op(ours, theirs, x, axis=axis, rtol=1e-5, keras_may_fail=True)
            if problem:
                problems.append(f"{name}({dtype}, axis={axis}): {problem}")
    assert_no_problems(problems)


def test_count_nonzero_over_leading_axes_follows_numpy() -> None:
    x = make("float32", shape=(2, 3, 4), seed=7).round()
    np.testing.assert_array_equal(kops.count_nonzero(x, axis=0).numpy(), np.count_nonzero(x.numpy(), axis=0))


@pytest.mark.parametrize("name", ["quantile", "percentile", "nanquantile", "nanpercentile"])
def test_quantiles_match_keras(name: str) -> None:
    ours, theirs = op_pair(name)
    q = [0.1, 0.5, 0.9] if "quantile" in name else [10.0, 50.0, 90.0]
    problems = []
    for dtype in ("float32", "int32", "float64"):
        x = make(dtype, shape=(3, 4, 5), seed=8)
        for axis in (None, 1, (0, 2)):
            for keepdims in (False, True):
                for qq in (q, q[1]):
                    for method in ("linear", "lower", "nearest"):
                        problem = compare_op(ours, theirs, x, qq, axis=axis, keepdims=keepdims, method=method)
                        if problem:
                            problems.append(f"{name}({dtype}, {qq}, axis={axis}, {keepdims}, {method}): {problem}")
    assert_no_problems(problems)


def test_average_matches_keras_and_numpy_weights() -> None:
    ours, theirs = op_pair("average")
    x = make("float32", shape=(3, 4), seed=9)
    w = make("float32", shape=(3, 4), kind="positive", seed=10)
    assert_no_problems(
        [p for p in (
            compare_op(ours, theirs, x),
            compare_op(ours, theirs, x, axis=1),
            compare_op(ours, theirs, x, axis=-1, weights=w),
            compare_op(ours, theirs, make("int32"), axis=0),
        ) if p]
    )
    w0 = np.array([1.0, 2.0, 3.0], dtype="float32")
    expected = np.average(x.numpy(), axis=0, weights=w0)
    np.testing.assert_allclose(kops.average(x, axis=0, weights=w0).numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"Received: weights\.shape"):
        kops.average(x, weights=w0)


def _case(name: str, *args, **kwargs):
    return pytest.param(name, args, kwargs, id=f"{name}-{len(args)}-{'-'.join(map(str, kwargs.items()))}")


X = make("float32", shape=(2, 3, 4), seed=11)
X2 = make("float32", shape=(3, 4), seed=12)
I2 = make("int32", shape=(3, 4), seed=13)
V = make("float32", shape=(5,), seed=14)

SHAPE_CASES = [
    _case("reshape", X, (4, -1)),
    _case("reshape", X, 24),
    _case("transpose", X),
    _case("transpose", X, (1, 0, 2)),
    _case("moveaxis", X, 0, -1),
    _case("moveaxis", X, (0, 1), (2, 0)),
    _case("swapaxes", X, 0, 2),
    _case("expand_dims", X2, 0),
    _case("expand_dims", X2, -1),
    _case("expand_dims", X2, (0, 3)),
    _case("squeeze", make("float32", shape=(1, 3, 1)), None),
    _case("squeeze", make("float32", shape=(1, 3, 1)), 2),
    _case("squeeze", make("float32", shape=(1, 3, 1)), (0, 2)),
    _case("broadcast_to", V, (2, 5)),
    _case("flip", X),
    _case("flip", X, 1),
    _case("flip", X, (0, 2)),
    _case("fliplr", X2),
    _case("flipud", X2),
    _case("roll", X2, 2),
    _case("roll", X2, -1, 1),
    _case("roll", X2, (1, 2), (0, 1)),
    _case("rot90", X2),
    _case("rot90", X, 3, (1, 2)),
    _case("tile", X2, 2),
    _case("tile", X2, (2, 1)),
    _case("repeat", X2, 2),
    _case("repeat", X2, 2, 1),
    _case("repeat", X2, torch.tensor([1, 2, 3]), 0),
    _case("concatenate", [X2, I2]),
    _case("concatenate", [X2, X2], 1),
    _case("stack", [X2, X2]),
    _case("stack", [X2, X2], -1),
    _case("hstack", [X2, X2]),
    _case("vstack", [X2, X2]),
    _case("dstack", [X2, X2]),
    _case("append", X2, X2),
    _case("append", X2, X2, 0),
    _case("split", X2, 2, 1),
    _case("split", X2, [1, 2]),
    _case("array_split", V, 3),
    _case("hsplit", X2, 2),
    _case("vsplit", make("float32", shape=(4, 3)), 2),
    _case("dsplit", X, 2),
    _case("tril", X2),
    _case("tril", X2, -1),
    _case("triu", X2, 1),
    _case("diag", X2),
    _case("diag", V, 1),
    _case("diagflat", X2),
    _case("diagonal", X),
    _case("diagonal", X, 1, 1, 2),
    _case("trace", X2),
    _case("trace", I2, 1),
    _case("diff", X2),
    _case("diff", X2, 2, 0),
    _case("pad", X2, ((1, 1), (1, 1))),
    _case("pad", X2, ((1, 2), (0, 3))),
    _case("pad", X2, ((1, 2), (0, 3)), constant_values=5.0),
    _case("pad", X2, ((1, 2), (2, 1)), mode="reflect"),
    _case("take", X2, [0, 2]),
    _case("take", X2, [[0, -1], [1, 1]], 0),
    _case("take", X2, torch.tensor([3, 0]), 1),
    _case("take", I2, torch.tensor([2, 0]), 0),
    _case("take_along_axis", X2, torch.argsort(X2, dim=1), 1),
    _case("take_along_axis", X2, torch.tensor([[0, 1, 2, 0]]), 0),
    _case("where", X2 > 0, X2, 0.0),
    _case("where", X2 > 0, I2, 0),
    _case("where", X2 > 0, 1, 0),
    _case("where", X2 > 0, 1.5, I2),
    _case("where", X2 > 0, make("bool"), 0),
    _case("where", X2 > 0),
    _case("select", [X2 > 0.5, X2 < -0.5], [X2, -X2], 0.0),
    _case("nonzero", X2 > 0),
    _case("searchsorted", torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 2.0, 3.5])),
    _case("searchsorted", torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 2.0, 3.5]), side="right"),
    _case("digitize", X2, torch.tensor([-1.0, 0.0, 1.0])),
    _case("bincount", torch.tensor([0, 1, 1, 3])),
    _case("bincount", torch.tensor([0, 1, 1, 3]), torch.tensor([0.5, 1.0, 2.0, 1.0]), 6),
    _case("unique", torch.tensor([3, 1, 1, 2, 3])),
    _case("unique", torch.tensor([3, 1, 1, 2, 3]), return_index=True, return_inverse=True, return_counts=True),
    _case("unique", torch.tensor([3, 1, 1, 2, 3]), size=5, fill_value=-1),
    _case("unravel_index", torch.tensor([1, 7, 11]), (3, 4)),
    _case("size", X),
    _case("ndim", X),
    _case("isin", I2, torch.tensor([1, 2, 3])),
    _case("meshgrid", V, torch.arange(3.0)),
    _case("meshgrid", V, torch.arange(3.0), indexing="ij"),
    _case("matmul", X, make("float32", shape=(4, 2))),
    _case("matmul", I2, make("int32", shape=(4, 2))),
    _case("matmul", make("int8", shape=(3, 4)), make("int8", shape=(4, 2))),
    _case("matmul", make("float64", shape=(3, 4)), make("float64", shape=(4, 2))),
    _case("matmul", make("float16", shape=(3, 4)), make("float16", shape=(4, 2))),
    _case("matmul", make("bool", shape=(3, 4)), make("bool", shape=(4, 2))),
    _case("dot", X2, make("float32", shape=(4,))),
    _case("dot", X2, 2.0),
    _case("dot", I2, make("int32", shape=(4, 2))),
    _case("tensordot", X, make("float32", shape=(3, 4, 2))),
    _case("tensordot", X, make("float32", shape=(4, 5)), 1),
    _case("tensordot", X, make("float32", shape=(3, 5)), ((1,), (0,))),
    _case("tensordot", X, make("float32", shape=(3, 5)), (1, 0)),
    _case("inner", X2, make("float32", shape=(2, 4))),
    _case("vdot", V, V),
    _case("cross", make("float32", shape=(4, 3)), make("float32", shape=(4, 3), seed=2)),
    _case("einsum", "ij,jk->ik", X2, make("float32", shape=(4, 2))),
    _case("einsum", "bij->bji", X),
    _case("einsum", "ij,ij->i", make("int8", shape=(3, 4)), make("int8", shape=(3, 4))),
    _case("slogdet", make("float32", shape=(3, 3)) + 3 * torch.eye(3)),
    _case("trapezoid", X2),
    _case("trapezoid", X2, dx=0.5, axis=0),
    _case("correlate", V, torch.tensor([1.0, 0.5, -1.0])),
    _case("correlate", V, torch.tensor([1.0, 0.5, -1.0]), mode="full"),
    _case("corrcoef", X2),
    _case("get_item", X, (0, slice(1, 3))),
    _case("vander", V),
    _case("vander", V, 3, True),
    _case("view", X2, "int32"),
    _case("clip", X2, -0.5, 0.5),
    _case("clip", I2, 0, 3),
    _case("clip", make("bool"), 0, 1),
    _case("clip", make("int8"), 0.5, 2.5),
    _case("round", X2 * 100, 1),
    _case("nan_to_num", torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0]), 0.0, 9.0, -9.0),
    _case("ldexp", X2, make("int32", kind="positive")),
    _case("angle", X2),
    _case("real", X2),
    _case("imag", torch.complex(X2, X2)),
    _case("conj", torch.complex(X2, -X2)),
    _case("histogram", V),
    _case("histogram", V, 3, (-1.0, 1.0)),
    _case("allclose", X2, X2 + 1e-9),
    _case("bitwise_left_shift", I2.abs(), 2),
    _case("bitwise_right_shift", I2.abs(), torch.ones(3, 4, dtype=torch.int32)),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), SHAPE_CASES)
def test_structural_op_matches_keras(name: str, args: tuple, kwargs: dict) -> None:
    ours, theirs = op_pair(name)
    expected = theirs(*args, **kwargs)  # Keras must accept the case, else the case is wrong
    del expected
    assert_no_problems([p for p in [compare_op(ours, theirs, *args, rtol=1e-5, **kwargs)] if p])


NUMPY_CASES = [
    ("pad", (np.arange(6).reshape(2, 3), ((1, 1),)), {}),
    ("pad", (np.arange(6).reshape(2, 3), 1), {}),
    ("pad", (np.arange(6).reshape(2, 3), 2), {"mode": "symmetric"}),
    ("pad", (np.arange(6).reshape(2, 3), ((2, 3), (1, 4))), {"mode": "wrap"}),
    ("pad", (np.arange(6).reshape(2, 3), ((2, 3), (1, 4))), {"mode": "edge"}),
    ("pad", (np.arange(5.0), (3, 3)), {"mode": "reflect"}),
    ("correlate", (np.arange(3.0), np.arange(6.0)), {"mode": "valid"}),
    ("correlate", (np.arange(7.0), np.array([1.0, 2.0, 0.5, 1.0])), {"mode": "same"}),
    ("correlate", (np.arange(3.0), np.arange(6.0)), {"mode": "same"}),
    ("linspace", (np.zeros(2), np.array([1.0, 10.0]), 5), {}),
    ("linspace", (np.zeros(2), np.array([1.0, 10.0]), 4), {"endpoint": False, "axis": 1}),
    ("average", (np.arange(6.0).reshape(2, 3),), {"axis": 1, "weights": np.array([1.0, 0.0, 2.0])}),
    ("split", (np.arange(10),), {"indices_or_sections": [3, 8]}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), NUMPY_CASES)
def test_op_follows_numpy_where_keras_on_torch_departs(name: str, args: tuple, kwargs: dict) -> None:
    got = getattr(kops, name)(*args, **kwargs)
    expected = getattr(np, name)(*args, **kwargs)
    if isinstance(expected, list):
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-6)
    else:
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)


CREATION_CASES = [
    _case("zeros", (2, 3)),
    _case("zeros", 3, "int32"),
    _case("ones", (2,), "bool"),
    _case("full", (2, 3), 3),
    _case("full", (2, 3), 2.5, "float16"),
    _case("full", (2, 3), torch.tensor([1.0, 2.0, 3.0])),
    _case("full_like", I2, 2.5),
    _case("full_like", I2, 2.5, "float32"),
    _case("zeros_like", I2),
    _case("ones_like", X2, "int8"),
    _case("arange", 5),
    _case("arange", 5.0),
    _case("arange", 1, 10, 2),
    _case("arange", 0, 1, 0.25),
    _case("arange", 3, dtype="float16"),
    _case("eye", 3),
    _case("eye", 3, 4, 1),
    _case("eye", 4, 3, -2, "int32"),
    _case("identity", 3, "bfloat16"),
    _case("tri", 3, 4, 1),
    _case("linspace", 0, 1, 5),
    _case("linspace", 2, 3, 4, False),
    _case("linspace", 0, 10, 6, dtype="int32"),
    _case("linspace", 0.0, 1.0, 5, retstep=True),
    _case("logspace", 0, 2, 3),
    _case("logspace", 0, 2, 4, False, 2),
    _case("geomspace", 1, 1000, 4),
    _case("bartlett", 5),
    _case("hamming", 6),
    _case("hanning", 5),
    _case("blackman", 7),
    _case("kaiser", 5, 2.0),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CREATION_CASES)
def test_creation_op_matches_keras(name: str, args: tuple, kwargs: dict) -> None:
    ours, theirs = op_pair(name)
    theirs(*args, **kwargs)
    assert_no_problems([p for p in [compare_op(ours, theirs, *args, rtol=1e-5, **kwargs)] if p])


def test_argpartition_partitions_like_keras() -> None:
    x = make("float32", shape=(3, 6), seed=15)
    ours = kops.argpartition(x, 2)
    theirs = keras.ops.argpartition(x, 2)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    kth = torch.take_along_dim(x, ours.long(), dim=-1)[:, 2]
    np.testing.assert_allclose(kth.numpy(), torch.sort(x, dim=-1).values[:, 2].numpy())


def test_submodule_and_flat_names_are_the_same_functions() -> None:
    assert kops.add is knp.add and kops.numpy.mean is kops.mean
    assert kops.nn.conv is kops.conv and kops.linalg.norm is kops.norm and kops.image.resize
    keras_names = {n for n in dir(keras.ops.numpy) if not n.startswith("_")}
    assert sorted(keras_names - set(knp.__all__)) == []
    assert sorted({n for n in dir(keras.ops.linalg) if not n.startswith("_")} - set(kops.linalg.__all__)) == []
    assert sorted({n for n in dir(keras.ops.nn) if not n.startswith("_")} - set(kops.nn.__all__)) == ["ctc_decode"]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: kops.reshape(X2, (-1, -1)), ValueError, "at most one -1"),
        (lambda: kops.split(X2, 5), ValueError, "divides"),
        (lambda: kops.squeeze(X2, 0), ValueError, "size 1"),
        (lambda: kops.where(X2 > 0, X2), ValueError, "both"),
        (lambda: kops.eye(2.5), TypeError, "integer"),
        (lambda: kops.max(torch.ones(0)), ValueError, "non-empty"),
        (lambda: kops.pad(X2, 1, mode="bogus"), ValueError, "mode"),
        (lambda: kops.pad(X2, 1, mode="reflect", constant_values=1), ValueError, "constant_values"),
        (lambda: kops.pad(X, ((1, 1), (1, 1))), ValueError, "pair per axis"),
        (lambda: kops.diagonal(X2, 0, 1, 1), ValueError, "different axes"),
        (lambda: kops.expand_dims(X2, 5), ValueError, "axis"),
        (lambda: kops.array_split(V, 0), ValueError, "positive"),
        (lambda: kops.array_split(V, [1, 2]), TypeError, "int number"),
        (lambda: kops.select(X2 > 0, X2), ValueError, "lists"),
        (lambda: kops.searchsorted(X2, V), ValueError, "1-D"),
        (lambda: kops.cross(V, V, axisa=0), ValueError, "axisa"),
        (lambda: kops.vander(X2), ValueError, "1-D"),
        (lambda: kops.ldexp(X2, X2), TypeError, "integer exponent"),
        (lambda: kops.histogram(V, 2.5), TypeError, "int number of bins"),
        (lambda: kops.convert_to_tensor([[1, 2], [3]]), ValueError, "rectangular"),
        (lambda: kops.cast(X2, "floaty"), ValueError, "dtype"),
        (lambda: kops.convert_to_tensor([1], sparse=True), ValueError, "sparse"),
    ],
)
def test_bad_arguments_raise_with_the_received_value(call, error, match) -> None:
    with pytest.raises(error, match=match) as info:
        call()
    assert "Received" in str(info.value)


def test_vectorize_matches_keras_for_elementwise_functions() -> None:
    x, y = make("float32", shape=(3, 4), seed=20), make("float32", shape=(4,), seed=21)

    def fn(a, b):
        return a * b + 1

    expected = keras.ops.vectorize(fn)(x, y)
    assert describe_difference(kops.vectorize(fn)(x, y), expected, rtol=1e-6) is None
    scaled = kops.vectorize(lambda a, scale: a * scale, excluded={1})(x, 3.0)
    assert torch.allclose(scaled, x * 3.0)
    with pytest.raises(ValueError, match="signature"):
        kops.vectorize(fn, signature="(n),(n)->()")


def test_floatx_sets_the_default_float() -> None:
    from kfit.backend.config import floatx, set_floatx

    previous = floatx()
    set_floatx("float64")
    try:
        assert kops.convert_to_tensor(1.5).dtype == torch.float64
        assert kops.ones((2,)).dtype == torch.float64
        assert kops.sqrt(torch.tensor([4])).dtype == torch.float64
    finally:
        set_floatx(previous)
