"""Functional models through get_config/from_config, `.keras` archives and Keras's own files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import kfit


def _graph(lib):
    """Two inputs, a shared layer, recorded operators, a nested functional model and a nested
    Sequential with a Dropout: the same code for kfit and Keras."""
    a = lib.Input((4,), name="a")
    b = lib.Input((3,), name="b")
    inner_in = lib.Input((5,))
    inner = lib.Model(inner_in, lib.layers.Dense(2, activation="relu")(inner_in), name="inner")
    shared = lib.layers.Dense(5, activation="tanh")
    mixed = shared(a) * shared(lib.layers.Dense(4)(b)) + 1.0
    stack = lib.Sequential([lib.Input((5,)), lib.layers.Dense(3), lib.layers.Dropout(0.3)])
    return lib.Model([a, b], [lib.layers.Dense(3, name="first")(inner(mixed)), stack(mixed)[:, :2]])


def _data(n=6):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 3)).astype("float32")]


def _assert_same_predictions(expected_model, model):
    data = _data()
    for expected, got in zip(expected_model.predict(data, verbose=0), model.predict(data, verbose=0)):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_from_config_of_get_config_rebuilds_the_graph():
    model = _graph(kfit)
    config = json.loads(json.dumps(model.get_config()))
    clone = kfit.Model.from_config(config)
    assert type(clone).__name__ == "Functional"
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert list(clone.state_dict()) == list(model.state_dict())
    assert clone.output_names == model.output_names
    clone.set_weights(model.get_weights())
    _assert_same_predictions(model, clone)
    # The config of the rebuilt model is the config it was rebuilt from.
    assert json.loads(json.dumps(clone.get_config())) == config


def test_keras_archive_round_trip_keeps_graph_weights_and_optimizer(tmp_path):
    model = _graph(kfit)
    model.compile(optimizer="adam", loss=["mse", "mse"])
    model.fit(_data(8), [np.ones((8, 3), "float32"), np.ones((8, 2), "float32")], verbose=0)
    path = tmp_path / "graph.keras"
    model.save(path)
    loaded = kfit.models.load_model(path)
    assert type(loaded).__name__ == "Functional" and loaded.name == model.name
    _assert_same_predictions(model, loaded)
    assert type(loaded.optimizer).__name__ == "Adam"


def test_a_torch_function_step_cannot_be_saved_and_says_why(tmp_path):
    x = kfit.Input((2,))
    model = kfit.Model(x, torch.cumsum(x, dim=1))
    with pytest.raises(ValueError, match=r"torch function step .*cannot name"):
        model.get_config()
    with pytest.raises(ValueError, match="torch function step"):
        model.save(tmp_path / "m.keras")


def test_subclass_of_model_with_a_graph_saves_its_graph(tmp_path):
    @kfit.saving.register_keras_serializable(package="functional_saving_test")
    class Custom(kfit.Model):
        pass

    x = kfit.Input((3,))
    model = Custom(x, kfit.layers.Dense(2)(x))
    path = tmp_path / "custom.keras"
    model.save(path)
    loaded = kfit.models.load_model(path)
    assert type(loaded) is Custom
    data = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), atol=1e-6)


keras = pytest.importorskip("keras")


def test_a_keras_config_rebuilds_the_same_model_in_kfit():
    keras_model = _graph(keras)
    config = json.loads(json.dumps(keras_model.get_config()))
    model = kfit.Model.from_config(config)
    assert [layer.name for layer in model.layers] == [layer.name for layer in keras_model.layers]
    model.set_weights(keras_model.get_weights())
    _assert_same_predictions(keras_model, model)


def test_weights_files_are_exchanged_with_keras_both_ways(tmp_path):
    keras_model, model = _graph(keras), _graph(kfit)
    keras_path = tmp_path / "from_keras.weights.h5"
    keras_model.save_weights(keras_path)
    model.load_weights(keras_path)
    _assert_same_predictions(keras_model, model)
    other = _graph(kfit)
    other.set_weights([w * 0.5 for w in other.get_weights()])
    kfit_path = tmp_path / "from_kfit.weights.h5"
    other.save_weights(kfit_path)
    keras_model.load_weights(kfit_path)
    _assert_same_predictions(other, keras_model)


def test_keras_ops_in_a_keras_config_run_as_kfit_ops():
    x = keras.Input((4,))
    mean = keras.ops.mean(x.reshape((-1, 2, 2)), axis=1)
    out = keras.ops.concatenate([mean, round(x)[:, :1], x[:, None].squeeze(1)[:, 3:]], axis=-1)
    keras_model = keras.Model(x, out)
    config = json.loads(json.dumps(keras_model.get_config()))
    model = kfit.Model.from_config(config)
    data = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(model.predict(data, verbose=0), keras_model.predict(data, verbose=0), atol=1e-6)
    assert json.loads(json.dumps(model.get_config())) == config
