"""Math ops (`keras.ops` math family): log-sum-exp, top-k, segment reductions, special functions, FFTs."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from kfit.ops.dtypes import to_torch_dtype
from kfit.ops.graph import keras_op
from kfit.ops.operands import convert_to_tensor, same_device_tensors, standardize_axis
from kfit.utils.errors import received

__all__ = [
    "cdist",
    "erf",
    "erfc",
    "erfinv",
    "extract_sequences",
    "fft",
    "fft2",
    "ifft2",
    "in_top_k",
    "irfft",
    "logdet",
    "logsumexp",
    "rfft",
    "rsqrt",
    "segment_max",
    "segment_min",
    "segment_prod",
    "segment_sum",
    "top_k",
    "view_as_complex",
    "view_as_real",
]


class TopK(NamedTuple):
    """The result of `top_k`: the `values` and their `indices` (int64, as torch gives them)."""

    values: torch.Tensor
    indices: torch.Tensor


def _float(x: Any) -> torch.Tensor:
    x = convert_to_tensor(x)
    return x if x.dtype.is_floating_point else x.to(to_torch_dtype(None))


@keras_op
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`log(sum(exp(x)))` over `axis` (all axes when None), computed stably.

    Example:
        >>> logsumexp(torch.tensor([0.0, 0.0]))
        tensor(0.6931)
    """
    x = _float(x)
    dim = standardize_axis(axis)
    return torch.logsumexp(x, dim=tuple(range(x.dim())) if dim is None else dim, keepdim=keepdims)


@keras_op
def top_k(x: Any, k: int, sorted: bool = True) -> TopK:
    """The `k` largest values along the last axis and their indices.

    Example:
        >>> top_k(torch.tensor([1.0, 3.0, 2.0]), 2)
        TopK(values=tensor([3., 2.]), indices=tensor([1, 2]))
    """
    values, indices = torch.topk(convert_to_tensor(x), int(k), sorted=sorted)
    return TopK(values, indices)


@keras_op
def in_top_k(targets: Any, predictions: Any, k: int) -> torch.Tensor:
    """Whether each target's prediction is among the `k` largest of its row (ties count as in).

    Example:
        >>> in_top_k(torch.tensor([2, 0]), torch.tensor([[0.1, 0.3, 0.6], [0.5, 0.2, 0.3]]), 1)
        tensor([True, True])
    """
    predictions = convert_to_tensor(predictions)
    targets = convert_to_tensor(targets, device=predictions.device).long()
    kth = torch.topk(predictions, int(k)).values[..., -1:]
    chosen = torch.take_along_dim(predictions, targets.unsqueeze(-1), dim=-1)
    return (chosen >= kth).squeeze(-1)


def _segment(data: Any, segment_ids: Any, num_segments: int | None, reduce: str) -> torch.Tensor:
    data = convert_to_tensor(data)
    ids = convert_to_tensor(segment_ids, device=data.device).long()
    if ids.dim() != 1:
        raise ValueError(
            f"Expected 1-D `segment_ids`. Received: segment_ids.shape={tuple(ids.shape)}. Flatten the ids and "
            "reshape `data` to (-1, *data.shape[segment_ids.ndim:]), or map over the batch with `vectorized_map`."
        )
    if ids.shape[0] != data.shape[0]:
        raise ValueError(
            f"Expected `segment_ids` with one id per row of `data`. Received: segment_ids.shape="
            f"{tuple(ids.shape)}, data.shape={tuple(data.shape)}."
        )
    count = int(ids.max()) + 1 if num_segments is None else int(num_segments)
    # Ids outside [0, count) go to one extra row that is dropped at the end.
    ids = torch.where((ids >= 0) & (ids < count), ids, count)
    shape = (count + 1, *data.shape[1:])
    if reduce == "sum":
        return torch.zeros(shape, dtype=data.dtype, device=data.device).index_add_(0, ids, data)[:count]
    if data.dtype.is_floating_point:
        info_min, info_max = float("-inf"), float("inf")
    else:
        info = torch.iinfo(data.dtype)
        info_min, info_max = info.min, info.max
    start = {"amax": info_min, "amin": info_max, "prod": 1}[reduce]
    out = torch.full(shape, start, dtype=data.dtype, device=data.device)
    return out.index_reduce_(0, ids, data, reduce, include_self=False)[:count]


@keras_op
def segment_sum(data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False) -> torch.Tensor:
    """Sums of the rows of `data` grouped by `segment_ids` (ids outside `[0, num_segments)` are dropped).

    Without `num_segments`, it is `max(segment_ids) + 1` (read on the host).

    Raises:
        ValueError: if `segment_ids` is not 1-D with one id per row of `data`.

    Example:
        >>> segment_sum(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0, 0, 1]))
        tensor([3., 3.])
    """
    return _segment(data, segment_ids, num_segments, "sum")


@keras_op
def segment_max(data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False) -> torch.Tensor:
    """Maxima of the rows of `data` grouped by `segment_ids` (-inf, or the dtype's minimum, for empty segments)."""
    return _segment(data, segment_ids, num_segments, "amax")


@keras_op
def segment_min(data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False) -> torch.Tensor:
    """Minima of the rows of `data` grouped by `segment_ids` (inf, or the dtype's maximum, for empty segments)."""
    return _segment(data, segment_ids, num_segments, "amin")


@keras_op
def segment_prod(data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False) -> torch.Tensor:
    """Products of the rows of `data` grouped by `segment_ids` (1 for empty segments)."""
    return _segment(data, segment_ids, num_segments, "prod")


@keras_op
def rsqrt(x: Any) -> torch.Tensor:
    """`1 / sqrt(x)`."""
    return torch.rsqrt(_float(x))


@keras_op
def erf(x: Any) -> torch.Tensor:
    """The Gauss error function."""
    return torch.erf(_float(x))


@keras_op
def erfc(x: Any) -> torch.Tensor:
    """The complementary error function `1 - erf(x)`."""
    return torch.erfc(_float(x))


@keras_op
def erfinv(x: Any) -> torch.Tensor:
    """The inverse of the error function."""
    return torch.erfinv(_float(x))


@keras_op
def logdet(x: Any) -> torch.Tensor:
    """The log-determinant of (batches of) square matrices."""
    return torch.logdet(convert_to_tensor(x))


@keras_op
def cdist(x: Any, y: Any) -> torch.Tensor:
    """Euclidean distances between the rows of `x` (`(..., P, M)`) and of `y` (`(..., R, M)`).

    Raises:
        ValueError: for inputs of rank < 2 or different last dimensions.
    """
    a, b = same_device_tensors(x, y)
    if a.dim() < 2 or b.dim() < 2 or a.shape[-1] != b.shape[-1]:
        raise ValueError(
            "Expected inputs of rank >= 2 with the same last dimension. Received: "
            f"x.shape={tuple(a.shape)}, y.shape={tuple(b.shape)}."
        )
    return torch.cdist(_float(a), _float(b), compute_mode="donot_use_mm_for_euclid_dist")


@keras_op
def extract_sequences(x: Any, sequence_length: int, sequence_stride: int) -> torch.Tensor:
    """Frames of `sequence_length` samples every `sequence_stride` samples along the last axis."""
    return convert_to_tensor(x).unfold(-1, int(sequence_length), int(sequence_stride)).clone()


def _complex(x: Any) -> torch.Tensor:
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"Expected a (real, imaginary) pair of tensors. {received('x', x)}")
    real, imag = same_device_tensors(*x)
    if real.shape != imag.shape or not real.dtype.is_floating_point or not imag.dtype.is_floating_point:
        raise ValueError(
            "Expected real and imaginary float tensors of one shape. Received: "
            f"shapes {tuple(real.shape)} and {tuple(imag.shape)}, dtypes {real.dtype} and {imag.dtype}."
        )
    return torch.complex(real, imag)


def _pair(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return z.real, z.imag


@keras_op
def fft(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The FFT along the last axis of `x = (real, imaginary)`; returns `(real, imaginary)`."""
    return _pair(torch.fft.fft(_complex(x)))


@keras_op
def fft2(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-D FFT over the last two axes of `x = (real, imaginary)`."""
    return _pair(torch.fft.fft2(_complex(x)))


@keras_op
def ifft2(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse 2-D FFT over the last two axes of `x = (real, imaginary)`."""
    return _pair(torch.fft.ifft2(_complex(x)))


@keras_op
def rfft(x: Any, fft_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The FFT of a real signal along the last axis; returns `(real, imaginary)`."""
    return _pair(torch.fft.rfft(convert_to_tensor(x), n=fft_length))


@keras_op
def irfft(x: Any, fft_length: int | None = None) -> torch.Tensor:
    """The inverse of `rfft`, from `x = (real, imaginary)`."""
    return torch.fft.irfft(_complex(x), n=fft_length)


@keras_op
def view_as_complex(x: Any) -> torch.Tensor:
    """A complex tensor from a real one whose last axis (size 2) holds real and imaginary parts."""
    x = convert_to_tensor(x)
    if x.shape[-1] != 2:
        raise ValueError(f"Expected a last axis of size 2 (real, imaginary). Received: x.shape={tuple(x.shape)}.")
    return torch.complex(x[..., 0], x[..., 1])


@keras_op
def view_as_real(x: Any) -> torch.Tensor:
    """A real tensor with a last axis of size 2 holding the real and imaginary parts of `x`."""
    x = convert_to_tensor(x)
    return torch.stack([x.real, x.imag], dim=-1)
