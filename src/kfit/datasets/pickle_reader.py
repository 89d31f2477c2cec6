"""Reads the pickle streams inside Keras's dataset files without unpickling them.

Two of Keras's published dataset formats hold pickles: the CIFAR batches
(`cifar-10-batches-py/data_batch_1`, ...: a Python 2 pickle of a dict of byte strings, lists
of ints and one `uint8` numpy array) and the IMDB and Reuters `.npz` files (object arrays of
Python lists of ints, which numpy can only store as a pickle). `pickle.load`, even with a
restricted `find_class`, runs the stream's instructions: it calls the classes and functions the
stream names. This module never does. `read_pickle` walks the opcodes itself and builds only
plain values (`None`, `bool`, `int`, `float`, `bytes`, `str`, `list`, `tuple`, `dict`), plus
numpy arrays, whose reconstruction it recognises by shape and performs itself:

- the stream may *name* only `numpy.ndarray`, `numpy.dtype`, numpy's `_reconstruct`, and
  `_codecs.encode` and `bytes` (how Python 3 writes `bytes` at protocol 2); it never imports
  or calls them, it recognises the few calls those files make and builds the result itself;
- a dtype may be a plain number or object type (`u1`, `i8`, `f4`, `O8`, ...), nothing
  structured;
- opcodes that build arbitrary objects (`INST`, `OBJ`, `NEWOBJ`, persistent ids, extension
  codes, out-of-band buffers) are refused.

Anything else raises `ValueError` naming the offending opcode or global. The alternative of
using the binary versions of CIFAR was rejected: they have other URLs, hashes and cache
folders, so files that Keras already downloaded would not be reused.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import zipfile
from typing import Any, Literal

import numpy as np

__all__ = ["load_npz", "read_pickle"]

_RECONSTRUCT_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
# The only names a stream may mention; `_reduce` recognises their calls and builds the result.
_ALLOWED_GLOBALS = frozenset(
    [(module, "_reconstruct") for module in _RECONSTRUCT_MODULES]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("__builtin__", "bytes"), ("builtins", "bytes")]
)
# Number and object dtypes only: a descriptor such as "u1", "<f8" or "O8".
_DTYPE_DESCR = re.compile(r"[biufcO]\d{1,2}")


class _Global:
    """A name the stream refers to (`GLOBAL`); only ever compared, never imported."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


class _Partial:
    """An array or dtype between its `REDUCE` (creation) and `BUILD` (filling in the state)."""

    def __init__(self, kind: str, descr: str = "") -> None:
        self.kind = kind  # "array" or "dtype"
        self.descr = descr
        self.value: Any = None
        self.memo_keys: list[int] = []


_FAILURE = "Could not read the dataset file: "


def _fail(message: str, pos: int) -> ValueError:
    return ValueError(
        f"{_FAILURE}{message} (at byte {pos} of its pickle stream). Only "
        "dicts, lists, tuples, numbers, strings and plain numpy arrays are read, and nothing in "
        "the file is executed. The file may be corrupted or tampered with: delete it so that it "
        "is downloaded again."
    )


def _as_text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _reduce(func: Any, args: Any, pos: int) -> Any:
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        raise _fail(f"a call of {func!r} is not allowed", pos)
    target = (func.module, func.name)
    if func.name == "_reconstruct" and func.module in _RECONSTRUCT_MODULES:
        if len(args) != 3 or not (isinstance(args[0], _Global) and args[0].name == "ndarray"):
            raise _fail(f"unexpected array reconstruction arguments {args!r}", pos)
        return _Partial("array")
    if target == ("numpy", "dtype"):
        descr = _as_text(args[0]) if args else None
        if not isinstance(descr, str) or not _DTYPE_DESCR.fullmatch(descr):
            raise _fail(f"dtype {descr!r} is not a plain number or object dtype", pos)
        return _Partial("dtype", descr)
    if target in (("__builtin__", "bytes"), ("builtins", "bytes")) and args == ():
        return b""  # how Python 3 writes an empty `bytes` at protocols 1 and 2
    if target == ("_codecs", "encode"):
        if len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
            return args[0].encode("latin-1")
        raise _fail(f"_codecs.encode{args!r} is not a latin-1 byte string", pos)
    raise _fail(f"a call of {func!r} is not allowed", pos)


def _build_dtype(partial: _Partial, state: Any, pos: int) -> np.dtype:
    # state = (version, byte order, subarray, names, fields, itemsize, alignment, flags)
    if not (isinstance(state, tuple) and len(state) >= 5 and state[2:5] == (None, None, None)):
        raise _fail(f"dtype state {state!r} describes a structured dtype", pos)
    if partial.descr.startswith("O"):
        return np.dtype(object)
    order = _as_text(state[1])
    return np.dtype(order + partial.descr if order in ("<", ">") else partial.descr)


def _build_array(state: Any, pos: int) -> np.ndarray:
    # state = (version, shape, dtype, is_fortran, data); data is raw bytes, or a list of the
    # elements for an object array.
    if not (isinstance(state, tuple) and len(state) == 5):
        raise _fail(f"unexpected array state {state!r:.200}", pos)
    _, shape, dtype, fortran, data = state
    if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise _fail(f"array shape {shape!r} is not a tuple of sizes", pos)
    if not isinstance(dtype, np.dtype):
        raise _fail(f"array dtype {dtype!r} is not a dtype", pos)
    order: Literal["C", "F"] = "F" if fortran else "C"
    count = math.prod(shape)
    if dtype.hasobject:
        if not isinstance(data, list) or len(data) != count:
            raise _fail(f"object array of shape {shape} does not hold {count} elements", pos)
        flat = np.empty(count, dtype=object)
        for i, item in enumerate(data):
            flat[i] = item
        return flat.reshape(shape, order=order)
    if not isinstance(data, (bytes, bytearray)) or len(data) != count * dtype.itemsize:
        raise _fail(f"array of shape {shape} and dtype {dtype} has the wrong number of bytes", pos)
    # Copied so that the array is writable, as an unpickled one would be.
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order=order).copy()


def _line(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\n", pos)
    if end < 0:
        raise _fail("a text argument lacks its end of line", pos)
    return data[pos:end].decode("latin-1"), end + 1


def read_pickle(data: bytes) -> Any:
    """Reads the value stored in a pickle stream without executing anything from it.

    Args:
        data: The whole pickle stream, in a binary protocol (1 to 5; numpy's protocol-5
            buffer-based arrays are not read).

    Returns:
        The stored value, made of `dict`, `list`, `tuple`, `int`, `float`, `bool`, `None`,
        `bytes` (Python 2 `str` stays `bytes`), `str` and numpy arrays.

    Raises:
        ValueError: When the stream refers to anything else or is malformed.

    Example:
        >>> import pickle
        >>> read_pickle(pickle.dumps({b"labels": [3, 1], "data": np.arange(3, dtype="u1")}, 2))
        {b'labels': [3, 1], 'data': array([0, 1, 2], dtype=uint8)}
        >>> read_pickle(pickle.dumps(print))
        Traceback (most recent call last):
        ...
        ValueError: Could not read the dataset file: a reference to builtins.print is not allowed ...
    """
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[int, Any] = {}
    append = stack.append
    unpack_from = struct.unpack_from
    pos, size = 0, len(data)
    try:
        while pos < size:
            op = data[pos]
            pos += 1
            # The integer opcodes come first: the IMDB and Reuters files are millions of them.
            if op == 0x4B:  # K BININT1
                append(data[pos])
                pos += 1
            elif op == 0x4D:  # M BININT2
                append(data[pos] | data[pos + 1] << 8)
                pos += 2
            elif op == 0x4A:  # J BININT
                append(unpack_from("<i", data, pos)[0])
                pos += 4
            elif op == 0x28:  # ( MARK
                marks.append(len(stack))
            elif op == 0x65:  # e APPENDS
                start = marks.pop()
                items = stack[start:]
                del stack[start:]
                stack[-1].extend(items)
            elif op == 0x61:  # a APPEND
                item = stack.pop()
                stack[-1].append(item)
            elif op in (0x71, 0x72, 0x94):  # q BINPUT, r LONG_BINPUT, MEMOIZE
                if op == 0x71:
                    key = data[pos]
                    pos += 1
                elif op == 0x72:
                    key = unpack_from("<I", data, pos)[0]
                    pos += 4
                else:
                    key = len(memo)
                memo[key] = stack[-1]
                if isinstance(stack[-1], _Partial):
                    stack[-1].memo_keys.append(key)
            elif op == 0x70:  # p PUT
                text, pos = _line(data, pos)
                memo[int(text)] = stack[-1]
                if isinstance(stack[-1], _Partial):
                    stack[-1].memo_keys.append(int(text))
            elif op in (0x68, 0x6A, 0x67):  # h BINGET, j LONG_BINGET, g GET
                if op == 0x68:
                    key = data[pos]
                    pos += 1
                elif op == 0x6A:
                    key = unpack_from("<I", data, pos)[0]
                    pos += 4
                else:
                    text, pos = _line(data, pos)
                    key = int(text)
                append(memo[key])
            elif op == 0x5D:  # ] EMPTY_LIST
                append([])
            elif op == 0x7D:  # } EMPTY_DICT
                append({})
            elif op == 0x29:  # ) EMPTY_TUPLE
                append(())
            elif op in (0x6C, 0x74, 0x64):  # l LIST, t TUPLE, d DICT
                start = marks.pop()
                items = stack[start:]
                del stack[start:]
                if op == 0x6C:
                    append(items)
                elif op == 0x74:
                    append(tuple(items))
                else:
                    append(dict(zip(items[::2], items[1::2])))
            elif op in (0x85, 0x86, 0x87):  # TUPLE1, TUPLE2, TUPLE3
                count = op - 0x84
                items = stack[-count:]
                del stack[-count:]
                append(tuple(items))
            elif op in (0x73, 0x75):  # s SETITEM, u SETITEMS
                start = marks.pop() if op == 0x75 else len(stack) - 2
                items = stack[start:]
                del stack[start:]
                stack[-1].update(zip(items[::2], items[1::2]))
            elif op in (0x55, 0x43, 0x8C):  # U SHORT_BINSTRING, C SHORT_BINBYTES, SHORT_BINUNICODE
                length = data[pos]
                chunk = data[pos + 1 : pos + 1 + length]
                pos += 1 + length
                append(chunk.decode("utf-8") if op == 0x8C else chunk)
            elif op in (0x54, 0x42, 0x58):  # T BINSTRING, B BINBYTES, X BINUNICODE
                length = unpack_from("<I", data, pos)[0]
                chunk = data[pos + 4 : pos + 4 + length]
                pos += 4 + length
                append(chunk.decode("utf-8") if op == 0x58 else chunk)
            elif op in (0x8E, 0x8D):  # BINBYTES8, BINUNICODE8
                length = unpack_from("<Q", data, pos)[0]
                chunk = data[pos + 8 : pos + 8 + length]
                pos += 8 + length
                append(chunk.decode("utf-8") if op == 0x8D else chunk)
            elif op in (0x8A, 0x8B):  # LONG1, LONG4
                if op == 0x8A:
                    length = data[pos]
                    pos += 1
                else:
                    length = unpack_from("<i", data, pos)[0]
                    pos += 4
                append(int.from_bytes(data[pos : pos + length], "little", signed=True))
                pos += length
            elif op in (0x49, 0x4C):  # I INT, L LONG (protocol 0 and 1)
                text, pos = _line(data, pos)
                if op == 0x49 and text in ("00", "01"):
                    append(text == "01")
                else:
                    append(int(text.rstrip("L")))
            elif op == 0x47:  # G BINFLOAT
                append(unpack_from(">d", data, pos)[0])
                pos += 8
            elif op == 0x46:  # F FLOAT
                text, pos = _line(data, pos)
                append(float(text))
            elif op == 0x4E:  # N NONE
                append(None)
            elif op in (0x88, 0x89):  # NEWTRUE, NEWFALSE
                append(op == 0x88)
            elif op in (0x63, 0x93):  # c GLOBAL, STACK_GLOBAL
                if op == 0x63:
                    module, pos = _line(data, pos)
                    name, pos = _line(data, pos)
                else:
                    name = stack.pop()
                    module = stack.pop()
                ref = _Global(str(module), str(name))
                if (ref.module, ref.name) not in _ALLOWED_GLOBALS:
                    raise _fail(f"a reference to {ref!r} is not allowed", pos)
                append(ref)
            elif op == 0x52:  # R REDUCE
                args = stack.pop()
                stack[-1] = _reduce(stack[-1], args, pos)
            elif op == 0x62:  # b BUILD
                state = stack.pop()
                target = stack[-1]
                if not isinstance(target, _Partial) or target.value is not None:
                    raise _fail(f"setting the state of {type(target).__name__} is not allowed", pos)
                if target.kind == "dtype":
                    target.value = _build_dtype(target, state, pos)
                else:
                    target.value = _build_array(state, pos)
                stack[-1] = target.value
                for key in target.memo_keys:
                    memo[key] = target.value
            elif op == 0x30:  # 0 POP
                if marks and marks[-1] == len(stack):
                    marks.pop()
                else:
                    stack.pop()
            elif op == 0x31:  # 1 POP_MARK
                del stack[marks.pop() :]
            elif op == 0x32:  # 2 DUP
                append(stack[-1])
            elif op == 0x80:  # PROTO
                pos += 1
            elif op == 0x95:  # FRAME: only a read-ahead hint
                pos += 8
            elif op == 0x2E:  # . STOP
                if len(stack) != 1 or marks:
                    raise _fail("the stream ends with an unbalanced stack", pos)
                value = stack[0]
                if isinstance(value, (_Partial, _Global)):
                    raise _fail(f"the stream ends with an incomplete {value!r}", pos)
                return value
            else:
                raise _fail(f"opcode {bytes([op])!r} is not supported", pos - 1)
    except (IndexError, KeyError, AttributeError, TypeError, ValueError, struct.error) as err:
        if str(err).startswith(_FAILURE):
            raise
        raise _fail(f"malformed stream ({type(err).__name__}: {err})", pos) from None
    raise _fail("the stream ends without a STOP opcode", pos)


def _read_npy(raw: bytes, name: str) -> np.ndarray:
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        # Format 3.0 differs from 2.0 only in the header's text encoding (utf-8, not latin-1).
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    if not dtype.hasobject:
        stream.seek(0)
        return np.lib.format.read_array(stream, allow_pickle=False)
    array = read_pickle(raw[stream.tell() :])
    if not (isinstance(array, np.ndarray) and array.dtype == object and array.shape == tuple(shape)):
        raise ValueError(
            f"Could not read array {name!r}: its header announces an object array of shape "
            f"{tuple(shape)}, but its data holds {type(array).__name__}. The file may be "
            "corrupted: delete it so that it is downloaded again."
        )
    return array


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Loads every array of an `.npz` file, reading object arrays without unpickling them.

    Number arrays are read by numpy with `allow_pickle=False`; object arrays (ragged sequences,
    as in Keras's `imdb.npz` and `reuters.npz`) go through `read_pickle`.

    Args:
        path: The `.npz` file.

    Returns:
        The arrays by name (the member names without `.npy`).

    Raises:
        ValueError: When an object array holds anything but plain values.

    Example:
        >>> import tempfile
        >>> ragged = np.empty(2, dtype=object)
        >>> ragged[0], ragged[1] = [1, 2, 3], [4]
        >>> path = tempfile.mkdtemp() + "/ragged.npz"
        >>> np.savez(path, x=ragged, y=np.array([0, 1]))
        >>> arrays = load_npz(path)
        >>> arrays["x"].tolist(), arrays["y"].tolist()
        ([[1, 2, 3], [4]], [0, 1])
    """
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                name = member[: -len(".npy")]
                arrays[name] = _read_npy(archive.read(member), name)
    return arrays
