"""Dtype policies and autocasting layers, held to Keras 3 under the same policy."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest
import torch

import kfit
from kfit.layers import layer as layer_module

pytestmark = pytest.mark.usefixtures("fresh_policies")


def test_policy_names_match_keras():
    for name in ("mixed_float16", "mixed_bfloat16", "float32", "float64", "float16", "bfloat16"):
        ours, theirs = kfit.mixed_precision.Policy(name), keras.mixed_precision.Policy(name)
        assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (
            theirs.name, theirs.compute_dtype, theirs.variable_dtype)
        assert repr(ours) == repr(theirs)


def test_bad_policy_name_is_explained():
    with pytest.raises(ValueError, match="mixed_float16"):
        kfit.mixed_precision.DTypePolicy("mixed_float17")
    with pytest.raises(ValueError, match="Received: policy=3"):
        kfit.mixed_precision.set_global_policy(3)  # type: ignore[arg-type]


def test_global_policy_round_trip():
    assert kfit.mixed_precision.global_policy().name == "float32"
    kfit.mixed_precision.set_global_policy("mixed_float16")
    assert kfit.mixed_precision.global_policy() == kfit.mixed_precision.DTypePolicy("mixed_float16")
    assert kfit.layers.Dense(2).dtype_policy.name == "mixed_float16"
    kfit.mixed_precision.set_global_policy("float32")
    dense = kfit.layers.Dense(2)
    assert dense.dtype_policy.name == "float32"
    # Back on the default policy, a new layer holds no policy of its own.
    assert dense._dtype is None


def test_float32_policy_keeps_the_fast_call_path():
    kfit.mixed_precision.set_global_policy("float32")
    kfit.layers.Dense(2, dtype="float32")(torch.ones(1, 3))
    assert layer_module._CallState.mixed is False


def test_layer_dtype_argument_takes_a_policy_or_its_name():
    by_name = kfit.layers.Dense(2, dtype="mixed_bfloat16")
    by_object = kfit.layers.Dense(2, dtype=kfit.mixed_precision.DTypePolicy("mixed_bfloat16"))
    for layer in (by_name, by_object):
        out = layer(torch.ones(4, 3))
        assert (layer.dtype, layer.compute_dtype, layer.variable_dtype) == ("float32", "bfloat16", "float32")
        assert layer.kernel.dtype == torch.float32 and out.dtype == torch.bfloat16
        assert layer.get_config()["dtype"]["config"] == {"name": "mixed_bfloat16"}


def test_config_round_trip_keeps_the_policy():
    layer = kfit.layers.Dense(3, dtype="mixed_float16")
    config = layer.get_config()
    assert config["dtype"] == keras.layers.Dense(3, dtype="mixed_float16").get_config()["dtype"]
    assert kfit.layers.Dense.from_config(config).dtype_policy.name == "mixed_float16"


def test_layers_compute_in_bfloat16_with_float32_weights():
    kfit.mixed_precision.set_global_policy("mixed_bfloat16")
    seen: list[torch.dtype] = []

    class Probe(kfit.layers.Layer):
        def call(self, x):
            seen.append(x.dtype)
            return x

    model = kfit.Sequential([kfit.Input((8, 8, 1)), kfit.layers.Conv2D(2, 3, activation="relu"), Probe(),
                             kfit.layers.Flatten(), kfit.layers.Dense(4), Probe(),
                             kfit.layers.Activation("softmax", dtype="float32")])
    out = model(torch.rand(2, 8, 8, 1))
    assert seen[-2:] == [torch.bfloat16, torch.bfloat16]
    # The guide's float32 final activation: Keras's way to hand float32 outputs to the loss.
    assert out.dtype == torch.float32
    assert all(w.dtype == torch.float32 for w in model.weights)


def test_integer_inputs_are_not_cast():
    kfit.mixed_precision.set_global_policy("mixed_bfloat16")
    embedding = kfit.layers.Embedding(10, 4)
    out = embedding(torch.tensor([[1, 2]]))
    assert embedding.embeddings.dtype == torch.float32 and out.shape == (1, 2, 4)


def test_autocast_false_leaves_inputs_and_compute_alone():
    kfit.mixed_precision.set_global_policy("mixed_bfloat16")
    layer = kfit.layers.Dense(2, autocast=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(torch.ones(1, 3))
    assert out.dtype == torch.float32


def _copy_weights(source, target) -> None:  # type: ignore[no-untyped-def]
    target.set_weights([np.asarray(w) for w in source.get_weights()])


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_forward_pass_matches_keras(policy):
    kfit.mixed_precision.set_global_policy(policy)
    keras.mixed_precision.set_global_policy(policy)

    def build(lib):  # type: ignore[no-untyped-def]
        return lib.Sequential([
            lib.Input((6, 6, 2)),
            lib.layers.Conv2D(3, 3, activation="relu"),
            lib.layers.Flatten(),
            lib.layers.Dense(5, activation="relu"),
            lib.layers.Dense(3),
        ])

    ours, theirs = build(kfit), build(keras)
    _copy_weights(theirs, ours)
    x = np.random.RandomState(1).rand(4, 6, 6, 2).astype("float32")
    got = ours(torch.from_numpy(x))
    expected = theirs(x)
    assert str(got.dtype).removeprefix("torch.") == keras.backend.standardize_dtype(expected.dtype)
    np.testing.assert_allclose(got.float().detach().numpy(), np.asarray(expected.float().detach()), rtol=2e-2,
                               atol=2e-2)
    # predict hands bfloat16 back as float32 numpy (numpy has no bfloat16; Keras uses ml_dtypes').
    predicted = ours.predict(x, verbose=0)
    assert predicted.dtype == (np.float16 if policy == "mixed_float16" else np.float32)


def test_mixed_bfloat16_model_trains_with_float32_weights():
    kfit.mixed_precision.set_global_policy("mixed_bfloat16")
    rs = np.random.RandomState(0)
    x = rs.rand(64, 8, 8, 1).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
    model = kfit.Sequential([kfit.Input((8, 8, 1)), kfit.layers.Conv2D(4, 3, activation="relu"),
                             kfit.layers.Flatten(), kfit.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=kfit.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    # bfloat16 has float32's range: no loss scaling.
    assert type(model.optimizer) is kfit.optimizers.Adam
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(w.dtype == torch.float32 for w in model.weights)


def _attention(lib):  # type: ignore[no-untyped-def]
    inputs = lib.Input((5, 4))
    return lib.Model(inputs, lib.layers.MultiHeadAttention(2, 3)(inputs, inputs))


LAYER_STACKS = {
    "lstm": (lambda lib: lib.Sequential([lib.Input((5, 3)), lib.layers.LSTM(4)]), (2, 5, 3)),
    "gru": (lambda lib: lib.Sequential([lib.Input((5, 3)), lib.layers.GRU(4)]), (2, 5, 3)),
    "batch_norm": (lambda lib: lib.Sequential([lib.Input((6,)), lib.layers.BatchNormalization()]), (4, 6)),
    "layer_norm": (lambda lib: lib.Sequential([lib.Input((6,)), lib.layers.LayerNormalization()]), (4, 6)),
    "dense_3d": (lambda lib: lib.Sequential([lib.Input((5, 6)), lib.layers.Dense(3)]), (2, 5, 6)),
    "embedding": (lambda lib: lib.Sequential([lib.Input((5,), dtype="int32"), lib.layers.Embedding(10, 3)]), None),
    "attention": (_attention, (2, 5, 4)),
}


@pytest.mark.parametrize("name", sorted(LAYER_STACKS))
def test_layer_outputs_match_keras_under_mixed_bfloat16(name):
    kfit.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    build, shape = LAYER_STACKS[name]
    ours, theirs = build(kfit), build(keras)
    _copy_weights(theirs, ours)
    rs = np.random.RandomState(2)
    x = rs.randint(0, 10, (2, 5)).astype("int32") if shape is None else rs.rand(*shape).astype("float32")
    got, expected = ours(torch.from_numpy(x)), theirs(x)
    # Keras computes every op in bfloat16; kfit runs the float32-weight element-wise ops in
    # float32 and rounds the outputs to bfloat16: one bfloat16 rounding (2**-8) apart, at most.
    assert got.dtype == torch.bfloat16 and str(expected.dtype) == "torch.bfloat16"
    np.testing.assert_allclose(got.float().detach().numpy(), np.asarray(expected.float().detach()), rtol=2e-2,
                               atol=2e-2)
