"""timeseries_dataset_from_array: Keras's windows, checked against a hand-written numpy windowing.

Keras's own function needs TensorFlow or Grain (neither is installed), so the reference is
the definition in Keras's docstring, written out below with plain loops.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import kfit
from kfit.utils import PyDataset, timeseries_dataset_from_array


def reference_windows(data, targets, length, stride, rate, start, end):
    """Every window [s, s + rate, ...] within data[start:end], s = start, start + stride, ..."""
    end = len(data) if end is None else end
    start = start or 0
    windows, window_targets = [], []
    s = start
    while s + (length - 1) * rate < end and (targets is None or s < len(targets)):
        windows.append([data[s + i * rate] for i in range(length)])
        if targets is not None:
            window_targets.append(targets[s])
        s += stride
    return np.array(windows), (None if targets is None else np.array(window_targets))


def _collect(ds):
    xs, ys = [], []
    for batch in ds:
        x, y = batch if isinstance(batch, tuple) else (batch, None)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), (None if ys[0] is None else np.concatenate(ys))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sequence_length": 10, "sampling_rate": 2, "sequence_stride": 3},
        {"sequence_length": 5},
        {"sequence_length": 4, "sequence_stride": 4, "batch_size": 7},
        {"sequence_length": 3, "start_index": 10, "end_index": 50, "sampling_rate": 3},
        {"sequence_length": 6, "start_index": 5, "sequence_stride": 2, "batch_size": 1},
        {"sequence_length": 99},
    ],
)
@pytest.mark.parametrize("with_targets", [True, False])
def test_windows_and_targets_match_the_definition(kwargs, with_targets):
    data = np.arange(99 * 2, dtype="float32").reshape(99, 2)
    targets = np.arange(99) * 10 if with_targets else None
    ds = timeseries_dataset_from_array(data, targets, **kwargs)
    x, y = _collect(ds)
    expected_x, expected_y = reference_windows(
        data,
        targets,
        kwargs["sequence_length"],
        kwargs.get("sequence_stride", 1),
        kwargs.get("sampling_rate", 1),
        kwargs.get("start_index"),
        kwargs.get("end_index"),
    )
    np.testing.assert_array_equal(x, expected_x)
    assert x.dtype == np.float32
    if with_targets:
        np.testing.assert_array_equal(y, expected_y)
    batch_size = kwargs.get("batch_size", 128)
    assert isinstance(ds, PyDataset) and len(ds) == -(-len(expected_x) // batch_size)


def test_keras_docstring_example_first_and_last_windows():
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3)
    x, _ = _collect(ds)
    assert x[0].tolist() == list(range(0, 20, 2))
    assert x[1].tolist() == list(range(3, 23, 2))
    assert x[-1].tolist() == list(range(78, 98, 2))


def test_short_targets_bound_the_number_of_windows():
    x, y = _collect(timeseries_dataset_from_array(np.arange(20), np.arange(6) + 100, sequence_length=3))
    expected_x, expected_y = reference_windows(np.arange(20), np.arange(6) + 100, 3, 1, 1, None, None)
    assert len(x) == 6
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)


def test_shuffle_uses_keras_seeded_permutation_and_reshuffles_after_each_pass():
    data = np.arange(40)
    ds = timeseries_dataset_from_array(data, data * 2, sequence_length=4, batch_size=8, shuffle=True, seed=3)
    starts = np.arange(37)
    np.random.RandomState(3).shuffle(starts)  # Keras's shuffle of the start positions
    x, y = _collect(ds)
    np.testing.assert_array_equal(x[:, 0], starts)
    np.testing.assert_array_equal(y, starts * 2)
    np.testing.assert_array_equal(x, starts[:, None] + np.arange(4))
    ds.on_epoch_end()
    x2, _ = _collect(ds)
    assert not np.array_equal(x2, x)
    assert sorted(x2[:, 0].tolist()) == list(range(37))


def test_batch_size_none_yields_single_windows():
    ds = timeseries_dataset_from_array(np.arange(10), np.arange(10), sequence_length=4, batch_size=None)
    assert len(ds) == 7
    x, y = ds[2]
    assert x.tolist() == [2, 3, 4, 5] and y == 2
    assert ds[-1][0].tolist() == [6, 7, 8, 9]
    with pytest.raises(IndexError):
        ds[7]


def test_windows_longer_than_the_data_give_an_empty_dataset():
    ds = timeseries_dataset_from_array(np.arange(5), None, sequence_length=6)
    assert len(ds) == 0 and list(ds) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_index": -1}, "start_index"),
        ({"start_index": 20}, "start_index"),
        ({"start_index": 5, "end_index": 5}, "end_index"),
        ({"end_index": 20}, "end_index"),
        ({"sampling_rate": 0}, "sampling_rate"),
        ({"sampling_rate": 20}, "sampling_rate"),
        ({"sequence_stride": 0}, "sequence_stride"),
        ({"sequence_stride": 20}, "sequence_stride"),
        ({"sequence_length": 0}, "sequence_length"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_out_of_range_arguments_are_refused(kwargs, match):
    kwargs = {"sequence_length": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        timeseries_dataset_from_array(np.arange(20), None, **kwargs)


def test_fit_a_model_on_windows_predicting_the_next_step():
    rs = np.random.RandomState(0)
    series = np.cumsum(rs.randn(300)).astype("float32")
    series = (series - series.mean()) / series.std()
    length = 8
    train = timeseries_dataset_from_array(
        series[:-length, None], series[length:], sequence_length=length, batch_size=32, shuffle=True, seed=1
    )
    x0, y0 = train[0]
    assert x0.shape == (32, length, 1) and y0.shape == (32,)
    start = int(np.where(series == x0[0, 0, 0])[0][0])
    assert y0[0] == series[start + length]  # the target is the step after the window
    model = kfit.Sequential([kfit.Input((length, 1)), kfit.layers.Flatten(), kfit.layers.Dense(1)])
    model.compile(optimizer=kfit.optimizers.Adam(0.01), loss="mse")
    history = model.fit(train, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(train, verbose=0).shape == (len(series) - 2 * length + 1, 1)
