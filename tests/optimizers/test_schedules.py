"""Learning rate schedules give Keras 3's values, as host floats."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kfit.optimizers import SGD, schedules

keras = pytest.importorskip("keras")

STEPS = [0, 1, 2, 5, 9, 10, 11, 25, 50, 99, 100, 101, 250, 1000]

CASES = [
    ("ExponentialDecay", (0.1, 10, 0.5), {}),
    ("ExponentialDecay", (0.1, 10, 0.5), {"staircase": True}),
    ("PiecewiseConstantDecay", ([10, 100], [1.0, 0.5, 0.1]), {}),
    ("PolynomialDecay", (0.1, 100), {}),
    ("PolynomialDecay", (0.1, 100), {"end_learning_rate": 0.01, "power": 0.5, "cycle": True}),
    ("InverseTimeDecay", (0.1, 10, 0.5), {}),
    ("InverseTimeDecay", (0.1, 10, 0.5), {"staircase": True}),
    ("CosineDecay", (0.1, 100), {}),
    ("CosineDecay", (0.1, 100), {"alpha": 0.1}),
    ("CosineDecay", (0.0, 100), {"warmup_target": 0.2, "warmup_steps": 10}),
    ("CosineDecayRestarts", (0.1, 10), {}),
    ("CosineDecayRestarts", (0.1, 10), {"t_mul": 1.0, "m_mul": 0.5, "alpha": 0.1}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES)
def test_values_match_keras(name, args, kwargs):
    ours = getattr(schedules, name)(*args, **kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(*args, **kwargs)
    expected = [float(theirs(torch.tensor(s))) for s in STEPS]
    actual = [ours(s) for s in STEPS]
    assert all(isinstance(v, float) for v in actual)
    # Keras computes in float32; near zero (end of a cosine) its cancellation error is
    # ~1e-9 absolute, so the absolute tolerance is set relative to the 0.1 starting rate.
    np.testing.assert_allclose(actual, expected, rtol=2e-6, atol=1e-8)
    assert ours.get_config() == theirs.get_config()


@pytest.mark.parametrize("name,args,kwargs", CASES)
def test_serialize_round_trip(name, args, kwargs):
    schedule = getattr(schedules, name)(*args, **kwargs)
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    restored = schedules.deserialize(config)
    assert type(restored) is type(schedule)
    assert [restored(s) for s in STEPS] == [schedule(s) for s in STEPS]


def test_deserializes_keras_saved_configs():
    saved = keras.optimizers.schedules.serialize(keras.optimizers.schedules.CosineDecay(0.1, 50))
    assert schedules.deserialize(saved)(25) == pytest.approx(0.05)
    assert schedules.serialize(schedules.CosineDecay(0.1, 50)) == saved


def test_accepts_tensor_and_numpy_steps():
    schedule = schedules.ExponentialDecay(1.0, 1, 0.5)
    assert schedule(torch.tensor(2)) == 0.25 == schedule(np.int64(2))
    with pytest.raises(TypeError, match=r"Received: step='two' \(of type str\)"):
        schedule("two")


class _TensorSchedule(schedules.LearningRateSchedule):
    """A Keras-style user schedule that computes with tensors."""

    def __call__(self, step):
        return torch.tensor(0.1) / (torch.as_tensor(step) + 1)

    def get_config(self):
        return {}


def test_custom_schedule_drives_an_optimizer_and_deserializes():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = SGD(learning_rate=_TensorSchedule())
    opt.build([w])
    for _ in range(2):
        w.grad = torch.ones(1)
        opt.step()
    assert w.item() == pytest.approx(-(0.1 + 0.05))
    config = schedules.serialize(_TensorSchedule())
    assert config["registered_name"] == "_TensorSchedule"
    restored = schedules.deserialize(config, custom_objects={"_TensorSchedule": _TensorSchedule})
    assert isinstance(restored, _TensorSchedule)


def test_base_class_requires_overrides():
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        schedules.LearningRateSchedule()(0)
    with pytest.raises(NotImplementedError, match="must override `get_config"):
        schedules.LearningRateSchedule().get_config()


@pytest.mark.parametrize(
    "factory,match",
    [
        (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), "`decay_steps` to be a number > 0"),
        (lambda: schedules.CosineDecay(0.1, -1), "`decay_steps` to be a number > 0"),
        (lambda: schedules.CosineDecayRestarts(0.1, 0), "`first_decay_steps`"),
        (lambda: schedules.PiecewiseConstantDecay([1, 2], [1.0]), "one more element"),
        (lambda: schedules.PiecewiseConstantDecay([2, 1], [1.0, 0.5, 0.1]), "strictly increasing"),
    ],
)
def test_invalid_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_deserialize_errors():
    with pytest.raises(ValueError, match=r"class_name='CosinDecay'.*Did you mean 'CosineDecay'"):
        schedules.deserialize({"class_name": "CosinDecay", "config": {}})
    with pytest.raises(TypeError, match="'class_name' and 'config'"):
        schedules.deserialize("CosineDecay")
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        schedules.serialize(0.1)
