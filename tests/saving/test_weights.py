import json
import math
import pathlib
import re

import numpy as np
import pytest
import torch

from kfit.saving import load_state, load_tensors, load_weights, save_state, save_weights


@pytest.fixture(params=[".safetensors", ".weights.h5"], ids=["safetensors", "h5"])
def ext(request):
    if request.param == ".weights.h5":
        pytest.importorskip("h5py")
    return request.param


def _net(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def _assert_state_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_round_trip_sequential(tmp_path, ext):
    src, dst = _net(0), _net(1)
    x = torch.randn(5, 4)
    path = tmp_path / f"model{ext}"
    save_weights(src, path)
    params_before = [id(p) for p in dst.parameters()]
    load_weights(dst, path)
    _assert_state_equal(src, dst)
    assert [id(p) for p in dst.parameters()] == params_before
    assert all(p.requires_grad for p in dst.parameters())
    torch.testing.assert_close(dst(x), src(x), rtol=0, atol=0)


def test_keys_are_state_dict_keys_and_metadata_is_stored(tmp_path, ext):
    net = _net(0)
    path = tmp_path / f"m{ext}"
    save_weights(net, str(path), metadata={"epoch": "7"})
    if ext == ".safetensors":
        tensors, meta = load_tensors(path)
    else:
        from kfit.saving import h5_io

        tensors, meta = h5_io.load_tensors(path)
    assert set(tensors) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert meta == {"epoch": "7"}
    assert torch.equal(tensors["2.weight"], net[2].weight.detach())


def test_buffers_and_dtypes_round_trip(tmp_path, ext):
    def make():
        return torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))

    src = make()
    src.train()
    src(torch.randn(16, 3))  # updates running stats and num_batches_tracked (int64)
    src = src.to(torch.bfloat16)
    dst = make().to(torch.bfloat16)
    save_weights(src, tmp_path / f"bn{ext}")
    load_weights(dst, tmp_path / f"bn{ext}")
    _assert_state_equal(src, dst)
    assert dst[1].num_batches_tracked.dtype == torch.int64
    assert int(dst[1].num_batches_tracked) == 1


def test_load_casts_to_existing_dtype(tmp_path, ext):
    src = _net(0)
    dst = _net(1).double()
    save_weights(src, tmp_path / f"c{ext}")
    load_weights(dst, tmp_path / f"c{ext}")
    assert dst[0].weight.dtype == torch.float64
    assert torch.equal(dst[0].weight, src[0].weight.double())


def _params_snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_shape_mismatch_lists_all_and_changes_nothing(tmp_path, ext):
    path = tmp_path / f"s{ext}"
    save_weights(_net(0), path)
    torch.manual_seed(3)
    other = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    before = _params_snapshot(other)
    with pytest.raises(ValueError) as info:
        load_weights(other, path)
    message = str(info.value)
    assert "2.weight: expected shape (3, 8), got shape (2, 8)" in message
    assert "2.bias: expected shape (3,), got shape (2,)" in message
    assert "0.weight" not in message
    assert str(path) in message
    for k, v in other.state_dict().items():
        assert torch.equal(v, before[k]), k
    # A shape mismatch is an error even when names may differ.
    with pytest.raises(ValueError, match=r"2\.bias"):
        load_weights(other, path, strict=False)


def test_missing_and_unexpected_keys(tmp_path, ext):
    path = tmp_path / f"k{ext}"
    small = torch.nn.Sequential(torch.nn.Linear(4, 8))
    save_weights(small, path)
    big = _net(5)
    before = _params_snapshot(big)
    with pytest.raises(ValueError) as info:
        load_weights(big, path)
    assert "Missing from the file: 2.weight, 2.bias" in str(info.value)
    assert "strict=False" in str(info.value)
    for k, v in big.state_dict().items():
        assert torch.equal(v, before[k])

    # Unexpected: the file has more than the module.
    save_weights(big, path)
    with pytest.raises(ValueError, match=r"Not in the module: 2\.bias, 2\.weight"):
        load_weights(small, path)

    # strict=False loads the intersection and leaves the rest alone.
    fresh = _net(9)
    save_weights(small, path)
    untouched = fresh[2].weight.clone()
    load_weights(fresh, path, strict=False)
    assert torch.equal(fresh[0].weight, small[0].weight)
    assert torch.equal(fresh[2].weight, untouched)


def test_overwrite_false(tmp_path, ext):
    path = tmp_path / f"o{ext}"
    save_weights(_net(0), path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_weights(_net(1), path, overwrite=False)
    assert path.read_bytes() == before
    save_weights(_net(1), tmp_path / f"new{ext}", overwrite=False)
    assert (tmp_path / f"new{ext}").exists()
    save_weights(_net(1), path, overwrite=True)
    assert path.read_bytes() != before


@pytest.mark.parametrize("name", ["model.h5", "model.keras", "model.pt", "weights.safetensor"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    for call in (lambda: save_weights(_net(0), path), lambda: load_weights(_net(0), path)):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert ".weights.h5" in message and ".safetensors" in message
        assert name in message
    assert list(tmp_path.iterdir()) == []


def test_non_module_rejected(tmp_path):
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        save_weights({"w": torch.ones(1)}, tmp_path / "x.safetensors")


def test_missing_file(tmp_path, ext):
    with pytest.raises(FileNotFoundError, match=f"absent{ext}"):
        load_weights(_net(0), tmp_path / f"absent{ext}")


def test_corrupt_file(tmp_path, ext):
    path = tmp_path / f"bad{ext}"
    save_weights(_net(0), path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    net = _net(1)
    before = _params_snapshot(net)
    with pytest.raises(ValueError, match=f"bad{ext}"):
        load_weights(net, path)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


def test_failed_save_keeps_previous_file(tmp_path, ext, monkeypatch):
    path = tmp_path / f"atomic{ext}"
    save_weights(_net(0), path)
    before = path.read_bytes()
    import kfit.saving.h5_io as h5_io
    import kfit.saving.safetensors_io as sio

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    # Fail in the middle: after the temporary file exists, while tensor data is written.
    if ext == ".safetensors":
        monkeypatch.setattr(sio, "_tensor_bytes", broken)
    else:
        monkeypatch.setattr(h5_io, "to_host", broken)
    with pytest.raises(OSError, match="No space"):
        save_weights(_net(1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    loaded = _net(2)
    load_weights(loaded, path)
    _assert_state_equal(loaded, _net(0))


def test_lazy_module_needs_build(tmp_path):
    lazy = torch.nn.LazyLinear(3)
    with pytest.raises(ValueError, match="Build the model"):
        save_weights(lazy, tmp_path / "l.safetensors")
    save_weights(torch.nn.Linear(2, 3), tmp_path / "l.safetensors")
    with pytest.raises(ValueError, match="Build the model"):
        load_weights(lazy, tmp_path / "l.safetensors")


def test_no_pickle_in_files(tmp_path, ext):
    path = tmp_path / f"p{ext}"
    save_weights(_net(0), path)
    # Pickle protocol 2+ streams start with b"\x80"; torch.save zips start with b"PK".
    assert not path.read_bytes().startswith((b"\x80", b"PK"))
    src = pathlib.Path(__file__).parents[2] / "src" / "kfit" / "saving"
    for module in src.glob("*.py"):
        text = module.read_text()
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|dill|joblib)\b", text, re.M)
        assert not re.search(r"torch\.(load|save)\(|np\.load\(|allow_pickle", text)


def test_state_round_trip(tmp_path):
    path = tmp_path / "resume.safetensors"
    tensors = {"adam/m/0": torch.randn(3, 2), "adam/v/0": torch.rand(3, 2)}
    state = {
        "epoch": 3,
        "best": float("inf"),
        "worst": float("-inf"),
        "history": {"loss": [0.5, 0.25], "nested": [{"a": None, "b": True}]},
        "name": "rmsprop ✓",
        "np": np.float32(0.5),
        "arr": np.arange(3),
    }
    save_state(path, tensors, state)
    loaded_tensors, loaded_state = load_state(path)
    assert loaded_tensors.keys() == tensors.keys()
    for k in tensors:
        assert torch.equal(loaded_tensors[k], tensors[k])
    assert loaded_state["epoch"] == 3
    assert loaded_state["best"] == math.inf and loaded_state["worst"] == -math.inf
    assert loaded_state["history"] == state["history"]
    assert loaded_state["name"] == "rmsprop ✓"
    assert loaded_state["np"] == 0.5 and loaded_state["arr"] == [0, 1, 2]


def test_state_readable_by_other_safetensors_readers(tmp_path):
    st = pytest.importorskip("safetensors")
    path = tmp_path / "s.safetensors"
    save_state(path, {"x": torch.ones(2)}, {"step": 10})
    with st.safe_open(str(path), framework="pt") as f:
        assert json.loads(f.metadata()["kfit.state"]) == {"step": 10}
        assert torch.equal(f.get_tensor("x"), torch.ones(2))


def test_state_errors(tmp_path):
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save_state(tmp_path / "s.safetensors", {}, {"t": torch.ones(1)})
    with pytest.raises(TypeError, match="to be a dict"):
        save_state(tmp_path / "s.safetensors", {}, [1, 2])
    with pytest.raises(ValueError, match=r"'\.safetensors'.*s\.weights\.h5"):
        save_state(tmp_path / "s.weights.h5", {}, {})
    assert list(tmp_path.iterdir()) == []
    save_weights(_net(0), tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="save_state"):
        load_state(tmp_path / "w.safetensors")
    with pytest.raises(FileNotFoundError):
        load_state(tmp_path / "none.safetensors")


def test_state_overwrite_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "s.safetensors"
    save_state(path, {"a": torch.ones(1)}, {"epoch": 1})
    import kfit.saving.safetensors_io as sio

    def broken(tensor):
        raise KeyboardInterrupt

    monkeypatch.setattr(sio, "_tensor_bytes", broken)
    with pytest.raises(KeyboardInterrupt):
        save_state(path, {"a": torch.zeros(1)}, {"epoch": 2})
    monkeypatch.undo()
    assert load_state(path)[1] == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["s.safetensors"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_module_round_trip_keeps_device(tmp_path, ext):
    src, dst = _net(0).cuda(), _net(1).cuda()
    save_weights(src, tmp_path / f"cuda{ext}")
    params = list(dst.parameters())
    load_weights(dst, tmp_path / f"cuda{ext}")
    assert all(p.device.type == "cuda" for p in dst.parameters())
    assert [id(p) for p in dst.parameters()] == [id(p) for p in params]
    _assert_state_equal(src, dst)
