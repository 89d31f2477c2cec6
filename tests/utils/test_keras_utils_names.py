"""The `keras.utils` names that live elsewhere in kfit, reachable from `kfit.utils` as in Keras 3."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest
import torch

import kfit
import kfit.utils

SHARED = {
    "CustomObjectScope": kfit.saving,
    "custom_object_scope": kfit.saving,
    "deserialize_keras_object": kfit.saving,
    "serialize_keras_object": kfit.saving,
    "get_custom_objects": kfit.saving,
    "get_registered_name": kfit.saving,
    "get_registered_object": kfit.saving,
    "register_keras_serializable": kfit.saving,
    "clear_session": kfit.backend,
}
OWN = ("disable_interactive_logging", "enable_interactive_logging", "is_interactive_logging_enabled",
       "get_source_inputs", "standardize_dtype", "Config")


@pytest.mark.parametrize("name", sorted([*SHARED, *OWN]))
def test_name_is_exported_as_in_keras(name: str) -> None:
    assert hasattr(keras.utils, name)
    assert name in kfit.utils.__all__ and name in dir(kfit.utils)
    value = getattr(kfit.utils, name)
    if name in SHARED:
        # The same object as its home's, so that e.g. a scope opened by either name is one scope.
        assert value is getattr(SHARED[name], name)
        assert hasattr(getattr(keras, SHARED[name].__name__.removeprefix("kfit.")), name)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_a_util'"):
        _ = kfit.utils.not_a_util


DTYPES = [None, "float32", "int", "bool", "bfloat16", "float16", "float64", "int8", "uint8", "uint16",
          "uint32", "int64", "complex64", float, int, bool, np.float64, np.int16, np.dtype("uint8"),
          np.dtype("float16"), torch.float32, torch.int64, torch.bfloat16, torch.uint8, torch.bool,
          "torch.float32"]


@pytest.mark.parametrize("dtype", DTYPES, ids=repr)
def test_standardize_dtype_matches_keras(dtype: object) -> None:
    assert kfit.utils.standardize_dtype(dtype) == keras.utils.standardize_dtype(dtype)


@pytest.mark.parametrize("dtype", ["float", "floaty", object()], ids=repr)
def test_standardize_dtype_refuses_what_keras_refuses(dtype: object) -> None:
    with pytest.raises(ValueError):
        keras.utils.standardize_dtype(dtype)
    with pytest.raises(ValueError, match="Received: dtype="):
        kfit.utils.standardize_dtype(dtype)


@pytest.mark.parametrize("name", ["get_custom_objects", "clear_session", "get_source_inputs", "standardize_dtype"])
def test_utils_can_be_imported_first(name: str) -> None:
    code = f"import kfit.utils as u; u.{name}; import kfit; assert u.{name} is not None"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                            timeout=300)
    assert result.returncode == 0, result.stderr
