"""`timeseries_dataset_from_array`: batches of sliding windows over an array (`keras.utils`).

Keras returns a `tf.data.Dataset`; kfit returns a `TimeseriesDataset` (a `kfit.utils.PyDataset`)
that gathers each batch's windows from the array when the batch is asked for, so the windows
are never all in memory at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kfit.utils.errors import received
from kfit.utils.py_dataset import PyDataset

__all__ = ["TimeseriesDataset", "timeseries_dataset_from_array"]


class TimeseriesDataset(PyDataset):
    """Windows `data[s + i * sampling_rate]` for `i < sequence_length`, by start position `s`.

    Built by `timeseries_dataset_from_array`, which documents the arguments. `start_positions`
    are offsets from `start_index`, in the order of the first pass.

    Example:
        >>> ds = TimeseriesDataset(np.arange(6), None, np.array([0, 2]), start_index=1,
        ...                        sequence_length=2, sampling_rate=2, batch_size=None, rng=None)
        >>> [window.tolist() for window in ds]
        [[1, 3], [3, 5]]
    """

    def __init__(
        self,
        data: np.ndarray,
        targets: np.ndarray | None,
        start_positions: np.ndarray,
        start_index: int,
        sequence_length: int,
        sampling_rate: int,
        batch_size: int | None,
        rng: np.random.RandomState | None,
    ) -> None:
        super().__init__()
        self.start_positions = start_positions
        self.batch_size = batch_size
        self._data = data
        self._targets = targets
        self._start_index = start_index
        self._steps = np.arange(sequence_length) * sampling_rate
        self._rng = rng

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.start_positions)
        return (len(self.start_positions) + self.batch_size - 1) // self.batch_size

    def __getitem__(self, index: int) -> Any:
        if not -len(self) <= index < len(self):
            raise IndexError(f"Expected a batch index below {len(self)}. {received('index', index)}")
        index %= len(self)
        size = 1 if self.batch_size is None else self.batch_size
        starts = self.start_positions[index * size : (index + 1) * size] + self._start_index
        x = self._data[starts[:, np.newaxis] + self._steps]
        y = None if self._targets is None else self._targets[starts]
        if self.batch_size is None:
            x, y = x[0], None if y is None else y[0]
        return x if y is None else (x, y)

    def on_epoch_end(self) -> None:
        if self._rng is not None:
            self.start_positions = self._rng.permutation(self.start_positions)


def _check_int(name: str, value: Any, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"Expected `{name}` to be an integer >= {minimum}{' or None' if allow_none else ''}. "
            f"{received(name, value)}"
        )


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> TimeseriesDataset:
    """A dataset of sliding windows over `data`, each with the target at its first step.

    Window `k` starts at `s = start_index + k * sequence_stride` and holds
    `data[s], data[s + sampling_rate], ...` (`sequence_length` steps), all before `end_index`;
    its target is `targets[s]`. Windows that would run past `end_index` (or whose target is
    past the end of `targets`) are left out.

    Args:
        data: An array (or anything `numpy.asarray` takes) of timesteps on axis 0.
        targets: The targets by timestep (window `k`'s target is `targets[s]`), or None.
        sequence_length: The number of steps in a window.
        sequence_stride: The distance between the starts of consecutive windows.
        sampling_rate: The distance between the steps of a window.
        batch_size: Windows per batch (the last batch may be smaller); None yields single
            windows.
        shuffle: Whether to shuffle the windows (seeded with `seed`; again after each pass).
        seed: The shuffle's seed; None draws one.
        start_index: The first timestep used (default 0).
        end_index: The timestep before which windows end (default `len(data)`).

    Returns:
        A `TimeseriesDataset` yielding `(windows, targets)`, or `windows` without targets;
        windows are `(batch, sequence_length) + data.shape[1:]` in `data`'s dtype.

    Raises:
        ValueError: for an index, stride, rate or size out of range, as in Keras.

    Example:
        >>> import numpy as np
        >>> ds = timeseries_dataset_from_array(np.arange(10), np.arange(10) * 10,
        ...                                    sequence_length=3, sequence_stride=2, batch_size=2)
        >>> x, y = ds[0]
        >>> x.tolist(), y.tolist(), len(ds)
        ([[0, 1, 2], [2, 3, 4]], [0, 20], 2)
    """
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError(f"Expected `data` to have timesteps on axis 0. {received('data', data)}")
    length = len(data)
    _check_int("sequence_length", sequence_length, 1)
    _check_int("sequence_stride", sequence_stride, 1)
    _check_int("sampling_rate", sampling_rate, 1)
    _check_int("batch_size", batch_size, 1, allow_none=True)
    _check_int("start_index", start_index, 0, allow_none=True)
    _check_int("end_index", end_index, 1, allow_none=True)
    if start_index is not None and start_index >= length:
        raise ValueError(
            f"Expected `start_index` below the length of `data` ({length}). {received('start_index', start_index)}"
        )
    if end_index is not None:
        if start_index and end_index <= start_index:
            raise ValueError(
                f"Expected `end_index` above `start_index` ({start_index}). {received('end_index', end_index)}"
            )
        # Keras refuses end_index == len(data) too; pass None for "up to the end".
        if end_index >= length:
            raise ValueError(
                f"Expected `end_index` below the length of `data` ({length}). "
                f"{received('end_index', end_index)} Pass end_index=None to use all the data."
            )
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value >= length:
            raise ValueError(f"Expected `{name}` below the length of `data` ({length}). {received(name, value)}")
    target_array = None
    if targets is not None:
        target_array = np.asarray(targets)
        if target_array.ndim == 0:
            raise ValueError(f"Expected `targets` to be indexed by timestep. {received('targets', targets)}")
    start = start_index or 0
    end = length if end_index is None else end_index
    num_windows = end - start - (sequence_length - 1) * sampling_rate
    if target_array is not None:
        # Keras bounds the count by len(targets) alone, then fails mid-pass on a window whose
        # target lies past the end; such windows are left out here instead.
        num_windows = min(num_windows, len(target_array) - start)
    start_positions = np.arange(0, max(num_windows, 0), sequence_stride)
    rng = None
    if shuffle:
        if seed is None:
            seed = int(np.random.randint(1_000_000))
        rng = np.random.RandomState(seed)
        rng.shuffle(start_positions)
    return TimeseriesDataset(
        data, target_array, start_positions, start, sequence_length, sampling_rate, batch_size, rng
    )
