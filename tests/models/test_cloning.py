"""clone_model: same architecture and configs, new layers and weights; Keras's rules per model kind."""

from __future__ import annotations

import copy
import os
import warnings

import numpy as np
import pytest
import torch

import kfit
from kfit.models import clone_model

os.environ.setdefault("KERAS_BACKEND", "torch")


def _configs(model):
    return [layer.get_config() for layer in model.layers]


def _weights_differ(a, b):
    pairs = list(zip(a.get_weights(), b.get_weights()))
    kernels = [(x, y) for x, y in pairs if x.ndim == 2]
    assert kernels
    return all(not np.allclose(x, y) for x, y in kernels)


def _sequential():
    return kfit.Sequential(
        [kfit.Input((3,), name="features"), kfit.layers.Dense(4, activation="relu", name="h"),
         kfit.layers.Dropout(0.1, name="drop"), kfit.layers.Dense(1, name="out")],
        name="stack",
    )


def _functional():
    x = kfit.Input((3,), name="x")
    shared = kfit.layers.Dense(3, name="shared")
    a = shared(x)
    b = shared(a)
    y = kfit.layers.Dense(2, name="out")(kfit.layers.Concatenate(name="cat")([a, b])) * 2.0
    return kfit.Model(x, y, name="graph")


def test_sequential_clone_has_same_configs_and_new_weights():
    model = _sequential()
    clone = clone_model(model)
    assert type(clone) is kfit.Sequential and clone.name == "stack"
    assert clone.input_shape == (None, 3) and clone._input_layer.name == "features"
    assert _configs(clone) == _configs(model)
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert _weights_differ(clone, model)
    # A structural copy: setting the weights makes the two compute the same thing.
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_functional_clone_replays_graph_with_one_clone_per_shared_layer():
    model = _functional()
    clone = clone_model(model)
    assert type(clone).__name__ == "Functional" and clone.name == "graph"
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert _configs(clone) == _configs(model)
    assert not any(a is b for a, b in zip(clone.layers, model.layers))
    shared = clone.get_layer("shared")
    assert len(clone._functional_graph().nodes_of(shared)) == 2  # shared, not duplicated
    assert _weights_differ(clone, model)
    clone.set_weights(model.get_weights())
    x = torch.randn(4, 3)
    torch.testing.assert_close(clone(x), model(x))


def test_clone_function_sees_every_layer_and_can_share_them():
    model = _functional()
    seen = []

    def keep(layer):
        seen.append(layer.name)
        return layer

    clone = clone_model(model, clone_function=keep)
    # Input layers are made anew, never passed; a shared layer is passed once.
    assert seen == ["shared", "cat", "out"]
    assert clone.get_layer("out") is model.get_layer("out")


def test_call_function_inserts_layers_after_dense():
    model = _functional()

    def add_dropout(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        return kfit.layers.Dropout(0.5)(out) if isinstance(layer, kfit.layers.Dense) else out

    clone = clone_model(model, call_function=add_dropout)
    kinds = [type(layer).__name__ for layer in clone.layers]
    # One per Dense call: the shared layer's two and the output layer's one.
    assert kinds.count("Dropout") == 3
    assert len(clone.layers) == len(model.layers) + 3


def test_input_tensors_are_used_for_functional_and_sequential():
    model = _functional()
    new_input = kfit.Input((3,), name="fresh")
    clone = clone_model(model, input_tensors=new_input)
    assert clone.inputs[0] is new_input
    seq = clone_model(_sequential(), input_tensors=[kfit.Input((3,), name="other")])
    assert seq._input_layer.name == "other"
    with pytest.raises(ValueError, match=r"kfit\.Input"):
        clone_model(_sequential(), input_tensors=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="2 tensors"):
        clone_model(_sequential(), input_tensors=[kfit.Input((3,)), kfit.Input((3,))])


def test_recursive_clones_nested_models_with_clone_function():
    inner = kfit.Sequential([kfit.layers.Dense(2, name="inner_dense")], name="inner")
    x = kfit.Input((3,))
    model = kfit.Model(x, inner(kfit.layers.Dense(3, name="outer_dense")(x)))
    seen = []

    def record(layer):
        seen.append(layer.name)
        return type(layer).from_config(layer.get_config())

    clone_model(model, clone_function=record, recursive=True)
    assert "inner_dense" in seen and "inner" not in seen
    seen.clear()
    flat = clone_model(model, clone_function=lambda layer: layer)
    assert flat.get_layer("inner") is inner


def test_compiled_model_clone_is_compiled_with_a_new_optimizer():
    model = _sequential()
    model.compile(optimizer=kfit.optimizers.Adam(0.02), loss="mse", metrics=["mae"], steps_per_execution=2)
    clone = clone_model(model)
    assert clone.compiled and clone.optimizer is not model.optimizer
    assert type(clone.optimizer).__name__ == "Adam"
    assert float(clone.optimizer.learning_rate) == pytest.approx(0.02)
    assert clone.steps_per_execution == 2
    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")
    assert sorted(clone.fit(x, y, verbose=0).history) == ["loss", "mae"]


class Subclassed(kfit.Model):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = kfit.layers.Dense(units)

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class WithoutConfig(kfit.Model):
    def __init__(self, units):
        super().__init__()
        self.dense = kfit.layers.Dense(units)

    def call(self, x):
        return self.dense(x)


def test_subclassed_model_is_cloned_from_its_config():
    model = Subclassed(units=5, name="sub")
    clone = clone_model(model)
    assert type(clone) is Subclassed and clone.units == 5 and clone.name == "sub"
    assert clone.dense is not model.dense
    with pytest.raises(ValueError, match="only with a Sequential or functional"):
        clone_model(model, clone_function=lambda layer: layer)
    with pytest.raises(ValueError, match="only with a functional model"):
        clone_model(model, call_function=lambda layer, *a: layer(*a))
    with pytest.raises(TypeError, match="get_config"):
        clone_model(WithoutConfig(3))


def test_unsupported_arguments_and_torch_modules_name_the_problem():
    with pytest.raises(ValueError, match="unexpected keyword arguments"):
        clone_model(_sequential(), bogus=1)
    with pytest.raises(ValueError, match="call_function=None for a Sequential"):
        clone_model(_sequential(), call_function=lambda layer, *a: layer(*a))
    with pytest.raises(ValueError, match="torch module without a config"):
        clone_model(kfit.Sequential([kfit.Input((3,)), torch.nn.Linear(3, 2)]))
    with pytest.raises(ValueError, match="torch module without a config"):
        clone_model(kfit.Model(torch.nn.Linear(3, 2)))
    # A clone_function that copies torch modules makes them clonable.
    model = kfit.Sequential([kfit.Input((3,)), torch.nn.Linear(3, 2)])
    clone = clone_model(model, clone_function=copy.deepcopy)
    assert isinstance(clone.layers[0], torch.nn.Linear) and clone.layers[0] is not model.layers[0]


def test_clone_matches_keras_layer_names_and_configs():
    keras = pytest.importorskip("keras")

    def build(lib):
        x = lib.Input((3,), name="x")
        h = lib.layers.Dense(4, activation="relu", name="h")(x)
        y = lib.layers.Dense(1, name="y")(lib.layers.Dropout(0.2, name="d")(h))
        return lib.Model(x, y, name="m")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kc = keras.models.clone_model(build(keras))
    fc = clone_model(build(kfit))
    assert [layer.name for layer in fc.layers] == [layer.name for layer in kc.layers]
    assert [type(layer).__name__ for layer in fc.layers] == [type(layer).__name__ for layer in kc.layers]
    for key in ("units", "activation", "rate"):
        ours = [layer.get_config().get(key) for layer in fc.layers[1:]]
        assert ours == [layer.get_config().get(key) for layer in kc.layers[1:]]
