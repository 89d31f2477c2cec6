"""`.weights.h5` files exchanged with Keras 3 for a Sequential of kfit layers (both directions)."""

import numpy as np
import pytest
import torch

import kfit
from kfit.saving import load_weights, save_weights

h5py = pytest.importorskip("h5py")
keras = pytest.importorskip("keras")

X = np.random.RandomState(0).rand(16, 4).astype("float32")
Y = np.random.RandomState(1).rand(16, 1).astype("float32")


def _kfit_model(seed=0):
    torch.manual_seed(seed)
    return kfit.Sequential([
        kfit.Input(shape=(4,)),
        kfit.layers.Dense(8, activation="relu"),
        kfit.layers.Dropout(0.2),
        kfit.layers.Dense(3, activation="tanh", use_bias=False),
        kfit.layers.Dense(1),
    ])


def _keras_model():
    return keras.Sequential([
        keras.Input(shape=(4,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(3, activation="tanh", use_bias=False),
        keras.layers.Dense(1),
    ])


def _layout(path):
    entries = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: entries.setdefault(name, getattr(obj, "shape", None)))
    return {name: shape for name, shape in entries.items() if not name.startswith("optimizer")}


def test_kfit_file_loads_into_keras(tmp_path):
    path = tmp_path / "kfit.weights.h5"
    model = _kfit_model()
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, Y, epochs=2, verbose=0)
    model.save_weights(path)

    reference = tmp_path / "keras.weights.h5"
    _keras_model().save_weights(reference)
    assert _layout(path) == _layout(reference)
    assert _layout(path)["layers/dense/vars/0"] == (4, 8)

    k = _keras_model()
    k.load_weights(path)
    for a, b in zip(k.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(k.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6, atol=1e-6)


def test_keras_file_loads_into_kfit(tmp_path):
    path = tmp_path / "keras.weights.h5"
    k = _keras_model()
    k.compile(optimizer="adam", loss="mse")  # the file then also holds optimizer variables
    k.fit(X, Y, epochs=2, verbose=0)
    k.save_weights(path)
    with h5py.File(path, "r") as f:
        assert "optimizer" in f

    model = _kfit_model(seed=3)
    model.load_weights(path)
    for a, b in zip(model.get_weights(), k.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(model.predict(X, verbose=0), k.predict(X, verbose=0), rtol=1e-6, atol=1e-6)


def test_kfit_round_trip_uses_the_keras_layout_and_checks_shapes(tmp_path):
    path = tmp_path / "m.weights.h5"
    model = _kfit_model()
    save_weights(model, path, metadata={"note": "hi"})
    with h5py.File(path, "r") as f:
        assert sorted(f["layers"]) == ["dense", "dense_1", "dense_2", "dropout"]
        assert f["metadata"].attrs["note"] == "hi"
    clone = _kfit_model(seed=1)
    load_weights(clone, path)
    for a, b in zip(model.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)

    wider = kfit.Sequential([kfit.Input(shape=(4,)), kfit.layers.Dense(9), kfit.layers.Dropout(0.2),
                             kfit.layers.Dense(3, use_bias=False), kfit.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"dense\.kernel: expected shape \(4, 9\), got shape \(4, 8\)"):
        wider.load_weights(path)
    shorter = kfit.Sequential([kfit.layers.Dense(8, input_dim=4)])
    with pytest.raises(ValueError, match=r"Not in the module: .*layers/dense_1/vars/0"):
        shorter.load_weights(path)
    shorter.load_weights(path, skip_mismatch=True)
    np.testing.assert_array_equal(shorter.get_weights()[0], model.get_weights()[0])


def test_other_models_keep_kfit_layout(tmp_path):
    path = tmp_path / "m.weights.h5"
    stack = kfit.Sequential([kfit.layers.Dense(2, input_dim=4), torch.nn.Linear(2, 1)])
    stack.save_weights(path)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "kfit.tensors" and "layers" not in f
    keras_file = tmp_path / "keras.weights.h5"
    _keras_model().save_weights(keras_file)
    with pytest.raises(ValueError, match="Keras's layout"):
        load_weights(torch.nn.Linear(4, 1), keras_file)


def test_corrupt_keras_layout_file_names_the_file(tmp_path):
    path = tmp_path / "m.weights.h5"
    _kfit_model().save_weights(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"m\.weights\.h5"):
        _kfit_model().load_weights(path)


def _reference_model(lib):
    """The two-branch model of keras-layers.md section 2: conv, batch norm, embedding, attention,
    LSTM, concatenate, dense; written once for Keras and kfit."""
    img = lib.Input(shape=(8, 8, 3), name="img")
    tok = lib.Input(shape=(6,), dtype="int32", name="tok")
    a = lib.layers.Conv2D(4, 3)(img)
    a = lib.layers.BatchNormalization()(a)
    a = lib.layers.GlobalAveragePooling2D()(a)
    e = lib.layers.Embedding(20, 8)(tok)
    e = lib.layers.MultiHeadAttention(2, 4)(e, e)
    e = lib.layers.LSTM(5)(e)
    out = lib.layers.Dense(2)(lib.layers.Concatenate()([a, e]))
    return lib.Model([img, tok], out)


def test_a_mixed_functional_model_exchanges_weight_files_with_keras(tmp_path):
    rng = np.random.default_rng(0)
    theirs, ours = _reference_model(keras), _reference_model(kfit)
    # Random non-trivial moving statistics too, so every weight is checked.
    theirs.set_weights([rng.normal(size=w.shape).astype("float32") + 1.5 for w in theirs.get_weights()])
    keras_file = str(tmp_path / "keras.weights.h5")
    theirs.save_weights(keras_file)
    ours.load_weights(keras_file)
    x = [rng.normal(size=(2, 8, 8, 3)).astype("float32"), rng.integers(0, 20, size=(2, 6)).astype("int32")]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)

    # And back: kfit's file has Keras's groups, and Keras reads it.
    ours.set_weights([w * 0.5 for w in ours.get_weights()])
    kfit_file = str(tmp_path / "kfit.weights.h5")
    ours.save_weights(kfit_file)
    with h5py.File(keras_file) as a, h5py.File(kfit_file) as b:
        def datasets(f):
            found = []
            f["layers"].visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
            return sorted(found)

        assert datasets(a) == datasets(b)
    theirs.load_weights(kfit_file)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
