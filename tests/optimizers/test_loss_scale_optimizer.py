"""LossScaleOptimizer: the dynamic scale, skipped steps and compile's wrapping, against Keras 3."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest
import torch

import kfit
from kfit.optimizers import LossScaleOptimizer

INF, NAN = float("inf"), float("nan")


pytestmark = pytest.mark.usefixtures("fresh_policies")


def _gradient_sequence() -> list[list[float]]:
    # Finite steps, an overflow, a NaN, then enough finite steps to grow the scale twice.
    return [[1.0, 2.0], [INF, 0.0], [4.0, -4.0], [0.5, 0.5], [NAN, 1.0], [2.0, 2.0], [1.0, 1.0],
            [8.0, 0.0], [1.0, -1.0], [0.0, INF], [3.0, 3.0]]


@pytest.mark.parametrize("inner", ["sgd", "adam"])
def test_scale_sequence_matches_keras(inner):
    grads = _gradient_sequence()
    ours_inner = kfit.optimizers.SGD(0.1, momentum=0.9) if inner == "sgd" else kfit.optimizers.Adam(0.1)
    theirs_inner = keras.optimizers.SGD(0.1, momentum=0.9) if inner == "sgd" else keras.optimizers.Adam(0.1)
    ours = LossScaleOptimizer(ours_inner, initial_scale=8.0, dynamic_growth_steps=2)
    theirs = keras.optimizers.LossScaleOptimizer(theirs_inner, initial_scale=8.0, dynamic_growth_steps=2)
    w = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    v = keras.Variable(np.array([1.0, -1.0], dtype="float32"))
    for g in grads:
        ours.apply([torch.tensor(g)], [w])
        theirs.apply([keras.ops.convert_to_tensor(np.array(g, dtype="float32"))], [v])
        assert float(ours.dynamic_scale) == float(theirs.dynamic_scale.numpy())
        assert int(ours.step_counter) == int(theirs.step_counter.numpy())
        assert int(ours.iterations) == int(theirs.iterations.numpy())
        np.testing.assert_allclose(w.detach().numpy(), np.asarray(v.numpy()), rtol=1e-4, atol=1e-5)


def test_skipped_step_changes_nothing_and_leaves_grads_alone():
    inner = kfit.optimizers.Adam(0.1)
    opt = LossScaleOptimizer(inner, initial_scale=16.0)
    w = torch.nn.Parameter(torch.ones(3))
    opt.build([w])
    w.grad = torch.tensor([1.0, INF, 2.0])
    opt.step()
    assert w.tolist() == [1.0, 1.0, 1.0] and int(opt.iterations) == 0
    assert float(opt.dynamic_scale) == 8.0
    w.grad = torch.tensor([8.0, 8.0, 8.0])
    opt.step()
    assert w.grad.tolist() == [8.0, 8.0, 8.0]  # unscaled out of place
    assert int(opt.iterations) == 1 and inner.loss_scale_factor is None


def test_scale_loss_learning_rate_and_config():
    inner = kfit.optimizers.SGD(learning_rate=0.5, loss_scale_factor=4.0)
    opt = LossScaleOptimizer(inner, initial_scale=2.0**10, dynamic_growth_steps=100)
    assert inner.loss_scale_factor is None  # never divided twice
    assert float(opt.scale_loss(torch.tensor(2.0))) == 2048.0
    opt.learning_rate = 0.25
    assert float(inner.learning_rate) == 0.25 and float(opt.lr) == 0.25
    config = opt.get_config()
    keras_config = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(), initial_scale=2.0**10,
                                                        dynamic_growth_steps=100).get_config()
    assert set(config) == set(keras_config)
    restored = LossScaleOptimizer.from_config(config)
    assert type(restored.inner_optimizer) is kfit.optimizers.SGD
    assert (restored.initial_scale, restored.dynamic_growth_steps) == (1024.0, 100)


def test_state_dict_round_trip_keeps_the_scale():
    opt = LossScaleOptimizer(kfit.optimizers.SGD(), initial_scale=8.0)
    w = torch.nn.Parameter(torch.ones(1))
    opt.apply([torch.tensor([INF])], [w])
    other = LossScaleOptimizer(kfit.optimizers.SGD())
    other.build([torch.nn.Parameter(torch.ones(1))])
    other.load_state_dict(opt.state_dict())
    assert float(other.dynamic_scale) == 4.0


def test_bad_arguments_are_explained():
    with pytest.raises(TypeError, match="Received: inner_optimizer='sgd'"):
        LossScaleOptimizer("sgd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dynamic=True"):
        LossScaleOptimizer(kfit.optimizers.SGD(), dynamic=False)
    with pytest.raises(ValueError, match="inner optimizer"):
        LossScaleOptimizer(kfit.optimizers.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="dynamic_growth_steps"):
        LossScaleOptimizer(kfit.optimizers.SGD(), dynamic_growth_steps=0)


def test_compile_wraps_only_under_mixed_float16():
    for policy, wrapped in (("mixed_float16", True), ("mixed_bfloat16", False), ("float32", False)):
        kfit.mixed_precision.set_global_policy(policy)
        model = kfit.Sequential([kfit.Input((2,)), kfit.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        assert isinstance(model.optimizer, LossScaleOptimizer) is wrapped
    kfit.mixed_precision.set_global_policy("mixed_float16")
    model = kfit.Sequential([kfit.Input((2,)), kfit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", auto_scale_loss=False)
    assert type(model.optimizer) is kfit.optimizers.SGD


def _overflowing_fit(lib, weights=None):  # type: ignore[no-untyped-def]
    lib.mixed_precision.set_global_policy("mixed_float16")
    model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(8, activation="relu"), lib.layers.Dense(1)])
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=lib.optimizers.SGD(1e-9), loss="mse")
    rs = np.random.RandomState(0)
    x = rs.rand(64, 4).astype("float32")
    # Targets of 1e4: the scaled gradient (about 2**15 * 2e4 / 16) overflows float16 until the
    # scale has been halved a dozen times; every step of this short fit is skipped.
    y = np.full((64, 1), 1e4, dtype="float32")
    before = [np.asarray(w) for w in model.get_weights()]
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    return model, before


def test_fit_skips_overflowing_steps_like_keras():
    theirs, before = _overflowing_fit(keras)
    ours, _ = _overflowing_fit(kfit, before)
    assert float(ours.optimizer.dynamic_scale) == float(theirs.optimizer.dynamic_scale.numpy()) == 2.0**15 / 2**8
    assert int(ours.optimizer.iterations) == int(theirs.optimizer.iterations.numpy()) == 0
    for w, b in zip(ours.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_keras_archive_round_trip_restores_the_wrapper_and_its_scale(tmp_path):
    kfit.mixed_precision.set_global_policy("mixed_float16")
    model = kfit.Sequential([kfit.Input((4,)), kfit.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.rand(8, 4), np.random.rand(8, 2), verbose=0)
    model.optimizer.dynamic_scale.assign(64.0)
    record = kfit.optimizers.serialize(model.optimizer)
    assert (record["module"], record["class_name"], record["registered_name"]) == (
        "keras.optimizers", "LossScaleOptimizer", None)
    path = tmp_path / "model.keras"
    model.save(path)
    kfit.mixed_precision.set_global_policy("float32")
    restored = kfit.models.load_model(path)
    assert type(restored.optimizer) is LossScaleOptimizer
    assert type(restored.optimizer.inner_optimizer) is kfit.optimizers.Adam
    assert float(restored.optimizer.dynamic_scale) == 64.0 and int(restored.optimizer.iterations) == 1
    assert restored.layers[0].dtype_policy.name == "mixed_float16"
