"""Tests for kfit.datasets.pickle_reader: Python's own unpickler as the reference, and refusals."""

from __future__ import annotations

import io
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from dataset_fakes import py2_pickle

from kfit.datasets.pickle_reader import load_npz, read_pickle


def _unpickle(data: bytes) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy.core is deprecated as a module name
        return pickle.loads(data, encoding="bytes")


def _ragged(seed: int, count: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    array = np.empty(count, dtype=object)
    for i in range(count):
        # Ranks spanning all integer opcodes: one byte, two bytes, four bytes, and longs.
        values = rng.integers(1, 2**16 + 10, size=int(rng.integers(0, 40))).tolist()
        array[i] = values + ([2**40, -5] if i % 7 == 0 else [])
    return array


def test_reads_a_python2_cifar_batch_as_python_does() -> None:
    rng = np.random.default_rng(0)
    batch = {
        b"batch_label": b"training batch 1 of 5",
        b"labels": rng.integers(0, 10, size=1500).tolist(),
        b"data": rng.integers(0, 256, size=(1500, 3072), dtype=np.uint8),
        b"filenames": [b"img_%d.png" % i for i in range(1500)],
    }
    data = py2_pickle(batch)
    expected = _unpickle(data)
    got = read_pickle(data)
    assert isinstance(got, dict) and list(got) == list(expected)
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            assert got[key].dtype == value.dtype and got[key].flags.writeable
            np.testing.assert_array_equal(got[key], value)
        else:
            assert got[key] == value


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_reads_object_arrays_of_int_lists_as_python_does(protocol: int) -> None:
    array = _ragged(protocol)
    got = read_pickle(pickle.dumps(array, protocol=protocol))
    assert got.dtype == object and got.shape == array.shape
    assert [list(s) for s in got] == [list(s) for s in array]


@pytest.mark.parametrize("protocol", [1, 2, 3, 4])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.uint8).reshape(3, 4),
        np.linspace(-1, 1, 6, dtype=">f4").reshape(2, 3),
        np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
        np.array([True, False]),
        np.zeros((0, 3), dtype=np.float64),
    ],
)
def test_reads_number_arrays_as_python_does(array: np.ndarray, protocol: int) -> None:
    value = {"a": array, "n": (1, 2.5, None, True, "text", b"bytes", -(2**70))}
    got = read_pickle(pickle.dumps(value, protocol=protocol))
    expected = pickle.loads(pickle.dumps(value, protocol=protocol))
    assert got["n"] == expected["n"]
    assert got["a"].dtype == array.dtype and got["a"].shape == array.shape
    np.testing.assert_array_equal(got["a"], array)


class _Touch:
    """Unpickling this would create a folder: the classic `__reduce__` gadget, made harmless."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mkdir, (str(self.path),))


def test_a_reduce_gadget_is_refused_and_not_run(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    for protocol in (0, 2, 4):
        with pytest.raises(ValueError, match=r"reference to (posix|os|nt)\.mkdir is not allowed|not supported"):
            read_pickle(pickle.dumps({b"data": _Touch(target)}, protocol=protocol))
    assert not target.exists()
    pickle.loads(pickle.dumps(_Touch(target)))  # the gadget is real: Python's unpickler runs it
    assert target.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros(2, dtype=[("a", "i4")]), "plain number or object dtype"),
        (np.array([np.int64(1)], dtype=object), r"numpy\.[\w.]*multiarray\.scalar is not allowed"),
        ({1, 2}, "opcode .* is not supported"),
        (print, r"builtins\.print is not allowed"),
    ],
)
def test_anything_beyond_plain_values_is_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_pickle(pickle.dumps(value, protocol=4))


def test_object_opcodes_and_truncated_streams_are_refused() -> None:
    with pytest.raises(ValueError, match="opcode b'\\\\x81' is not supported"):
        read_pickle(b"\x80\x02cnumpy\nndarray\n)\x81.")  # NEWOBJ: create an instance
    with pytest.raises(ValueError, match=r"malformed stream|without a STOP"):
        read_pickle(pickle.dumps([1, 2, [3, 4]], protocol=2)[:-3])
    with pytest.raises(ValueError, match=r"malformed stream \(ValueError: invalid literal"):
        read_pickle(b"(I12x\nl.")  # protocol 1's INT with a broken number
    with pytest.raises(ValueError, match="lacks its end of line"):
        read_pickle(b"cnumpy")


def test_load_npz_matches_numpy_with_pickles_allowed(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x=_ragged(0), y=np.arange(50), z=np.ones((2, 3), np.float32))
    got = load_npz(path)
    with np.load(path, allow_pickle=True) as expected:
        assert sorted(got) == sorted(expected.files)
        for name in expected.files:
            assert got[name].dtype == expected[name].dtype and got[name].shape == expected[name].shape
            assert [np.asarray(v).tolist() for v in got[name]] == [np.asarray(v).tolist() for v in expected[name]]


def test_load_npz_refuses_a_gadget_in_an_object_array(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    array = np.empty(1, dtype=object)
    array[0] = _Touch(target)
    buffer = io.BytesIO()
    np.savez(buffer, x=array)
    (tmp_path / "evil.npz").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="is not allowed"):
        load_npz(tmp_path / "evil.npz")
    assert not target.exists()
