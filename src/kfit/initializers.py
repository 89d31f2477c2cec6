"""Weight initializers with Keras 3's names, defaults and fan computations.

Shapes use Keras's layout: a Dense kernel is `(in, out)`, a 2-D conv kernel is
`(kh, kw, in, out)`. Calling an initializer returns a new `torch.Tensor`:
`initializer(shape, dtype=None, device=None)`. Random initializers draw from torch's global
generator (so `torch.manual_seed` makes them reproducible), or, when built with an integer
`seed`, from a private generator seeded afresh at each call, so that, as in Keras, a seeded
initializer returns the same values every time it is called.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from kfit.backend.config import floatx

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "constant",
    "deserialize",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "serialize",
    "truncated_normal",
    "variance_scaling",
    "zeros",
]

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it makes the
# truncated draw have the requested standard deviation.
_TRUNCATED_STD = 0.87962566103423978


def _resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    if dtype is None:
        dtype = floatx()
    if isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None) if isinstance(dtype, str) else None
    if not isinstance(resolved, torch.dtype):
        raise ValueError(
            "Expected `dtype` to be a dtype name such as 'float32' or a torch.dtype. "
            f"Received: dtype={dtype!r} (of type {type(dtype).__name__}). "
            "Pass e.g. dtype='float32' or dtype=torch.float32."
        )
    return resolved


def _resolve_shape(shape: Any) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        dims = None
    if dims is None or any(d < 0 for d in dims):
        raise ValueError(
            "Expected `shape` to be a sequence of non-negative integers. "
            f"Received: shape={shape!r} (of type {type(shape).__name__}). "
            "Pass e.g. shape=(784, 64)."
        )
    return dims


def _compute_fans(
    shape: Sequence[int],
    input_axes: Sequence[int] | None = None,
    output_axes: Sequence[int] | None = None,
) -> tuple[int, int]:
    """Returns `(fan_in, fan_out)` for a kernel in Keras layout, as Keras computes them."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    # Conv kernels (..., in, out): every spatial position contributes to the fans.
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class of initializers: a callable from shape (and dtype, device) to a tensor.

    Subclasses implement `__call__(shape, dtype=None, device=None)` and, when they take
    arguments, `get_config()`.

    Example:
        >>> class Twos(Initializer):
        ...     def __call__(self, shape, dtype=None, device=None):
        ...         return torch.full(shape, 2.0, dtype=_resolve_dtype(dtype), device=device)
        >>> Twos()((2,)).tolist()
        [2.0, 2.0]
    """

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError(
            f"Initializer {type(self).__name__} must implement "
            "`__call__(self, shape, dtype=None, device=None)`."
        )

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-compatible dict.

        Example:
            >>> Zeros().get_config()
            {}
        """
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """Creates an initializer from `get_config()`'s output.

        Example:
            >>> Constant.from_config({"value": 3.0})((1,)).tolist()
            [3.0]
        """
        return cls(**config)

    def clone(self) -> Initializer:
        """Returns a new initializer with the same configuration.

        Example:
            >>> RandomNormal(stddev=2.0).clone().stddev
            2.0
        """
        return type(self).from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """Fills with 0.

    Example:
        >>> Zeros()((2, 2)).sum().item()
        0.0
    """

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        return torch.zeros(_resolve_shape(shape), dtype=_resolve_dtype(dtype), device=device)


class Ones(Initializer):
    """Fills with 1.

    Example:
        >>> Ones()((3,)).tolist()
        [1.0, 1.0, 1.0]
    """

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        return torch.ones(_resolve_shape(shape), dtype=_resolve_dtype(dtype), device=device)


class Constant(Initializer):
    """Fills with a constant scalar.

    Args:
        value: A Python number. Defaults to 0.0.

    Example:
        >>> Constant(0.5)((2,)).tolist()
        [0.5, 0.5]
    """

    def __init__(self, value: float = 0.0) -> None:
        if isinstance(value, (np.generic, np.ndarray)) and np.size(value) == 1:
            value = np.asarray(value).item()
        if not isinstance(value, (int, float)):
            raise ValueError(
                "Expected `value` to be a scalar number. "
                f"Received: value={value!r} (of type {type(value).__name__}). "
                "Pass e.g. Constant(0.1); for a whole array, pass the array to `get()`."
            )
        self.value = value

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        dims = _resolve_shape(shape)
        return torch.full(dims, self.value, dtype=_resolve_dtype(dtype), device=device)

    def get_config(self) -> dict[str, Any]:
        """Returns `{"value": value}`.

        Example:
            >>> Constant(2.0).get_config()
            {'value': 2.0}
        """
        return {"value": self.value}


class Identity(Initializer):
    """The identity matrix (2-D shapes only), times `gain`.

    Args:
        gain: Multiplicative factor. Defaults to 1.0.

    Example:
        >>> Identity(gain=2.0)((2, 3)).tolist()
        [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        dims = _resolve_shape(shape)
        if len(dims) != 2:
            raise ValueError(
                "Expected `shape` to be 2-D for the Identity initializer. "
                f"Received: shape={tuple(dims)!r} (of type tuple, rank {len(dims)}). "
                "Use it for square or rectangular matrices such as Dense kernels."
            )
        eye = torch.eye(dims[0], dims[1], dtype=_resolve_dtype(dtype), device=device)
        return eye.mul_(self.gain)

    def get_config(self) -> dict[str, Any]:
        """Returns `{"gain": gain}`.

        Example:
            >>> Identity().get_config()
            {'gain': 1.0}
        """
        return {"gain": self.gain}


class _RandomInitializer(Initializer):
    """Shared seed handling: global torch RNG when `seed` is None, else a fresh generator."""

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
            raise ValueError(
                "Expected `seed` to be an integer or None. "
                f"Received: seed={seed!r} (of type {type(seed).__name__}). "
                "Pass e.g. seed=42, or None to use torch's global generator."
            )
        self.seed = None if seed is None else int(seed)

    def _empty(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None,
        device: str | torch.device | None,
    ) -> tuple[torch.Tensor, torch.dtype, torch.Generator | None]:
        """Returns an uninitialised float tensor to fill, the requested dtype and the generator."""
        target = _resolve_dtype(dtype)
        if not target.is_floating_point:
            raise ValueError(
                f"Expected `dtype` to be a floating-point dtype for {type(self).__name__}. "
                f"Received: dtype={dtype!r} (of type {type(dtype).__name__}). "
                "Pass e.g. dtype='float32', or use Zeros/Ones/Constant for integer tensors."
            )
        # Half-precision sampling (erfinv, QR) is missing on some devices; draw in float32.
        work = torch.float32 if target in (torch.float16, torch.bfloat16) else target
        tensor = torch.empty(_resolve_shape(shape), dtype=work, device=device)
        generator = None
        if self.seed is not None:
            generator = torch.Generator(device=tensor.device)
            generator.manual_seed(self.seed)
        return tensor, target, generator

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> RandomUniform(seed=1).get_config()["seed"]
            1
        """
        return {"seed": self.seed}


class RandomUniform(_RandomInitializer):
    """Uniform samples in `[minval, maxval)`.

    Args:
        minval: Lower bound. Defaults to -0.05.
        maxval: Upper bound. Defaults to 0.05.
        seed: Optional integer seed (same values at every call).

    Example:
        >>> values = RandomUniform(0.0, 1.0, seed=3)((1000,))
        >>> bool(values.min() >= 0.0 and values.max() < 1.0)
        True
    """

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        tensor, target, generator = self._empty(shape, dtype, device)
        tensor.uniform_(self.minval, self.maxval, generator=generator)
        return tensor.to(target)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> RandomUniform().get_config()
            {'seed': None, 'minval': -0.05, 'maxval': 0.05}
        """
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class RandomNormal(_RandomInitializer):
    """Normal samples with the given mean and standard deviation.

    Args:
        mean: Mean. Defaults to 0.0.
        stddev: Standard deviation. Defaults to 0.05.
        seed: Optional integer seed (same values at every call).

    Example:
        >>> a, b = RandomNormal(seed=7)((3,)), RandomNormal(seed=7)((3,))
        >>> torch.equal(a, b)
        True
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        tensor, target, generator = self._empty(shape, dtype, device)
        tensor.normal_(self.mean, self.stddev, generator=generator)
        return tensor.to(target)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> RandomNormal().get_config()
            {'seed': None, 'mean': 0.0, 'stddev': 0.05}
        """
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


def _truncated_normal_(
    tensor: torch.Tensor, mean: float, stddev: float, generator: torch.Generator | None
) -> torch.Tensor:
    return torch.nn.init.trunc_normal_(
        tensor, mean=mean, std=stddev, a=mean - 2 * stddev, b=mean + 2 * stddev, generator=generator
    )


class TruncatedNormal(_RandomInitializer):
    """Normal samples restricted to two standard deviations around the mean.

    Args:
        mean: Mean of the untruncated normal. Defaults to 0.0.
        stddev: Standard deviation of the untruncated normal. Defaults to 0.05.
        seed: Optional integer seed (same values at every call).

    Example:
        >>> values = TruncatedNormal(stddev=1.0)((1000,))
        >>> bool(values.abs().max() <= 2.0)
        True
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        tensor, target, generator = self._empty(shape, dtype, device)
        return _truncated_normal_(tensor, self.mean, self.stddev, generator).to(target)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> TruncatedNormal().get_config()
            {'seed': None, 'mean': 0.0, 'stddev': 0.05}
        """
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class VarianceScaling(_RandomInitializer):
    """Samples whose scale adapts to the kernel's fan-in and/or fan-out.

    With `n` the fan-in, fan-out or their mean (per `mode`): `"truncated_normal"` draws a
    normal truncated at two standard deviations whose standard deviation after truncation
    is `sqrt(scale / n)`; `"untruncated_normal"` draws a normal with that standard
    deviation; `"uniform"` draws from `[-limit, limit]` with `limit = sqrt(3 * scale / n)`.

    Args:
        scale: Positive scaling factor. Defaults to 1.0.
        mode: `"fan_in"`, `"fan_out"` or `"fan_avg"`. Defaults to `"fan_in"`.
        distribution: `"truncated_normal"` (alias `"normal"`), `"untruncated_normal"` or
            `"uniform"`. Defaults to `"truncated_normal"`.
        seed: Optional integer seed (same values at every call).
        input_axes: Optional axes that count as inputs when computing the fan-in.
        output_axes: Optional axes that count as outputs when computing the fan-out.

    Example:
        >>> init = VarianceScaling(scale=3.0, mode="fan_in", distribution="uniform")
        >>> bool(init((100, 10)).abs().max() <= 0.3)  # limit = sqrt(3 * 3 / 100)
        True
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ) -> None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(
                "Expected `scale` to be a positive number. "
                f"Received: scale={scale!r} (of type {type(scale).__name__}). Pass e.g. scale=2.0."
            )
        if mode not in self._MODES:
            raise ValueError(
                f"Expected `mode` to be one of {list(self._MODES)}. "
                f"Received: mode={mode!r} (of type {type(mode).__name__}). Pass e.g. mode='fan_in'."
            )
        normalized = str(distribution).lower()
        if normalized == "normal":
            normalized = "truncated_normal"
        if normalized not in self._DISTRIBUTIONS:
            raise ValueError(
                f"Expected `distribution` to be one of {list(self._DISTRIBUTIONS)}. "
                f"Received: distribution={distribution!r} (of type {type(distribution).__name__}). "
                "Pass e.g. distribution='uniform'."
            )
        self.scale = scale
        self.mode = mode
        self.distribution = normalized
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        tensor, target, generator = self._empty(shape, dtype, device)
        fan_in, fan_out = _compute_fans(tensor.shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "truncated_normal":
            _truncated_normal_(tensor, 0.0, math.sqrt(variance) / _TRUNCATED_STD, generator)
        elif self.distribution == "untruncated_normal":
            tensor.normal_(0.0, math.sqrt(variance), generator=generator)
        else:
            limit = math.sqrt(3.0 * variance)
            tensor.uniform_(-limit, limit, generator=generator)
        return tensor.to(target)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> VarianceScaling().get_config()["distribution"]
            'truncated_normal'
        """
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A `VarianceScaling` preset; only the seed and the fan axes are configurable."""

    _SCALE = 1.0
    _MODE = "fan_in"
    _DISTRIBUTION = "truncated_normal"

    def __init__(
        self,
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ) -> None:
        super().__init__(
            scale=self._SCALE,
            mode=self._MODE,
            distribution=self._DISTRIBUTION,
            seed=seed,
            input_axes=input_axes,
            output_axes=output_axes,
        )

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> GlorotUniform(seed=1).get_config()
            {'seed': 1, 'input_axes': None, 'output_axes': None}
        """
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: `U(-limit, limit)`, `limit = sqrt(6 / (fan_in + fan_out))`.

    Example:
        >>> bool(GlorotUniform()((30, 30)).abs().max() <= 1 / math.sqrt(10))
        True
    """

    _MODE = "fan_avg"
    _DISTRIBUTION = "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with `stddev = sqrt(2 / (fan_in + fan_out))`.

    Example:
        >>> GlorotNormal(seed=0)((4, 4)).shape
        torch.Size([4, 4])
    """

    _MODE = "fan_avg"


class HeUniform(_FixedVarianceScaling):
    """He uniform: `U(-limit, limit)` with `limit = sqrt(6 / fan_in)`.

    Example:
        >>> bool(HeUniform()((6, 3)).abs().max() <= 1.0)
        True
    """

    _SCALE = 2.0
    _DISTRIBUTION = "uniform"


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal with `stddev = sqrt(2 / fan_in)`.

    Example:
        >>> HeNormal(seed=0)((3, 3, 8, 16)).shape
        torch.Size([3, 3, 8, 16])
    """

    _SCALE = 2.0


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: `U(-limit, limit)` with `limit = sqrt(3 / fan_in)`.

    Example:
        >>> bool(LecunUniform()((3, 5)).abs().max() <= 1.0)
        True
    """

    _DISTRIBUTION = "uniform"


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal with `stddev = sqrt(1 / fan_in)`.

    Example:
        >>> LecunNormal(seed=0)((5,)).shape
        torch.Size([5])
    """


class Orthogonal(_RandomInitializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal sample, times `gain`.

    For shapes of rank > 2 the matrix is `(prod(shape[:-1]), shape[-1])`, reshaped.

    Args:
        gain: Multiplicative factor. Defaults to 1.0.
        seed: Optional integer seed (same values at every call).

    Example:
        >>> q = Orthogonal(seed=0)((4, 4))
        >>> torch.allclose(q.T @ q, torch.eye(4), atol=1e-5)
        True
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(
        self,
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        dims = _resolve_shape(shape)
        if len(dims) < 2:
            raise ValueError(
                "Expected `shape` to have rank >= 2 for the Orthogonal initializer. "
                f"Received: shape={dims!r} (of type tuple, rank {len(dims)}). "
                "Use it for matrices and kernels, not vectors."
            )
        rows, cols = math.prod(dims[:-1]), dims[-1]
        sample, target, generator = self._empty((max(rows, cols), min(rows, cols)), dtype, device)
        sample.normal_(0.0, 1.0, generator=generator)
        q, r = torch.linalg.qr(sample)
        # Fixing the signs by diag(r) makes the result uniformly distributed over rotations.
        q = q * torch.sign(torch.diagonal(r))
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(dims).to(target).contiguous()

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments.

        Example:
            >>> Orthogonal(gain=2.0).get_config()
            {'seed': None, 'gain': 2.0}
        """
        return {**super().get_config(), "gain": self.gain}


# Keras exposes the classes under snake_case names too (`keras.initializers.he_normal`).
zeros = Zeros
ones = Ones
constant = Constant
identity = Identity
random_uniform = RandomUniform
random_normal = RandomNormal
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_uniform = HeUniform
he_normal = HeNormal
lecun_uniform = LecunUniform
lecun_normal = LecunNormal
orthogonal = Orthogonal

_CLASSES: tuple[type[Initializer], ...] = (
    Zeros,
    Ones,
    Constant,
    Identity,
    RandomUniform,
    RandomNormal,
    TruncatedNormal,
    VarianceScaling,
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
    Orthogonal,
)
_BY_NAME: dict[str, type[Initializer]] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update(
    {
        "zeros": Zeros,
        "ones": Ones,
        "constant": Constant,
        "identity": Identity,
        "random_uniform": RandomUniform,
        "random_normal": RandomNormal,
        "truncated_normal": TruncatedNormal,
        "variance_scaling": VarianceScaling,
        "glorot_uniform": GlorotUniform,
        "glorot_normal": GlorotNormal,
        "he_uniform": HeUniform,
        "he_normal": HeNormal,
        "lecun_uniform": LecunUniform,
        "lecun_normal": LecunNormal,
        "orthogonal": Orthogonal,
        # Older spellings that Keras still accepts.
        "zero": Zeros,
        "one": Ones,
        "uniform": RandomUniform,
        "normal": RandomNormal,
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
    }
)


def serialize(initializer: Initializer | Callable[..., torch.Tensor]) -> dict[str, Any]:
    """Returns a JSON-compatible dict describing `initializer`, in Keras's layout.

    Raises:
        TypeError: for anything but an `Initializer`, e.g. a plain function (no config).

    Example:
        >>> serialize(GlorotUniform())["class_name"]
        'GlorotUniform'
    """
    if not isinstance(initializer, Initializer):
        raise TypeError(
            "Expected `initializer` to be an Initializer instance. "
            f"Received: initializer={initializer!r} (of type {type(initializer).__name__}). "
            "Pass e.g. `GlorotUniform()`; plain functions cannot be serialized."
        )
    cls = type(initializer)
    builtin = _BY_NAME.get(cls.__name__) is cls
    return {
        "module": "keras.initializers" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": initializer.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def _lookup(name: str, custom_objects: dict[str, Any] | None = None) -> type[Initializer]:
    known = {**_BY_NAME, **(custom_objects or {})}
    if name in known:
        return known[name]
    folded = {key.lower(): cls for key, cls in known.items()}
    if name.lower() in folded:
        return folded[name.lower()]
    matches = difflib.get_close_matches(name, list(known), n=3)
    hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
    raise ValueError(
        f"Expected `identifier` to name an initializer, one of {sorted(_BY_NAME)}. "
        f"Received: identifier={name!r} (of type str).{hint} "
        "Pass user-defined initializers as instances or through `custom_objects`."
    )


def deserialize(
    config: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Initializer:
    """Recreates an initializer from `serialize()`'s output (or a Keras-saved config).

    Example:
        >>> deserialize({"class_name": "Constant", "config": {"value": 2.0}})
        Constant(value=2.0)
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(
            "Expected `config` to be a dict with 'class_name' and 'config' keys. "
            f"Received: config={config!r} (of type {type(config).__name__}). "
            "Pass the output of `kfit.initializers.serialize(initializer)`."
        )
    cls = _lookup(str(config["class_name"]), custom_objects)
    return cls.from_config(config.get("config") or {})


def get(identifier: Any) -> Initializer | Callable[..., torch.Tensor] | None:
    """Resolves an initializer identifier, as layers accept it.

    Args:
        identifier: A name (`"glorot_uniform"`, `"HeNormal"`, `"zeros"`, ...), a config
            dict, an `Initializer` instance or class, a callable
            `fn(shape, dtype=None, ...)`, a tensor or numpy array to copy (its shape must
            match the requested one), or None.

    Returns:
        An initializer (or the callable given), or None for None.

    Example:
        >>> get("glorot_uniform")
        GlorotUniform(seed=None, input_axes=None, output_axes=None)
        >>> get({"class_name": "Ones", "config": {}})((1,)).tolist()
        [1.0]
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, (torch.Tensor, np.ndarray, np.generic)):
        return _from_array(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(
        "Expected `identifier` to be an initializer name, config dict, Initializer, callable "
        f"or array. Received: identifier={identifier!r} (of type {type(identifier).__name__}). "
        "Pass e.g. 'glorot_uniform' or `kfit.initializers.HeNormal()`."
    )


def _from_array(values: torch.Tensor | np.ndarray | np.generic) -> Callable[..., torch.Tensor]:
    source = torch.as_tensor(values)

    def initialize_from_array(
        shape: Sequence[int],
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        if tuple(_resolve_shape(shape)) != tuple(source.shape):
            raise ValueError(
                f"Expected `shape` to equal the initial array's shape {tuple(source.shape)}. "
                f"Received: shape={tuple(shape)!r} (of type {type(shape).__name__}). "
                "Pass an array with the weight's exact shape."
            )
        return source.to(dtype=_resolve_dtype(dtype), device=device).clone()

    return initialize_from_array
