"""Initializers: Keras 3's names, defaults, fans and distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kfit import initializers
from kfit.backend import config as backend_config
from kfit.initializers import _compute_fans

keras = pytest.importorskip("keras")

TRUNC_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def _std_close(values: torch.Tensor, expected: float, rel: float = 0.03) -> None:
    assert values.double().std().item() == pytest.approx(expected, rel=rel)


# ---------------------------------------------------------------- fans
@pytest.mark.parametrize("shape", [(), (7,), (5, 9), (3, 3, 4, 8), (2, 3, 5, 4, 6), (4, 1, 2)])
def test_fans_match_keras(shape):
    from keras.src.initializers.random_initializers import compute_fans

    assert _compute_fans(shape) == compute_fans(shape)
    if len(shape) >= 3:
        axes = ([0, 1], [len(shape) - 1])
        assert _compute_fans(shape, *axes) == compute_fans(shape, *axes)


# ---------------------------------------------------------------- variance scaling family
@pytest.mark.parametrize(
    "cls,shape,fan",
    [
        (initializers.GlorotUniform, (200, 300), lambda fi, fo: (fi + fo) / 2),
        (initializers.HeUniform, (3, 3, 32, 64), lambda fi, fo: fi / 2),
        (initializers.LecunUniform, (400, 100), lambda fi, fo: fi),
    ],
)
def test_uniform_variants_have_keras_limits(cls, shape, fan):
    fan_in, fan_out = _compute_fans(shape)
    limit = math.sqrt(3.0 / fan(fan_in, fan_out))
    values = cls()(shape)
    assert values.shape == shape and values.dtype == torch.float32
    assert values.abs().max().item() <= limit
    assert values.abs().max().item() >= 0.99 * limit
    _std_close(values, limit / math.sqrt(3))


def test_glorot_uniform_bound_is_sqrt_6_over_fans():
    values = initializers.GlorotUniform()((50, 70))
    assert values.abs().max().item() <= math.sqrt(6 / (50 + 70))


@pytest.mark.parametrize(
    "cls,shape,variance",
    [
        (initializers.GlorotNormal, (200, 300), lambda fi, fo: 2 / (fi + fo)),
        (initializers.HeNormal, (3, 3, 32, 64), lambda fi, fo: 2 / fi),
        (initializers.LecunNormal, (400, 100), lambda fi, fo: 1 / fi),
    ],
)
def test_normal_variants_have_keras_stddev_and_truncation(cls, shape, variance):
    fan_in, fan_out = _compute_fans(shape)
    stddev = math.sqrt(variance(fan_in, fan_out))
    values = cls()(shape)
    _std_close(values, stddev)
    assert values.abs().max().item() <= 2 * stddev / TRUNC_STD + 1e-6
    assert abs(values.double().mean().item()) < 0.05 * stddev


def test_variance_scaling_modes_and_distributions():
    init = initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )
    values = init((100, 400))
    _std_close(values, math.sqrt(2.0 / 400))
    assert values.abs().max().item() > 2 * math.sqrt(2.0 / 400)  # not truncated

    uniform = initializers.VarianceScaling(mode="fan_avg", distribution="uniform")((100, 300))
    assert uniform.abs().max().item() <= math.sqrt(3.0 / 200)

    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    axes = initializers.VarianceScaling(distribution="uniform", input_axes=[0], output_axes=[1, 2])
    assert axes((500, 2, 3)).abs().max().item() <= math.sqrt(3.0 / 500)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"scale": 0.0}, "`scale` to be a positive number"),
        ({"mode": "fan_sum"}, r"`mode` to be one of \['fan_in', 'fan_out', 'fan_avg'\]"),
        ({"distribution": "gamma"}, "`distribution` to be one of"),
    ],
)
def test_variance_scaling_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        initializers.VarianceScaling(**kwargs)


# ---------------------------------------------------------------- plain random
def test_random_uniform_normal_and_truncated_normal():
    uniform = initializers.RandomUniform(-0.5, 1.5)((200_000,))
    assert uniform.min().item() >= -0.5 and uniform.max().item() < 1.5
    assert uniform.double().mean().item() == pytest.approx(0.5, abs=0.01)

    normal = initializers.RandomNormal(mean=2.0, stddev=0.5)((200_000,))
    assert normal.double().mean().item() == pytest.approx(2.0, abs=0.01)
    _std_close(normal, 0.5, rel=0.01)

    truncated = initializers.TruncatedNormal(mean=1.0, stddev=0.5)((200_000,))
    assert truncated.min().item() >= 0.0 and truncated.max().item() <= 2.0
    assert truncated.double().mean().item() == pytest.approx(1.0, abs=0.01)
    _std_close(truncated, 0.5 * TRUNC_STD, rel=0.01)


def test_keras_defaults_for_random_initializers():
    for name in ("RandomUniform", "RandomNormal", "TruncatedNormal"):
        ours, theirs = getattr(initializers, name)(), getattr(keras.initializers, name)()
        assert ours.get_config() == theirs.get_config()
    small = initializers.RandomUniform()((10_000,))
    assert small.abs().max().item() <= 0.05


# ---------------------------------------------------------------- seeds and dtypes
def test_seeded_initializers_repeat_and_unseeded_follow_torch_rng():
    seeded = initializers.HeNormal(seed=3)
    assert torch.equal(seeded((20, 20)), seeded((20, 20)))
    assert torch.equal(seeded((20, 20)), initializers.HeNormal(seed=3)((20, 20)))
    assert not torch.equal(seeded((20, 20)), initializers.HeNormal(seed=4)((20, 20)))

    unseeded = initializers.GlorotUniform()
    assert not torch.equal(unseeded((20, 20)), unseeded((20, 20)))
    torch.manual_seed(11)
    first = unseeded((20, 20))
    torch.manual_seed(11)
    assert torch.equal(first, unseeded((20, 20)))


def test_seed_does_not_touch_global_rng():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    initializers.RandomNormal(seed=1)((100,))
    assert torch.equal(torch.rand(3), expected)


def test_invalid_seed():
    with pytest.raises(ValueError, match=r"`seed` to be an integer or None.*seed='x'"):
        initializers.RandomNormal(seed="x")


@pytest.mark.parametrize("dtype", ["float64", torch.float64, "float16", torch.bfloat16])
def test_dtypes(dtype):
    expected = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    for init in (initializers.GlorotNormal(), initializers.Orthogonal(), initializers.Zeros()):
        assert init((4, 4), dtype=dtype).dtype == expected


def test_default_dtype_follows_floatx(monkeypatch):
    monkeypatch.setattr(backend_config, "_FLOATX", "float64")
    assert initializers.Ones()((2,)).dtype == torch.float64
    assert initializers.HeUniform()((2, 2)).dtype == torch.float64


def test_dtype_errors():
    with pytest.raises(ValueError, match="floating-point dtype"):
        initializers.RandomUniform()((2,), dtype="int32")
    with pytest.raises(ValueError, match=r"`dtype`.*Received: dtype='floaty'"):
        initializers.Zeros()((2,), dtype="floaty")
    assert initializers.Zeros()((2,), dtype="int64").dtype == torch.int64


def test_device_argument():
    assert initializers.GlorotUniform()((3, 3), device="meta").device.type == "meta"
    assert initializers.Constant(2.0)((2,), device="cpu").device.type == "cpu"


def test_shape_errors():
    with pytest.raises(ValueError, match="`shape` to be a sequence of non-negative integers"):
        initializers.Zeros()((2, -1))


# ---------------------------------------------------------------- deterministic ones
def test_constant_zeros_ones_identity():
    assert initializers.Zeros()((2, 3)).eq(0).all()
    assert initializers.Ones()((2, 3)).eq(1).all()
    assert initializers.Constant(np.float32(0.5))((2,)).tolist() == [0.5, 0.5]
    identity = initializers.Identity(gain=3.0)((3, 2))
    np.testing.assert_array_equal(identity.numpy(), 3.0 * np.eye(3, 2))
    with pytest.raises(ValueError, match="2-D for the Identity initializer"):
        initializers.Identity()((2, 2, 2))
    with pytest.raises(ValueError, match="`value` to be a scalar number"):
        initializers.Constant([1.0, 2.0])


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 8)])
def test_orthogonal(shape):
    values = initializers.Orthogonal(gain=2.0, seed=1)(shape)
    assert values.shape == shape
    matrix = values.reshape(-1, shape[-1]) / 2.0
    small = min(matrix.shape)
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    np.testing.assert_allclose(gram.numpy(), np.eye(small), atol=1e-5)
    with pytest.raises(ValueError, match="rank >= 2"):
        initializers.Orthogonal()((4,))


# ---------------------------------------------------------------- get / config
@pytest.mark.parametrize(
    "name,cls",
    [
        ("glorot_uniform", initializers.GlorotUniform),
        ("GlorotUniform", initializers.GlorotUniform),
        ("glorot_normal", initializers.GlorotNormal),
        ("he_normal", initializers.HeNormal),
        ("he_uniform", initializers.HeUniform),
        ("lecun_normal", initializers.LecunNormal),
        ("lecun_uniform", initializers.LecunUniform),
        ("zeros", initializers.Zeros),
        ("zero", initializers.Zeros),
        ("ones", initializers.Ones),
        ("constant", initializers.Constant),
        ("random_normal", initializers.RandomNormal),
        ("normal", initializers.RandomNormal),
        ("uniform", initializers.RandomUniform),
        ("truncated_normal", initializers.TruncatedNormal),
        ("variance_scaling", initializers.VarianceScaling),
        ("orthogonal", initializers.Orthogonal),
        ("identity", initializers.Identity),
        ("HE_NORMAL", initializers.HeNormal),
    ],
)
def test_get_by_name(name, cls):
    assert type(initializers.get(name)) is cls
    # Keras itself cannot build a bare "constant" (its from_config needs a value).
    if name.islower() and name not in ("zero", "normal", "uniform", "constant"):
        assert type(keras.initializers.get(name)).__name__ == cls.__name__


def test_get_other_identifiers():
    init = initializers.HeNormal()
    assert initializers.get(init) is init
    assert initializers.get(None) is None
    assert isinstance(initializers.get(initializers.Ones), initializers.Ones)
    fn = lambda shape, dtype=None, device=None: torch.zeros(shape)  # noqa: E731
    assert initializers.get(fn) is fn
    restored = initializers.get({"class_name": "RandomNormal", "config": {"stddev": 2.0}})
    assert isinstance(restored, initializers.RandomNormal) and restored.stddev == 2.0
    array = np.arange(6, dtype="float32").reshape(2, 3)
    from_array = initializers.get(array)
    assert from_array((2, 3), dtype="float64").tolist() == array.tolist()
    with pytest.raises(ValueError, match=r"initial array's shape \(2, 3\)"):
        from_array((3, 2))


def test_get_errors():
    with pytest.raises(ValueError, match=r"'glorot_unifrom'.*Did you mean 'glorot_uniform'"):
        initializers.get("glorot_unifrom")
    with pytest.raises(TypeError, match=r"Received: identifier=3 \(of type int\)"):
        initializers.get(3)


@pytest.mark.parametrize(
    "factory",
    [
        lambda m: m.Zeros(),
        lambda m: m.Ones(),
        lambda m: m.Constant(2.5),
        lambda m: m.RandomUniform(-1.0, 1.0, seed=2),
        lambda m: m.RandomNormal(0.5, 2.0, seed=3),
        lambda m: m.TruncatedNormal(seed=4),
        lambda m: m.VarianceScaling(scale=2.0, mode="fan_avg", distribution="uniform", seed=5),
        lambda m: m.GlorotUniform(seed=6),
        lambda m: m.GlorotNormal(),
        lambda m: m.HeUniform(),
        lambda m: m.HeNormal(seed=7),
        lambda m: m.LecunUniform(),
        lambda m: m.LecunNormal(),
        lambda m: m.Orthogonal(gain=0.5, seed=8),
    ],
)
def test_config_and_serialization_match_keras(factory):
    ours, theirs = factory(initializers), factory(keras.initializers)
    assert initializers.serialize(ours) == keras.initializers.serialize(theirs)
    restored = initializers.deserialize(keras.initializers.serialize(theirs))
    assert type(restored) is type(ours) and restored.get_config() == ours.get_config()
    assert ours.clone().get_config() == ours.get_config()


def test_identity_keeps_gain_in_config():
    # Keras's Identity omits `gain` from its config (a reload resets it to 1); kfit keeps it.
    assert initializers.Identity(gain=2.0).get_config() == {"gain": 2.0}
    saved = keras.initializers.serialize(keras.initializers.Identity())
    assert initializers.deserialize(saved).gain == 1.0


def test_exports():
    assert initializers.glorot_uniform is initializers.GlorotUniform
    expected = {"get", "serialize", "deserialize", "Initializer", "Orthogonal"}
    assert expected <= set(initializers.__all__)
    with pytest.raises(NotImplementedError, match="must implement"):
        initializers.Initializer()((1,))
