"""Random ops (`keras.random`) drawn with torch's generators.

The `seed` argument of every op is one of:

- `None`: torch's global generator; new numbers at each call, repeatable after
  `kfit.utils.set_random_seed`.
- an int: the same numbers at every call with that int (a stateless seed).
- a `SeedGenerator`: new numbers at each call; two generators built with one seed give one sequence.

The numbers differ from Keras's (another random number generator), but the distributions,
shapes, dtypes and reproducibility rules are Keras's. New tensors are created on kfit's device
(`kfit.ops.operands.creation_device()`); `dropout` and `shuffle` stay on their input's device.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as tnn

from kfit.ops.dtypes import is_float_dtype, is_int_dtype, standardize_dtype, to_torch_dtype
from kfit.ops.operands import convert_to_tensor, creation_device
from kfit.random.seed_generator import SeedGenerator, mix_seed
from kfit.utils.errors import received

__all__ = [
    "beta",
    "binomial",
    "categorical",
    "dropout",
    "gamma",
    "normal",
    "randint",
    "shuffle",
    "truncated_normal",
    "uniform",
]


def _generator(seed: Any, device: torch.device) -> torch.Generator | None:
    """The generator for one draw, or None for torch's global one (and on the meta device, which has none)."""
    if seed is None:
        return None
    generator = _seeded_generator(seed, torch.device("cpu") if device.type == "meta" else device)
    return None if device.type == "meta" else generator


def _seeded_generator(seed: Any, device: torch.device) -> torch.Generator:
    if isinstance(seed, SeedGenerator):
        return seed.torch_generator(device)
    if isinstance(seed, int) and not isinstance(seed, bool):
        generator = torch.Generator(device=device)
        generator.manual_seed(mix_seed(seed, 0))
        return generator
    raise ValueError(
        f"Expected `seed` to be None, an int or a `SeedGenerator`. {received('seed', seed)} "
        "Pass e.g. seed=1337, or keep a kfit.random.SeedGenerator on your layer and pass that."
    )


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(s) for s in shape)


def _float_dtype(dtype: Any, op: str) -> torch.dtype:
    if dtype is not None and not is_float_dtype(dtype):
        raise ValueError(
            f"Expected a floating point `dtype` for `kfit.random.{op}`. {received('dtype', dtype)} "
            "Pass e.g. dtype='float32', or use `randint` for integers."
        )
    return to_torch_dtype(dtype)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples from a normal distribution `N(mean, stddev**2)` (`floatx()` unless `dtype` is given).

    Raises:
        ValueError: for a non-float `dtype` or a bad `seed`.

    Example:
        >>> a, b = normal((2, 3), seed=1), normal((2, 3), seed=1)
        >>> a.shape, a.dtype, bool(torch.equal(a, b))
        (torch.Size([2, 3]), torch.float32, True)
    """
    out_dtype = _float_dtype(dtype, "normal")
    device = creation_device()
    samples = torch.empty(_shape(shape), dtype=out_dtype, device=device)
    generator = _generator(seed, device)
    if _is_number(mean) and _is_number(stddev):
        return samples.normal_(float(mean), float(stddev), generator=generator)
    samples.normal_(generator=generator)
    return samples * convert_to_tensor(stddev, out_dtype, device) + convert_to_tensor(mean, out_dtype, device)


def truncated_normal(
    shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None
) -> torch.Tensor:
    """Samples from a normal distribution cut at two standard deviations from `mean` (values redrawn, not clipped).

    Example:
        >>> bool(truncated_normal((1000,), seed=0).abs().max() <= 2.0)
        True
    """
    out_dtype = _float_dtype(dtype, "truncated_normal")
    device = creation_device()
    samples = torch.empty(_shape(shape), dtype=out_dtype, device=device)
    std = float(stddev)
    return torch.nn.init.trunc_normal_(
        samples, float(mean), std, float(mean) - 2 * std, float(mean) + 2 * std, generator=_generator(seed, device)
    )


def uniform(shape: Any, minval: Any = 0.0, maxval: Any = 1.0, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples uniformly from `[minval, maxval)` (`floatx()` unless `dtype` is given).

    Raises:
        ValueError: for a non-float `dtype` (use `randint` for integers).

    Example:
        >>> x = uniform((1000,), minval=2.0, maxval=3.0, seed=0)
        >>> bool(x.min() >= 2.0), bool(x.max() < 3.0)
        (True, True)
    """
    out_dtype = _float_dtype(dtype, "uniform")
    device = creation_device()
    samples = torch.empty(_shape(shape), dtype=out_dtype, device=device)
    generator = _generator(seed, device)
    if _is_number(minval) and _is_number(maxval):
        return samples.uniform_(float(minval), float(maxval), generator=generator)
    low = convert_to_tensor(minval, out_dtype, device)
    high = convert_to_tensor(maxval, out_dtype, device)
    return samples.uniform_(generator=generator) * (high - low) + low


def randint(shape: Any, minval: int, maxval: int, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """Samples integers uniformly from `[minval, maxval)`.

    Raises:
        ValueError: for a non-integer `dtype`.

    Example:
        >>> x = randint((100,), 0, 3, seed=0)
        >>> x.dtype, sorted(set(x.tolist()))
        (torch.int32, [0, 1, 2])
    """
    if dtype is None or not is_int_dtype(dtype):
        raise ValueError(
            f"Expected an integer `dtype` for `kfit.random.randint`. {received('dtype', dtype)} "
            "Pass e.g. dtype='int32'."
        )
    device = creation_device()
    return torch.randint(
        int(minval), int(maxval), _shape(shape), generator=_generator(seed, device), dtype=to_torch_dtype(dtype),
        device=device,
    )


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """Draws `num_samples` class indices per row of 2-D unnormalized log-probabilities `logits`.

    Raises:
        ValueError: if `logits` is not 2-D `(batch, num_classes)`.

    Example:
        >>> categorical(torch.tensor([[0.0, 100.0]]), 3, seed=0)
        tensor([[1, 1, 1]], dtype=torch.int32)
    """
    logits = convert_to_tensor(logits)
    if logits.dim() != 2:
        raise ValueError(
            f"Expected 2-D `logits` of shape (batch_size, num_classes). Received: logits.shape={tuple(logits.shape)}. "
            "Add a batch axis with `expand_dims(logits, 0)`."
        )
    probabilities = torch.softmax(logits.float(), dim=-1)
    draws = torch.multinomial(
        probabilities, int(num_samples), replacement=True, generator=_generator(seed, logits.device)
    )
    return draws.to(to_torch_dtype(dtype))


def dropout(inputs: Any, rate: float, noise_shape: Any = None, seed: Any = None) -> torch.Tensor:
    """Zeroes each value with probability `rate` and scales the others by `1 / (1 - rate)`.

    `noise_shape` (None entries take the input's size) shares one mask along its size-1 axes.
    Without a seed and `noise_shape` this is torch's fused `F.dropout`.

    Raises:
        ValueError: for a `rate` outside [0, 1].

    Example:
        >>> x = dropout(torch.ones(2, 4), 0.5, noise_shape=(1, 4), seed=0)
        >>> bool(torch.equal(x[0], x[1])), sorted(set(x.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        (True, True)
    """
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"Expected a dropout `rate` in [0, 1]. {received('rate', rate)} Pass e.g. rate=0.5.")
    x = convert_to_tensor(inputs)
    if rate == 1.0:
        return torch.zeros_like(x)
    if rate == 0.0:
        return x
    unseeded = seed is None or (isinstance(seed, SeedGenerator) and seed.initial_seed is None)
    if unseeded and noise_shape is None:
        return tnn.dropout(x, float(rate), training=True)
    keep = 1.0 - float(rate)
    shape = x.shape if noise_shape is None else tuple(
        x.shape[i] if size is None else int(size) for i, size in enumerate(noise_shape)
    )
    mask = torch.empty(shape, device=x.device).bernoulli_(keep, generator=_generator(seed, x.device)).bool()
    return torch.where(mask, x / keep, torch.zeros((), dtype=x.dtype, device=x.device))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> torch.Tensor:
    """`x` with its slices along `axis` in a random order (one permutation for the whole axis).

    Example:
        >>> sorted(shuffle(torch.arange(5), seed=0).tolist())
        [0, 1, 2, 3, 4]
    """
    x = convert_to_tensor(x)
    order = torch.randperm(x.shape[axis], generator=_generator(seed, x.device), device=x.device)
    return torch.index_select(x, axis, order)


def _with_seed(seed: Any, device: torch.device, sample: Any) -> torch.Tensor:
    """Runs `sample()` on the global generator, re-seeded (on the host) for a seeded draw and restored after."""
    if seed is None:
        return sample(device)
    generator = _seeded_generator(seed, torch.device("cpu"))
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.set_state(generator.get_state())
        return sample(torch.device("cpu")).to(device)


def gamma(shape: Any, alpha: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples from a gamma distribution with concentration `alpha` and rate 1.

    Example:
        >>> gamma((2,), 2.0, seed=0).shape
        torch.Size([2])
    """
    out_dtype = _float_dtype(dtype, "gamma")
    size = _shape(shape)

    def sample(device: torch.device) -> torch.Tensor:
        concentration = torch.broadcast_to(convert_to_tensor(alpha, torch.float32, device), size)
        return torch.distributions.Gamma(concentration, torch.ones_like(concentration)).sample()

    return _with_seed(seed, creation_device(), sample).to(out_dtype)


def beta(shape: Any, alpha: Any, beta: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples from a beta distribution with concentrations `alpha` and `beta`.

    Example:
        >>> x = beta((100,), 2.0, 3.0, seed=0)
        >>> bool(((x > 0) & (x < 1)).all())
        True
    """
    out_dtype = _float_dtype(dtype, "beta")
    size = _shape(shape)

    def sample(device: torch.device) -> torch.Tensor:
        a = torch.broadcast_to(convert_to_tensor(alpha, torch.float32, device), size)
        b = torch.broadcast_to(convert_to_tensor(beta, torch.float32, device), size)
        return torch.distributions.Beta(a, b).sample()

    return _with_seed(seed, creation_device(), sample).to(out_dtype)


def binomial(shape: Any, counts: Any, probabilities: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples the number of successes in `counts` trials of success probability `probabilities`.

    The result is `floatx()` unless `dtype` is given (as in Keras).

    Example:
        >>> x = binomial((100,), 5, 0.5, seed=0)
        >>> x.dtype, bool(((x >= 0) & (x <= 5)).all())
        (torch.float32, True)
    """
    device = creation_device()
    size = _shape(shape)
    n = torch.broadcast_to(convert_to_tensor(counts, torch.float32, device), size)
    p = torch.broadcast_to(convert_to_tensor(probabilities, torch.float32, device), size)
    draws = torch.binomial(n.contiguous(), p.contiguous(), generator=_generator(seed, device))
    return draws.to(to_torch_dtype(standardize_dtype(dtype)))
