"""The functional API against Keras 3: layer order, predictions, one epoch of fit, configs."""

from __future__ import annotations

import numpy as np
import pytest

import kfit
from kfit.layers.layer import Layer

keras = pytest.importorskip("keras")


def _pair_layer(base):
    """A two-input layer, the same class name in both libraries (summaries print it)."""

    class Pair(base):
        def call(self, inputs):
            return inputs[0] * inputs[1]

    return Pair


_KerasPair, _KfitPair = _pair_layer(keras.layers.Layer), _pair_layer(Layer)


def _graphs(lib, pair):
    """Branches, a shared layer used twice, a multi-input layer and a nested model."""
    a = lib.Input((4,), name="a")
    b = lib.Input((3,), name="b")
    inner_in = lib.Input((5,), name="inner_in")
    inner = lib.Model(inner_in, lib.layers.Dense(2, activation="relu", name="inner_dense")(inner_in), name="inner")
    shared = lib.layers.Dense(5, activation="tanh", name="shared")
    left = shared(a)
    right = shared(lib.layers.Dense(4, name="lift")(b))
    mixed = pair(name="pair")([left, right])
    out1 = lib.layers.Dense(3, name="out1")(inner(mixed))
    out2 = lib.layers.Dense(1, name="out2")(lib.layers.Dense(6, activation="relu", name="wide")(mixed))
    return [a, b], [out1, out2]


def _pair():
    keras.utils.set_random_seed(1)
    k_in, k_out = _graphs(keras, _KerasPair)
    keras_model = keras.Model(k_in, k_out)
    f_in, f_out = _graphs(kfit, _KfitPair)
    kfit_model = kfit.Model(f_in, f_out)
    for keras_layer, kfit_layer in zip(keras_model.layers, kfit_model.layers):
        kfit_layer.set_weights(keras_layer.get_weights())
    return keras_model, kfit_model


def test_layers_order_predictions_and_summary_match_keras():
    keras_model, kfit_model = _pair()
    assert [layer.name for layer in kfit_model.layers] == [layer.name for layer in keras_model.layers]
    assert kfit_model.output_names == list(keras_model.output_names)
    rng = np.random.default_rng(0)
    data = [rng.normal(size=(6, 4)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")]
    for expected, got in zip(keras_model.predict(data, verbose=0), kfit_model.predict(data, verbose=0)):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    keras_text, kfit_text = [], []
    keras_model.summary(print_fn=keras_text.append)
    kfit_model.summary(print_fn=kfit_text.append)
    # Keras names the model after its own counter; the tables must be the same.
    assert kfit_text[0].split("\n", 1)[1] == keras_text[0].split("\n", 1)[1]


def test_one_epoch_of_fit_matches_keras():
    keras_model, kfit_model = _pair()
    rng = np.random.default_rng(1)
    data = [rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 3)).astype("float32")]
    targets = [rng.integers(0, 3, 32), rng.normal(size=(32, 1)).astype("float32")]
    histories = []
    for model, lib in ((keras_model, keras), (kfit_model, kfit)):
        model.compile(
            optimizer=lib.optimizers.SGD(0.05),
            loss=[lib.losses.SparseCategoricalCrossentropy(from_logits=True), "mse"],
            metrics=[["accuracy"], ["mae"]],
        )
        histories.append(model.fit(data, targets, batch_size=8, epochs=1, shuffle=False, verbose=0).history)
    assert sorted(histories[1]) == sorted(histories[0])
    for key, values in histories[0].items():
        np.testing.assert_allclose(histories[1][key], values, rtol=1e-4, atol=1e-5, err_msg=key)
    for expected, got in zip(keras_model.get_weights(), kfit_model.get_weights()):
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_history_keys_match_keras_for_named_and_unnamed_outputs():
    def keys(lib, named):
        x = lib.Input((3,))
        hidden = lib.layers.Dense(4, name="hidden")(x)
        outputs = [
            lib.layers.Dense(3, name="cls" if named else "dense_9")(hidden),
            lib.layers.Dense(1, name="reg" if named else "dense_10")(hidden),
        ]
        model = lib.Model(x, outputs)
        model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"], metrics=[["accuracy"], ["mae"]])
        rng = np.random.default_rng(0)
        data = rng.normal(size=(8, 3)).astype("float32")
        y = [rng.integers(0, 3, 8), rng.normal(size=(8, 1)).astype("float32")]
        return sorted(model.fit(data, y, epochs=1, verbose=0, validation_split=0.25).history)

    for named in (True, False):
        assert keys(kfit, named) == keys(keras, named)


def test_get_config_has_keras_structure():
    keras_model, kfit_model = _pair()
    keras_config, kfit_config = keras_model.get_config(), kfit_model.get_config()
    assert sorted(kfit_config) == sorted(keras_config)
    assert kfit_config["input_layers"] == keras_config["input_layers"]
    assert kfit_config["output_layers"] == keras_config["output_layers"]
    for expected, got in zip(keras_config["layers"], kfit_config["layers"]):
        assert got["name"] == expected["name"] and got["class_name"] == expected["class_name"]
        # Keras adds the compile config of a nested model to its record; kfit saves it only at the top.
        assert set(expected) - {"build_config", "compile_config"} <= set(got)
        assert len(got["inbound_nodes"]) == len(expected["inbound_nodes"])
        for want, have in zip(expected["inbound_nodes"], got["inbound_nodes"]):
            assert _histories(have["args"]) == _histories(want["args"])
            assert have["kwargs"] == want["kwargs"] or expected["class_name"] == "Functional"


def _histories(args):
    if isinstance(args, (list, tuple)):
        return [h for a in args for h in _histories(a)]
    if isinstance(args, dict) and args.get("class_name") == "__keras_tensor__":
        return [tuple(args["config"]["keras_history"])]
    return []
