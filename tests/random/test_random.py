"""kfit.random: Keras's shapes, dtypes, distributions and seeding rules (numbers come from torch's RNG)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import kfit.random as krandom
from kfit.random import SeedGenerator
from kfit.utils.rng_utils import set_random_seed

keras = pytest.importorskip("keras")

DRAWS = [
    ("normal", ((3, 4),), {}),
    ("normal", ((2,),), {"mean": 1.0, "stddev": 2.0, "dtype": "float16"}),
    ("uniform", ((3, 4),), {}),
    ("uniform", ((5,),), {"minval": -1.0, "maxval": 2.0, "dtype": "float64"}),
    ("uniform", ((),), {}),
    ("truncated_normal", ((3, 4),), {}),
    ("randint", ((3, 4), 0, 10), {}),
    ("randint", ((6,), -3, 3), {"dtype": "int64"}),
    ("categorical", (np.zeros((2, 3), dtype="float32"), 5), {}),
    ("categorical", (np.zeros((2, 3), dtype="float32"), 5), {"dtype": "int64"}),
    ("gamma", ((4,), 2.0), {}),
    ("beta", ((4,), 2.0, 3.0), {}),
    ("binomial", ((4,), 5, 0.5), {}),
    ("binomial", ((4,), 5, 0.5), {"dtype": "float64"}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), DRAWS, ids=[f"{d[0]}-{d[2]}" for d in DRAWS])
def test_shapes_and_dtypes_match_keras(name: str, args: tuple, kwargs: dict) -> None:
    ours = getattr(krandom, name)(*args, seed=1, **kwargs)
    theirs = getattr(keras.random, name)(*args, seed=1, **kwargs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype


@pytest.mark.parametrize(("name", "args", "kwargs"), DRAWS, ids=[f"{d[0]}-{d[2]}" for d in DRAWS])
def test_seeding_rules(name: str, args: tuple, kwargs: dict) -> None:
    draw = getattr(krandom, name)
    assert torch.equal(draw(*args, seed=7, **kwargs), draw(*args, seed=7, **kwargs))  # an int seed is stateless
    first, second = SeedGenerator(3), SeedGenerator(3)
    a1, a2 = draw(*args, seed=first, **kwargs), draw(*args, seed=first, **kwargs)
    b1, b2 = draw(*args, seed=second, **kwargs), draw(*args, seed=second, **kwargs)
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    set_random_seed(5)
    unseeded = draw(*args, **kwargs)
    set_random_seed(5)
    assert torch.equal(unseeded, draw(*args, **kwargs))


def test_a_seed_generator_draws_new_numbers_each_time() -> None:
    gen = SeedGenerator(11)
    draws = [krandom.normal((8,), seed=gen) for _ in range(3)]
    assert not torch.equal(draws[0], draws[1]) and not torch.equal(draws[1], draws[2])
    assert gen.counter == 3 and gen.state.tolist() == [11, 3]
    assert not torch.equal(krandom.normal((8,), seed=1), krandom.normal((8,), seed=2))


def test_seed_generator_naming_and_config_round_trip() -> None:
    gen = SeedGenerator(42, name="my_seed")
    clone = SeedGenerator.from_config(gen.get_config())
    assert gen.get_config() == {"seed": 42, "name": "my_seed"} == clone.get_config()
    assert torch.equal(krandom.uniform((4,), seed=gen), krandom.uniform((4,), seed=clone))
    auto = SeedGenerator()
    assert auto.name.startswith("seed_generator") and auto.get_config()["seed"] is None
    assert isinstance(auto.seed, int)
    set_random_seed(3)
    a = SeedGenerator()
    set_random_seed(3)
    assert SeedGenerator().seed == a.seed
    assert krandom.seed_generator.SeedGenerator is SeedGenerator
    assert keras.random.SeedGenerator(1).next().tolist() == SeedGenerator(1).next().tolist()


def test_distributions_have_the_right_moments_and_support() -> None:
    n = 20000
    normal = krandom.normal((n,), mean=2.0, stddev=3.0, seed=1)
    assert abs(normal.mean().item() - 2.0) < 0.1 and abs(normal.std().item() - 3.0) < 0.1
    uniform = krandom.uniform((n,), minval=-1.0, maxval=3.0, seed=2)
    assert uniform.min() >= -1.0 and uniform.max() < 3.0 and abs(uniform.mean().item() - 1.0) < 0.05
    tensor_bounds = krandom.uniform((2, 2), minval=torch.tensor([0.0, 10.0]), maxval=torch.tensor([1.0, 11.0]), seed=3)
    assert (tensor_bounds[:, 1] >= 10).all() and (tensor_bounds[:, 0] < 1).all()
    truncated = krandom.truncated_normal((n,), mean=1.0, stddev=0.5, seed=4)
    assert truncated.min() >= 0.0 and truncated.max() <= 2.0
    assert abs(truncated.std().item() - 0.5 * 0.8796) < 0.01  # the std of N(0, 1) cut at +-2 is 0.8796
    integers = krandom.randint((n,), 2, 6, seed=5)
    counts = torch.bincount(integers.long())[2:]
    assert integers.min() == 2 and integers.max() == 5 and (counts > n / 4 * 0.9).all()
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.7]]))
    classes = krandom.categorical(logits, n, seed=6)
    np.testing.assert_allclose(torch.bincount(classes[0].long(), minlength=3).numpy() / n, [0.1, 0.2, 0.7], atol=0.02)
    assert abs(krandom.gamma((n,), 3.0, seed=7).mean().item() - 3.0) < 0.1
    assert abs(krandom.beta((n,), 2.0, 6.0, seed=8).mean().item() - 0.25) < 0.01
    assert abs(krandom.binomial((n,), 10, 0.3, seed=9).mean().item() - 3.0) < 0.1


def test_dropout_zeroes_at_the_rate_and_rescales() -> None:
    x = torch.ones(200, 100)
    for seed in (None, 3, SeedGenerator(4), SeedGenerator()):
        out = krandom.dropout(x, 0.3, seed=seed)
        assert abs((out == 0).float().mean().item() - 0.3) < 0.02
        assert torch.allclose(out[out != 0], torch.tensor(1 / 0.7))
    shared = krandom.dropout(x, 0.5, noise_shape=(1, None), seed=1)
    assert torch.equal(shared[0], shared[-1])
    assert torch.equal(krandom.dropout(x, 0.0), x) and not krandom.dropout(x, 1.0).any()
    assert torch.equal(krandom.dropout(x, 0.4, seed=2), krandom.dropout(x, 0.4, seed=2))


def test_shuffle_permutes_along_an_axis() -> None:
    x = torch.arange(24).reshape(6, 4)
    rows = krandom.shuffle(x, seed=1)
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, x.tolist()))
    columns = krandom.shuffle(x, axis=1, seed=2)
    assert torch.equal(columns.sort(dim=1).values, x)
    assert torch.equal(columns[:, :1] - columns[:1, :1], x[:, :1] - x[:1, :1])  # one permutation for every row
    assert krandom.shuffle(np.arange(5), seed=0).dtype == keras.random.shuffle(np.arange(5), seed=0).dtype


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: krandom.uniform((2,), dtype="int32"), ValueError, "floating point"),
        (lambda: krandom.normal((2,), dtype="int32"), ValueError, "floating point"),
        (lambda: krandom.randint((2,), 0, 3, dtype="float32"), ValueError, "integer"),
        (lambda: krandom.normal((2,), seed="x"), ValueError, "SeedGenerator"),
        (lambda: krandom.categorical(torch.zeros(3), 2), ValueError, "2-D"),
        (lambda: krandom.dropout(torch.ones(2), 1.5), ValueError, "rate"),
        (lambda: SeedGenerator(1.5), ValueError, "int `seed`"),
        (lambda: SeedGenerator(1, bogus=2), ValueError, "bogus"),
        (lambda: set_random_seed("1"), ValueError, "int `seed`"),
    ],
)
def test_bad_arguments_raise(call, error, match) -> None:
    with pytest.raises(error, match=match) as info:
        call()
    assert "Received" in str(info.value)
