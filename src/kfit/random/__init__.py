"""`kfit.random`: Keras's random ops (`keras.random`) and the `SeedGenerator` that seeds them."""

from kfit.random import seed_generator
from kfit.random.random import (
    beta,
    binomial,
    categorical,
    dropout,
    gamma,
    normal,
    randint,
    shuffle,
    truncated_normal,
    uniform,
)
from kfit.random.seed_generator import SeedGenerator

__all__ = [
    "SeedGenerator",
    "beta",
    "binomial",
    "categorical",
    "dropout",
    "gamma",
    "normal",
    "randint",
    "seed_generator",
    "shuffle",
    "truncated_normal",
    "uniform",
]
