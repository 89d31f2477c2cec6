"""Tensor files in HDF5, for `.weights.h5` paths, written and read with h5py.

Layout: a group ``tensors`` with one dataset per tensor, in insertion order, and a group
``metadata`` whose attributes hold the string metadata. Each dataset records its torch
dtype in a ``dtype`` attribute; bfloat16, which HDF5 has no type for, is stored as its raw
uint16 bits. Names may contain any character: ``%`` and ``/`` (and names made only of dots)
are percent-encoded in dataset names, since HDF5 treats them as paths.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from kfit.backend.conversion import to_host
from kfit.saving.atomic import atomic_path
from kfit.saving.safetensors_io import DTYPES, check_metadata, check_tensors

__all__ = ["FORMAT", "import_h5py", "load_tensors", "save_tensors"]

# Marks kfit's own tensor layout, as opposed to Keras's `layers/...` layout (keras_h5).
FORMAT = "kfit.tensors"
_DTYPE_NAMES = {str(dtype).removeprefix("torch."): dtype for dtype in DTYPES.values()}
_STORED_AS = {
    dtype: np.dtype(np.uint16)
    if dtype == torch.bfloat16
    else torch.empty((), dtype=dtype).numpy().dtype
    for dtype in DTYPES.values()
}


def import_h5py() -> Any:
    """Returns the h5py module, or raises an ImportError that says how to reinstall it.

    Example:
        >>> import_h5py().__name__
        'h5py'
    """
    # h5py is a dependency of kfit, imported on first use so that `import kfit` does not pay
    # for it. The error remains for an install made without dependencies (`--no-deps`).
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            "Reading and writing `.weights.h5` files requires the h5py package, a dependency of "
            "kfit that could not be imported. Install it with `pip install h5py`, or use a "
            "`.safetensors` path instead."
        ) from e
    return h5py


def _encode_name(name: str) -> str:
    encoded = name.replace("%", "%25").replace("/", "%2F")
    if set(encoded) <= {"."}:
        encoded = encoded.replace(".", "%2E")
    return encoded


def save_tensors(
    path: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Writes `tensors` to an HDF5 file, atomically.

    Args:
        path: The file to create or replace. The parent folder is created when missing.
        tensors: Names mapped to dense tensors of dtype float64, float32, float16, bfloat16,
            int64, int32, int16, int8, uint8 or bool. Names must be non-empty.
        metadata: Optional string-to-string mapping stored as attributes.

    Raises:
        ImportError: If h5py is not installed.
        TypeError: If `tensors` or `metadata` has the wrong type.
        ValueError: If a tensor has an unsupported dtype or layout, or a name is empty.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "m.weights.h5")
        >>> save_tensors(path, {"dense.kernel": torch.zeros(2, 2)}, metadata={"note": "hi"})
        >>> tensors, meta = load_tensors(path)
        >>> tensors["dense.kernel"].shape, meta
        (torch.Size([2, 2]), {'note': 'hi'})
        >>> folder.cleanup()
    """
    check_tensors(tensors)
    meta = check_metadata(metadata)
    if "" in tensors:
        raise ValueError(
            "Expected every key of `tensors` to be a non-empty string, since HDF5 cannot name "
            "a dataset ''. Received: key='' (of type str). Rename the entry."
        )
    h5py = import_h5py()
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        f.attrs["format"] = FORMAT
        group = f.create_group("tensors", track_order=True)
        for name, tensor in tensors.items():
            dtype_name = str(tensor.dtype).removeprefix("torch.")
            if tensor.dtype == torch.bfloat16:
                tensor = tensor.view(torch.uint16)
            dataset = group.create_dataset(_encode_name(name), data=to_host(tensor))
            dataset.attrs["dtype"] = dtype_name
        meta_group = f.create_group("metadata", track_order=True)
        for key, value in meta.items():
            meta_group.attrs[key] = value


def _corrupt(path: str, problem: str) -> ValueError:
    return ValueError(
        f"Could not read the HDF5 tensor file: {problem}. Received: path={path!r} (of type "
        "str). The file is truncated, corrupt or was not written by kfit; save it again."
    )


def _read(path: str, f: Any, h5py: Any) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if f.attrs.get("format") != FORMAT or not isinstance(f.get("tensors"), h5py.Group):
        raise _corrupt(path, "it lacks kfit's 'format' attribute or its 'tensors' group")
    tensors = {}
    for key, dataset in f["tensors"].items():
        name = urllib.parse.unquote(key)
        dtype_name = dataset.attrs.get("dtype")
        if not isinstance(dataset, h5py.Dataset) or not (
            isinstance(dtype_name, str) and dtype_name in _DTYPE_NAMES
        ):
            raise _corrupt(path, f"entry {name!r} is not a dataset with a known 'dtype' attribute")
        dtype = _DTYPE_NAMES[dtype_name]
        array = dataset[()]
        if not isinstance(array, np.ndarray):
            # Scalar datasets come back as numpy scalars; from_numpy needs a (0-d) array.
            array = np.array(array)
        if array.dtype != _STORED_AS[dtype]:
            raise _corrupt(
                path, f"entry {name!r} holds {array.dtype} data but records {dtype_name}"
            )
        tensor = torch.from_numpy(array)
        tensors[name] = tensor.view(torch.bfloat16) if dtype == torch.bfloat16 else tensor
    metadata_group = f.get("metadata")
    metadata = {} if metadata_group is None else dict(metadata_group.attrs)
    if not all(isinstance(v, str) for v in metadata.values()):
        raise _corrupt(path, f"the metadata must map strings to strings, got {metadata!r}")
    return tensors, metadata


def load_tensors(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Reads an HDF5 file written by `save_tensors` into CPU tensors.

    Args:
        path: The file to read.

    Returns:
        A pair `(tensors, metadata)`: names mapped to CPU tensors (in the order they were
        saved) and the string metadata (empty when none was saved).

    Raises:
        ImportError: If h5py is not installed.
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file is truncated, corrupt or not a kfit tensor file.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "b.weights.h5")
        >>> save_tensors(path, {"step": torch.tensor(7)})
        >>> load_tensors(path)
        ({'step': tensor(7)}, {})
        >>> folder.cleanup()
    """
    path = os.fspath(path)
    h5py = import_h5py()
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Expected `path` to name an existing HDF5 file. Received: path={path!r} (of type "
            "str), which does not exist. Check the path or save the file first."
        )
    try:
        with h5py.File(path, "r") as f:
            return _read(path, f, h5py)
    except (OSError, KeyError, RuntimeError) as e:
        # h5py reports damaged files as OSError (bad signature, truncation) or KeyError
        # (unreadable objects); both mean the same thing to the caller.
        raise _corrupt(path, f"h5py failed with {type(e).__name__}: {e}") from e
