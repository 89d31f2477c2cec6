"""LayerNormalization, GroupNormalization and UnitNormalization against Keras 3."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from kfit.layers.embedding import Embedding
from kfit.layers.normalization.group_normalization import GroupNormalization
from kfit.layers.normalization.layer_normalization import LayerNormalization
from kfit.layers.normalization.unit_normalization import UnitNormalization

# The base Layer's keys, which differ between the two base classes; the rest must agree.
_BASE_KEYS = {"name", "trainable", "dtype", "activity_regularizer", "autocast"}


def _keras():
    return pytest.importorskip("keras")


def _pair(name, ours_cls, shape, **kwargs):
    keras = _keras()
    ours, theirs = ours_cls(**kwargs), getattr(keras.layers, name)(**kwargs)
    ours(torch.zeros(shape))
    theirs.build(shape)
    rs = np.random.RandomState(1)
    weights = [(rs.rand(*w.shape) + 0.5).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    return ours, theirs


def _run(layer, x, upstream):
    xt = torch.tensor(x, requires_grad=True)
    out = layer(xt)
    (out * torch.tensor(upstream)).sum().backward()
    weights = [getattr(w, "value", w) for w in layer.trainable_weights]
    return out.detach().numpy(), xt.grad.numpy(), [w.grad.numpy() for w in weights]


def _assert_same_run(ours, theirs, x):
    upstream = np.random.RandomState(2).randn(*x.shape).astype("float32")
    got, want = _run(ours, x, upstream), _run(theirs, x, upstream)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-4)
    assert len(got[2]) == len(want[2])
    for g, w in zip(got[2], want[2]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def _specific_keys(ours, theirs):
    return (
        set(ours.get_config()) - _BASE_KEYS,
        set(theirs.get_config()) - _BASE_KEYS,
    )


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((4, 6), {}),
        ((2, 5, 6), {}),
        ((2, 3, 4, 5), {"axis": [-2, -1]}),
        ((2, 3, 4, 5), {"axis": [1, 3]}),  # not trailing: computed without torch's layer_norm
        ((2, 5, 6), {"center": False}),
        ((2, 5, 6), {"scale": False, "epsilon": 1e-5}),
    ],
)
def test_layer_normalization_matches_keras(shape, kwargs):
    ours, theirs = _pair("LayerNormalization", LayerNormalization, shape, **kwargs)
    x = (np.random.RandomState(0).randn(*shape) * 3 + 1).astype("float32")
    _assert_same_run(ours, theirs, x)


def test_layer_normalization_over_a_middle_axis_normalizes_that_axis():
    # Keras on torch hands axis=1 to torch's layer_norm, which then fails (or, when the last
    # two sizes agree, normalizes the last axis); kfit normalizes axis 1.
    layer = LayerNormalization(axis=1, epsilon=0.0)
    x = np.random.RandomState(0).randn(2, 5, 3).astype("float32")
    out = layer(torch.tensor(x)).detach().numpy()
    want = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    assert tuple(layer.gamma.shape) == (5,)


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
def test_layer_normalization_rms_scaling_matches_keras():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = _pair("LayerNormalization", LayerNormalization, (2, 3, 4), rms_scaling=True)
    assert [w.name for w in ours.weights] == ["gamma"]
    _assert_same_run(ours, theirs, np.random.RandomState(0).randn(2, 3, 4).astype("float32") + 2)


def test_layer_normalization_config_and_axis_list_after_build():
    keras = _keras()
    ours, theirs = LayerNormalization(axis=[2, 1]), keras.layers.LayerNormalization(axis=[2, 1])
    assert ours.get_config()["axis"] == theirs.get_config()["axis"] == [2, 1]
    ours(torch.zeros(2, 3, 4))
    theirs(np.zeros((2, 3, 4), "float32"))
    assert ours.get_config()["axis"] == theirs.get_config()["axis"] == [1, 2]
    assert [tuple(w.shape) for w in ours.weights] == [(3, 4), (3, 4)]
    assert LayerNormalization().get_config()["axis"] == -1
    mine, keras_keys = _specific_keys(ours, theirs)
    assert mine == keras_keys
    rebuilt = LayerNormalization.from_config(ours.get_config())
    assert rebuilt.get_config()["axis"] == [1, 2]


def test_layer_normalization_casts_half_and_integer_inputs_and_passes_masks():
    layer = LayerNormalization()
    assert layer(torch.ones(2, 3, dtype=torch.float16)).dtype == torch.float32
    assert layer(torch.tensor([[1, 2, 3]])).dtype == torch.float32
    embedded = Embedding(5, 4, mask_zero=True)(torch.tensor([[1, 0]]))
    assert LayerNormalization()(embedded)._keras_mask.tolist() == [[True, False]]
    with pytest.raises(TypeError, match="axis"):
        LayerNormalization(axis="last")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="axis"):
        LayerNormalization(axis=3).compute_output_shape((None, 4))
    assert LayerNormalization().compute_output_shape((None, 4, 2)) == (None, 4, 2)


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((2, 8), {"groups": 4}),
        ((2, 5, 6), {"groups": 3}),
        ((2, 3, 4, 6), {"groups": 2}),
        ((2, 6, 3, 4), {"groups": 3, "axis": 1}),  # channels first: torch's group_norm
        ((2, 3, 4, 6), {"groups": -1}),
        ((2, 3, 4, 6), {"groups": 1, "center": False}),
        ((2, 4, 6, 3), {"groups": 2, "axis": 2}),
    ],
)
def test_group_normalization_matches_keras(shape, kwargs):
    ours, theirs = _pair("GroupNormalization", GroupNormalization, shape, **kwargs)
    x = (np.random.RandomState(0).randn(*shape) * 2 - 1).astype("float32")
    _assert_same_run(ours, theirs, x)
    assert ours.get_config()["groups"] == theirs.get_config()["groups"]


def test_group_normalization_defaults_config_and_errors():
    keras = _keras()
    ours, theirs = GroupNormalization(), keras.layers.GroupNormalization()
    assert ours.groups == 32 and ours.epsilon == 1e-3
    mine, keras_keys = _specific_keys(ours, theirs)
    assert mine == keras_keys
    for key in ("groups", "axis", "epsilon", "beta_initializer", "gamma_initializer"):
        assert ours.get_config()[key] == theirs.get_config()[key]
    with pytest.raises(ValueError, match="divide"):
        GroupNormalization()(torch.ones(2, 16))
    with pytest.raises(ValueError, match="divide"):
        GroupNormalization(groups=4)(torch.ones(2, 6))
    for bad in (0, -2, 2.0):
        with pytest.raises(ValueError, match="groups"):
            GroupNormalization(groups=bad)  # type: ignore[arg-type]
    assert GroupNormalization(groups=2).compute_output_shape((None, 3, 4)) == (None, 3, 4)
    rebuilt = GroupNormalization.from_config(GroupNormalization(groups=4, gamma_regularizer="l2").get_config())
    rebuilt(torch.ones(2, 8))
    assert rebuilt.groups == 4 and len(rebuilt.losses) == 1


def test_unit_normalization_matches_keras():
    keras = _keras()
    x = np.random.RandomState(0).randn(2, 3, 4).astype("float32")
    for axis in (-1, [1, 2]):
        ours, theirs = UnitNormalization(axis=axis), keras.layers.UnitNormalization(axis=axis)
        _assert_same_run(ours, theirs, x)
        assert ours.get_config()["axis"] == theirs.get_config()["axis"]
        mine, keras_keys = _specific_keys(ours, theirs)
        assert mine == keras_keys
    layer = UnitNormalization()
    assert layer.weights == []
    # A zero vector stays zero (Keras's gradient there is NaN; this one is finite).
    zero = torch.zeros(1, 3, requires_grad=True)
    out = layer(zero)
    out.sum().backward()
    assert out.tolist() == [[0.0, 0.0, 0.0]] and torch.isfinite(zero.grad).all()
