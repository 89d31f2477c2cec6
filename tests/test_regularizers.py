"""kfit.regularizers computes Keras 3's penalties and reads and writes Keras's configs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kfit import regularizers
from kfit.regularizers import L1, L1L2, L2, OrthogonalRegularizer, Regularizer
from kfit.saving.object_registration import get_registered_object, register_keras_serializable


@pytest.fixture
def keras():
    return pytest.importorskip("keras")


def _random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _keras_value_and_grad(keras, regularizer, array):
    x = torch.tensor(array, requires_grad=True)
    value = regularizer(x)
    value.backward()
    return float(value.detach()), x.grad.numpy()


def _kfit_value_and_grad(regularizer, array):
    x = torch.tensor(array, requires_grad=True)
    value = regularizer(x)
    value.backward()
    return float(value.detach()), x.grad.numpy()


PARITY_CASES = [
    ("L1", {}),
    ("L1", {"l1": 0.3}),
    ("L2", {}),
    ("L2", {"l2": 0.5}),
    ("L1L2", {"l1": 0.1, "l2": 0.2}),
    ("L1L2", {"l1": 0.0, "l2": 0.3}),
    ("L1L2", {"l1": 0.25}),
    ("OrthogonalRegularizer", {}),
    ("OrthogonalRegularizer", {"factor": 0.7, "mode": "columns"}),
]


@pytest.mark.parametrize(("name", "kwargs"), PARITY_CASES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 7)])
def test_penalty_and_its_gradient_match_keras(keras, name, kwargs, shape):
    array = _random(shape)
    theirs = getattr(keras.regularizers, name)(**kwargs)
    ours = getattr(regularizers, name)(**kwargs)
    want_value, want_grad = _keras_value_and_grad(keras, theirs, array)
    got_value, got_grad = _kfit_value_and_grad(ours, array)
    assert got_value == pytest.approx(want_value, rel=1e-5)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["L1", "L2", "L1L2"])
def test_elementwise_penalties_match_keras_on_higher_rank_tensors(keras, name):
    array = _random((2, 3, 4, 5), seed=3)
    kwargs = {"l1": 0.01, "l2": 0.02} if name == "L1L2" else {}
    theirs = getattr(keras.regularizers, name)(**kwargs)(torch.tensor(array))
    ours = getattr(regularizers, name)(**kwargs)(torch.tensor(array))
    assert float(ours) == pytest.approx(float(theirs), rel=1e-6)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_matches_keras_with_a_zero_vector(keras, mode):
    # Keras caps the reciprocal norm at 1/epsilon, so a zero row/column contributes zero.
    array = _random((4, 4), seed=5)
    if mode == "rows":
        array[1] = 0.0
    else:
        array[:, 2] = 0.0
    want = float(keras.regularizers.OrthogonalRegularizer(0.3, mode=mode)(torch.tensor(array)))
    got = float(OrthogonalRegularizer(0.3, mode=mode)(torch.tensor(array)))
    assert got == pytest.approx(want, rel=1e-6)


def test_orthogonal_regularizer_values():
    assert float(OrthogonalRegularizer(1.0)(torch.eye(3))) == 0.0
    # Parallel rows: every cosine is 1, the mean over pairs is 1, times factor * 0.5 * 2.
    assert float(OrthogonalRegularizer(0.5)(torch.ones(3, 2))) == pytest.approx(0.5)
    assert math.isnan(float(OrthogonalRegularizer(1.0, mode="columns")(torch.ones(3, 1))))


def test_measured_defaults():
    x = torch.ones(2, 5)
    assert float(L2()(x)) == pytest.approx(0.1)  # 0.01 * 10
    assert float(L1()(x)) == pytest.approx(0.1)
    assert regularizers.get("l2").l2 == 0.01
    assert regularizers.get("l1").l1 == 0.01
    assert float(L2(0.5)(torch.tensor([[1.0, 2.0], [3.0, 0.0]]))) == pytest.approx(7.0)
    assert (L1L2().l1, L1L2().l2) == (0.0, 0.0)
    assert float(L1L2()(x)) == 0.0
    assert L1(None).l1 == 0.01 and L2(None).l2 == 0.01
    assert (L1L2(l1=None, l2=None).l1, L1L2(l1=None, l2=None).l2) == (0.0, 0.0)
    assert (OrthogonalRegularizer().factor, OrthogonalRegularizer().mode) == (0.01, "rows")


@pytest.mark.parametrize(
    ("identifier", "cls"),
    [
        ("l1", "L1"),
        ("l2", "L2"),
        ("l1l2", "L1L2"),
        ("orthogonal_regularizer", "OrthogonalRegularizer"),
        ("L1", "L1"),
        ("L2", "L2"),
        ("L1L2", "L1L2"),
        ("OrthogonalRegularizer", "OrthogonalRegularizer"),
    ],
)
def test_names_resolve_as_in_keras(keras, identifier, cls):
    ours = regularizers.get(identifier)
    theirs = keras.regularizers.get(identifier)
    assert type(ours).__name__ == type(theirs).__name__ == cls
    assert ours.get_config().keys() == theirs.get_config().keys()
    for key, value in theirs.get_config().items():
        assert ours.get_config()[key] == pytest.approx(value) if isinstance(value, float) else value


def test_l1_l2_string_uses_the_documented_factors():
    # Keras documents `kernel_regularizer="l1_l2"` as l1=l2=0.01 (Keras 3.15 rejects it).
    reg = regularizers.get("l1_l2")
    assert isinstance(reg, L1L2) and (reg.l1, reg.l2) == (0.01, 0.01)


def test_snake_case_aliases_are_the_classes():
    assert regularizers.l1 is L1 and regularizers.l2 is L2
    assert regularizers.l1_l2 is L1L2 and regularizers.orthogonal_regularizer is OrthogonalRegularizer


def test_get_passes_objects_through_and_instantiates_classes():
    reg = L2(0.3)
    assert regularizers.get(reg) is reg
    assert regularizers.get(None) is None

    def penalty(x):
        return x.sum()

    assert regularizers.get(penalty) is penalty
    assert isinstance(regularizers.get(L1), L1) and regularizers.get(L1).l1 == 0.01
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.25}}).l2 == 0.25


def test_get_rejects_unknown_names_and_non_callables():
    with pytest.raises(ValueError, match=r"identifier='l2x'.*Did you mean 'l2'"):
        regularizers.get("l2x")
    with pytest.raises(ValueError, match=r"identifier=3 \(of type int\)"):
        regularizers.get(3)


@pytest.mark.parametrize(
    ("make", "arg"),
    [
        (lambda: L1(-0.1), "l1"),
        (lambda: L2(float("nan")), "l2"),
        (lambda: L1L2(l2=float("inf")), "l2"),
        (lambda: L2("0.1"), "l2"),
        (lambda: L2(True), "l2"),
        (lambda: OrthogonalRegularizer(-1.0), "factor"),
        (lambda: OrthogonalRegularizer(mode="diagonal"), "mode"),
    ],
)
def test_invalid_arguments_are_rejected(make, arg):
    with pytest.raises(ValueError, match=f"Received: {arg}="):
        make()


def test_orthogonal_regularizer_needs_a_matrix():
    with pytest.raises(ValueError, match=r"2-D tensor.*shape \(2, 3, 4\)"):
        OrthogonalRegularizer()(torch.ones(2, 3, 4))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("L1", {"l1": 0.5}), ("L2", {"l2": 0.5}), ("L1L2", {"l1": 0.25, "l2": 0.5}),
     ("OrthogonalRegularizer", {"factor": 0.5, "mode": "columns"})],
)
def test_serialize_matches_keras_and_round_trips_both_ways(keras, name, kwargs):
    ours = getattr(regularizers, name)(**kwargs)
    theirs = getattr(keras.regularizers, name)(**kwargs)
    # Factors chosen exactly representable in float32, so that Keras's configs equal ours.
    assert regularizers.serialize(ours) == keras.regularizers.serialize(theirs)
    rebuilt = regularizers.deserialize(keras.regularizers.serialize(theirs))
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == ours.get_config()
    back = keras.regularizers.deserialize(regularizers.serialize(ours))
    assert type(back).__name__ == name and back.get_config() == theirs.get_config()
    assert regularizers.get(regularizers.serialize(ours)).get_config() == ours.get_config()


def test_serialize_none_and_functions_like_keras(keras):
    assert regularizers.serialize(None) is None

    def weight_penalty(x):
        return 0.1 * x.abs().sum()

    assert regularizers.serialize(weight_penalty) == keras.regularizers.serialize(weight_penalty)
    record = regularizers.serialize(weight_penalty)
    assert regularizers.deserialize(record, custom_objects={"weight_penalty": weight_penalty}) is weight_penalty
    with pytest.raises(ValueError, match="lambda"):
        regularizers.serialize(lambda x: x.sum())


def test_deserialize_accepts_names_and_custom_objects():
    assert isinstance(regularizers.deserialize("l2"), L2)

    class Scaled(Regularizer):
        def __init__(self, scale=1.0):
            self.scale = scale

        def __call__(self, x):
            return self.scale * x.sum()

        def get_config(self):
            return {"scale": self.scale}

    record = regularizers.serialize(Scaled(2.0))
    assert record["class_name"] == "Scaled" and record["config"] == {"scale": 2.0}
    rebuilt = regularizers.deserialize(record, custom_objects={"Scaled": Scaled})
    assert isinstance(rebuilt, Scaled) and rebuilt.scale == 2.0
    assert isinstance(regularizers.deserialize("Scaled", custom_objects={"Scaled": Scaled}), Scaled)


def test_registered_custom_regularizer_loads_without_custom_objects():
    @register_keras_serializable(package="kfit_tests")
    class Half(Regularizer):
        def __call__(self, x):
            return 0.5 * x.sum()

        def get_config(self):
            return {}

    record = regularizers.serialize(Half())
    assert record["registered_name"] == "kfit_tests>Half"
    assert isinstance(regularizers.deserialize(record), Half)


def test_builtins_are_registered_under_keras():
    for cls in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer):
        assert get_registered_object(f"keras>{cls.__name__}") is cls


def test_base_class():
    assert float(Regularizer()(torch.ones(3))) == 0.0
    with pytest.raises(NotImplementedError, match="get_config"):
        Regularizer().get_config()
    assert repr(L1L2(l1=0.5)) == "L1L2(l1=0.5, l2=0.0)"


def test_penalty_keeps_dtype_and_device():
    x = torch.ones(2, 2, dtype=torch.float64)
    for reg in (L1(), L2(), L1L2(0.1, 0.1), OrthogonalRegularizer()):
        assert reg(x).dtype == torch.float64 and reg(x).dim() == 0
