import json
import struct

import pytest
import torch

from kfit.saving import load_tensors, save_tensors

ALL_DTYPES = [
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


def _sample(dtype, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=g, dtype=torch.float64) * 100).to(dtype)
    info = torch.iinfo(dtype)
    return torch.randint(info.min, info.max, shape, generator=g, dtype=torch.int64).to(dtype)


def _all_dtype_tensors():
    tensors = {}
    for i, dtype in enumerate(ALL_DTYPES):
        name = str(dtype).removeprefix("torch.")
        tensors[f"{name}.matrix"] = _sample(dtype, (3, 5), seed=i)
        tensors[f"{name}.scalar"] = _sample(dtype, (), seed=i + 100)
        tensors[f"{name}.empty"] = _sample(dtype, (0, 4), seed=i)
    return tensors


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert b[name].dtype == a[name].dtype, name
        assert b[name].shape == a[name].shape, name
        assert b[name].device.type == "cpu"
        assert torch.equal(b[name], a[name]), name


def _write_raw(path, header, data=b"", header_len=None):
    encoded = json.dumps(header).encode()
    length = len(encoded) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", length) + encoded + data)


def test_round_trip_every_dtype_with_scalars_and_empty(tmp_path):
    tensors = _all_dtype_tensors()
    path = tmp_path / "all.safetensors"
    save_tensors(path, tensors, metadata={"k": "v", "ünï": "cødé"})
    loaded, meta = load_tensors(path)
    _assert_same(tensors, loaded)
    assert meta == {"k": "v", "ünï": "cødé"}


def test_special_float_values_survive_bit_exactly(tmp_path):
    values = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-40]
    for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        t = torch.tensor(values, dtype=dtype)
        save_tensors(tmp_path / "f.safetensors", {"x": t})
        back = load_tensors(tmp_path / "f.safetensors")[0]["x"]
        bits = {2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
        assert torch.equal(back.view(bits), t.view(bits))


def test_non_contiguous_and_grad_tensors(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    param = torch.nn.Parameter(torch.randn(3, 2))
    tensors = {"t": base.t(), "sliced": base[:, ::2], "param": param}
    save_tensors(tmp_path / "n.safetensors", tensors)
    loaded, meta = load_tensors(tmp_path / "n.safetensors")
    assert meta == {}
    _assert_same({k: v.detach() for k, v in tensors.items()}, loaded)
    assert not loaded["param"].requires_grad


def test_loaded_tensors_are_independent_and_writable(tmp_path):
    save_tensors(tmp_path / "a.safetensors", {"a": torch.zeros(3), "b": torch.zeros(3)})
    loaded, _ = load_tensors(tmp_path / "a.safetensors")
    loaded["a"] += 1
    assert torch.equal(loaded["b"], torch.zeros(3))


def test_layout_header_and_alignment(tmp_path):
    tensors = {"byte": torch.ones(3, dtype=torch.uint8), "wide": torch.ones(2, dtype=torch.float64)}
    path = tmp_path / "layout.safetensors"
    save_tensors(path, tensors)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8 : 8 + n])
    assert header["byte"] == {"dtype": "U8", "shape": [3], "data_offsets": [16, 19]}
    assert header["wide"] == {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}
    assert "__metadata__" not in header
    assert raw[8 + n :] == torch.ones(2, dtype=torch.float64).numpy().tobytes() + b"\x01" * 3


def test_empty_dict_round_trip(tmp_path):
    save_tensors(tmp_path / "e.safetensors", {})
    assert load_tensors(tmp_path / "e.safetensors") == ({}, {})


def test_our_file_reads_with_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    tensors = _all_dtype_tensors()
    path = tmp_path / "ours.safetensors"
    save_tensors(path, tensors, metadata={"format": "pt"})
    _assert_same(tensors, st.load_file(str(path)))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == {"format": "pt"}


def test_safetensors_package_file_reads_with_ours(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    tensors = _all_dtype_tensors()
    path = tmp_path / "theirs.safetensors"
    st.save_file(tensors, str(path), metadata={"epoch": "3"})
    loaded, meta = load_tensors(path)
    _assert_same(tensors, loaded)
    assert meta == {"epoch": "3"}


@pytest.mark.parametrize(
    "tensors, error, match",
    [
        ([torch.ones(1)], TypeError, "Expected `tensors` to be a dict"),
        ({"x": [1.0]}, TypeError, r"tensors\['x'\]"),
        ({1: torch.ones(1)}, ValueError, "key=1"),
        ({"__metadata__": torch.ones(1)}, ValueError, "__metadata__"),
        ({"c": torch.ones(2, dtype=torch.complex64)}, ValueError, "complex64"),
        ({"s": torch.eye(2).to_sparse()}, ValueError, "dense"),
    ],
)
def test_save_rejects_bad_tensors_without_writing(tmp_path, tensors, error, match):
    with pytest.raises(error, match=match):
        save_tensors(tmp_path / "bad.safetensors", tensors)
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_non_string_metadata(tmp_path):
    with pytest.raises(TypeError, match="metadata"):
        save_tensors(tmp_path / "m.safetensors", {}, metadata={"epoch": 3})


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_tensors(tmp_path / "nope.safetensors")


def _valid_file(tmp_path):
    path = tmp_path / "v.safetensors"
    save_tensors(path, {"a": torch.arange(6, dtype=torch.float32), "b": torch.ones(2)})
    return path


def test_truncated_data(tmp_path):
    path = _valid_file(tmp_path)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match=r"past the end of the data.*v\.safetensors"):
        load_tensors(path)


def test_file_shorter_than_prefix(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match=r"8-byte prefix.*short\.safetensors"):
        load_tensors(path)


def test_header_length_past_end(tmp_path):
    path = _valid_file(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw[8:])
    with pytest.raises(ValueError, match="header but only"):
        load_tensors(path)


def test_absurd_header_length(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(ValueError, match="limit"):
        load_tensors(path)


@pytest.mark.parametrize(
    "header, data, match",
    [
        (None, b"", "not valid JSON"),
        ([1, 2], b"", "not an object"),
        ({"a": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}}, b"\0", "unknown dtype 'F8'"),
        ({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "exactly 'dtype'"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "invalid"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4, "invalid"),
        ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, "need 12"),
        ({"a": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3, "starts at 1"),
        ({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}, b"\0" * 5, "holds 5"),
        ({"__metadata__": {"a": 1}}, b"", "strings to strings"),
    ],
)
def test_corrupt_headers(tmp_path, header, data, match):
    path = tmp_path / "corrupt.safetensors"
    if header is None:
        encoded = b'{"a": '
        path.write_bytes(struct.pack("<Q", len(encoded)) + encoded)
    else:
        _write_raw(path, header, data)
    with pytest.raises(ValueError, match=match) as info:
        load_tensors(path)
    assert "corrupt.safetensors" in str(info.value)


def test_duplicate_keys_rejected(tmp_path):
    path = tmp_path / "dup.safetensors"
    entry = '{"dtype":"U8","shape":[1],"data_offsets":[0,1]}'
    encoded = f'{{"a":{entry},"a":{entry}}}'.encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"\0")
    with pytest.raises(ValueError, match="repeats the key 'a'"):
        load_tensors(path)


def test_non_utf8_header(tmp_path):
    path = tmp_path / "bin.safetensors"
    path.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe\xfd\xfc")
    with pytest.raises(ValueError, match="UTF-8"):
        load_tensors(path)


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = _valid_file(tmp_path)
    before = path.read_bytes()
    import kfit.saving.safetensors_io as sio

    def broken(tensor):
        raise RuntimeError("device lost")

    monkeypatch.setattr(sio, "_tensor_bytes", broken)
    with pytest.raises(RuntimeError, match="device lost"):
        save_tensors(path, {"z": torch.zeros(1)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["v.safetensors"]
