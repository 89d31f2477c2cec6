"""pad_sequences matches keras.utils.pad_sequences: values, dtype and shape, and the error types."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
import torch

from kfit.utils.sequence_utils import pad_sequences

keras = pytest.importorskip("keras")

RAGGED = [[1], [2, 3], [4, 5, 6]]

CASES: list[tuple[Any, dict[str, Any]]] = [
    (RAGGED, {}),
    (RAGGED, {"padding": "post"}),
    (RAGGED, {"maxlen": 2}),
    (RAGGED, {"maxlen": 2, "truncating": "post"}),
    (RAGGED, {"maxlen": 2, "padding": "post", "truncating": "post"}),
    (RAGGED, {"maxlen": 5}),
    (RAGGED, {"maxlen": 5, "padding": "post"}),
    (RAGGED, {"maxlen": np.int64(2)}),
    (RAGGED, {"value": -1}),
    (RAGGED, {"value": 1.7}),  # a float value is truncated for an int dtype
    (RAGGED, {"value": -1.5, "dtype": "float32"}),
    (RAGGED, {"dtype": "int64"}),
    (RAGGED, {"dtype": np.float64}),
    (RAGGED, {"dtype": bool}),
    (RAGGED, {"dtype": "uint8", "value": 255}),
    ([[1.7, 2.2]], {"maxlen": 3}),
    ([[], [1, 2]], {}),  # an empty sequence is all padding
    ([[], []], {}),
    ([], {"maxlen": 3}),
    ([["a", "bb"], ["c"]], {"dtype": object, "value": ""}),
    ([["a", "bb"], ["c"]], {"dtype": "str", "value": "x"}),
    ([["a", "bb"], ["c"]], {"dtype": "<U1", "value": "x"}),
    ([[b"a"], [b"bc", b"d"]], {"dtype": "S3", "value": b"z"}),
    ([[1], [2, 3]], {"dtype": object, "value": None}),
    (np.array([[1], [2, 3]], dtype=object), {}),
    (np.array([[1, 2], [3, 4]]), {}),
    (((1,), (2, 3)), {}),
    ([np.array([1, 2]), np.array([3])], {"padding": "post"}),
    ([torch.tensor([1, 2]), torch.tensor([3])], {"maxlen": 1}),
    ([[[1, 2], [3, 4]], [[5, 6]]], {}),  # items that are vectors become a trailing axis
    ([[], [[5, 6]]], {"padding": "post"}),
    ([[[1.0, 2.0]], [[3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]], {"maxlen": 2, "dtype": "float32", "value": 9.0}),
    ([list(range(n)) for n in (0, 3, 7, 1, 12)], {"maxlen": 6, "truncating": "post", "padding": "post"}),
    ([list(range(n)) for n in (5, 2, 9)], {"maxlen": 4, "dtype": "float16", "value": 0.5}),
]


@pytest.mark.parametrize(("sequences", "kwargs"), CASES)
def test_pad_sequences_matches_keras(sequences: Any, kwargs: dict[str, Any]) -> None:
    ours = pad_sequences(sequences, **kwargs)
    theirs = keras.utils.pad_sequences(sequences, **kwargs)
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_defaults_are_int32_pre_padding_and_pre_truncating() -> None:
    np.testing.assert_array_equal(
        pad_sequences([[1, 2, 3, 4], [5]], maxlen=3), np.array([[2, 3, 4], [0, 0, 5]], dtype=np.int32)
    )
    assert pad_sequences([[1]]).dtype == np.int32


def test_pad_sequences_differs_from_keras_only_where_keras_fails() -> None:
    # maxlen=0: Keras slices s[-0:] (the whole sequence) and fails to broadcast it.
    assert pad_sequences(RAGGED, maxlen=0).shape == (3, 0)
    with pytest.raises(ValueError):
        keras.utils.pad_sequences(RAGGED, maxlen=0)
    # A string value with dtype="object": Keras only accepts the `object` type itself.
    np.testing.assert_array_equal(
        pad_sequences([["a"], []], dtype="object", value="-"), np.array([["a"], ["-"]], dtype=object)
    )


@pytest.mark.parametrize(
    ("sequences", "kwargs", "error", "match"),
    [
        (5, {}, ValueError, r"list of sequences.*Received: sequences=5 \(of type int\)"),
        ((s for s in RAGGED), {}, ValueError, r"of type generator\).*list\(sequences\)"),
        ([1, 2], {}, ValueError, r"position 0 has no length\. Received: sequences\[0\]=1 \(of type int\)"),
        ([[1], 2], {}, ValueError, r"position 1 has no length\. Received: sequences\[1\]=2"),
        ([], {}, ValueError, "at least one sequence to infer `maxlen`"),
        (RAGGED, {"truncating": "mid"}, ValueError, r"Received: truncating='mid' \(of type str\)"),
        (RAGGED, {"padding": "mid"}, ValueError, r"`padding` to be \"pre\" or \"post\"\. Received: padding='mid'"),
        ([["a"]], {"value": "x"}, ValueError, r"string or object `dtype`.*Received: value='x'.*dtype=object"),
        ([[1]], {"value": "x", "dtype": "float32"}, ValueError, "The dtype is float32"),
        ([[[1, 2], [3, 4]], [[5, 6, 7]]], {}, ValueError, r"shape \(2,\).*position 1 has items of shape \(3,\)"),
        (RAGGED, {"maxlen": -1}, ValueError, r"Received: maxlen=-1 \(of type int\)"),
        (RAGGED, {"maxlen": 2.0}, TypeError, r"Received: maxlen=2\.0 \(of type float\)"),
        (RAGGED, {"dtype": torch.float32}, TypeError, r"NumPy dtype\. Received: dtype=torch\.float32"),
        ([["a"]], {}, ValueError, "invalid literal"),  # NumPy's own cast error, as in Keras
    ],
)
def test_pad_sequences_errors(sequences: Any, kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        pad_sequences(sequences, **kwargs)
    if inspect.isgenerator(sequences):
        return  # used up
    # The same inputs fail in Keras with the same exception type.
    with pytest.raises(error):
        keras.utils.pad_sequences(sequences, **kwargs)


def test_pad_sequences_checks_padding_even_when_every_sequence_is_empty() -> None:
    with pytest.raises(ValueError, match="`padding`"):
        pad_sequences([[]], padding="middle")
