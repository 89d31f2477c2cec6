"""`kfit.backend.dtypes` against Keras 3's dtype names and default conversions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.backend import dtypes

keras = pytest.importorskip("keras")


@pytest.mark.parametrize(
    "dtype", ["float16", "bfloat16", "float32", "float64", "int32", "int64", "bool"]
)
def test_names_round_trip_through_torch_dtypes(dtype):
    torch_dtype = dtypes.to_torch_dtype(dtype)
    assert isinstance(torch_dtype, torch.dtype)
    assert dtypes.standardize_dtype(torch_dtype) == dtypes.standardize_dtype(dtype) == dtype
    assert dtype == keras.backend.standardize_dtype(dtype)


def test_unknown_dtype_is_rejected_with_the_value():
    with pytest.raises(ValueError, match=r"dtype='float33' \(of type str\)"):
        dtypes.to_torch_dtype("float33")


@pytest.mark.parametrize(
    "value", [1.5, [1.0, 2.0], 3, [1, 2], np.zeros(2, "float64"), np.zeros(2, "int64")]
)
def test_convert_to_tensor_uses_keras_default_dtypes(value):
    ours = dtypes.convert_to_tensor(value)
    theirs = keras.ops.convert_to_tensor(value)
    assert dtypes.standardize_dtype(ours.dtype) == keras.backend.standardize_dtype(theirs.dtype)


def test_convert_to_tensor_casts_tensors_only_when_needed():
    x = torch.zeros(2)
    assert dtypes.convert_to_tensor(x) is x
    assert dtypes.convert_to_tensor(x, torch.float32) is x
    assert dtypes.convert_to_tensor(x, torch.float64).dtype == torch.float64
