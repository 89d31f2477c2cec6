"""Memory-mapped arrays and HDF5 datasets: read batch by batch, trained on like in-memory arrays."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import kfit
from kfit.trainers.data_adapters import ArrayDataAdapter, split_validation
from kfit.trainers.data_adapters.lazy_arrays import LazyArray, is_lazy_array, to_tensor_or_lazy
from kfit.trainers.epoch_iterator import EpochIterator

N, D, BS = 70, 6, 16


def _data() -> tuple[np.ndarray, np.ndarray]:
    rs = np.random.RandomState(0)
    return rs.rand(N, D), rs.randint(0, 3, N)  # float64 x: converted to float32 batch by batch


def _memmap(path: Path, array: np.ndarray) -> np.ndarray:
    np.save(path, array)
    return np.load(path, mmap_mode="r")


def _h5(path: Path, **arrays: np.ndarray):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        for name, array in arrays.items():
            f[name] = array
    return h5py.File(path, "r")


def _model(seed: int = 0, units: int = 3) -> kfit.Model:
    torch.manual_seed(seed)
    model = kfit.Sequential([kfit.Input((D,)), kfit.layers.Dense(8, activation="relu"), kfit.layers.Dense(units)])
    model.compile(optimizer=kfit.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _fit(x, y, **kwargs) -> tuple[list[np.ndarray], dict]:
    model = _model()
    history = model.fit(x, y, batch_size=BS, epochs=2, verbose=0, **kwargs)
    return model.get_weights(), history.history


def _assert_same(a: tuple[list[np.ndarray], dict], b: tuple[list[np.ndarray], dict]) -> None:
    for wa, wb in zip(a[0], b[0]):
        np.testing.assert_array_equal(wa, wb)
    assert a[1] == b[1]


# ------------------------------------------------------------------ detection and reading
def test_memmaps_and_their_views_are_lazy_but_copies_are_not(tmp_path):
    mm = _memmap(tmp_path / "x.npy", np.zeros((4, 2)))
    assert isinstance(mm, np.memmap) and is_lazy_array(mm)
    assert is_lazy_array(np.asarray(mm)[1:, :1])  # a plain ndarray whose base is the map
    assert not is_lazy_array(np.array(mm)) and not is_lazy_array(torch.zeros(2))
    assert isinstance(to_tensor_or_lazy(mm), LazyArray) and isinstance(to_tensor_or_lazy(np.zeros(2)), torch.Tensor)


def test_take_reads_rows_in_any_order_with_repeats(tmp_path):
    x = np.arange(40.0).reshape(20, 2)
    h5 = _h5(tmp_path / "x.h5", x=x)
    # A scattered batch, a batch within a short span (read as one slab), consecutive rows.
    for indices in ([17, 2, 2, 9, 0], [5, 3, 4, 3], [6, 7, 8]):
        want = torch.from_numpy(x[indices]).float()
        for source in (_memmap(tmp_path / "x.npy", x), h5["x"]):
            got = LazyArray(source).take(np.array(indices))
            assert got.dtype == torch.float32
            torch.testing.assert_close(got, want, rtol=0, atol=0)
    view = LazyArray(h5["x"]).rows(10, 20).rows(2, 4)
    assert view.shape == (2, 2) and view[:].tolist() == x[12:14].tolist()
    assert view.take(np.array([1, 0])).tolist() == x[[13, 12]].tolist()


def test_non_numeric_arrays_on_disk_are_refused_when_the_adapter_is_built(tmp_path):
    mm = _memmap(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(TypeError, match=r"Expected `y` to hold numbers"):
        ArrayDataAdapter(np.zeros((2, 1)), mm)


def test_indexing_with_a_step_or_rows_out_of_range_is_refused(tmp_path):
    lazy = LazyArray(_memmap(tmp_path / "x.npy", np.zeros((4, 2)))).rows(1, 4)
    with pytest.raises(TypeError, match="Received: key=slice"):
        lazy[::2]
    with pytest.raises(IndexError, match=r"in \[0, 3\)"):
        lazy.take(np.array([2, 0, 3]))


# ------------------------------------------------------------------ the adapter
@pytest.mark.parametrize("shuffle", [False, True, "batch"])
def test_nested_batches_equal_the_in_memory_ones(tmp_path, shuffle):
    x, y = _data()
    sw = np.linspace(0.5, 1.5, N)
    mm_x, mm_y = _memmap(tmp_path / "x.npy", x), _memmap(tmp_path / "y.npy", y)
    lazy = ArrayDataAdapter({"a": mm_x, "b": x[:, :2]}, (mm_y,), sw, batch_size=BS, shuffle=shuffle, seed=3,
                            class_weight={2: 4.0})
    eager = ArrayDataAdapter({"a": x, "b": x[:, :2]}, (y,), sw, batch_size=BS, shuffle=shuffle, seed=3,
                             class_weight={2: 4.0})
    assert lazy.lazy and not eager.lazy
    assert isinstance(lazy.x["a"], LazyArray)
    for _ in range(2):  # two passes: two permutations
        for (lx, ly, lw), (ex, ey, ew) in zip(lazy.iter_pass(), eager.iter_pass(), strict=True):
            for got, want in zip([lx["a"], lx["b"], ly[0], lw], [ex["a"], ex["b"], ey[0], ew]):
                assert got.dtype == want.dtype
                torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_rows_serves_any_range_of_the_pass_order(tmp_path):
    x, _ = _data()
    lazy = ArrayDataAdapter(_memmap(tmp_path / "x.npy", x), batch_size=BS, seed=1)
    order = lazy._order()
    assert order is not None
    got = lazy._rows(order, 5, 12)[0]
    torch.testing.assert_close(got, torch.from_numpy(x[order[5:12].numpy()]).float(), rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batches_for_a_cuda_device_are_read_into_pinned_memory(tmp_path):
    x, y = _data()
    adapter = ArrayDataAdapter(_memmap(tmp_path / "x.npy", x), y, batch_size=BS, device="cuda", seed=2)
    eager = ArrayDataAdapter(x, y, batch_size=BS, device="cuda", seed=2)
    for (lx, ly, _), (ex, ey, _) in zip(adapter.iter_pass(), eager.iter_pass(), strict=True):
        assert lx.is_pinned() and ly.is_pinned() and lx.device.type == "cpu"
        torch.testing.assert_close(lx.cuda(), ex, rtol=0, atol=0)
        torch.testing.assert_close(ly.cuda(), ey, rtol=0, atol=0)


def test_exact_resume_replays_the_pass_from_the_saved_position(tmp_path):
    x, y = _data()
    mm = _memmap(tmp_path / "x.npy", x)
    torch.manual_seed(7)
    first = EpochIterator(ArrayDataAdapter(mm, y, batch_size=BS, shuffle=True))
    steps = first.epoch()
    next(steps), next(steps)
    state = first.state()
    rest = [b[0] for _, b in steps]
    torch.manual_seed(99)  # a new process would seed differently; the state decides the order
    second = EpochIterator(ArrayDataAdapter(mm, y, batch_size=BS, shuffle=True))
    second.resume(state)
    resumed = [b[0] for _, b in second.epoch(start=2)]
    assert len(resumed) == len(rest) == 3
    for a, b in zip(resumed, rest):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_validation_split_keeps_views_of_the_map(tmp_path):
    x, _ = _data()
    mm = _memmap(tmp_path / "x.npy", x)
    train, val = split_validation(mm, 0.2)
    assert isinstance(train, LazyArray) and isinstance(val, LazyArray)
    assert train.source is mm and val.source is mm  # nothing copied
    assert (len(train), len(val)) == (56, 14)
    torch.testing.assert_close(val[:], torch.from_numpy(x[56:]).float(), rtol=0, atol=0)


# ------------------------------------------------------------------ fit, evaluate, predict
@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_on_a_memmap_trains_exactly_as_on_the_arrays(tmp_path, shuffle):
    x, y = _data()
    mm_x, mm_y = _memmap(tmp_path / "x.npy", x), _memmap(tmp_path / "y.npy", y)
    _assert_same(_fit(mm_x, mm_y, shuffle=shuffle), _fit(x, y, shuffle=shuffle))


def test_fit_on_hdf5_datasets_trains_exactly_as_on_the_arrays(tmp_path):
    x, y = _data()
    f = _h5(tmp_path / "d.h5", x=x, y=y)
    _assert_same(_fit(f["x"], f["y"], shuffle=True), _fit(x, y, shuffle=True))


def test_fit_with_validation_split_and_class_weight_on_memmaps(tmp_path):
    x, y = _data()
    mm_x, mm_y = _memmap(tmp_path / "x.npy", x), _memmap(tmp_path / "y.npy", y)
    kwargs = {"validation_split": 0.25, "class_weight": {0: 0.5, 2: 3.0}}
    lazy, eager = _fit(mm_x, mm_y, **kwargs), _fit(x, y, **kwargs)
    assert "val_loss" in lazy[1]
    _assert_same(lazy, eager)


def test_nested_inputs_memmap_beside_in_memory_arrays(tmp_path):
    x, y = _data()
    mm_x = _memmap(tmp_path / "x.npy", x)

    class TwoInputs(kfit.Model):
        def __init__(self):
            super().__init__()
            self.dense = kfit.layers.Dense(3)

        def call(self, inputs):
            return self.dense(torch.cat([inputs["a"], inputs["b"]], dim=-1))

    results = []
    for a in (mm_x, x):
        torch.manual_seed(0)
        model = TwoInputs()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit({"a": a, "b": x[:, :2]}, y, batch_size=BS, epochs=2, verbose=0)
        results.append(model.get_weights())
    for wa, wb in zip(*results):
        np.testing.assert_array_equal(wa, wb)


def test_evaluate_and_predict_on_a_memmap(tmp_path):
    x, y = _data()
    mm_x, mm_y = _memmap(tmp_path / "x.npy", x), _memmap(tmp_path / "y.npy", y)
    model = _model()
    assert model.evaluate(mm_x, mm_y, batch_size=BS, verbose=0) == model.evaluate(x, y, batch_size=BS, verbose=0)
    np.testing.assert_array_equal(model.predict(mm_x, batch_size=BS, verbose=0),
                                  model.predict(x, batch_size=BS, verbose=0))


def test_labels_on_disk_are_checked_batch_by_batch(tmp_path):
    x, y = _data()
    y[-1] = 5  # in the last batch only: the first batch's check cannot see it
    mm_y = _memmap(tmp_path / "y.npy", y)
    model = _model()
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\).*Received: label 5 in rows 64:70"):
        model.fit(x, mm_y, batch_size=BS, epochs=1, shuffle=False, verbose=0)


def test_fit_reads_only_the_batches_not_the_whole_map(tmp_path):
    # 360 MB on disk. Converting it whole would copy it into anonymous memory for the whole fit;
    # read batch by batch, only the batches are. (Pages of the file mapped by the reads count
    # in the RSS too, as page cache the kernel can drop, so the anonymous part is what is
    # sampled, at every batch of fit and evaluate.)
    rows, dim = 90_000, 1_000
    path = tmp_path / "big.npy"
    # Zeros: a sparse file, written in no time.
    np.lib.format.open_memmap(path, mode="w+", dtype="float32", shape=(rows, dim)).flush()
    script = textwrap.dedent(f"""
        import numpy as np, kfit

        def anon_kib():
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("RssAnon"))

        class Sample(kfit.callbacks.Callback):
            peak = 0

            def on_train_batch_end(self, batch, logs=None):
                Sample.peak = max(Sample.peak, anon_kib())

            on_test_batch_end = on_train_batch_end

        model = kfit.Sequential([kfit.Input(({dim},)), kfit.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.ones((64, {dim}), "float32"), np.ones(64), batch_size=32, verbose=0)  # warm up
        x, y = np.load({str(path)!r}, mmap_mode="r"), np.ones({rows}, "float32")
        before = anon_kib()
        model.fit(x, y, batch_size=64, steps_per_epoch=5, validation_split=0.1, validation_steps=2,
                  callbacks=[Sample()], verbose=0)
        model.evaluate(x, y, batch_size=64, steps=3, callbacks=[Sample()], verbose=0)
        print(Sample.peak - before)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    growth_bytes = int(done.stdout.split()[-1]) * 1024
    assert growth_bytes < rows * dim * 4 / 3, growth_bytes
