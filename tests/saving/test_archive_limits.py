"""A `.keras` archive that would inflate far past its size is refused before extraction."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import kfit
from kfit.saving import model_io


def _saved(tmp_path):
    model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "good.keras"
    model.save(str(path))
    return model, path


def _bomb(tmp_path, inflated=8 * 1024**2):
    """A valid-looking archive whose weights member deflates `inflated` zero bytes."""
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w") as archive:
        metadata = {"format": model_io.FORMAT, "format_version": model_io.FORMAT_VERSION}
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {}}))
        archive.writestr("model.weights.safetensors", b"\0" * inflated, zipfile.ZIP_DEFLATED)
    return path


def _never_extract(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a member was extracted")

    monkeypatch.setattr(model_io, "_copy_capped", refuse)


def test_declared_size_over_the_limit_is_refused_before_extracting(tmp_path, monkeypatch):
    path = _bomb(tmp_path)
    assert os.path.getsize(path) < 64 * 1024  # 8 MiB of zeros deflate to a few KiB
    monkeypatch.setattr(model_io, "MIN_INFLATE_LIMIT", 1024**2)
    _never_extract(monkeypatch)
    with pytest.raises(ValueError, match=r"zip bomb") as info:
        kfit.saving.load_model(str(path))
    message = str(info.value)
    assert repr(str(path)) in message and "at most 1048576 bytes" in message


def test_limit_scales_with_the_archive_size(tmp_path, monkeypatch):
    path = _bomb(tmp_path)
    monkeypatch.setattr(model_io, "MIN_INFLATE_LIMIT", 0)
    monkeypatch.setattr(model_io, "MAX_INFLATE_RATIO", 10**6)  # 8 MiB is within 10**6 x size
    # Past the size check, the (empty) config fails to rebuild: the limit was not what stopped it.
    with pytest.raises(ValueError) as info:
        kfit.saving.load_model(str(path))
    assert "zip bomb" not in str(info.value)


def test_a_member_inflating_past_its_declared_size_is_cut_off(tmp_path, monkeypatch):
    # zipfile stops at a member's declared size; the copy's own cap is the second guard.
    monkeypatch.setattr(model_io, "MIN_INFLATE_LIMIT", 1000)
    monkeypatch.setattr(model_io, "MAX_INFLATE_RATIO", 0)
    out, path = io.BytesIO(), tmp_path / "x.keras"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"member 'model.weights.safetensors'.*zip bomb"):
        model_io._copy_capped(str(path), io.BytesIO(b"\0" * 5000), out,
                              "model.weights.safetensors")
    assert len(out.getvalue()) <= 1000


def test_genuine_archives_inflate_to_about_their_size(tmp_path, monkeypatch):
    model, path = _saved(tmp_path)
    with zipfile.ZipFile(path) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    # Tensors are stored, not deflated; only the JSON members shrink. Well inside the ratio.
    assert declared <= 4 * os.path.getsize(path) < model_io.MAX_INFLATE_RATIO * os.path.getsize(path)
    # So even with no floor, the ratio alone lets every genuine archive load.
    monkeypatch.setattr(model_io, "MIN_INFLATE_LIMIT", 0)
    loaded = kfit.saving.load_model(str(path))
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
