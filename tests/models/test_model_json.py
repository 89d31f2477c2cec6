"""to_json / model_from_json and the compile config, both ways against Keras 3."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch

import kfit
from kfit.models import model_from_json

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

X = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")


def _sequential(lib):
    return lib.Sequential(
        [lib.Input((3,)), lib.layers.Dense(4, activation="relu"), lib.layers.Dropout(0.2), lib.layers.Dense(2)],
        name="stack",
    )


def _functional(lib):
    a = lib.Input((3,), name="a")
    b = lib.Input((2,), name="b")
    h = lib.layers.Dense(4, activation="tanh", name="h")(a)
    joined = lib.layers.Concatenate(name="cat")([h, b])
    y = lib.layers.Dense(1, name="y")(joined) * 2.0
    return lib.Model([a, b], y, name="two_inputs")


def _copy_weights(source, target):
    target.set_weights([np.asarray(w) for w in source.get_weights()])


def _layer_summary(model):
    return [
        (type(layer).__name__, layer.name, layer.get_config().get("units"), layer.get_config().get("activation"))
        for layer in model.layers
    ]


def test_keras_sequential_json_loads_in_kfit_and_predicts_the_same():
    reference = _sequential(keras)
    model = model_from_json(reference.to_json())
    assert isinstance(model, kfit.Sequential) and model.name == "stack"
    assert model.input_shape == (None, 3)
    assert _layer_summary(model) == _layer_summary(reference)
    _copy_weights(reference, model)
    np.testing.assert_allclose(model.predict(X, verbose=0), reference.predict(X, verbose=0), rtol=1e-5, atol=1e-6)


def test_keras_functional_json_loads_in_kfit_and_predicts_the_same():
    reference = _functional(keras)
    model = model_from_json(reference.to_json())
    assert model.name == "two_inputs" and model.output_shape == (None, 1)
    assert _layer_summary(model) == _layer_summary(reference)
    _copy_weights(reference, model)
    inputs = [X, X[:, :2]]
    expected = reference.predict(inputs, verbose=0)
    np.testing.assert_allclose(model.predict(inputs, verbose=0), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("build", [_sequential, _functional], ids=["sequential", "functional"])
def test_kfit_json_loads_in_keras_and_predicts_the_same(build):
    model = build(kfit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = keras.models.model_from_json(model.to_json())
    assert reference.built
    assert _layer_summary(reference) == _layer_summary(model)
    _copy_weights(model, reference)
    inputs = X if build is _sequential else [X, X[:, :2]]
    np.testing.assert_allclose(
        np.asarray(reference.predict(inputs, verbose=0)), model.predict(inputs, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_kfit_json_has_keras_layout():
    ours = json.loads(_sequential(kfit).to_json())
    theirs = json.loads(_sequential(keras).to_json())
    assert sorted(ours) == sorted(theirs)
    assert {"name", "layers", "build_input_shape"} <= set(ours["config"]) <= set(theirs["config"])
    assert [entry["class_name"] for entry in ours["config"]["layers"]] == [
        entry["class_name"] for entry in theirs["config"]["layers"]
    ]
    assert ours["build_config"] == theirs["build_config"] == {"input_shape": [None, 3]}
    assert ours["compile_config"] == theirs["compile_config"] == {}
    functional = json.loads(_functional(kfit).to_json())
    assert (functional["module"], functional["registered_name"]) == ("keras.src.models.functional", "Functional")


def test_json_round_trip_gives_new_weights_and_passes_json_kwargs():
    model = _sequential(kfit)
    text = model.to_json(indent=2)
    assert "\n  " in text
    clone = model_from_json(text)
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])
    assert not clone.compiled


def _compile(lib, model):
    model.compile(
        optimizer=lib.optimizers.Adam(0.01),
        loss=lib.losses.Huber(delta=2.0),
        metrics=["mae", lib.metrics.MeanSquaredError()],
    )


def test_compile_config_matches_keras_format():
    ours, theirs = _sequential(kfit), _sequential(keras)
    _compile(kfit, ours)
    _compile(keras, theirs)
    a, b = ours.get_compile_config(), theirs.get_compile_config()
    assert list(a) == list(b)
    assert a["metrics"][0] == b["metrics"][0] == "mae"
    for key in ("loss_weights", "weighted_metrics", "run_eagerly", "steps_per_execution", "jit_compile"):
        assert a[key] == b[key]
    assert a["loss"]["class_name"] == b["loss"]["class_name"] == "Huber"
    assert a["optimizer"]["config"]["learning_rate"] == pytest.approx(b["optimizer"]["config"]["learning_rate"])


def test_compile_config_crosses_between_libraries():
    theirs = _sequential(keras)
    _compile(keras, theirs)
    loaded = model_from_json(theirs.to_json())
    assert loaded.compiled and type(loaded.optimizer).__name__ == "Adam"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.01)
    ours = _sequential(kfit)
    _compile(kfit, ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = keras.models.model_from_json(ours.to_json())
    assert reference.compiled and float(reference.optimizer.learning_rate) == pytest.approx(0.01)
    # Both now train to the same loss from the same weights.
    _copy_weights(ours, reference)
    y = np.ones((6, 2), "float32")
    theirs_loss = reference.evaluate(X, y, verbose=0, return_dict=True)["loss"]
    assert ours.evaluate(X, y, verbose=0, return_dict=True)["loss"] == pytest.approx(theirs_loss, rel=1e-5)


def test_compile_from_config_and_its_errors():
    source = _sequential(kfit)
    assert source.get_compile_config() == {}
    source.compile(optimizer="sgd", loss=lambda y_true, y_pred: (y_true - y_pred).abs().mean())
    with pytest.raises(ValueError, match="lambda"):
        source.get_compile_config()
    target = _sequential(kfit)
    target.compile_from_config({"optimizer": "sgd", "loss": "mae", "steps_per_execution": 3})
    assert target.compiled and type(target.optimizer).__name__ == "SGD"
    assert target.steps_per_execution == 3 and target.get_compile_config()["loss"] == "mae"

    class CustomCompile(kfit.Sequential):
        def compile(self, *args, **kwargs):
            super().compile(*args, **kwargs)

    custom = CustomCompile([kfit.layers.Dense(1)])
    with pytest.warns(UserWarning, match="overrides compile"):
        custom.compile_from_config({"optimizer": "sgd", "loss": "mae"})
    assert not custom.compiled


def test_model_from_json_errors_name_the_problem():
    with pytest.raises(ValueError, match="JSON string"):
        model_from_json("not json")
    with pytest.raises(ValueError, match="class_name"):
        model_from_json("[1, 2]")
    with pytest.raises(ValueError, match="torch module"):
        kfit.Sequential([kfit.Input((3,)), torch.nn.Linear(3, 1)]).to_json()
    record = json.loads(_sequential(kfit).to_json())
    record["config"]["layers"][1]["class_name"] = "NoSuchLayer"
    with pytest.raises(ValueError, match="NoSuchLayer"):
        model_from_json(json.dumps(record))


@pytest.mark.parametrize("start", ["Input", "input_shape", "build", "none"])
def test_sequential_get_config_has_keras_layout(start):
    def build(lib):
        if start == "Input":
            return lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, name="d")], name="s")
        if start == "input_shape":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Keras warns about input_shape= on a layer
                return lib.Sequential([lib.layers.Dense(2, input_shape=(3,), name="d")], name="s")
        model = lib.Sequential([lib.layers.Dense(2, name="d")], name="s")
        if start == "build":
            model.build((None, 3))
        return model

    ours, theirs = build(kfit).get_config(), build(keras).get_config()
    assert list(ours) == list(theirs)
    assert ours.get("build_input_shape") == theirs.get("build_input_shape")
    assert [(r["module"], r["class_name"]) for r in ours["layers"]] == [
        (r["module"], r["class_name"]) for r in theirs["layers"]]
    if ours["layers"][0]["class_name"] == "InputLayer":
        mine, keras_input = ours["layers"][0]["config"], theirs["layers"][0]["config"]
        assert list(mine["batch_shape"]) == list(keras_input["batch_shape"])
        assert (mine["dtype"], mine["sparse"]) == (keras_input["dtype"], keras_input["sparse"])
    rebuilt = kfit.Sequential.from_config(ours)
    assert [layer.name for layer in rebuilt.layers] == ["d"]
