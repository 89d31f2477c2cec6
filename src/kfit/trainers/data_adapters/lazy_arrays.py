"""Arrays that stay on disk: memory-mapped numpy arrays and HDF5 datasets, read batch by batch.

Data larger than memory usually arrives as an `np.memmap` (or `np.load(path, mmap_mode="r")`)
or an `h5py.Dataset`. Converting such an array to a tensor up front would read (and, for
read-only maps, copy) all of it. Instead the array adapter keeps it as a `LazyArray` and reads
only the rows of each batch, in the pass's order, converting them with `to_tensor`'s rules:
float64 becomes the default float type, and a non-numeric dtype is refused when the adapter is
built (from the first row) rather than at some later step.

Reading a batch costs what a hand-written loop costs: one copy of its rows out of the page
cache (or out of HDF5) into a fresh tensor, which is allocated in pinned memory when batches
go on to a CUDA device, so that the copy to the device can overlap the next step.
"""

from __future__ import annotations

import mmap
import sys
from typing import Any

import numpy as np
import torch

from kfit.trainers.data_adapters.structures import to_tensor

__all__ = ["LazyArray", "is_lazy_array", "to_tensor_or_lazy"]

# An HDF5 selection of scattered rows costs far more per row than a slab read, so a batch
# whose rows lie within this many times its size of each other is read as one slab.
_SLAB_SPAN = 4


def _h5py_dataset_type() -> type | None:
    # h5py is imported lazily; a user with an h5py.Dataset in hand has imported it already.
    h5py = sys.modules.get("h5py")
    return getattr(h5py, "Dataset", None)


def _is_memory_mapped(array: np.ndarray) -> bool:
    base: Any = array
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return False


def is_lazy_array(value: Any) -> bool:
    """True for arrays that are read batch by batch: memory-mapped numpy arrays (an `np.memmap`
    or any view of one) and `h5py.Dataset`s, and the `LazyArray`s made of them.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
        >>> np.save(path, np.zeros((4, 2)))
        >>> is_lazy_array(np.load(path, mmap_mode="r")), is_lazy_array(np.zeros((4, 2)))
        (True, False)
    """
    if isinstance(value, LazyArray):
        return True
    if isinstance(value, np.ndarray):
        return _is_memory_mapped(value)
    dataset = _h5py_dataset_type()
    return dataset is not None and isinstance(value, dataset)


def to_tensor_or_lazy(value: Any, name: str = "x") -> torch.Tensor | LazyArray:
    """A `LazyArray` for a memory-mapped array or HDF5 dataset, else `to_tensor(value)`.

    Example:
        >>> type(to_tensor_or_lazy(np.zeros(3))).__name__
        'Tensor'
    """
    if isinstance(value, LazyArray):
        return value
    if is_lazy_array(value):
        return LazyArray(value, name=name)
    return to_tensor(value, name=name)


class LazyArray:
    """Rows `start:stop` of a memory-mapped array or HDF5 dataset, read only when asked.

    `take` and `read` return the requested rows as a new tensor; indexing with a slice does
    the same (`lazy[:2]` is a tensor of two rows). `rows(start, stop)` is a view: another
    `LazyArray` over the same source, which is how a validation split stays on disk.

    Args:
        source: An `np.memmap` (or a view of one) or an `h5py.Dataset`, rows along axis 0.
        name: The argument it came from, for the error a non-numeric dtype gets.
        start, stop: The rows of `source` it stands for (a Python slice's bounds).

    Raises:
        TypeError: When the source holds no numbers (strings, objects, records).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
        >>> np.save(path, np.arange(10.0).reshape(5, 2))
        >>> lazy = LazyArray(np.load(path, mmap_mode="r"))
        >>> lazy.shape, lazy.take(np.array([3, 0])).tolist()
        ((5, 2), [[6.0, 7.0], [0.0, 1.0]])
        >>> val = lazy.rows(4, 5)
        >>> val.shape, val.read(0, 1).dtype
        ((1, 2), torch.float32)
    """

    def __init__(self, source: Any, name: str = "x", start: int = 0, stop: int | None = None) -> None:
        span = range(int(source.shape[0]))[start:stop]
        self.source = source
        # numpy reads go through a plain ndarray view of the map, which skips np.memmap's
        # per-call wrapping of results.
        self._array = np.asarray(source) if isinstance(source, np.ndarray) else None
        self.name = name
        self.offset = span.start
        self.shape: tuple[int, ...] = (len(span), *(int(d) for d in source.shape[1:]))
        # One row through to_tensor decides the batches' dtype, and refuses strings or objects
        # now rather than at the first step.
        probe = to_tensor(np.asarray(source[self.offset:self.offset + 1]), name=name)
        self.tensor_dtype: torch.dtype = probe.dtype

    @property
    def dtype(self) -> np.dtype:
        """The source's dtype (batches come out as `tensor_dtype`)."""
        return np.dtype(self.source.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"LazyArray(shape={self.shape}, dtype={self.dtype}, source={type(self.source).__name__})"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        # Asked for as a whole (np.asarray): read all rows.
        return np.asarray(self.source[self.offset:self.offset + len(self)], dtype=dtype)

    def __getitem__(self, key: slice) -> torch.Tensor:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError(
                "Expected a slice of rows with step 1 to index a LazyArray. "
                f"Received: key={key!r} (of type {type(key).__name__}). Use `take(indices)` for "
                "other rows."
            )
        span = range(len(self))[key]
        return self.read(span.start, max(span.start, span.stop))

    def rows(self, start: int, stop: int) -> LazyArray:
        """A view of rows `start:stop`, nothing read but one row (for its dtype)."""
        span = range(len(self))[start:stop]
        return LazyArray(self.source, self.name, self.offset + span.start, self.offset + span.stop)

    def _empty(self, count: int, pin: bool) -> tuple[torch.Tensor, np.ndarray]:
        out = torch.empty((count, *self.shape[1:]), dtype=self.tensor_dtype, pin_memory=pin)
        return out, out.numpy()

    def read(self, start: int, stop: int, pin: bool = False) -> torch.Tensor:
        """Rows `start:stop` as a new tensor (in pinned memory when `pin`)."""
        out, buffer = self._empty(stop - start, pin)
        if stop > start:
            rows = self.source if self._array is None else self._array
            buffer[...] = rows[self.offset + start:self.offset + stop]
        return out

    def take(self, indices: np.ndarray, pin: bool = False, checked: bool = True) -> torch.Tensor:
        """The rows at `indices` (any order, repeats allowed) as a new tensor.

        `checked=False` skips the range check, for indices known to be valid.
        """
        indices = np.asarray(indices, dtype=np.int64)
        count = int(indices.shape[0])
        if count and indices[-1] - indices[0] == count - 1 and np.all(np.diff(indices) == 1):
            # Consecutive rows (no shuffle, or shuffle="batch"): one slice.
            return self.read(int(indices[0]), int(indices[0]) + count, pin)
        out, buffer = self._empty(count, pin)
        if not count:
            return out
        # The adapter's own permutation is always in range: it skips this check (two
        # reductions per batch, as much as reading a small batch's rows).
        if checked and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(
                f"Expected row indices in [0, {len(self)}) for this LazyArray. Received: indices from "
                f"{indices.min()} to {indices.max()}. Pass positions of rows that exist."
            )
        positions = indices + self.offset if self.offset else indices
        array = self._array
        if array is not None:
            if array.dtype == buffer.dtype:
                # mode="clip" lets numpy write straight into `buffer` (the indices are valid).
                array.take(positions, axis=0, out=buffer, mode="clip")
            else:
                buffer[...] = array[positions]
            return out
        # HDF5 reads rows only in increasing order, each once: read those, then reorder.
        unique, inverse = np.unique(positions, return_inverse=True)
        low, high = int(unique[0]), int(unique[-1]) + 1
        if high - low <= _SLAB_SPAN * count:
            buffer[...] = self.source[low:high][positions - low]
        else:
            buffer[...] = self.source[unique][inverse.reshape(-1)]
        return out
