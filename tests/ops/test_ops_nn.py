"""kfit.ops.nn against keras.ops.nn (torch backend): activations, convolutions, pooling, norms, losses, attention."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from ops_parity import assert_no_problems, compare_op, describe_difference, keras, make, op_pair

import kfit.ops as kops
import kfit.ops.nn as knn

FLOATS = ["float32", "float16", "bfloat16", "float64", "int32"]

ACTIVATIONS = [
    ("relu", {}),
    ("relu6", {}),
    ("sigmoid", {}),
    ("log_sigmoid", {}),
    ("softmax", {}),
    ("softmax", {"axis": 0}),
    ("softmax", {"axis": None}),
    ("softmax", {"axis": (0, 2)}),
    ("log_softmax", {}),
    ("log_softmax", {"axis": (1, 2)}),
    ("gelu", {}),
    ("gelu", {"approximate": False}),
    ("silu", {}),
    ("swish", {}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("celu", {"alpha": 2.0}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.1}),
    ("softplus", {}),
    ("softsign", {}),
    ("hard_sigmoid", {}),
    ("hard_silu", {}),
    ("hard_swish", {}),
    ("hard_tanh", {}),
    ("hard_shrink", {}),
    ("soft_shrink", {"threshold": 0.3}),
    ("tanh_shrink", {}),
    ("glu", {}),
    ("sparse_plus", {}),
    ("sparse_sigmoid", {}),
    ("squareplus", {}),
    ("threshold", {"threshold": 0.2, "default_value": -1.0}),
]


@pytest.mark.parametrize(("name", "kwargs"), ACTIVATIONS, ids=[f"{n}-{k}" for n, k in ACTIVATIONS])
def test_activation_matches_keras(name: str, kwargs: dict) -> None:
    ours, theirs = op_pair(name)
    problems = []
    for dtype in FLOATS:
        x = make(dtype, shape=(2, 3, 4), seed=1) * 3
        problem = compare_op(ours, theirs, x, rtol=1e-5, keras_may_fail=dtype == "int32", **kwargs)
        if problem:
            problems.append(f"{name}({dtype}, {kwargs}): {problem}")
    assert_no_problems(problems)


def _sparsemax_reference(z: np.ndarray) -> np.ndarray:
    # The Euclidean projection onto the simplex (Martins & Astudillo, 2016), row by row.
    ordered = -np.sort(-z, axis=-1)
    running = np.cumsum(ordered, axis=-1)
    ranks = np.arange(1, z.shape[-1] + 1)
    k = (1 + ranks * ordered > running).sum(axis=-1, keepdims=True)
    tau = (np.take_along_axis(running, k - 1, axis=-1) - 1) / k
    return np.maximum(z - tau, 0)


def test_sparsemax_is_the_simplex_projection() -> None:
    # Keras 3.15 on torch returns rows that do not sum to 1 here, so the reference is the formula.
    x = make("float32", shape=(4, 6), seed=2) * 2
    out = kops.sparsemax(x)
    np.testing.assert_allclose(out.numpy(), _sparsemax_reference(x.numpy()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.sum(-1).numpy(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(kops.sparsemax(x.T, axis=0).numpy(), out.T.numpy(), rtol=1e-6)


def test_measured_keras_defaults() -> None:
    x = torch.tensor([-1.0, 1.0, 7.0])
    assert kops.leaky_relu(x)[0].item() == pytest.approx(-0.2)
    assert kops.relu6(x)[2].item() == 6.0
    assert torch.allclose(kops.gelu(x), torch.nn.functional.gelu(x, approximate="tanh"))
    assert kops.sigmoid(torch.tensor([1, 2])).dtype == torch.float32
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kops.softmax(torch.ones(3, 1))
    assert any("size 1" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"axis": 0}, {"axis": 1}, {"dtype": "int32"}, {"num_classes": 5}],
    ids=str,
)
def test_one_hot_matches_keras_with_negative_labels(kwargs: dict) -> None:
    labels = torch.tensor([[0, 2, -1], [3, 1, 1]])
    kwargs = {"num_classes": 4, **kwargs}
    assert_no_problems([p for p in [compare_op(*op_pair("one_hot"), labels, **kwargs)] if p])


def test_multi_hot_matches_keras() -> None:
    ours, theirs = op_pair("multi_hot")
    problems = [
        compare_op(ours, theirs, torch.tensor([[0, 2], [3, 3]]), 4),
        compare_op(ours, theirs, torch.tensor([0, 2, 2]), 4),
        compare_op(ours, theirs, torch.tensor([[0, 2], [3, 3]]), num_tokens=5, dtype="int32"),
    ]
    assert_no_problems([p for p in problems if p])


def _conv_cases():
    cases = []
    for rank, size in ((1, (9,)), (2, (7, 8)), (3, (6, 5, 5))):
        for strides in (1, 2, 3):
            for padding in ("valid", "same"):
                for dilation in (1, 2):
                    if strides > 1 and dilation > 1:
                        continue
                    for data_format in ("channels_last", "channels_first"):
                        cases.append((rank, size, strides, padding, dilation, data_format))
    return cases


def _image(size, channels, data_format, seed=0, batch=2):
    shape = (batch, *size, channels) if data_format == "channels_last" else (batch, channels, *size)
    return make("float32", shape=shape, seed=seed)


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_matches_keras_for_ranks_strides_padding_dilation_formats(groups: int) -> None:
    ours, theirs = op_pair("conv")
    problems = []
    for rank, size, strides, padding, dilation, data_format in _conv_cases():
        x = _image(size, 4, data_format, seed=rank)
        kernel = make("float32", shape=(*([3] * rank), 4 // groups, 6), seed=rank + 10)
        problem = compare_op(ours, theirs, x, kernel, strides, padding, data_format, dilation, rtol=1e-5)
        if problem:
            problems.append(f"conv{rank}d(s={strides}, {padding}, d={dilation}, {data_format}): {problem}")
    assert_no_problems(problems)


def test_depthwise_and_separable_conv_match_keras() -> None:
    problems = []
    for rank, size in ((1, (9,)), (2, (7, 6))):
        for strides in (1, 2):
            for padding in ("valid", "same"):
                x = _image(size, 3, "channels_last", seed=rank)
                depthwise = make("float32", shape=(*([3] * rank), 3, 2), seed=20)
                pointwise = make("float32", shape=(*([1] * rank), 6, 5), seed=21)
                label = f"rank {rank}, s={strides}, {padding}"
                for problem in (
                    compare_op(*op_pair("depthwise_conv"), x, depthwise, strides, padding, rtol=1e-5),
                    compare_op(*op_pair("separable_conv"), x, depthwise, pointwise, strides, padding, rtol=1e-5),
                ):
                    if problem:
                        problems.append(f"{label}: {problem}")
    assert_no_problems(problems)


def test_conv_transpose_matches_keras_for_strides_padding_and_output_padding() -> None:
    ours, theirs = op_pair("conv_transpose")
    problems = []
    for rank, size in ((1, (5,)), (2, (4, 5)), (3, (3, 4, 3))):
        for kernel_size in (2, 3):
            for strides in (1, 2, 3):
                for padding in ("valid", "same"):
                    for output_padding in (None, 0, 1):
                        for dilation in (1, 2):
                            if output_padding is not None and output_padding >= max(strides, dilation):
                                continue
                            if dilation > 1 and strides > 1:
                                continue
                            if rank == 3 and (kernel_size == 2 or output_padding is not None or dilation > 1):
                                continue  # 3-D kernels are slow on CPU; ranks 1 and 2 cover these options
                            formats = ("channels_last", "channels_first") if rank == 2 else ("channels_last",)
                            for data_format in formats:
                                x = _image(size, 3, data_format, seed=rank)
                                kernel = make("float32", shape=(*([kernel_size] * rank), 2, 3), seed=30)
                                problem = compare_op(
                                    ours, theirs, x, kernel, strides, padding, output_padding, data_format, dilation,
                                    rtol=1e-5,
                                )
                                if problem:
                                    problems.append(
                                        f"rank {rank} k={kernel_size} s={strides} {padding} op={output_padding} "
                                        f"d={dilation} {data_format}: {problem}"
                                    )
    assert_no_problems(problems)


@pytest.mark.parametrize("name", ["max_pool", "average_pool"])
def test_pooling_matches_keras_including_asymmetric_same_padding(name: str) -> None:
    ours, theirs = op_pair(name)
    problems = []
    for rank, size in ((1, (9,)), (2, (7, 8)), (3, (5, 6, 4))):
        for pool_size in (2, 3, 4):
            for strides in (None, 1, 2):
                for padding in ("valid", "same"):
                    for data_format in ("channels_last", "channels_first"):
                        x = _image(size, 3, data_format, seed=rank)
                        problem = compare_op(ours, theirs, x, pool_size, strides, padding, data_format, rtol=1e-5)
                        if problem:
                            label = f"{name} rank {rank} p={pool_size} s={strides} {padding} {data_format}"
                            problems.append(f"{label}: {problem}")
    assert_no_problems(problems)


@pytest.mark.parametrize("name", ["adaptive_average_pool", "adaptive_max_pool"])
def test_adaptive_pooling_matches_keras(name: str) -> None:
    ours, theirs = op_pair(name)
    problems = []
    for size, output_size in (((9,), 4), ((7, 8), (3, 2)), ((5, 6, 4), 2)):
        for data_format in ("channels_last", "channels_first"):
            problem = compare_op(ours, theirs, _image(size, 3, data_format), output_size, data_format)
            if problem:
                problems.append(f"{size} -> {output_size} {data_format}: {problem}")
    assert_no_problems(problems)


def test_moments_match_keras() -> None:
    ours, theirs = op_pair("moments")
    problems = []
    for dtype in ("float32", "float16", "bfloat16", "float64"):
        x = make(dtype, shape=(4, 3, 5), seed=40)
        for axes in ([0], [0, 1], (0, 2), -1):
            for keepdims in (False, True):
                problem = compare_op(ours, theirs, x, axes, keepdims, rtol=1e-5)
                if problem:
                    problems.append(f"moments({dtype}, {axes}, {keepdims}): {problem}")
    assert_no_problems(problems)


def test_batch_normalization_matches_keras() -> None:
    ours, theirs = op_pair("batch_normalization")
    x = make("float32", shape=(4, 3, 5), seed=41)
    mean = make("float32", shape=(5,), seed=42)
    variance = make("float32", shape=(5,), kind="positive", seed=43)
    offset = make("float32", shape=(5,), seed=44)
    scale = make("float32", shape=(5,), seed=45)
    mean1 = make("float32", shape=(3,), seed=46)
    variance1 = make("float32", shape=(3,), kind="positive", seed=47)
    problems = [
        compare_op(ours, theirs, x, mean, variance, -1, rtol=1e-5),
        compare_op(ours, theirs, x, mean, variance, -1, offset, scale, 1e-5, rtol=1e-5),
        compare_op(ours, theirs, x, mean1, variance1, 1, None, None, rtol=1e-5),
    ]
    assert_no_problems([p for p in problems if p])
    with pytest.raises(ValueError, match=r"Received: mean\.shape"):
        knn.batch_normalization(x, mean1, variance, axis=-1)


def test_normalizations_match_keras() -> None:
    x = make("float32", shape=(2, 3, 4), seed=50)
    gamma = make("float32", shape=(4,), seed=51)
    beta = make("float32", shape=(4,), seed=52)
    gamma2 = make("float32", shape=(3, 4), seed=53)
    problems = [
        compare_op(*op_pair("normalize"), x, rtol=1e-5),
        compare_op(*op_pair("normalize"), x, 1, 1, rtol=1e-5),
        compare_op(*op_pair("normalize"), x, 0, 3, 1e-3, rtol=1e-5),
        compare_op(*op_pair("layer_normalization"), x, rtol=1e-5),
        compare_op(*op_pair("layer_normalization"), x, gamma, beta, epsilon=1e-3, rtol=1e-5),
        compare_op(*op_pair("layer_normalization"), x, gamma2, None, axis=(1, 2), rtol=1e-5),
        compare_op(*op_pair("layer_normalization"), x.to(torch.float16), rtol=1e-5),
        compare_op(*op_pair("rms_normalization"), x, rtol=1e-5),
        compare_op(*op_pair("rms_normalization"), x, gamma, epsilon=1e-3, rtol=1e-5),
        compare_op(*op_pair("rms_normalization"), x, gamma2, axis=[1, 2], rtol=1e-5),
    ]
    assert_no_problems([p for p in problems if p])
    with pytest.raises(ValueError, match="int >= 1"):
        knn.normalize(x, order=0)


def test_layer_normalization_over_leading_axes_normalizes_those_axes() -> None:
    x = make("float32", shape=(2, 3, 4), seed=54)
    out = kops.layer_normalization(x, axis=(0, 1), epsilon=0.0)
    np.testing.assert_allclose(out.mean(dim=(0, 1)).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.var(dim=(0, 1), correction=0).numpy(), 1.0, rtol=1e-5)


def test_crossentropies_match_keras() -> None:
    rng = np.random.default_rng(60)
    logits = torch.as_tensor(rng.normal(size=(4, 5)).astype("float32"))
    probs = torch.softmax(logits, -1)
    labels = torch.as_tensor(rng.integers(0, 5, size=(4,)))
    onehot = torch.nn.functional.one_hot(labels, 5).float()
    binary = torch.as_tensor((rng.random((4, 5)) > 0.5).astype("float32"))
    seq_logits = make("float32", shape=(2, 5, 3), seed=61)
    seq_labels = torch.as_tensor(rng.integers(0, 3, size=(2, 5)))
    problems = []
    for from_logits in (False, True):
        out = logits if from_logits else probs
        problems += [
            compare_op(*op_pair("binary_crossentropy"), binary, torch.sigmoid(logits) if not from_logits else logits,
                       from_logits=from_logits, rtol=1e-5),
            compare_op(*op_pair("categorical_crossentropy"), onehot, out, from_logits=from_logits, rtol=1e-5),
            compare_op(
                *op_pair("categorical_crossentropy"), onehot.T, out.T, from_logits=from_logits, axis=0, rtol=1e-5
            ),
            compare_op(*op_pair("sparse_categorical_crossentropy"), labels, out, from_logits=from_logits, rtol=1e-5),
            compare_op(*op_pair("sparse_categorical_crossentropy"), labels[:, None], out, from_logits=from_logits,
                       rtol=1e-5),
            compare_op(*op_pair("sparse_categorical_crossentropy"), seq_labels, seq_logits, from_logits=from_logits,
                       rtol=1e-5),
            compare_op(*op_pair("sparse_categorical_crossentropy"), seq_labels, seq_logits.transpose(1, 2),
                       from_logits=from_logits, axis=1, rtol=1e-5),
        ]
    assert_no_problems([p for p in problems if p])
    with pytest.raises(ValueError, match="same shape"):
        knn.binary_crossentropy(binary, probs[:, :3])
    with pytest.raises(ValueError, match=r"target\.shape"):
        knn.sparse_categorical_crossentropy(labels[:3], probs)


def test_ctc_loss_and_psnr_match_keras() -> None:
    rng = np.random.default_rng(70)
    output = torch.as_tensor(rng.normal(size=(2, 6, 4)).astype("float32"))
    target = torch.as_tensor(np.array([[1, 2, 0], [3, 3, 1]]), dtype=torch.int32)
    problems = [
        compare_op(*op_pair("ctc_loss"), target, output, torch.tensor([2, 3]), torch.tensor([6, 5]), rtol=1e-5),
        compare_op(*op_pair("psnr"), torch.rand(2, 4, 4, 3), torch.rand(2, 4, 4, 3), 1.0, rtol=1e-5),
    ]
    assert_no_problems([p for p in problems if p])


def test_depth_space_and_fold_unfold_match_keras() -> None:
    x = make("float32", shape=(2, 4, 6, 8), seed=80)
    problems = []
    for data_format in ("channels_last", "channels_first"):
        problems.append(compare_op(*op_pair("depth_to_space"), x, 2, data_format))
        problems.append(compare_op(*op_pair("space_to_depth"), x, 2, data_format))
    patches = knn.unfold(x, 3, padding=1)
    problems.append(compare_op(*op_pair("unfold"), x, 3, 1, 1, 1))
    problems.append(compare_op(*op_pair("fold"), patches, (6, 8), 3, 1, 1, 1, rtol=1e-5))
    assert_no_problems([p for p in problems if p])


@pytest.mark.parametrize(
    "case",
    ["plain", "causal", "mask", "mask_causal", "bias", "scale", "gqa", "one_kv_head", "float16"],
)
def test_dot_product_attention_matches_keras(case: str) -> None:
    q = make("float32", shape=(2, 5, 4, 8), seed=90)
    k = make("float32", shape=(2, 6, 4, 8), seed=91)
    v = make("float32", shape=(2, 6, 4, 8), seed=92)
    kwargs: dict = {}
    if case == "causal":
        k, v = k[:, :5], v[:, :5]
        kwargs["is_causal"] = True
    elif case == "mask":
        kwargs["mask"] = make("bool", shape=(2, 1, 5, 6), seed=93)
    elif case == "mask_causal":
        k, v = k[:, :5], v[:, :5]
        kwargs["mask"] = make("bool", shape=(2, 4, 5, 5), seed=94)
        kwargs["is_causal"] = True
    elif case == "bias":
        kwargs["bias"] = make("float32", shape=(2, 4, 5, 6), seed=95)
    elif case == "scale":
        kwargs["scale"] = 0.3
    elif case == "gqa":
        k, v = k[:, :, :2], v[:, :, :2]
    elif case == "one_kv_head":
        k, v = k[:, :, :1], v[:, :, :1]
    elif case == "float16":
        q, k, v = q.half(), k.half(), v.half()
    problem = compare_op(*op_pair("dot_product_attention"), q, k, v, rtol=1e-5, **kwargs)
    assert problem is None, problem


def test_dot_product_attention_soft_cap_and_errors() -> None:
    q = make("float32", shape=(1, 3, 2, 4), seed=96)
    capped = knn.dot_product_attention(q, q, q, attn_logits_soft_cap=0.5)
    logits = torch.einsum("bthd,bshd->bhts", q, q) / 2.0
    weights = torch.softmax(0.5 * torch.tanh(logits / 0.5), dim=-1)
    expected = torch.einsum("bhts,bshd->bthd", weights, q)
    assert torch.allclose(capped, expected, atol=1e-6)
    with pytest.raises(ValueError, match="4-D"):
        knn.dot_product_attention(q[0], q[0], q[0])
    with pytest.raises(ValueError, match="not both"):
        knn.dot_product_attention(q, q, q, bias=torch.zeros(1), mask=torch.ones(1, dtype=torch.bool))
    with pytest.raises(RuntimeError, match="flash attention"):
        knn.dot_product_attention(q, q, q, flash_attention=True)


def test_conv_layout_matches_a_hand_written_torch_conv() -> None:
    x = make("float32", shape=(2, 5, 5, 3), seed=100)
    kernel = make("float32", shape=(3, 3, 3, 4), seed=101)
    expected = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1), padding=1)
    assert describe_difference(kops.conv(x, kernel, padding="same"), expected.permute(0, 2, 3, 1)) is None


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: knn.conv(torch.ones(2, 3), torch.ones(1, 3, 2)), ValueError, "rank 3, 4 or 5"),
        (lambda: knn.conv(torch.ones(1, 5, 3), torch.ones(2, 2, 4)), ValueError, "multiple"),
        (lambda: knn.conv(torch.ones(1, 5, 4), torch.ones(2, 2, 4), padding="full"), ValueError, "padding"),
        (lambda: knn.conv(torch.ones(1, 5, 5, 4), torch.ones(2, 2, 2, 4), strides=(1, 2, 3)), ValueError, "strides"),
        (lambda: knn.conv(torch.ones(1, 5, 4), torch.ones(2, 2, 4), data_format="nhwc"), ValueError, "data_format"),
        (lambda: knn.depthwise_conv(torch.ones(1, 5, 3), torch.ones(2, 4, 1)), ValueError, "kernel.shape"),
        (lambda: knn.conv_transpose(torch.ones(1, 5, 3), torch.ones(2, 4, 2)), ValueError, "kernel.shape"),
        (lambda: knn.max_pool(torch.ones(5, 3), 2), ValueError, "rank 3, 4 or 5"),
        (lambda: knn.one_hot(torch.ones(2), 3, sparse=True), ValueError, "sparse"),
        (lambda: knn.multi_hot(torch.ones(2)), ValueError, "num_classes"),
        (lambda: knn.moments(torch.ones(2), 0, synchronized=True), NotImplementedError, "synchronized"),
    ],
)
def test_bad_arguments_raise_with_the_received_value(call, error, match) -> None:
    with pytest.raises(error, match=match) as info:
        call()
    assert "Received" in str(info.value)


def test_keras_reference_is_the_torch_backend() -> None:
    assert keras.backend.backend() == "torch"
