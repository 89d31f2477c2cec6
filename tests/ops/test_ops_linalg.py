"""kfit.ops.linalg against keras.ops.linalg on well-conditioned random matrices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ops_parity import assert_no_problems, compare_op, describe_difference, keras, make, op_pair

import kfit.ops as kops


def _spd(n: int = 4, seed: int = 0) -> torch.Tensor:
    a = make("float32", shape=(n, n), seed=seed)
    return a @ a.T + n * torch.eye(n)


def test_linalg_ops_match_keras() -> None:
    a = _spd(4, 1)
    b = make("float32", shape=(4, 2), seed=2)
    batch = torch.stack([_spd(3, 3), _spd(3, 4)])
    lower = torch.tril(a)
    tall = make("float32", shape=(6, 3), seed=5)
    problems = [
        compare_op(*op_pair("inv"), a, rtol=1e-4),
        compare_op(*op_pair("det"), batch, rtol=1e-4),
        compare_op(*op_pair("solve"), a, b, rtol=1e-4),
        compare_op(*op_pair("solve_triangular"), lower, b, True, rtol=1e-4),
        compare_op(*op_pair("solve_triangular"), lower.T, b, rtol=1e-4),
        compare_op(*op_pair("cholesky"), a, rtol=1e-4),
        compare_op(*op_pair("cholesky"), a, True, rtol=1e-4),
        compare_op(*op_pair("cholesky_inverse"), torch.linalg.cholesky(a), rtol=1e-4),
        compare_op(*op_pair("matrix_rank"), tall),
        compare_op(*op_pair("pinv"), tall, rtol=1e-4),
        compare_op(*op_pair("lstsq"), tall, make("float32", shape=(6,), seed=6), rtol=1e-4),
        compare_op(*op_pair("lu_factor"), a, rtol=1e-4),
    ]
    assert_no_problems([p for p in problems if p])


def test_decompositions_reconstruct_like_keras() -> None:
    a = _spd(4, 7)
    tall = make("float32", shape=(5, 3), seed=8)
    q, r = kops.qr(tall)
    kq, kr = keras.ops.qr(tall)
    assert q.shape == kq.shape and r.shape == kr.shape
    np.testing.assert_allclose((q @ r).numpy(), tall.numpy(), atol=1e-5)
    assert kops.qr(tall, mode="complete")[0].shape == (5, 5)
    u, s, vh = kops.svd(tall, full_matrices=False)
    np.testing.assert_allclose((u * s @ vh).numpy(), tall.numpy(), atol=1e-5)
    assert describe_difference(kops.svd(tall, compute_uv=False), keras.ops.svd(tall, compute_uv=False)) is None
    w, v = kops.eigh(a)
    assert describe_difference(w, keras.ops.eigh(a)[0], rtol=1e-4) is None
    np.testing.assert_allclose((v @ torch.diag(w) @ v.T).numpy(), a.numpy(), atol=1e-4)
    assert kops.eig(a)[0].dtype == keras.ops.eig(a)[0].dtype
    with pytest.raises(ValueError, match="mode"):
        kops.qr(tall, mode="economic")


@pytest.mark.parametrize("ord_axis", [(None, None), (1, -1), (2, None), ("fro", (0, 1)), (np.inf, 0), ("nuc", None)])
def test_norm_matches_keras(ord_axis) -> None:
    order, axis = ord_axis
    x = make("float32", shape=(3, 4), seed=9)
    problems = [compare_op(*op_pair("norm"), x, order, axis, keepdims, rtol=1e-5) for keepdims in (False, True)]
    for dtype in ("int32", "int64", "float64"):
        problems.append(compare_op(*op_pair("norm"), make(dtype, shape=(3, 4)), order, axis, rtol=1e-5))
    assert_no_problems([p for p in problems if p])


def test_jvp_matches_keras() -> None:
    x = make("float32", shape=(3,), seed=10)
    t = torch.ones(3)
    ours = kops.linalg.jvp(lambda v: torch.sin(v) * v, (x,), (t,))
    theirs = keras.ops.linalg.jvp(lambda v: torch.sin(v) * v, (x,), (t,))
    assert describe_difference(list(ours), list(theirs), rtol=1e-5) is None
