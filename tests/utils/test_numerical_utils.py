"""to_categorical and normalize match keras.utils: values, dtype, shape, and the error types."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from kfit.utils.numerical_utils import normalize, to_categorical

keras = pytest.importorskip("keras")


def _assert_same_array(ours: Any, theirs: Any) -> None:
    assert type(ours) is type(theirs)
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- to_categorical

CATEGORICAL_CASES = [
    ([0, 1, 2], None),
    ([0, 1, 2], 5),
    ([2, 0], 0),  # 0 is falsy: inferred, as in Keras
    (np.array([[0], [2]]), None),  # a trailing 1 is dropped
    (np.array([[0, 1], [2, 1]]), None),
    (np.array([[[0, 1]], [[1, 0]]]), 3),
    (np.zeros((2, 1, 1), dtype=int), None),
    (np.array([1]), None),
    (2, None),
    (np.int32(2), 4),
    ([0, -1, 2], None),  # negative labels index from the end in the NumPy route
    ([0, -3], 3),
    ([0.7, 1.9], None),  # floats are truncated
    (["1", "0"], None),
    ([True, False], None),
    (np.array([1, 3], dtype=np.uint8), None),
    (np.array([1, 3], dtype=np.float32), 6),
    ([], 3),
    (np.zeros((0, 1)), 3),
    ([3, 1, 2], np.int64(4)),
    (np.random.RandomState(0).randint(0, 10, size=(4, 5, 1)), 10),
]


@pytest.mark.parametrize(("x", "num_classes"), CATEGORICAL_CASES)
def test_to_categorical_matches_keras_for_array_likes(x: Any, num_classes: Any) -> None:
    ours = to_categorical(x, num_classes)
    _assert_same_array(ours, keras.utils.to_categorical(x, num_classes))
    assert ours.dtype == np.float64


@pytest.mark.parametrize(
    ("labels", "num_classes"),
    [
        (torch.tensor([0, 2]), 4),
        (torch.tensor([[0], [2]]), 4),
        (torch.tensor([[0, 1], [2, 1]]), 3),
        (torch.tensor([0, -1]), 3),  # a negative label gives an all-zero row on a tensor
        (torch.tensor([0, 1], dtype=torch.int32), 3),
        (torch.tensor([0.0, 1.7]), 3),
        (torch.tensor(1), 3),
    ],
)
def test_to_categorical_keeps_tensors_as_float_tensors(labels: torch.Tensor, num_classes: int) -> None:
    ours = to_categorical(labels, num_classes)
    theirs = keras.utils.to_categorical(labels, num_classes)
    assert isinstance(ours, torch.Tensor)
    # Keras's torch backend returns int64 here (its other backends float32); kfit returns floatx.
    assert ours.dtype == torch.float32
    assert ours.device == labels.device
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert torch.equal(ours, theirs.to(torch.float32).to(ours.device))


def test_to_categorical_infers_num_classes_for_tensors_too() -> None:
    ours = to_categorical(torch.tensor([[0], [3]]))
    assert torch.equal(ours, torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 1.0]]))


@pytest.mark.parametrize(
    ("x", "num_classes", "error", "match"),
    [
        ([0, 5], 3, IndexError, r"found label 5\. Received: num_classes=3 \(of type int\)"),
        ([0, 2], 2, IndexError, "found label 2"),
        ([0, -4], 3, IndexError, "found label -4"),
        ([], None, ValueError, r"at least one label.*Received: x=\[\]"),
        ([[0], [1, 2]], None, ValueError, r"regular shape\. Received: x=\[\[0\], \[1, 2\]\]"),
        (["a"], None, ValueError, "integer class labels"),
        (None, None, TypeError, r"Received: x=None \(of type NoneType\)"),
        ([0, 2], 3.0, TypeError, r"Received: num_classes=3\.0 \(of type float\)"),
        ([0, 2], -1, ValueError, r"num_classes. to be >= 0"),
    ],
)
def test_to_categorical_errors(x: Any, num_classes: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        to_categorical(x, num_classes)
    if num_classes is None or num_classes >= 0:
        # The same inputs fail in Keras with the same exception type.
        with pytest.raises(error):
            keras.utils.to_categorical(x, num_classes)


def test_to_categorical_errors_on_tensors() -> None:
    with pytest.raises(IndexError, match="found label 5"):
        to_categorical(torch.tensor([0, 5]), 3)
    with pytest.raises(ValueError, match="at least one label"):
        to_categorical(torch.zeros(0, dtype=torch.int64))


# ----------------------------------------------------------------------------- normalize

NUMPY_NORMALIZE_CASES = [
    (np.array([[3.0, 4.0], [0.0, 0.0]]), {}),  # a zero row stays zero
    (np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32), {}),
    (np.array([[3.0, 4.0], [1.0, 2.0]], dtype=np.float16), {}),
    (np.array([[3, 4], [1, 1]]), {}),  # ints give float64
    (np.array([3.0, 4.0]), {}),  # a vector comes back as (1, n), as in Keras
    (np.array([[3.0, 4.0], [1.0, 1.0]]), {"axis": 1}),
    (np.array([3.0, 4.0]), {"axis": None}),
    (np.array([[3.0, 4.0], [1.0, 1.0]]), {"axis": None}),
    (np.array([[3.0, 4.0], [0.0, 0.0]]), {"order": 1}),
    (np.array([[3.0, -4.0], [0.0, 0.0]]), {"order": np.inf}),
    (np.array([[3.0, 0.0, 1.0]]), {"order": 0}),
    (np.array([[3.0, 4.0], [0.0, 0.0]]), {"order": 1.5}),
    (np.random.RandomState(1).randn(2, 3, 4), {}),
    (np.random.RandomState(2).randn(2, 3, 4), {"axis": 1}),
    (np.random.RandomState(3).randn(2, 3, 4), {"axis": (1, 2)}),
    (np.random.RandomState(4).randn(2, 3, 4), {"axis": -2, "order": 1}),
    (np.array([[np.nan, 1.0]]), {}),
]


@pytest.mark.parametrize(("x", "kwargs"), NUMPY_NORMALIZE_CASES)
def test_normalize_matches_keras_for_numpy_arrays(x: np.ndarray, kwargs: dict[str, Any]) -> None:
    ours = normalize(x, **kwargs)
    theirs = keras.utils.normalize(x, **kwargs)
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-3 if x.dtype == np.float16 else 1e-12)


def test_normalize_axis_0_divides_each_column_by_its_norm() -> None:
    # Keras expands the column norms on the last axis here (see the docstring): kfit does not.
    x = np.array([[3.0, 1.0, 0.0], [4.0, 1.0, 0.0]])
    expected = np.array([[0.6, 2**-0.5, 0.0], [0.8, 2**-0.5, 0.0]])
    np.testing.assert_allclose(normalize(x, axis=0), expected)
    np.testing.assert_allclose(normalize(x.T, axis=1), expected.T)


TENSOR_NORMALIZE_CASES = [
    (torch.tensor([[3.0, 4.0], [0.0, 0.0]]), {}),
    (torch.tensor([[3.0, 4.0]], dtype=torch.float64), {}),
    (torch.tensor([[3, 4]]), {}),
    (torch.tensor([[3.0, 4.0]]), {"order": 1}),
    (torch.tensor([[3.0, 4.0], [4.0, 3.0]]), {"axis": 0}),
    (torch.tensor(5.0), {}),
    (torch.tensor([[1e-9, 0.0]]), {}),  # the norm is floored at epsilon
    (torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0)), {"axis": 1, "order": 3}),
    ([[3.0, 4.0]], {}),  # anything but a NumPy array becomes a tensor
    ([[3, 4]], {}),
    (5.0, {}),
]


@pytest.mark.parametrize(("x", "kwargs"), TENSOR_NORMALIZE_CASES)
def test_normalize_matches_keras_for_tensors_and_array_likes(x: Any, kwargs: dict[str, Any]) -> None:
    ours = normalize(x, **kwargs)
    theirs = keras.utils.normalize(x, **kwargs)
    assert isinstance(ours, torch.Tensor)
    assert ours.dtype == theirs.dtype and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.cpu().numpy(), theirs.cpu().numpy(), rtol=1e-6, atol=1e-7)


def test_normalize_rejects_a_non_int_order_for_tensors() -> None:
    with pytest.raises(ValueError, match=r"Received: order=1\.5"):
        normalize(torch.tensor([[3.0, 4.0]]), order=1.5)
    with pytest.raises(ValueError):
        keras.utils.normalize(torch.tensor([[3.0, 4.0]]), order=1.5)
