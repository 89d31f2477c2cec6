"""Functional-API (symbolic) output dtypes under mixed precision, held to Keras 3."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

from typing import Any

import keras
import numpy as np
import pytest
import torch

import kfit
from kfit.layers import layer as layer_module

pytestmark = pytest.mark.usefixtures("fresh_policies")


def _graph_dtypes(lib: Any) -> dict[str, str]:
    """Builds one functional graph of many layer kinds and reports each symbolic output's dtype."""
    layers = lib.layers
    x = lib.Input((4,))
    image = lib.Input((6, 6, 3))
    ids = lib.Input((5,), dtype="int32")
    dense = layers.Dense(3)(x)
    conv = layers.Conv2D(2, 3)(image)
    activation = layers.Activation("relu")(dense)
    sequence = lib.Input((5, 3))
    inner_input = lib.Input((3,))
    inner = lib.Model(inner_input, layers.Dense(2, dtype="float32")(layers.Dense(2)(inner_input)))
    outputs = {
        "lstm": layers.LSTM(2)(sequence),
        "bidirectional_gru": layers.Bidirectional(layers.GRU(2, return_sequences=True))(sequence),
        "attention": layers.MultiHeadAttention(2, 3)(sequence, sequence),
        "einsum_dense": layers.EinsumDense("abc,cd->abd", (5, 2))(sequence),
        "time_distributed": layers.TimeDistributed(layers.Dense(2))(sequence),
        "masked_embedding": layers.Embedding(10, 3, mask_zero=True)(ids),
        "global_pool": layers.GlobalAveragePooling2D()(image),
        "concatenate": layers.Concatenate()([dense, x]),
        "nested_model": inner(layers.Dense(3)(x)),
        "input": x,
        "int_input": ids,
        "dense": dense,
        "conv2d": conv,
        "activation": activation,
        "add": layers.Add()([dense, activation]),
        "add_of_inputs": layers.Add()([x, x]),
        "dropout": layers.Dropout(0.5)(dense),
        "embedding": layers.Embedding(10, 4)(ids),
        "dense_float32": layers.Dense(2, dtype="float32")(dense),
        "softmax_float32": layers.Activation("softmax", dtype="float32")(dense),
        "flatten": layers.Flatten()(conv),
        "reshape": layers.Reshape((2, 2))(x),
        "layer_norm": layers.LayerNormalization()(dense),
        "batch_norm": layers.BatchNormalization()(dense),
        "input_layer": layers.InputLayer(shape=(4,)).output,
        "op_with_scalar": dense * 2.0,
        "op_mixing_dtypes": dense + layers.Dense(3, dtype="float32")(x),
    }
    return {name: str(tensor.dtype) for name, tensor in outputs.items()}


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_symbolic_output_dtypes_match_keras(policy: str) -> None:
    kfit.mixed_precision.set_global_policy(policy)
    keras.mixed_precision.set_global_policy(policy)
    ours, theirs = _graph_dtypes(kfit), _graph_dtypes(keras)
    assert ours == theirs
    compute = policy.removeprefix("mixed_")
    # The comparison must not pass by both sides staying float32.
    assert ours["dense"] == compute and ours["dense_float32"] == "float32"


def test_float32_policy_keeps_float32_symbolic_outputs() -> None:
    assert _graph_dtypes(kfit) == _graph_dtypes(keras)
    assert layer_module._CallState.mixed is False


def test_symbolic_dtype_matches_the_eager_output() -> None:
    kfit.mixed_precision.set_global_policy("mixed_bfloat16")
    inputs = kfit.Input((4,))
    hidden = kfit.layers.Dense(3)(inputs)
    outputs = kfit.layers.Activation("sigmoid", dtype="float32")(hidden)
    model = kfit.Model(inputs, [hidden, outputs])
    eager = model(torch.ones(2, 4))
    assert [str(t.dtype) for t in model.outputs] == ["bfloat16", "float32"]
    assert [t.dtype for t in eager] == [torch.bfloat16, torch.float32]


def _guide_model(lib: Any) -> Any:
    inputs = lib.Input((784,), name="digits")
    x = lib.layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = lib.layers.Dense(64, activation="relu", name="dense_2")(x)
    x = lib.layers.Dense(10, name="dense_logits")(x)
    outputs = lib.layers.Activation("softmax", dtype="float32", name="predictions")(x)
    return lib.Model(inputs, outputs)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_guide_model_trains(policy: str) -> None:
    kfit.mixed_precision.set_global_policy(policy)
    keras.mixed_precision.set_global_policy(policy)
    ours, theirs = _guide_model(kfit), _guide_model(keras)
    assert [str(layer.output.dtype) for layer in ours.layers] == [
        str(layer.output.dtype) for layer in theirs.layers
    ]
    assert str(ours.outputs[0].dtype) == "float32"

    rs = np.random.RandomState(0)
    x = rs.rand(256, 784).astype("float32")
    y = (x[:, :10].argmax(axis=1)).astype("int64")
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=kfit.optimizers.RMSprop(1e-3),
                 metrics=["accuracy"])
    history = ours.fit(x, y, batch_size=64, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert all(w.dtype == torch.float32 for w in ours.weights)
    predicted = ours.predict(x[:8], verbose=0)
    assert predicted.dtype == np.float32
    np.testing.assert_allclose(predicted.sum(axis=1), 1.0, rtol=1e-5)


def test_custom_layer_symbolic_dtype_follows_its_policy() -> None:
    class Scale(kfit.layers.Layer):
        def build(self, input_shape: Any) -> None:
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, inputs: torch.Tensor) -> torch.Tensor:
            return inputs * self.scale

    kfit.mixed_precision.set_global_policy("mixed_float16")
    assert str(Scale()(kfit.Input((3,))).dtype) == "float16"
    assert str(Scale(dtype="float32")(kfit.Input((3,))).dtype) == "float32"
