"""kfit.constraints projects weights as Keras 3 does and reads and writes Keras's configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit import constraints
from kfit.backend import config as backend_config
from kfit.constraints import Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm
from kfit.saving.object_registration import get_registered_object


@pytest.fixture
def keras():
    return pytest.importorskip("keras")


def _random(shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


PARITY_CASES = [
    ("MaxNorm", {}),
    ("MaxNorm", {"max_value": 0.5, "axis": 1}),
    ("MaxNorm", {"max_value": 1.5, "axis": [0, 1, 2]}),
    ("NonNeg", {}),
    ("UnitNorm", {}),
    ("UnitNorm", {"axis": -1}),
    ("UnitNorm", {"axis": [0, 1]}),
    ("MinMaxNorm", {}),
    ("MinMaxNorm", {"min_value": 1.0, "max_value": 2.0, "rate": 0.3}),
    ("MinMaxNorm", {"min_value": 0.5, "max_value": 0.8, "axis": [0, 1, 2]}),
]


@pytest.mark.parametrize(("name", "kwargs"), PARITY_CASES)
@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_projection_matches_keras(keras, name, kwargs, scale):
    # A 4-D (conv-like) kernel covers integer and list axes; both scales cross the bounds.
    array = _random((3, 2, 4, 5), seed=1, scale=scale)
    want = keras.ops.convert_to_numpy(getattr(keras.constraints, name)(**kwargs)(torch.tensor(array)))
    got = getattr(constraints, name)(**kwargs)(torch.tensor(array)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("name", "kwargs"), [("MaxNorm", {"max_value": 1.0}), ("UnitNorm", {}), ("MinMaxNorm", {})])
def test_zero_vectors_and_column_major_weights_match_keras(keras, name, kwargs):
    array = _random((4, 3), seed=2, scale=2.0)
    array[:, 1] = 0.0
    # Dense kernels are column-major in kfit: the projection must not depend on the layout.
    weight = torch.tensor(array.T).t()
    want = keras.ops.convert_to_numpy(getattr(keras.constraints, name)(**kwargs)(torch.tensor(array)))
    got = getattr(constraints, name)(**kwargs)(weight).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert not got[:, 1].any()


def test_norms_carry_keras_epsilon():
    w = torch.tensor([[3.0], [4.0]], dtype=torch.float64)
    # Norm 5 is within MaxNorm(10), yet the weight shrinks by 5 / (5 + epsilon), as in Keras.
    np.testing.assert_allclose(MaxNorm(10)(w).numpy(), w.numpy() * 5 / (5 + 1e-7), rtol=1e-12)
    np.testing.assert_allclose(UnitNorm()(w).numpy(), w.numpy() / (5 + 1e-7), rtol=1e-12)
    previous = backend_config.epsilon()
    backend_config.set_epsilon(1.0)
    try:
        np.testing.assert_allclose(UnitNorm()(w).numpy(), w.numpy() / 6, rtol=1e-12)
    finally:
        backend_config.set_epsilon(previous)


def test_values():
    w = torch.tensor([[3.0, 0.3], [4.0, 0.4]])
    np.testing.assert_allclose(MaxNorm(1.0)(w).numpy(), [[0.6, 0.3], [0.8, 0.4]], rtol=1e-5)
    np.testing.assert_allclose(MaxNorm(1.0, axis=1)(torch.tensor([[3.0, 4.0]])).numpy(), [[0.6, 0.8]], rtol=1e-5)
    np.testing.assert_allclose(MinMaxNorm(1.0, 2.0)(w).numpy(), [[1.2, 0.6], [1.6, 0.8]], rtol=1e-5)
    # rate 0.5: the norm 5 moves halfway to 2, to 3.5.
    np.testing.assert_allclose(MinMaxNorm(1.0, 2.0, rate=0.5)(w)[:, 0].numpy(), [2.1, 2.8], rtol=1e-5)
    assert NonNeg()(torch.tensor([-1.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 2.0]
    assert Constraint()(w) is w


@pytest.mark.parametrize(
    ("identifier", "cls"),
    [
        ("max_norm", "MaxNorm"),
        ("non_neg", "NonNeg"),
        ("unit_norm", "UnitNorm"),
        ("min_max_norm", "MinMaxNorm"),
        ("MaxNorm", "MaxNorm"),
        ("NonNeg", "NonNeg"),
        ("UnitNorm", "UnitNorm"),
        ("MinMaxNorm", "MinMaxNorm"),
        ("constraint", "Constraint"),
    ],
)
def test_names_resolve_as_in_keras(keras, identifier, cls):
    ours = constraints.get(identifier)
    theirs = keras.constraints.get(identifier)
    assert type(ours).__name__ == type(theirs).__name__ == cls
    assert ours.get_config() == theirs.get_config()


def test_defaults_match_keras(keras):
    for name in ("MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "Constraint"):
        assert getattr(constraints, name)().get_config() == getattr(keras.constraints, name)().get_config()


def test_snake_case_aliases_are_the_classes():
    assert constraints.max_norm is MaxNorm and constraints.non_neg is NonNeg
    assert constraints.unit_norm is UnitNorm and constraints.min_max_norm is MinMaxNorm


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("MaxNorm", {"max_value": 3, "axis": [0, 1]}),
        ("NonNeg", {}),
        ("UnitNorm", {"axis": 1}),
        ("MinMaxNorm", {"min_value": 0.5, "max_value": 2.0, "rate": 0.25, "axis": 0}),
    ],
)
def test_serialize_matches_keras_and_round_trips_both_ways(keras, name, kwargs):
    ours = getattr(constraints, name)(**kwargs)
    theirs = getattr(keras.constraints, name)(**kwargs)
    assert constraints.serialize(ours) == keras.constraints.serialize(theirs)
    rebuilt = constraints.deserialize(keras.constraints.serialize(theirs))
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == ours.get_config()
    back = keras.constraints.deserialize(constraints.serialize(ours))
    assert type(back).__name__ == name and back.get_config() == theirs.get_config()
    assert constraints.get(constraints.serialize(ours)).get_config() == ours.get_config()


def test_serialize_none_and_functions_like_keras(keras):
    assert constraints.serialize(None) is None

    def clip_weights(w):
        return w.clamp(-1, 1)

    assert constraints.serialize(clip_weights) == keras.constraints.serialize(clip_weights)
    record = constraints.serialize(clip_weights)
    assert constraints.deserialize(record, custom_objects={"clip_weights": clip_weights}) is clip_weights


def test_get_passes_objects_through_and_instantiates_classes():
    c = MaxNorm(3)
    assert constraints.get(c) is c and constraints.get(None) is None

    def clip(w):
        return w

    assert constraints.get(clip) is clip
    assert isinstance(constraints.get(NonNeg), NonNeg)
    assert constraints.get({"class_name": "MaxNorm", "config": {"max_value": 4, "axis": 1}}).axis == 1
    assert isinstance(constraints.deserialize("unit_norm"), UnitNorm)


def test_get_rejects_unknown_names_and_non_callables():
    with pytest.raises(ValueError, match=r"identifier='maxnorm'.*Did you mean"):
        constraints.get("maxnorm")
    with pytest.raises(ValueError, match=r"identifier=2.5 \(of type float\)"):
        constraints.get(2.5)


@pytest.mark.parametrize("axis", ["0", 1.0, [0, "1"], None])
def test_bad_axis(axis):
    with pytest.raises(ValueError, match="Received: axis="):
        MaxNorm(axis=axis)


def test_builtins_are_registered_under_keras():
    for cls in (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm):
        assert get_registered_object(f"keras>{cls.__name__}") is cls


def test_custom_constraint_round_trip_with_custom_objects():
    class Clip(Constraint):
        def __init__(self, limit=1.0):
            self.limit = limit

        def __call__(self, w):
            return w.clamp(-self.limit, self.limit)

        def get_config(self):
            return {"limit": self.limit}

    record = constraints.serialize(Clip(0.5))
    rebuilt = constraints.deserialize(record, custom_objects={"Clip": Clip})
    assert isinstance(rebuilt, Clip) and rebuilt.limit == 0.5
    assert repr(MinMaxNorm()) == "MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)"


def test_projection_keeps_dtype():
    w = torch.ones(3, 2, dtype=torch.float64)
    for c in (MaxNorm(), NonNeg(), UnitNorm(), MinMaxNorm()):
        assert c(w).dtype == torch.float64 and c(w).shape == w.shape
