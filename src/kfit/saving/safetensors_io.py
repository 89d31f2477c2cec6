"""A self-contained reader and writer for the safetensors format (no pickle, no extra package).

Layout of a file: an unsigned 64-bit little-endian integer N, then N bytes of UTF-8 JSON
mapping each tensor name to ``{"dtype", "shape", "data_offsets"}`` (plus an optional
``"__metadata__"`` mapping of strings to strings), then the raw little-endian tensor bytes.
Offsets count from the first byte after the header. Files written here are readable by
the `safetensors` package and the other way round.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from collections.abc import Mapping
from typing import Any

import torch

from kfit.backend.conversion import to_host
from kfit.saving.atomic import atomic_write

__all__ = ["check_metadata", "check_tensors", "load_tensors", "save_tensors"]

METADATA_KEY = "__metadata__"

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_CODES = {dtype: code for code, dtype in DTYPES.items()}

# The reference implementation refuses larger headers; so does this one, which also stops a
# corrupt length prefix from triggering a huge allocation.
_MAX_HEADER_BYTES = 100_000_000


def check_tensors(tensors: Any, argument: str = "tensors") -> None:
    """Checks that `tensors` maps string names to tensors of a dtype the tensor files store.

    Args:
        tensors: What a caller passed as the tensors to save.
        argument: The argument's name, for the error message.

    Raises:
        TypeError: If `tensors` is not a dict of tensors.
        ValueError: If a key is reserved or not a string, or a dtype cannot be stored.

    Example:
        >>> check_tensors({"kernel": torch.zeros(2)})
        >>> check_tensors([torch.zeros(2)])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        TypeError: Expected `tensors` to be a dict mapping names to torch.Tensor. ...
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(
            f"Expected `{argument}` to be a dict mapping names to torch.Tensor. "
            f"Received: {argument}={tensors!r} (of type {type(tensors).__name__}). "
            "Pass e.g. `module.state_dict()`."
        )
    supported = ", ".join(str(d) for d in DTYPES.values())
    for name, value in tensors.items():
        if not isinstance(name, str) or name == METADATA_KEY:
            raise ValueError(
                f"Expected every key of `{argument}` to be a string other than "
                f"{METADATA_KEY!r}. Received: key={name!r} (of type {type(name).__name__}). "
                "Rename the entry."
            )
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"Expected `{argument}[{name!r}]` to be a torch.Tensor. Received: "
                f"{argument}[{name!r}]={value!r} (of type {type(value).__name__}). "
                "Convert it with torch.as_tensor()."
            )
        if value.dtype not in _CODES:
            raise ValueError(
                f"Expected `{argument}[{name!r}]` to have one of the dtypes {supported}. "
                f"Received: dtype={value.dtype} (of type torch.dtype). Cast it with .to()."
            )
        if value.layout != torch.strided:
            raise ValueError(
                f"Expected `{argument}[{name!r}]` to be a dense tensor. Received: "
                f"layout={value.layout} (of type torch.layout). Call .to_dense() first."
            )


def check_metadata(metadata: Any) -> dict[str, str]:
    """Returns `metadata` as a dict of strings, the only metadata tensor files hold.

    Example:
        >>> check_metadata(None), check_metadata({"epoch": "3"})
        ({}, {'epoch': '3'})
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError(
            "Expected `metadata` to be None or a dict of str to str. Received: "
            f"metadata={metadata!r} (of type {type(metadata).__name__}). Convert keys and "
            "values to strings (e.g. with json.dumps)."
        )
    return dict(metadata)


def _tensor_bytes(tensor: torch.Tensor) -> Any:
    """Returns the tensor's raw little-endian bytes as a host buffer (works for bfloat16)."""
    flat = tensor.detach().contiguous().reshape(-1)
    if sys.byteorder != "little" and flat.element_size() > 1:
        flat = flat.view(torch.uint8).reshape(-1, flat.element_size()).flip(1).reshape(-1)
    return to_host(flat.view(torch.uint8))


def save_tensors(
    path: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Writes `tensors` to a safetensors file, atomically.

    Tensors may live on any device; they are copied to host memory as they are written.

    Args:
        path: The file to create or replace. The parent folder is created when missing.
        tensors: Names mapped to dense tensors of dtype float64, float32, float16, bfloat16,
            int64, int32, int16, int8, uint8 or bool.
        metadata: Optional string-to-string mapping stored in the header.

    Raises:
        TypeError: If `tensors` or `metadata` has the wrong type.
        ValueError: If a tensor has an unsupported dtype or layout, or a name is reserved.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "w.safetensors")
        >>> save_tensors(path, {"w": torch.ones(2, 3)}, metadata={"epoch": "3"})
        >>> tensors, meta = load_tensors(path)
        >>> tensors["w"].shape, meta
        (torch.Size([2, 3]), {'epoch': '3'})
        >>> folder.cleanup()
    """
    check_tensors(tensors)
    meta = check_metadata(metadata)
    # Widest dtypes first keeps every tensor aligned to its element size in the file.
    names = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
    header: dict[str, Any] = {METADATA_KEY: meta} if meta else {}
    offset = 0
    for name in names:
        tensor = tensors[name]
        nbytes = tensor.numel() * tensor.element_size()
        header[name] = {
            "dtype": _CODES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with atomic_write(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for name in names:
            f.write(_tensor_bytes(tensors[name]))


def _corrupt(path: str, problem: str) -> ValueError:
    return ValueError(
        f"Could not read the safetensors file: {problem}. Received: path={path!r} "
        "(of type str). The file is truncated, corrupt or not in safetensors format; "
        "save it again."
    )


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise KeyError(key)
        result[key] = value
    return result


def _read_header(path: str, f: Any, file_size: int) -> tuple[dict[str, Any], int]:
    """Parses the header and returns it with the offset where tensor data starts."""
    prefix = f.read(8)
    if len(prefix) < 8:
        raise _corrupt(
            path, f"the file is {file_size} bytes long, shorter than the 8-byte prefix"
        )
    (header_len,) = struct.unpack("<Q", prefix)
    if header_len > _MAX_HEADER_BYTES:
        raise _corrupt(
            path,
            f"the prefix announces a {header_len}-byte header, over the "
            f"{_MAX_HEADER_BYTES}-byte limit",
        )
    if header_len > file_size - 8:
        raise _corrupt(
            path,
            f"the prefix announces a {header_len}-byte header but only {file_size - 8} bytes "
            "follow it",
        )
    try:
        text = f.read(header_len).decode("utf-8")
        header = json.loads(text, object_pairs_hook=_reject_duplicates)
    except UnicodeDecodeError as e:
        raise _corrupt(path, f"the header is not valid UTF-8 ({e})") from None
    except json.JSONDecodeError as e:
        raise _corrupt(path, f"the header is not valid JSON ({e})") from None
    except KeyError as e:
        raise _corrupt(path, f"the header repeats the key {e.args[0]!r}") from None
    if not isinstance(header, dict):
        raise _corrupt(path, f"the header is a JSON {type(header).__name__}, not an object")
    return header, 8 + header_len


def _is_int_list(value: Any, length: int | None = None) -> bool:
    return (
        isinstance(value, list)
        and (length is None or len(value) == length)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    )


def _parse_entries(
    path: str, header: dict[str, Any], data_size: int
) -> tuple[dict[str, tuple[torch.dtype, list[int], int, int]], dict[str, str]]:
    """Validates the header against the data size; returns the tensor entries and metadata."""
    metadata = header.pop(METADATA_KEY, {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _corrupt(path, f"{METADATA_KEY!r} must map strings to strings, got {metadata!r}")
    entries = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise _corrupt(
                path, f"entry {name!r} must have exactly 'dtype', 'shape' and 'data_offsets'"
            )
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in DTYPES:
            raise _corrupt(
                path, f"entry {name!r} has unknown dtype {code!r} (known: {', '.join(DTYPES)})"
            )
        if not _is_int_list(shape) or not _is_int_list(offsets, 2) or offsets[0] > offsets[1]:
            raise _corrupt(path, f"entry {name!r} has an invalid shape or data_offsets: {info!r}")
        begin, end = offsets
        if end > data_size:
            raise _corrupt(
                path,
                f"entry {name!r} ends at data offset {end}, past the end of the data "
                f"({data_size} bytes)",
            )
        dtype = DTYPES[code]
        expected = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        if end - begin != expected:
            raise _corrupt(
                path,
                f"entry {name!r} spans {end - begin} bytes but dtype {code} and shape {shape} "
                f"need {expected}",
            )
        entries[name] = (dtype, shape, begin, end)
    position = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin != position:
            raise _corrupt(path, f"entry {name!r} starts at {begin}, expected {position}")
        position = end
    if position != data_size:
        raise _corrupt(
            path, f"the tensors cover {position} bytes of data but the file holds {data_size}"
        )
    return entries, metadata


def _from_bytes(buffer: bytearray, dtype: torch.dtype, shape: list[int]) -> torch.Tensor:
    if not buffer:
        return torch.empty(shape, dtype=dtype)
    flat = torch.frombuffer(buffer, dtype=torch.uint8)
    size = torch.empty((), dtype=dtype).element_size()
    if sys.byteorder != "little" and size > 1:
        flat = flat.reshape(-1, size).flip(1).reshape(-1).clone()
    return flat.view(dtype).reshape(shape)


def load_tensors(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Reads a safetensors file into CPU tensors.

    The header is validated in full before any tensor data is read.

    Args:
        path: The file to read.

    Returns:
        A pair `(tensors, metadata)`: names mapped to CPU tensors (in file order) and the
        header's string metadata (empty when absent).

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file is truncated or corrupt, naming the file and the problem.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "b.safetensors")
        >>> save_tensors(path, {"b": torch.tensor([1.5, -2.0], dtype=torch.bfloat16)})
        >>> load_tensors(path)
        ({'b': tensor([ 1.5000, -2.0000], dtype=torch.bfloat16)}, {})
        >>> folder.cleanup()
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        header, data_start = _read_header(path, f, file_size)
        entries, metadata = _parse_entries(path, header, file_size - data_start)
        tensors = {}
        for name, (dtype, shape, begin, end) in entries.items():
            f.seek(data_start + begin)
            # One buffer per tensor so each owns aligned memory and can be freed on its own.
            buffer = bytearray(end - begin)
            if f.readinto(buffer) != len(buffer):
                raise _corrupt(path, f"the data of entry {name!r} is cut short")
            tensors[name] = _from_bytes(buffer, dtype, shape)
    return tensors, metadata
