"""kfit.ops math ops against keras.ops: top-k, segment reductions, log-sum-exp, special functions, FFTs."""

from __future__ import annotations

import pytest
import torch
from ops_parity import ALL_DTYPES, assert_no_problems, compare_op, describe_difference, keras, make, op_pair

import kfit.ops as kops


def test_top_k_and_in_top_k_match_keras() -> None:
    x = make("float32", shape=(4, 6), seed=1)
    targets = torch.tensor([0, 5, 2, 3])
    problems = [
        compare_op(*op_pair("top_k"), x, 3),
        compare_op(*op_pair("top_k"), make("int32", shape=(7,)), 2),
        compare_op(*op_pair("in_top_k"), targets, x, 1),
        compare_op(*op_pair("in_top_k"), targets, x, 3),
    ]
    assert_no_problems([p for p in problems if p])
    values, indices = kops.top_k(x, 2)
    assert torch.equal(values, x.topk(2).values) and torch.equal(indices, kops.top_k(x, 2).indices)


@pytest.mark.parametrize("name", ["segment_sum", "segment_max", "segment_min", "segment_prod"])
def test_segment_reductions_match_keras(name: str) -> None:
    ours, theirs = op_pair(name)
    data = make("float32", shape=(6, 3), seed=2)
    ids = torch.tensor([0, 0, 2, 1, 2, 2])
    problems = [
        compare_op(ours, theirs, data, ids, rtol=1e-5),
        compare_op(ours, theirs, data, ids, 4, rtol=1e-5),
        compare_op(ours, theirs, data[:, 0], ids, 2, rtol=1e-5),
        compare_op(ours, theirs, make("int32", shape=(6,)), ids, rtol=1e-5),
    ]
    assert_no_problems([p for p in problems if p])
    with pytest.raises(ValueError, match="1-D"):
        getattr(kops, name)(data, ids.reshape(2, 3))
    with pytest.raises(ValueError, match="one id per row"):
        getattr(kops, name)(data, ids[:4])


def test_logsumexp_matches_keras_for_dtypes_and_axes() -> None:
    problems = []
    for dtype in ALL_DTYPES:
        for axis in (None, 0, -1, (0, 1)):
            for keepdims in (False, True):
                problem = compare_op(
                    *op_pair("logsumexp"), make(dtype, shape=(2, 3, 4)), axis, keepdims, keras_may_fail=True
                )
                if problem:
                    problems.append(f"logsumexp({dtype}, {axis}, {keepdims}): {problem}")
    assert_no_problems(problems)


def test_other_math_ops_match_keras() -> None:
    x = make("float32", shape=(2, 3, 4), seed=3)
    y = make("float32", shape=(2, 5, 4), seed=4)
    square = make("float32", shape=(3, 3), seed=5) @ make("float32", shape=(3, 3), seed=5).T + torch.eye(3)
    signal = make("float32", shape=(2, 16), seed=6)
    problems = [
        compare_op(*op_pair("cdist"), x, y, rtol=1e-5),
        compare_op(*op_pair("extract_sequences"), signal, 4, 3),
        compare_op(*op_pair("logdet"), square, rtol=1e-5),
        compare_op(*op_pair("fft"), (signal, signal * 0.5), rtol=1e-4),
        compare_op(*op_pair("fft2"), (x, x), rtol=1e-4),
        compare_op(*op_pair("ifft2"), (x, -x), rtol=1e-4),
        compare_op(*op_pair("rfft"), signal, rtol=1e-4),
        compare_op(*op_pair("rfft"), signal, 8, rtol=1e-4),
        compare_op(*op_pair("irfft"), (signal[:, :9], signal[:, 7:]), 16, rtol=1e-4),
        compare_op(*op_pair("view_as_complex"), torch.stack([signal, signal], -1)),
        compare_op(*op_pair("view_as_real"), torch.complex(signal, -signal)),
    ]
    assert_no_problems([p for p in problems if p])


def test_fft_input_errors_name_the_received_value() -> None:
    with pytest.raises(ValueError, match="Received"):
        kops.fft(torch.ones(3))
    assert describe_difference(kops.erf(torch.tensor([0.5])), keras.ops.erf(torch.tensor([0.5]))) is None
