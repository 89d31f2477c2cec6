"""Keras 2's HDF5 weight files (`.h5`), written by Keras's own legacy writer, read into kfit models."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kfit
from kfit.saving import legacy_h5, load_weights

h5py = pytest.importorskip("h5py")
keras = pytest.importorskip("keras")
legacy_h5_format = pytest.importorskip("keras.src.legacy.saving.legacy_h5_format")

X = np.random.default_rng(0).normal(size=(4, 6, 6, 2)).astype("float32")


def _build(lib, names=("conv", "bn", "head"), head_units=3):
    inputs = lib.Input((6, 6, 2))
    x = lib.layers.Conv2D(4, 3, name=names[0])(inputs)
    x = lib.layers.BatchNormalization(name=names[1])(x)
    x = lib.layers.ReLU()(x)
    x = lib.layers.GlobalAveragePooling2D()(x)
    return lib.Model(inputs, lib.layers.Dense(head_units, name=names[2])(x))


def _randomized_keras(**kwargs):
    model = _build(keras, **kwargs)
    rng = np.random.default_rng(1)
    model.set_weights(
        [
            rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.path
            else rng.normal(size=w.shape).astype("float32")
            for w in model.weights
        ]
    )
    return model


def _write_legacy(model, path):
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def _snapshot(model):
    return [w.detach().clone() for w in model.weights]


def _unchanged(model, before):
    return all(torch.equal(a, b) for a, b in zip(model.weights, before))


@pytest.mark.parametrize("by_name", [False, True])
def test_loads_keras_files_and_predicts_as_keras(tmp_path, by_name):
    reference = _randomized_keras()
    path = _write_legacy(reference, tmp_path / "w.h5")
    model = _build(kfit)
    legacy_h5.load_legacy_weights(model, path, by_name=by_name)
    np.testing.assert_allclose(model.predict(X, verbose=0), reference.predict(X, verbose=0), rtol=1e-5, atol=1e-5)


def test_model_load_weights_reads_h5_paths(tmp_path):
    reference = _randomized_keras()
    path = _write_legacy(reference, tmp_path / "w.h5")
    model = _build(kfit)
    model.load_weights(str(path))
    np.testing.assert_allclose(model.predict(X, verbose=0), reference.predict(X, verbose=0), rtol=1e-5, atol=1e-5)
    # The same file under the `.hdf5` extension, through the saving API with by_name.
    os.replace(path, tmp_path / "w.hdf5")
    load_weights(_build(kfit), tmp_path / "w.hdf5", by_name=True)


def test_whole_model_files_are_read_from_their_model_weights_group(tmp_path):
    reference = _randomized_keras()
    path = tmp_path / "model.h5"
    legacy_h5_format.save_model_to_hdf5(reference, str(path))
    with h5py.File(path) as f:
        assert "layer_names" not in f.attrs and "model_weights" in f
    model = _build(kfit)
    model.load_weights(path)
    np.testing.assert_allclose(model.predict(X, verbose=0), reference.predict(X, verbose=0), rtol=1e-5, atol=1e-5)


def test_by_name_loads_matching_layers_and_leaves_the_others(tmp_path):
    path = _write_legacy(_randomized_keras(), tmp_path / "w.h5")
    model = _build(kfit, names=("conv", "bn", "other_head"))
    head = model.get_layer("other_head").kernel.detach().clone()
    legacy_h5.load_legacy_weights(model, path, by_name=True)
    assert torch.equal(model.get_layer("other_head").kernel, head)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(model.get_layer("conv").kernel.detach().numpy(), f["conv/conv/kernel"][()])
    with pytest.raises(ValueError, match="missing from the file: 'other_head'"):
        legacy_h5.load_legacy_weights(
            _build(kfit, names=("conv", "bn", "other_head")), path, by_name=True, require_all=True
        )


def test_order_matching_needs_the_same_number_of_layers(tmp_path):
    path = _write_legacy(_randomized_keras(), tmp_path / "w.h5")
    inputs = kfit.Input((6, 6, 2))
    model = kfit.Model(inputs, kfit.layers.Conv2D(4, 3)(inputs))
    with pytest.raises(ValueError, match=r"model's 1 layers that have weights.*weights for 3 layers"):
        model.load_weights(path)


def test_shape_mismatches_are_listed_and_change_nothing(tmp_path):
    path = _write_legacy(_randomized_keras(), tmp_path / "w.h5")
    model = _build(kfit, head_units=5)
    before = _snapshot(model)
    with pytest.raises(ValueError) as info:
        model.load_weights(path)
    assert "'head'" in str(info.value) and "(4, 5)" in str(info.value) and "(4, 3)" in str(info.value)
    assert "skip_mismatch=True" in str(info.value)
    assert _unchanged(model, before)


def test_skip_mismatch_loads_the_rest_with_a_warning(tmp_path):
    reference = _randomized_keras()
    path = _write_legacy(reference, tmp_path / "w.h5")
    model = _build(kfit, head_units=5)
    head = model.get_layer("head").kernel.detach().clone()
    with pytest.warns(UserWarning, match="Skipping"):
        model.load_weights(path, skip_mismatch=True)
    assert torch.equal(model.get_layer("head").kernel, head)
    np.testing.assert_allclose(
        model.get_layer("bn").moving_variance.detach().numpy(), reference.get_layer("bn").moving_variance.numpy()
    )


def test_attributes_split_into_chunks_are_joined(tmp_path):
    reference = _randomized_keras()
    path = _write_legacy(reference, tmp_path / "w.h5")
    with h5py.File(path, "a") as f:
        names = list(f.attrs["layer_names"])
        del f.attrs["layer_names"]
        f.attrs["layer_names0"] = names[:2]
        f.attrs["layer_names1"] = names[2:]
    model = _build(kfit)
    model.load_weights(path)
    np.testing.assert_allclose(model.predict(X, verbose=0), reference.predict(X, verbose=0), rtol=1e-5, atol=1e-5)


def test_unreadable_files_are_reported(tmp_path):
    model = _build(kfit)
    with pytest.raises(FileNotFoundError, match=r"absent\.h5"):
        model.load_weights(tmp_path / "absent.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"junk\.h5"):
        model.load_weights(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(2)
    with pytest.raises(ValueError, match="layer_names"):
        model.load_weights(tmp_path / "other.h5")


def test_by_name_only_for_legacy_files(tmp_path):
    model = _build(kfit)
    model.save_weights(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="by_name"):
        load_weights(model, tmp_path / "m.weights.h5", by_name=True)


def test_is_legacy_path():
    assert legacy_h5.is_legacy_path("a.h5") and legacy_h5.is_legacy_path("a.hdf5")
    assert not legacy_h5.is_legacy_path("a.weights.h5") and not legacy_h5.is_legacy_path(3)
