"""load_img / img_to_array / array_to_img / save_img match keras.utils on small images written here."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

from kfit.utils import array_to_img, img_to_array, load_img, save_img

keras = pytest.importorskip("keras")
Image = pytest.importorskip("PIL.Image")


def _write(path, array, mode):
    Image.fromarray(array, mode).save(path)
    return str(path)


@pytest.fixture
def images(tmp_path):
    rs = np.random.RandomState(0)
    return {
        "rgb": _write(tmp_path / "rgb.png", rs.randint(0, 256, (7, 10, 3), dtype=np.uint8), "RGB"),
        "rgba": _write(tmp_path / "rgba.png", rs.randint(0, 256, (9, 5, 4), dtype=np.uint8), "RGBA"),
        "gray": _write(tmp_path / "gray.png", rs.randint(0, 256, (6, 6), dtype=np.uint8), "L"),
        "jpg": _write(tmp_path / "photo.jpg", rs.randint(0, 256, (8, 8, 3), dtype=np.uint8), "RGB"),
    }


@pytest.mark.parametrize("source", ["rgb", "rgba", "gray", "jpg"])
@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
def test_load_img_matches_keras_for_each_color_mode(images, source, color_mode):
    ours = load_img(images[source], color_mode=color_mode)
    theirs = keras.utils.load_img(images[source], color_mode=color_mode)
    assert ours.mode == theirs.mode
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "hamming", "box", "lanczos"])
@pytest.mark.parametrize("keep_aspect_ratio", [False, True])
@pytest.mark.parametrize("target_size", [(4, 4), (12, 5)])
def test_load_img_resizes_like_keras(images, interpolation, keep_aspect_ratio, target_size):
    kwargs = {"target_size": target_size, "interpolation": interpolation, "keep_aspect_ratio": keep_aspect_ratio}
    ours = load_img(images["rgb"], **kwargs)
    theirs = keras.utils.load_img(images["rgb"], **kwargs)
    assert ours.size == (target_size[1], target_size[0])
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_load_img_reads_bytesio_and_pathlib(images, tmp_path):
    with open(images["rgb"], "rb") as f:
        data = f.read()
    expected = np.asarray(Image.open(images["rgb"]).convert("RGB"))
    np.testing.assert_array_equal(np.asarray(load_img(io.BytesIO(data))), expected)
    np.testing.assert_array_equal(np.asarray(load_img(tmp_path / "rgb.png")), expected)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", [None, "uint8", "float64"])
@pytest.mark.parametrize("source", ["rgb", "gray"])
def test_img_to_array_matches_keras(images, data_format, dtype, source):
    img = Image.open(images[source])
    ours = img_to_array(img, data_format=data_format, dtype=dtype)
    theirs = keras.utils.img_to_array(img, data_format=data_format, dtype=dtype)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_array_to_img_matches_keras(channels, scale, data_format):
    rs = np.random.RandomState(channels)
    shape = (5, 6, channels) if data_format == "channels_last" else (channels, 5, 6)
    x = rs.uniform(-2, 3, shape) if scale else rs.uniform(0, 255, shape)
    ours = array_to_img(x, data_format=data_format, scale=scale)
    theirs = keras.utils.array_to_img(x, data_format=data_format, scale=scale)
    assert ours.mode == theirs.mode
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_array_to_img_keeps_unscaled_values_above_255_as_32_bit():
    x = np.array([[[0.0], [1000.0]], [[70000.0], [3.0]]])
    ours = array_to_img(x, scale=False)
    assert ours.mode == keras.utils.array_to_img(x, scale=False).mode == "I"
    np.testing.assert_array_equal(np.asarray(ours), x[..., 0].astype("int32"))


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((1, 4, 4, 3)), np.zeros((4, 4, 2))])
def test_array_to_img_refuses_wrong_rank_or_channels(bad):
    with pytest.raises(ValueError, match="Received"):
        array_to_img(bad)


@pytest.mark.parametrize("name", ["out.png", "out.bmp", "out.JPG"])
def test_save_img_writes_what_keras_writes(tmp_path, name):
    x = np.random.RandomState(1).uniform(0, 1, (6, 7, 3))
    save_img(str(tmp_path / name), x)
    keras.utils.save_img(str(tmp_path / f"keras_{name}"), x)
    ours, theirs = Image.open(tmp_path / name), Image.open(tmp_path / f"keras_{name}")
    assert ours.format == theirs.format
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_save_img_converts_rgba_for_jpeg_with_a_warning(tmp_path):
    x = np.random.RandomState(2).uniform(0, 255, (4, 4, 4))
    with pytest.warns(UserWarning, match="alpha"):
        save_img(tmp_path / "a.jpg", x, scale=False)
    assert Image.open(tmp_path / "a.jpg").mode == "RGB"


def test_save_img_to_a_file_object_needs_file_format(tmp_path):
    buffer = io.BytesIO()
    save_img(buffer, np.zeros((3, 3, 1)), file_format="png")
    assert Image.open(io.BytesIO(buffer.getvalue())).size == (3, 3)
    with pytest.raises(ValueError, match="file_format"):
        save_img(io.BytesIO(), np.zeros((3, 3, 1)))
    with pytest.raises(ValueError, match="extension"):
        save_img(tmp_path / "noext", np.zeros((3, 3, 1)))
    assert not (tmp_path / "noext").exists()


def test_save_img_is_atomic_when_pil_fails(tmp_path):
    target = tmp_path / "keep.png"
    save_img(target, np.zeros((3, 3, 3)))
    before = target.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - whatever PIL raises for a bad option value
        save_img(target, np.ones((3, 3, 3)), compress_level="not a level")
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.png"]


def test_load_img_refuses_bad_arguments(images):
    with pytest.raises(ValueError, match="color_mode"):
        load_img(images["rgb"], color_mode="cmyk")
    with pytest.raises(ValueError, match="interpolation"):
        load_img(images["rgb"], target_size=(2, 2), interpolation="cubic")
    with pytest.raises(TypeError, match="path"):
        load_img(123)


def test_missing_pillow_is_reported_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        array_to_img(np.zeros((2, 2, 3)))


def test_importing_kfit_does_not_import_pil():
    code = "import sys, kfit, kfit.utils; print('PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
