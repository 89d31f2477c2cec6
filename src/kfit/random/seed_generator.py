"""`SeedGenerator`: a stateful source of seeds for `kfit.random`, as `keras.random.SeedGenerator`.

Keras makes seeded randomness explicit: a layer keeps a `SeedGenerator` and passes it as `seed=`
to every random op, so each call draws new numbers while two generators built with the same seed
draw the same sequence. Here each draw seeds a `torch.Generator` (one per device, reused) from
the pair `(seed, counter)` and advances the counter. The state lives on the host as two Python
ints, so drawing costs no device sync.
"""

from __future__ import annotations

import random as python_random
from typing import Any

import torch

from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.errors import received
from kfit.utils.naming import auto_name

__all__ = ["SeedGenerator", "make_default_seed", "mix_seed"]

_MASK_64 = (1 << 64) - 1


def make_default_seed() -> int:
    """A seed from Python's `random` module, so `set_random_seed` makes unseeded generators repeatable."""
    return python_random.randint(1, int(1e9))


def mix_seed(seed: int, counter: int) -> int:
    """Hashes `(seed, counter)` into a 64-bit torch seed (the splitmix64 finalizer).

    Distinct pairs give unrelated streams, so `SeedGenerator(1)`'s second draw does not
    repeat `SeedGenerator(2)`'s first.

    Example:
        >>> mix_seed(1, 0) != mix_seed(0, 1)
        True
    """
    z = (seed * 0x9E3779B97F4A7C15 + counter + 0x632BE59BD9B4E019) & _MASK_64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK_64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK_64
    return z ^ (z >> 31)


@register_keras_serializable(package="keras")
class SeedGenerator:
    """Generates a new seed at each draw, reproducibly from its initial `seed`.

    Pass it as the `seed` argument of `kfit.random` ops. An int `seed` makes the sequence of
    draws repeatable; `seed=None` picks one with Python's `random` (repeatable after
    `kfit.utils.set_random_seed`).

    Args:
        seed: An int, or None for a random one.
        name: The generator's name; `"seed_generator"`, `"seed_generator_1"`, ... by default.

    Raises:
        ValueError: for a non-int `seed` or an unknown keyword argument.

    Example:
        >>> from kfit.random import normal
        >>> a, b = SeedGenerator(42), SeedGenerator(42)
        >>> first = normal((3,), seed=a)
        >>> bool(torch.equal(first, normal((3,), seed=b))), bool(torch.equal(first, normal((3,), seed=a)))
        (True, False)
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        kwargs.pop("backend", None)  # Keras's alternative backend module: one backend here
        if kwargs:
            raise ValueError(
                f"Expected only `seed` and `name`. Received: unknown keyword arguments {sorted(kwargs)}. "
                "Remove them."
            )
        self.name = auto_name(type(self).__name__) if name is None else name
        self._initial_seed = seed
        if seed is None:
            seed = make_default_seed()
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"Expected an int `seed` or None. {received('seed', seed)} Pass e.g. seed=1337.")
        self.seed = seed
        self.counter = 0
        self._generators: dict[torch.device, torch.Generator] = {}

    @property
    def initial_seed(self) -> int | None:
        """The `seed` given to the constructor (None when the generator picked its own)."""
        return self._initial_seed

    @property
    def state(self) -> torch.Tensor:
        """`[seed, counter]` as an int64 tensor (Keras keeps the same pair in a variable)."""
        return torch.tensor([self.seed, self.counter], dtype=torch.int64)

    def next(self, ordered: bool = True) -> torch.Tensor:
        """Returns the current `[seed, counter]` state and advances to the next one."""
        current = self.state
        self.counter += 1
        return current

    def torch_generator(self, device: torch.device | str = "cpu") -> torch.Generator:
        """A `torch.Generator` on `device` seeded for the next draw (the counter advances).

        Example:
            >>> gen = SeedGenerator(0)
            >>> a = torch.rand(2, generator=gen.torch_generator())
            >>> b = torch.rand(2, generator=gen.torch_generator())
            >>> bool(torch.equal(a, b))
            False
        """
        device = torch.device(device)
        generator = self._generators.get(device)
        if generator is None:
            generator = self._generators[device] = torch.Generator(device=device)
        generator.manual_seed(mix_seed(self.seed, self.counter))
        self.counter += 1
        return generator

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments: the initial `seed` (None if it was drawn) and `name`."""
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeedGenerator:
        """Builds a generator from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<SeedGenerator name={self.name!r} seed={self.seed} counter={self.counter}>"
