"""Neural-network ops (`keras.ops.nn`): activations, convolutions, pooling, normalization, losses, attention.

Layouts are Keras's: `data_format=None` means `kfit.backend.image_data_format()`
(`"channels_last"` unless changed), a convolution kernel is `(*spatial, in_channels / groups,
out_channels)`, a transposed-convolution kernel `(*spatial, out_channels, in_channels)`, and a
depthwise kernel `(*spatial, in_channels, multiplier)`. Each op calls torch's fused kernel
(`F.conv2d`, `F.max_pool2d`, `F.scaled_dot_product_attention`, ...) on a channels-first *view*
of the input: permuting a contiguous channels-last tensor gives torch's channels-last memory
format, so no copy is made for 2-D and 3-D inputs.

`padding="same"` follows Keras: the total padding of a dimension is
`max((ceil(n / s) - 1) * s + k - n, 0)` with the odd pixel at the end (TensorFlow's rule).
When both sides are equal, torch pads inside the kernel; otherwise the input is padded first
(with zeros for convolutions, and by repeating the edge for pooling, as Keras's torch backend does:
for max pooling this equals ignoring the padding, for average pooling the repeated edge values
count in the mean).
"""

from __future__ import annotations

import builtins
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as tnn

from kfit.backend.config import epsilon as backend_epsilon
from kfit.backend.config import standardize_data_format
from kfit.ops.dtypes import result_type, to_torch_dtype
from kfit.ops.graph import keras_op
from kfit.ops.operands import canonicalize_axis, convert_to_tensor, same_device_tensors, standardize_axis
from kfit.utils.errors import received

__all__ = [
    "adaptive_average_pool",
    "adaptive_max_pool",
    "average_pool",
    "batch_normalization",
    "binary_crossentropy",
    "categorical_crossentropy",
    "celu",
    "conv",
    "conv_transpose",
    "ctc_loss",
    "depth_to_space",
    "depthwise_conv",
    "dot_product_attention",
    "elu",
    "fold",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "layer_normalization",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "max_pool",
    "moments",
    "multi_hot",
    "normalize",
    "one_hot",
    "polar",
    "psnr",
    "relu",
    "relu6",
    "rms_normalization",
    "selu",
    "separable_conv",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "space_to_depth",
    "sparse_categorical_crossentropy",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh_shrink",
    "threshold",
    "unfold",
]


def _float_input(x: Any) -> torch.Tensor:
    x = convert_to_tensor(x)
    if x.dtype.is_floating_point:
        return x
    return x.to(to_torch_dtype(None))


# ----------------------------------------------------------------------------- activations


@keras_op
def relu(x: Any) -> torch.Tensor:
    """`max(x, 0)`.

    Example:
        >>> relu(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    return tnn.relu(convert_to_tensor(x))


@keras_op
def relu6(x: Any) -> torch.Tensor:
    """`min(max(x, 0), 6)`.

    Example:
        >>> relu6(torch.tensor([-1.0, 7.0]))
        tensor([0., 6.])
    """
    return tnn.relu6(convert_to_tensor(x))


@keras_op
def sigmoid(x: Any) -> torch.Tensor:
    """`1 / (1 + exp(-x))`; integer inputs give `floatx()`."""
    return torch.sigmoid(_float_input(x))


@keras_op
def log_sigmoid(x: Any) -> torch.Tensor:
    """`log(sigmoid(x))`, computed stably."""
    return tnn.logsigmoid(_float_input(x))


@keras_op
def sparse_sigmoid(x: Any) -> torch.Tensor:
    """0 below -1, 1 above 1, and `(x + 1) / 2` between."""
    x = _float_input(x)
    return torch.clamp(0.5 * (x + 1), 0.0, 1.0)


@keras_op
def silu(x: Any) -> torch.Tensor:
    """`x * sigmoid(x)` (also called swish)."""
    return tnn.silu(_float_input(x))


@keras_op
def swish(x: Any) -> torch.Tensor:
    """Same as `silu`."""
    return silu(x)


@keras_op
def hard_sigmoid(x: Any) -> torch.Tensor:
    """The piecewise-linear sigmoid `relu6(x + 3) / 6`."""
    return tnn.hardsigmoid(_float_input(x))


@keras_op
def hard_silu(x: Any) -> torch.Tensor:
    """`x * hard_sigmoid(x)` (also called hard swish)."""
    return tnn.hardswish(_float_input(x))


@keras_op
def hard_swish(x: Any) -> torch.Tensor:
    """Same as `hard_silu`."""
    return hard_silu(x)


@keras_op
def hard_tanh(x: Any) -> torch.Tensor:
    """`x` clipped to [-1, 1]."""
    return tnn.hardtanh(convert_to_tensor(x), -1.0, 1.0)


@keras_op
def hard_shrink(x: Any, threshold: float = 0.5) -> torch.Tensor:
    """`x` where `|x| > threshold`, else 0."""
    return tnn.hardshrink(_float_input(x), threshold)


@keras_op
def soft_shrink(x: Any, threshold: float = 0.5) -> torch.Tensor:
    """`x` moved `threshold` towards 0, and 0 within `threshold` of 0."""
    return tnn.softshrink(_float_input(x), threshold)


@keras_op
def tanh_shrink(x: Any) -> torch.Tensor:
    """`x - tanh(x)`."""
    return tnn.tanhshrink(_float_input(x))


@keras_op
def threshold(x: Any, threshold: float, default_value: float) -> torch.Tensor:
    """`x` where `x > threshold`, else `default_value`."""
    return tnn.threshold(convert_to_tensor(x), threshold, default_value)


@keras_op
def elu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """`x` for positive inputs, `alpha * (exp(x) - 1)` otherwise."""
    return tnn.elu(_float_input(x), alpha)


@keras_op
def selu(x: Any) -> torch.Tensor:
    """The scaled ELU of Klambauer et al. (2017)."""
    return tnn.selu(_float_input(x))


@keras_op
def celu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """`max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))`."""
    return tnn.celu(_float_input(x), alpha)


@keras_op
def gelu(x: Any, approximate: bool = True) -> torch.Tensor:
    """The Gaussian error linear unit; the tanh approximation unless `approximate=False` (as in Keras).

    Example:
        >>> gelu(torch.tensor([1.0])), gelu(torch.tensor([1.0]), approximate=False)
        (tensor([0.8412]), tensor([0.8413]))
    """
    return tnn.gelu(_float_input(x), approximate="tanh" if approximate else "none")


@keras_op
def leaky_relu(x: Any, negative_slope: float = 0.2) -> torch.Tensor:
    """`x` for positive inputs, `negative_slope * x` otherwise (slope 0.2, as Keras's op).

    Example:
        >>> leaky_relu(torch.tensor([-1.0, 2.0]))
        tensor([-0.2000,  2.0000])
    """
    return tnn.leaky_relu(_float_input(x), negative_slope)


@keras_op
def softplus(x: Any) -> torch.Tensor:
    """`log(1 + exp(x))`, computed stably."""
    return tnn.softplus(_float_input(x))


@keras_op
def softsign(x: Any) -> torch.Tensor:
    """`x / (1 + |x|)`."""
    return tnn.softsign(_float_input(x))


@keras_op
def sparse_plus(x: Any) -> torch.Tensor:
    """0 below -1, `x` above 1, and `(x + 1)**2 / 4` between."""
    x = _float_input(x)
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, 0.25 * (x + 1) ** 2, x))


@keras_op
def squareplus(x: Any, b: float = 4) -> torch.Tensor:
    """`(x + sqrt(x**2 + b)) / 2`, a smooth ReLU."""
    x = _float_input(x)
    return (x + torch.sqrt(x * x + b)) / 2


@keras_op
def glu(x: Any, axis: int = -1) -> torch.Tensor:
    """The gated linear unit: the first half of `axis` times the sigmoid of the second half."""
    return tnn.glu(_float_input(x), dim=axis)


def _over_axes(fn: Callable[..., torch.Tensor], x: torch.Tensor, axis: Any) -> torch.Tensor:
    """Applies a last-axis normalizer such as softmax over `axis` (None: all axes; a tuple: those together)."""
    if axis is None:
        return fn(x.reshape(-1), dim=-1).reshape(x.shape)
    if isinstance(axis, (tuple, list)):
        dims = sorted(canonicalize_axis(a, x.dim()) for a in axis)
        others = [d for d in range(x.dim()) if d not in dims]
        moved = x.permute(*others, *dims)
        flat = fn(moved.reshape(*moved.shape[: len(others)], -1), dim=-1).reshape(moved.shape)
        inverse = sorted(range(x.dim()), key=lambda i: [*others, *dims][i])
        return flat.permute(*inverse)
    return fn(x, dim=axis)


def _softmax_like(fn: Callable[..., torch.Tensor], x: Any, axis: Any) -> torch.Tensor:
    x = convert_to_tensor(x)
    if x.dtype == torch.float16 and x.device.type == "cpu":
        # torch's CPU softmax kernels compute half floats poorly; Keras computes them in float32.
        return _over_axes(fn, x.float(), axis).to(torch.float16)
    return _over_axes(fn, x, axis)


@keras_op
def softmax(x: Any, axis: Any = -1) -> torch.Tensor:
    """`exp(x) / sum(exp(x))` over `axis` (the last by default; a tuple for several; None for all).

    Warns when the axis has size 1 (the result is always 1; a sigmoid is usually meant).

    Example:
        >>> softmax(torch.tensor([0.0, 0.0]))
        tensor([0.5000, 0.5000])
    """
    x = convert_to_tensor(x)
    if isinstance(axis, int) and -x.dim() <= axis < x.dim() and x.shape[axis] == 1:
        warnings.warn(
            f"softmax over axis {axis} of a tensor of shape {tuple(x.shape)}: the axis has size 1, so "
            "every output is 1. Use a sigmoid for a single probability.",
            stacklevel=2,
        )
    return _softmax_like(tnn.softmax, x, axis)


@keras_op
def log_softmax(x: Any, axis: Any = -1) -> torch.Tensor:
    """`log(softmax(x))` over `axis`, computed stably."""
    return _softmax_like(tnn.log_softmax, x, axis)


@keras_op
def sparsemax(x: Any, axis: int = -1) -> torch.Tensor:
    """The Euclidean projection of `x` onto the probability simplex along `axis` (sparse probabilities).

    (Keras 3.15 on torch sums the running sums over the support, so its rows do not sum to 1;
    kfit computes the projection of Martins & Astudillo, 2016, as Keras's other backends do.)

    Example:
        >>> sparsemax(torch.tensor([1.0, 0.5, -1.0]))
        tensor([0.7500, 0.2500, 0.0000])
    """
    logits = _float_input(x)
    ordered = torch.sort(logits, dim=axis, descending=True).values
    running = torch.cumsum(ordered, dim=axis)
    shape = [1] * logits.dim()
    shape[axis] = -1
    ranks = torch.arange(1, logits.shape[axis] + 1, device=logits.device, dtype=logits.dtype).reshape(shape)
    support = ordered - (running - 1) / ranks > 0
    # The support is a prefix of the sorted values; tau uses the running sum at its end.
    k = support.sum(dim=axis, keepdim=True)
    tau = (torch.gather(running, axis, k - 1) - 1) / k
    return torch.clamp(logits - tau, min=0.0)


@keras_op
def polar(abs_: Any, angle: Any) -> torch.Tensor:
    """The complex number with magnitude `abs_` and phase `angle`."""
    magnitude, phase = same_device_tensors(abs_, angle)
    return torch.polar(magnitude.float(), phase.float())


# ----------------------------------------------------------------------------- one-hot encodings


@keras_op
def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False) -> torch.Tensor:
    """A one-hot encoding of integer labels, on a new `axis`; out-of-range labels (e.g. -1) give all zeros.

    Raises:
        ValueError: for `sparse=True`.

    Example:
        >>> one_hot(torch.tensor([0, 2, -1]), 3)
        tensor([[1., 0., 0.],
                [0., 0., 1.],
                [0., 0., 0.]])
    """
    if sparse:
        raise ValueError(f"Expected sparse=False: kfit's tensors are dense. {received('sparse', sparse)}")
    labels = convert_to_tensor(x)
    classes = torch.arange(int(num_classes), device=labels.device, dtype=torch.int64)
    encoded = (labels.long().unsqueeze(-1) == classes).to(to_torch_dtype(dtype))
    if axis in (-1, encoded.dim() - 1):
        return encoded
    return torch.moveaxis(encoded, -1, axis)


@keras_op
def multi_hot(
    inputs: Any,
    num_classes: int | None = None,
    axis: int = -1,
    dtype: Any = None,
    sparse: bool = False,
    **kwargs: Any,
) -> torch.Tensor:
    """A multi-hot encoding: 1 for every class present in each row of integer labels.

    Raises:
        ValueError: without `num_classes` (or its older name `num_tokens`), or for `sparse=True`.
    """
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if num_classes is None:
        raise ValueError("Expected `num_classes`. Received: num_classes=None. Pass the number of classes.")
    labels = convert_to_tensor(inputs)
    reduce_axis = 1 if labels.dim() > 1 else 0
    return torch.amax(one_hot(labels, num_classes, axis=axis, dtype=dtype, sparse=sparse), dim=reduce_axis)


# ----------------------------------------------------------------------------- convolution and pooling


def _spatial_tuple(value: Any, rank: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * rank
    values = tuple(int(v) for v in value)
    if len(values) != rank:
        raise ValueError(
            f"Expected `{name}` to be an int or {rank} ints (one per spatial dimension). "
            f"{received(name, value)} Pass e.g. {name}={values[0] if values else 1}."
        )
    return values


def _check_rank(inputs: torch.Tensor, op: str) -> int:
    if inputs.dim() not in (3, 4, 5):
        raise ValueError(
            f"Expected `inputs` of rank 3, 4 or 5 for `{op}` (batch, spatial dims, channels). "
            f"Received: inputs.shape={tuple(inputs.shape)}. Add the batch and channel dimensions."
        )
    return inputs.dim() - 2


def _check_padding(padding: str) -> str:
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in ("valid", "same"):
        raise ValueError(f"Expected padding 'valid' or 'same'. {received('padding', padding)} Pass one of them.")
    return str(value)


def _channels_first(x: torch.Tensor, data_format: str) -> torch.Tensor:
    if data_format == "channels_first":
        return x
    return x.permute(0, x.dim() - 1, *range(1, x.dim() - 1))


def _channels_back(x: torch.Tensor, data_format: str) -> torch.Tensor:
    if data_format == "channels_first":
        return x
    return x.permute(0, *range(2, x.dim()), 1)


def _same_padding(
    sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int]
) -> list[tuple[int, int]]:
    pads = []
    for n, k, s, d in zip(sizes, kernel, strides, dilation):
        effective = (k - 1) * d + 1
        total = builtins.max((math.ceil(n / s) - 1) * s + effective - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _apply_padding(
    x: torch.Tensor, pads: list[tuple[int, int]], mode: str
) -> tuple[torch.Tensor, tuple[int, ...] | int]:
    """Symmetric pads go to torch's kernel; asymmetric ones are applied to `x` here."""
    if builtins.all(left == right for left, right in pads):
        return x, tuple(left for left, _ in pads)
    flat: list[int] = []
    for left, right in reversed(pads):
        flat.extend((left, right))
    return tnn.pad(x, flat, mode=mode), 0


_CONV = {1: tnn.conv1d, 2: tnn.conv2d, 3: tnn.conv3d}
_CONV_T = {1: tnn.conv_transpose1d, 2: tnn.conv_transpose2d, 3: tnn.conv_transpose3d}
_MAX_POOL = {1: tnn.max_pool1d, 2: tnn.max_pool2d, 3: tnn.max_pool3d}
_AVG_POOL = {1: tnn.avg_pool1d, 2: tnn.avg_pool2d, 3: tnn.avg_pool3d}


def _torch_kernel(kernel: torch.Tensor) -> torch.Tensor:
    """A Keras kernel `(*spatial, a, b)` as torch's `(b, a, *spatial)`."""
    rank = kernel.dim() - 2
    return kernel.permute(rank + 1, rank, *range(rank))


@keras_op
def conv(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> torch.Tensor:
    """An N-D convolution (N = 1, 2, 3) with a Keras kernel `(*spatial, in_channels / groups, out_channels)`.

    Grouped convolution follows from the kernel: `groups = in_channels / kernel.shape[-2]`.

    Args:
        inputs: `(batch, *spatial, channels)` (or channels first, per `data_format`).
        kernel: The kernel, in Keras's layout.
        strides: An int or one int per spatial dimension.
        padding: `"valid"` or `"same"` (TensorFlow's rule, see the module docstring).
        data_format: `"channels_last"`, `"channels_first"` or None (the global default).
        dilation_rate: An int or one int per spatial dimension.

    Raises:
        ValueError: for a bad rank, padding, data format, or channels that the kernel does not divide.

    Example:
        >>> conv(torch.ones(1, 5, 5, 2), torch.ones(3, 3, 2, 4), padding="same").shape
        torch.Size([1, 5, 5, 4])
    """
    x, k = same_device_tensors(inputs, kernel)
    rank = _check_rank(x, "conv")
    data_format = standardize_data_format(data_format)
    padding = _check_padding(padding)
    stride = _spatial_tuple(strides, rank, "strides")
    dilation = _spatial_tuple(dilation_rate, rank, "dilation_rate")
    x = _channels_first(x, data_format)
    weight = _torch_kernel(k)
    in_channels, kernel_in = x.shape[1], weight.shape[1]
    if kernel_in == 0 or in_channels % kernel_in:
        raise ValueError(
            f"Expected the input channels ({in_channels}) to be a multiple of the kernel's input channels "
            f"(kernel.shape[-2]={kernel_in}). Received: inputs.shape={tuple(inputs.shape)}, kernel.shape="
            f"{tuple(k.shape)}. Check `data_format` and the kernel layout (*spatial, in, out)."
        )
    pad: tuple[int, ...] | int = 0
    if padding == "same":
        x, pad = _apply_padding(x, _same_padding(x.shape[2:], weight.shape[2:], stride, dilation), "constant")
    out = _CONV[rank](x, weight, None, stride, pad, dilation, in_channels // kernel_in)
    return _channels_back(out, data_format)


@keras_op
def depthwise_conv(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> torch.Tensor:
    """A depthwise convolution: each input channel convolved with its own `multiplier` filters.

    The kernel is `(*spatial, in_channels, multiplier)`; the output has `in_channels * multiplier`
    channels.

    Raises:
        ValueError: if the kernel's input channels differ from the input's.
    """
    x, k = same_device_tensors(inputs, kernel)
    data_format = standardize_data_format(data_format)
    channels = x.shape[-1] if data_format == "channels_last" else x.shape[1]
    if k.shape[-2] != channels:
        raise ValueError(
            f"Expected kernel.shape[-2] to equal the input channels ({channels}). Received: kernel.shape="
            f"{tuple(k.shape)}, inputs.shape={tuple(x.shape)}. The kernel is (*spatial, in_channels, multiplier)."
        )
    flat = k.reshape(*k.shape[:-2], 1, k.shape[-2] * k.shape[-1])
    return conv(x, flat, strides, padding, data_format, dilation_rate)


@keras_op
def separable_conv(
    inputs: Any,
    depthwise_kernel: Any,
    pointwise_kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> torch.Tensor:
    """A depthwise convolution followed by a pointwise (1x1) convolution."""
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, dilation_rate)


def _transpose_crops(
    kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None
) -> tuple[int, int]:
    """How much to cut from each end of torch's full transposed-conv output (negative: zeros to add)."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = builtins.max(effective, stride) - effective if output_padding is None else output_padding
        return 0, -extra
    if output_padding is None:
        total = stride + effective - 2
    else:
        total = effective + effective % 2 - 2 + output_padding
    left = builtins.min(total // 2 + total % 2, effective - 1)
    return effective - 1 - left, effective - 1 - (total - left)


@keras_op
def conv_transpose(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    output_padding: Any = None,
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> torch.Tensor:
    """An N-D transposed convolution with a Keras kernel `(*spatial, out_channels, in_channels)`.

    Output sizes are Keras's: `n * s` for `"same"`, `(n - 1) * s + max(k, s)` for `"valid"`,
    adjusted by `output_padding` when given.

    Example:
        >>> conv_transpose(torch.ones(1, 4, 4, 3), torch.ones(3, 3, 2, 3), strides=2, padding="same").shape
        torch.Size([1, 8, 8, 2])
    """
    x, k = same_device_tensors(inputs, kernel)
    rank = _check_rank(x, "conv_transpose")
    data_format = standardize_data_format(data_format)
    padding = _check_padding(padding)
    stride = _spatial_tuple(strides, rank, "strides")
    dilation = _spatial_tuple(dilation_rate, rank, "dilation_rate")
    extras = [None] * rank if output_padding is None else list(_spatial_tuple(output_padding, rank, "output_padding"))
    channels = x.shape[-1] if data_format == "channels_last" else x.shape[1]
    if k.shape[-1] != channels:
        raise ValueError(
            f"Expected kernel.shape[-1] to equal the input channels ({channels}). Received: kernel.shape="
            f"{tuple(k.shape)}, inputs.shape={tuple(x.shape)}. The kernel is (*spatial, out_channels, in_channels)."
        )
    crops = [
        _transpose_crops(k.shape[i], stride[i], dilation[i], padding, extras[i]) for i in range(rank)
    ]
    # Cut the part both ends share inside torch's kernel; trim or extend the rest afterwards.
    shared = tuple(builtins.max(builtins.min(left, right), 0) for left, right in crops)
    weight = k.permute(rank + 1, rank, *range(rank))
    out = _CONV_T[rank](_channels_first(x, data_format), weight, None, stride, shared, 0, 1, dilation)
    index: list[builtins.slice] = [builtins.slice(None), builtins.slice(None)]
    widths: list[int] = []
    for (left, right), cut in zip(crops, shared):
        left, right = left - cut, right - cut
        index.append(builtins.slice(builtins.max(left, 0), -right if right > 0 else None))
        widths = [builtins.max(-left, 0), builtins.max(-right, 0), *widths]
    out = out[tuple(index)]
    if builtins.any(widths):
        out = tnn.pad(out, widths)
    return _channels_back(out, data_format)


def _pool(
    pool_fn: Mapping[int, Callable[..., torch.Tensor]],
    inputs: Any,
    pool_size: Any,
    strides: Any,
    padding: str,
    data_format: str | None,
    name: str,
    **kwargs: Any,
) -> torch.Tensor:
    x = convert_to_tensor(inputs)
    rank = _check_rank(x, name)
    data_format = standardize_data_format(data_format)
    padding = _check_padding(padding)
    window = _spatial_tuple(pool_size, rank, "pool_size")
    stride = window if strides is None else _spatial_tuple(strides, rank, "strides")
    x = _channels_first(x, data_format)
    pad: tuple[int, ...] | int = 0
    if padding == "same":
        x, pad = _apply_padding(x, _same_padding(x.shape[2:], window, stride, (1,) * rank), "replicate")
    out = pool_fn[rank](x, window, stride, pad, **kwargs)
    return _channels_back(out, data_format)


@keras_op
def max_pool(
    inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid", data_format: str | None = None
) -> torch.Tensor:
    """Max pooling over windows of `pool_size` (strides default to `pool_size`).

    Example:
        >>> max_pool(torch.arange(16.0).reshape(1, 4, 4, 1), 2)[..., 0]
        tensor([[[ 5.,  7.],
                 [13., 15.]]])
    """
    return _pool(_MAX_POOL, inputs, pool_size, strides, padding, data_format, "max_pool")


@keras_op
def average_pool(
    inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid", data_format: str | None = None
) -> torch.Tensor:
    """Average pooling over windows of `pool_size` (strides default to `pool_size`); padding is not counted."""
    return _pool(_AVG_POOL, inputs, pool_size, strides, padding, data_format, "average_pool", count_include_pad=False)


_ADAPTIVE_AVG = {1: tnn.adaptive_avg_pool1d, 2: tnn.adaptive_avg_pool2d, 3: tnn.adaptive_avg_pool3d}
_ADAPTIVE_MAX = {1: tnn.adaptive_max_pool1d, 2: tnn.adaptive_max_pool2d, 3: tnn.adaptive_max_pool3d}


def _adaptive(
    table: Mapping[int, Callable[..., Any]], inputs: Any, output_size: Any, data_format: str | None
) -> torch.Tensor:
    x = convert_to_tensor(inputs)
    rank = _check_rank(x, "adaptive pooling")
    data_format = standardize_data_format(data_format)
    size = _spatial_tuple(output_size, rank, "output_size")
    out = table[rank](_channels_first(x, data_format), size if rank > 1 else size[0])
    if isinstance(out, tuple):
        out = out[0]
    return _channels_back(out, data_format)


@keras_op
def adaptive_average_pool(inputs: Any, output_size: Any, data_format: str | None = None) -> torch.Tensor:
    """Average pooling to a fixed `output_size` whatever the input size."""
    return _adaptive(_ADAPTIVE_AVG, inputs, output_size, data_format)


@keras_op
def adaptive_max_pool(inputs: Any, output_size: Any, data_format: str | None = None) -> torch.Tensor:
    """Max pooling to a fixed `output_size` whatever the input size."""
    return _adaptive(_ADAPTIVE_MAX, inputs, output_size, data_format)


@keras_op
def unfold(x: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> torch.Tensor:
    """Sliding blocks of a channels-first `(N, C, H, W)` image as `(N, C * kh * kw, L)` (im2col)."""
    return tnn.unfold(convert_to_tensor(x), kernel_size, dilation=dilation, padding=padding, stride=stride)


@keras_op
def fold(
    x: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> torch.Tensor:
    """The inverse of `unfold`: sums sliding blocks back into a `(N, C, *output_size)` image (col2im)."""
    return tnn.fold(convert_to_tensor(x), output_size, kernel_size, dilation=dilation, padding=padding, stride=stride)


@keras_op
def depth_to_space(x: Any, block_size: int, data_format: str = "channels_last") -> torch.Tensor:
    """Moves channel blocks into `block_size` x `block_size` spatial blocks (as Keras on torch)."""
    x = convert_to_tensor(x)
    b = int(block_size)
    if data_format == "channels_first":
        return tnn.pixel_shuffle(x, b)
    n, h, w, c = x.shape
    blocks = x.reshape(n, h, w, b, b, c // (b * b)).permute(0, 1, 3, 2, 4, 5)
    return blocks.reshape(n, h * b, w * b, c // (b * b))


@keras_op
def space_to_depth(x: Any, block_size: int, data_format: str = "channels_last") -> torch.Tensor:
    """Moves `block_size` x `block_size` spatial blocks into channels (the inverse of `depth_to_space`)."""
    x = convert_to_tensor(x)
    b = int(block_size)
    if data_format == "channels_first":
        return tnn.pixel_unshuffle(x, b)
    n, h, w, c = x.shape
    blocks = x.reshape(n, h // b, b, w // b, b, c).permute(0, 1, 3, 2, 4, 5)
    return blocks.reshape(n, h // b, w // b, c * b * b)


# ----------------------------------------------------------------------------- normalization


@keras_op
def moments(x: Any, axes: Any, keepdims: bool = False, synchronized: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and (biased) variance of `x` over `axes`; half floats are computed in float32.

    Raises:
        NotImplementedError: for `synchronized=True` (cross-replica statistics).

    Example:
        >>> moments(torch.tensor([1.0, 2.0, 3.0, 4.0]), axes=0)
        (tensor(2.5000), tensor(1.2500))
    """
    if synchronized:
        raise NotImplementedError(
            "Expected synchronized=False: kfit computes statistics on one device. Received: synchronized=True."
        )
    x = _float_input(x)
    dims = standardize_axis(axes)
    source = x.dtype
    if source in (torch.float16, torch.bfloat16):
        x = x.float()
    variance, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=keepdims)
    if source == torch.float16:
        limit = torch.finfo(torch.float16).max
        mean, variance = mean.clamp(-limit, limit), variance.clamp(-limit, limit)
    return mean.to(source), variance.to(source)


@keras_op
def batch_normalization(
    x: Any,
    mean: Any,
    variance: Any,
    axis: int,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-3,
) -> torch.Tensor:
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset`, with 1-D statistics along `axis`.

    Raises:
        ValueError: if a statistic is not a vector of length `x.shape[axis]`.

    Example:
        >>> batch_normalization(torch.tensor([[1.0, 2.0]]), [1.0, 0.0], [4.0, 1.0], axis=-1, epsilon=0.0)
        tensor([[0., 2.]])
    """
    x = convert_to_tensor(x)
    axis = canonicalize_axis(axis, x.dim())
    shape = [1] * x.dim()
    shape[axis] = x.shape[axis]
    params = {}
    for name, value in (("mean", mean), ("variance", variance), ("offset", offset), ("scale", scale)):
        if value is None:
            continue
        tensor = convert_to_tensor(value, device=x.device)
        if tuple(tensor.shape) != (x.shape[axis],):
            raise ValueError(
                f"Expected `{name}` to be a vector of length x.shape[{axis}]={x.shape[axis]}. Received: "
                f"{name}.shape={tuple(tensor.shape)}. Pass one value per channel."
            )
        params[name] = tensor.reshape(shape)
    inv = torch.rsqrt(params["variance"] + epsilon)
    if "scale" in params:
        inv = inv * params["scale"]
    out = (x - params["mean"]) * inv
    return out + params["offset"] if "offset" in params else out


def _trailing(axes: Sequence[int], ndim: int) -> bool:
    return list(axes) == list(range(ndim - len(axes), ndim))


@keras_op
def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> torch.Tensor:
    """`x` divided by its `order`-norm along `axis` (the norm floored at `epsilon`).

    Raises:
        ValueError: if `order` is not an int >= 1.
    """
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"Expected `order` to be an int >= 1. {received('order', order)} Pass e.g. order=2.")
    x = _float_input(x)
    if x.dim() == 0:
        x = x.reshape(1)
    eps = backend_epsilon() if epsilon is None else epsilon
    return tnn.normalize(x, p=order, dim=axis, eps=eps)


@keras_op
def layer_normalization(
    x: Any, gamma: Any = None, beta: Any = None, axis: Any = -1, epsilon: float | None = None, **kwargs: Any
) -> torch.Tensor:
    """Normalizes `x` over `axis` to zero mean and unit variance, then scales by `gamma` and shifts by `beta`.

    Computed in float32 for half-float inputs; the result keeps `x`'s dtype.

    Raises:
        ValueError: for an unknown keyword argument.
    """
    unknown = set(kwargs) - {"rms_scaling"}
    if unknown:
        raise ValueError(f"Expected no keyword arguments but `rms_scaling`. Received: {sorted(unknown)}.")
    x = convert_to_tensor(x)
    source = x.dtype
    x = x.to(to_torch_dtype(result_type(x.dtype, "float32")))
    eps = backend_epsilon() if epsilon is None else epsilon
    axes = sorted(canonicalize_axis(a, x.dim()) for a in ((axis,) if isinstance(axis, int) else axis))
    params = [None if p is None else convert_to_tensor(p, x.dtype, x.device) for p in (gamma, beta)]
    if kwargs.get("rms_scaling"):
        out = x * torch.rsqrt(torch.var(x, dim=axes, keepdim=True, correction=0) + eps)
        return (out * _broadcast_param(params[0], x, axes) if params[0] is not None else out).to(source)
    if _trailing(axes, x.dim()):
        normalized = tuple(x.shape[a] for a in axes)
        weight, bias = (None if p is None else p.reshape(normalized) for p in params)
        return tnn.layer_norm(x, normalized, weight, bias, eps).to(source)
    variance, mean = torch.var_mean(x, dim=axes, keepdim=True, correction=0)
    out = (x - mean) * torch.rsqrt(variance + eps)
    if params[0] is not None:
        out = out * _broadcast_param(params[0], x, axes)
    if params[1] is not None:
        out = out + _broadcast_param(params[1], x, axes)
    return out.to(source)


def _broadcast_param(param: torch.Tensor, x: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    shape = [1] * x.dim()
    for a in axes:
        shape[a] = x.shape[a]
    return param.reshape(shape)


@keras_op
def rms_normalization(x: Any, scale: Any = None, axis: Any = -1, epsilon: float | None = None) -> torch.Tensor:
    """`x / sqrt(mean(x**2) + epsilon)` over `axis`, times `scale` (computed in float32 for half floats)."""
    x = convert_to_tensor(x)
    source = x.dtype
    x = x.to(to_torch_dtype(result_type(x.dtype, "float32")))
    if x.dim() == 0:
        x = x.reshape(1)
    eps = backend_epsilon() if epsilon is None else epsilon
    axes = sorted(canonicalize_axis(a, x.dim()) for a in ((axis,) if isinstance(axis, int) else axis))
    weight = None if scale is None else convert_to_tensor(scale, x.dtype, x.device)
    if _trailing(axes, x.dim()):
        normalized = tuple(x.shape[a] for a in axes)
        return tnn.rms_norm(x, normalized, None if weight is None else weight.reshape(normalized), eps).to(source)
    out = x * torch.rsqrt(torch.mean(x * x, dim=axes, keepdim=True) + eps)
    return (out * _broadcast_param(weight, x, axes) if weight is not None else out).to(source)


# ----------------------------------------------------------------------------- losses and metrics


def _same_shape(target: torch.Tensor, output: torch.Tensor) -> None:
    if target.shape != output.shape:
        raise ValueError(
            "Expected `target` and `output` of the same shape. Received: "
            f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}. "
            "Reshape the targets (e.g. one-hot encode class indices) to match."
        )


@keras_op
def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> torch.Tensor:
    """Elementwise binary cross-entropy; probabilities are clipped to `[epsilon, 1 - epsilon]`.

    Raises:
        ValueError: if the shapes differ.

    Example:
        >>> binary_crossentropy(torch.tensor([1.0]), torch.tensor([0.5]))
        tensor([0.6931])
    """
    y, p = same_device_tensors(target, output)
    _same_shape(y, p)
    y = y.to(p.dtype)
    if from_logits:
        return tnn.binary_cross_entropy_with_logits(p, y, reduction="none")
    eps = backend_epsilon()
    return tnn.binary_cross_entropy(torch.clamp(p, eps, 1.0 - eps), y, reduction="none")


@keras_op
def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> torch.Tensor:
    """Cross-entropy between one-hot (or soft) `target` and `output` over `axis`.

    Probabilities are renormalized to sum to 1 and clipped to `[epsilon, 1 - epsilon]`.

    Raises:
        ValueError: if the shapes differ or the rank is 0.
    """
    y, p = same_device_tensors(target, output)
    _same_shape(y, p)
    if p.dim() < 1:
        raise ValueError(f"Expected `target` and `output` of rank >= 1. Received: output.shape={tuple(p.shape)}.")
    if from_logits:
        log_prob = tnn.log_softmax(p, dim=axis)
    else:
        eps = backend_epsilon()
        log_prob = torch.log(torch.clamp(p / p.sum(dim=axis, keepdim=True), eps, 1.0 - eps))
    return -(y * log_prob).sum(dim=axis)


@keras_op
def sparse_categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> torch.Tensor:
    """Cross-entropy between integer labels `target` and `output` over `axis` (the class axis).

    Raises:
        ValueError: if `target`'s shape is not `output`'s without the class axis.
    """
    p = convert_to_tensor(output)
    y = convert_to_tensor(target, torch.int64, p.device)
    if p.dim() < 1:
        raise ValueError(f"Expected `output` of rank >= 1. Received: output.shape={tuple(p.shape)}.")
    class_axis = canonicalize_axis(axis, p.dim())
    if y.dim() == p.dim() and y.shape[class_axis] == 1:
        y = y.squeeze(class_axis)
    expected = p.shape[:class_axis] + p.shape[class_axis + 1 :]
    if y.shape != expected:
        raise ValueError(
            f"Expected `target` of shape {tuple(expected)} (the output's shape without the class axis). "
            f"Received: target.shape={tuple(y.shape)}, output.shape={tuple(p.shape)}."
        )
    if p.dim() == 1:
        p, y = p.unsqueeze(0), y.unsqueeze(0)
        class_axis = 1
        squeeze = True
    else:
        squeeze = False
    if class_axis != 1:
        p = p.movedim(class_axis, 1)
    if from_logits:
        loss = tnn.cross_entropy(p, y, reduction="none")
    else:
        eps = backend_epsilon()
        log_prob = torch.log(torch.clamp(p / p.sum(dim=1, keepdim=True), eps, 1.0 - eps))
        loss = tnn.nll_loss(log_prob, y, reduction="none")
    return loss.squeeze(0) if squeeze else loss


@keras_op
def ctc_loss(target: Any, output: Any, target_length: Any, output_length: Any, mask_index: int = 0) -> torch.Tensor:
    """The CTC loss per sequence.

    `target` holds integer labels `(batch, max_label_len)`, `output` logits `(batch, time, classes)`.
    """
    logits = convert_to_tensor(output)
    logits = logits.to(to_torch_dtype(result_type(logits.dtype, "float32")))
    labels, label_lengths, logit_lengths = (
        convert_to_tensor(v, device=logits.device).long() for v in (target, target_length, output_length)
    )
    log_probs = tnn.log_softmax(logits.transpose(0, 1), dim=-1)
    return tnn.ctc_loss(log_probs, labels, logit_lengths, label_lengths, blank=mask_index, reduction="none")


@keras_op
def psnr(x1: Any, x2: Any, max_val: float) -> torch.Tensor:
    """The peak signal-to-noise ratio (dB) between two images with values up to `max_val`.

    Raises:
        ValueError: if the shapes differ.
    """
    a, b = same_device_tensors(x1, x2)
    if a.shape != b.shape:
        raise ValueError(
            f"Expected images of one shape. Received: x1.shape={tuple(a.shape)}, x2.shape={tuple(b.shape)}."
        )
    mse = torch.mean((a - b) ** 2)
    peak = torch.as_tensor(max_val, dtype=a.dtype, device=a.device)
    return 20 * torch.log10(peak) - 10 * torch.log10(mse)


# ----------------------------------------------------------------------------- attention


def _large_negative(dtype: torch.dtype) -> float:
    # Far below any logit but finite, so fully masked rows give a uniform (not nan) distribution.
    return -0.7 * (65500.0 if dtype == torch.float16 else 3.38953e38)


@keras_op
def dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    bias: Any = None,
    mask: Any = None,
    scale: float | None = None,
    is_causal: bool = False,
    flash_attention: bool | None = None,
    attn_logits_soft_cap: float | None = None,
) -> torch.Tensor:
    """Scaled dot-product attention on `(batch, seq, heads, head_dim)` tensors (`F.scaled_dot_product_attention`).

    Args:
        query: `(B, T, N, H)`.
        key: `(B, S, K, H)`; `K` may divide `N` (grouped-query attention).
        value: `(B, S, K, H)`.
        bias: Added to the attention logits, broadcastable to `(B, N, T, S)`.
        mask: Boolean, broadcastable to `(B, N, T, S)`; False positions are not attended.
        scale: The logit scale; `1 / sqrt(H)` when None.
        is_causal: Whether position `t` may attend only to positions `<= t`.
        flash_attention: None chooses automatically; True requires the flash kernel (CUDA).
        attn_logits_soft_cap: When given, logits become `cap * tanh(logits / cap)`.

    Raises:
        ValueError: for inputs that are not 4-D, or both `bias` and `mask`.
        RuntimeError: for `flash_attention=True` where the flash kernel cannot run.

    Example:
        >>> q = torch.ones(2, 3, 4, 8)
        >>> dot_product_attention(q, q, q).shape
        torch.Size([2, 3, 4, 8])
    """
    q, k, v = same_device_tensors(query, key, value)
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            "Expected 4-D query, key and value (batch, seq, heads, head_dim). Received: "
            f"query.shape={tuple(q.shape)}, key.shape={tuple(k.shape)}, value.shape={tuple(v.shape)}."
        )
    if bias is not None and mask is not None:
        raise ValueError("Expected `bias` or `mask`, not both. Received both. Fold the mask into the bias.")
    dtype = to_torch_dtype(result_type(q.dtype, k.dtype, v.dtype))
    q, k, v = (t.to(dtype).transpose(1, 2) for t in (q, k, v))
    heads, kv_heads = q.shape[1], k.shape[1]
    if heads != kv_heads:
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
    additive = None
    if mask is not None:
        keep = convert_to_tensor(mask, torch.bool, q.device)
        if is_causal:
            causal = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool, device=q.device).tril()
            keep = keep & causal
            is_causal = False
        additive = torch.where(keep, 0.0, _large_negative(dtype)).to(dtype)
    elif bias is not None:
        additive = convert_to_tensor(bias, dtype, q.device)
    if attn_logits_soft_cap is not None:
        out = _soft_capped_attention(q, k, v, additive, scale, is_causal, float(attn_logits_soft_cap))
        return out.transpose(1, 2)
    if flash_attention:
        if q.device.type != "cuda" or additive is not None:
            raise RuntimeError(
                "Expected inputs that the flash attention kernel accepts (CUDA tensors, no mask or bias). "
                f"Received: device={q.device}, mask or bias given={additive is not None}. "
                "Pass flash_attention=None to let torch choose a kernel."
            )
        from torch.nn.attention import SDPBackend, sdpa_kernel

        with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
            out = tnn.scaled_dot_product_attention(q, k, v, is_causal=is_causal, scale=scale)
    else:
        out = tnn.scaled_dot_product_attention(q, k, v, attn_mask=additive, is_causal=is_causal, scale=scale)
    return out.transpose(1, 2)


def _soft_capped_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    additive: torch.Tensor | None,
    scale: float | None,
    is_causal: bool,
    cap: float,
) -> torch.Tensor:
    factor = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = torch.matmul(q, k.transpose(-1, -2)) * factor
    logits = cap * torch.tanh(logits / cap)
    if additive is not None:
        logits = logits + additive
    if is_causal:
        causal = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool, device=q.device).tril()
        logits = logits.masked_fill(~causal, _large_negative(logits.dtype))
    return torch.matmul(torch.softmax(logits, dim=-1), v)
