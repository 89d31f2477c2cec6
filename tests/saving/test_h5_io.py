import subprocess
import sys

import numpy as np
import pytest
import torch

h5py = pytest.importorskip("h5py")

from kfit.saving import h5_io  # noqa: E402

DTYPES = [
    torch.float64,
    torch.float32,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int32,
    torch.int16,
    torch.int8,
    torch.uint8,
    torch.bool,
]


def _sample(dtype, shape, seed):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=g, dtype=torch.float64) * 100).to(dtype)
    info = torch.iinfo(dtype)
    return torch.randint(info.min, info.max, shape, generator=g, dtype=torch.int64).to(dtype)


def _tensors():
    tensors = {}
    for i, dtype in enumerate(DTYPES):
        name = str(dtype).removeprefix("torch.")
        tensors[f"layer.{name}"] = _sample(dtype, (4, 3), i)
        tensors[f"{name}.scalar"] = _sample(dtype, (), i + 50)
        tensors[f"{name}.empty"] = _sample(dtype, (0, 2), i)
    return tensors


def test_round_trip_every_dtype_preserves_order(tmp_path):
    tensors = _tensors()
    # Reverse-sorted insertion order checks that order is kept, not re-sorted.
    tensors = dict(sorted(tensors.items(), reverse=True))
    path = tmp_path / "all.weights.h5"
    h5_io.save_tensors(path, tensors, metadata={"a": "1", "é": "ü"})
    loaded, meta = h5_io.load_tensors(path)
    assert list(loaded) == list(tensors)
    for name, t in tensors.items():
        assert loaded[name].dtype == t.dtype, name
        assert loaded[name].shape == t.shape, name
        assert torch.equal(loaded[name], t), name
    assert meta == {"a": "1", "é": "ü"}


def test_bfloat16_stored_as_raw_uint16_bits(tmp_path):
    t = torch.tensor([1.0, -2.5, float("inf"), 3.0e38], dtype=torch.bfloat16)
    path = tmp_path / "b.weights.h5"
    h5_io.save_tensors(path, {"b": t})
    with h5py.File(path, "r") as f:
        ds = f["tensors"]["b"]
        assert ds.dtype == np.uint16
        assert ds.attrs["dtype"] == "bfloat16"
        np.testing.assert_array_equal(ds[()], t.view(torch.int16).numpy().view(np.uint16))


def test_awkward_names_round_trip(tmp_path):
    names = ["a/b", "%2F", ".", "..", "x%y", " ", "nested/deep/name"]
    tensors = {n: torch.full((1,), float(i)) for i, n in enumerate(names)}
    h5_io.save_tensors(tmp_path / "n.weights.h5", tensors)
    loaded, _ = h5_io.load_tensors(tmp_path / "n.weights.h5")
    assert list(loaded) == names
    for n in names:
        assert torch.equal(loaded[n], tensors[n])


def test_empty_name_rejected(tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        h5_io.save_tensors(tmp_path / "e.weights.h5", {"": torch.ones(1)})
    assert list(tmp_path.iterdir()) == []


def test_non_contiguous_device_free_inputs(tmp_path):
    base = torch.arange(12.0).reshape(3, 4)
    tensors = {"t": base.t(), "p": torch.nn.Parameter(base.clone()), "bf": base.t().bfloat16()}
    h5_io.save_tensors(tmp_path / "nc.weights.h5", tensors)
    loaded, _ = h5_io.load_tensors(tmp_path / "nc.weights.h5")
    for name, t in tensors.items():
        assert torch.equal(loaded[name], t.detach())


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.weights\.h5"):
        h5_io.load_tensors(tmp_path / "missing.weights.h5")


def test_not_hdf5(tmp_path):
    path = tmp_path / "junk.weights.h5"
    path.write_bytes(b"this is not an hdf5 file" * 10)
    with pytest.raises(ValueError, match=r"junk\.weights\.h5"):
        h5_io.load_tensors(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.weights.h5"
    h5_io.save_tensors(path, {"w": torch.randn(64, 64)})
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut\.weights\.h5"):
        h5_io.load_tensors(path)


def test_foreign_hdf5_layout(tmp_path):
    path = tmp_path / "keras.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.zeros(3))
    with pytest.raises(ValueError, match="'tensors' group"):
        h5_io.load_tensors(path)


def test_dtype_attribute_mismatch(tmp_path):
    path = tmp_path / "mm.weights.h5"
    h5_io.save_tensors(path, {"w": torch.ones(2)})
    with h5py.File(path, "r+") as f:
        f["tensors"]["w"].attrs["dtype"] = "int64"
    with pytest.raises(ValueError, match="holds float32 data but records int64"):
        h5_io.load_tensors(path)
    with h5py.File(path, "r+") as f:
        f["tensors"]["w"].attrs["dtype"] = "complex128"
    with pytest.raises(ValueError, match="known 'dtype'"):
        h5_io.load_tensors(path)


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.weights.h5"
    h5_io.save_tensors(path, {"w": torch.ones(2)})
    before = path.read_bytes()

    def broken(value):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(h5_io, "to_host", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        h5_io.save_tensors(path, {"w": torch.zeros(2)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.weights.h5"]


def test_missing_h5py_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"a dependency of kfit.*pip install h5py"):
        h5_io.save_tensors(tmp_path / "x.weights.h5", {"w": torch.ones(1)})
    with pytest.raises(ImportError, match="pip install h5py"):
        h5_io.load_tensors(tmp_path / "x.weights.h5")
    assert list(tmp_path.iterdir()) == []


def test_kfit_saving_imports_without_h5py():
    # A fresh interpreter where h5py cannot be imported at all.
    code = (
        "import sys; sys.modules['h5py'] = None\n"
        "import kfit.saving, kfit.saving.h5_io\n"
        "assert 'h5py' not in sys.modules or sys.modules['h5py'] is None\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
