"""`Normalization`: standardizes features with a mean and variance given, or learned by `adapt`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from kfit.backend.config import epsilon as fuzz_factor
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.errors import received

__all__ = ["Normalization"]


@register_keras_serializable(package="keras")
class Normalization(Layer):
    """Maps its inputs to `(x - mean) / max(sqrt(variance), 1e-7)`, one statistic per position
    along `axis`.

    The statistics come either from the constructor (`mean` and `variance`; the layer then
    has no weights) or from `adapt(data)`, which computes them over the data (biased
    variance) and stores them in the non-trainable weights `mean`, `variance` and `count`
    (int32; like Keras, `adapt` leaves it at 0). With `invert=True` the layer undoes the
    normalization: `x * max(sqrt(variance), 1e-7) + mean`.

    Args:
        axis: The axis or axes that keep their own statistics (the others are reduced
            over); -1 gives one per feature of a `(batch, features)` input, None a single one.
        mean: The mean to use instead of `adapt`; a number or an array that broadcasts over
            the kept axes.
        variance: The variance matching `mean`.
        invert: Whether to apply the inverse transformation.
        **kwargs: Layer arguments (`name`, `dtype`, ...).

    Raises:
        ValueError: when only one of `mean` and `variance` is given, or their shapes differ.

    Example:
        >>> import numpy as np
        >>> layer = Normalization()
        >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
        >>> layer(np.array([[1.0, 10.0]])).tolist()
        [[0.0, -1.0]]
        >>> [w.name for w in layer.weights], layer.mean.tolist(), layer.variance.tolist()
        (['mean', 'variance', 'count'], [1.0, 20.0], [1.0, 100.0])
    """

    def __init__(
        self,
        axis: int | Iterable[int] | None = -1,
        mean: Any = None,
        variance: Any = None,
        invert: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if axis is None:
            self.axis: tuple[int, ...] = ()
        elif isinstance(axis, int):
            self.axis = (axis,)
        else:
            self.axis = tuple(axis)
        if (mean is None) != (variance is None):
            raise ValueError(
                "Expected both `mean` and `variance`, or neither (then call `adapt`). "
                f"{received('mean', mean)} {received('variance', variance)} Pass both."
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    "Expected `mean` and `variance` of the same shape. Received: shapes "
                    f"{np.shape(mean)} and {np.shape(variance)}. Pass one value per kept position."
                )
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(
                    f"Expected `mean` of rank at most {len(self.axis)} (one per kept axis, "
                    f"axis={self.axis}). Received: mean of shape {np.shape(mean)}. "
                    "Pass statistics shaped like the kept axes."
                )
        self.input_mean = mean
        self.input_variance = variance
        self.invert = invert
        self.supports_masking = True
        self._constants: tuple[Any, ...] | None = None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(
                f"Expected every axis in the range [-{ndim}, {ndim}) of the input's dimensions. "
                f"{received('axis', self.axis)} The input shape is {tuple(input_shape)}."
            )
        keep = tuple(sorted(a % ndim for a in self.axis))
        for d in keep:
            if input_shape[d] is None:
                raise ValueError(
                    f"Expected the kept axes {self.axis} of the input to have known sizes. "
                    f"{received('input_shape', input_shape)} Give those dimensions a size."
                )
        self._keep_axis = keep
        self._reduce_axis = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast_shape = tuple(
            int(input_shape[d]) if d in keep else 1  # type: ignore[arg-type]
            for d in range(ndim)
        )
        self._statistics_shape = tuple(int(input_shape[d]) for d in keep)  # type: ignore[arg-type]
        self._input_shape = tuple(input_shape)
        if self.input_mean is None:
            self.mean = self.add_weight(
                name="mean", shape=self._statistics_shape, initializer="zeros", trainable=False
            )
            self.variance = self.add_weight(
                name="variance", shape=self._statistics_shape, initializer="ones", trainable=False
            )
            self.count = self.add_weight(
                name="count", shape=(), dtype="int32", initializer="zeros", trainable=False
            )

    def _given_statistics(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The constructor's mean and variance, broadcast to the input's rank, on `device`."""
        found = self._constants
        if found is None or found[0] != device or found[1] != dtype:
            tensors = []
            for value in (self.input_mean, self.input_variance):
                tensor = torch.as_tensor(np.asarray(value), dtype=dtype)
                # The statistics' dimensions line up with the last kept axes.
                expanded = [1] * len(self._broadcast_shape)
                for i in range(1, tensor.dim() + 1):
                    expanded[self._keep_axis[-i]] = tensor.shape[-i]
                tensor = tensor.reshape(expanded).expand(self._broadcast_shape)
                tensors.append(tensor.to(device))
            found = self._constants = (device, dtype, tensors[0], tensors[1])
        return found[2], found[3]

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.input_mean is None:
            mean = self.mean.view(self._broadcast_shape)
            variance = self.variance.view(self._broadcast_shape)
        else:
            mean, variance = self._given_statistics(inputs.device, torch.get_default_dtype())
        x = inputs if inputs.dtype == mean.dtype else inputs.to(mean.dtype)
        scale = variance.sqrt().clamp_min(fuzz_factor())
        if self.invert:
            return torch.addcmul(mean, x, scale)
        return (x - mean) / scale

    def adapt(self, data: Any) -> None:
        """Computes the mean and (biased) variance of `data` and stores them in the weights.

        Args:
            data: A NumPy array or tensor holding the whole data set, or an iterable of
                batches: a list of arrays, a generator, a `torch.utils.data.DataLoader`. A batch
                may be an `(x, y)` tuple or list; only `x` is used.

        Raises:
            ValueError: when the layer was given `mean` and `variance`, when the data is
                empty, or when its kept axes differ from the shape the layer was built for.
            TypeError: for data that is neither an array nor an iterable of arrays.
        """
        if self.input_mean is not None:
            raise ValueError(
                "Expected a layer without a given `mean` and `variance`: `adapt` computes them. "
                f"{received('mean', self.input_mean)} Create Normalization() without them to adapt."
            )
        batches: Iterable[Any] | None = None
        if isinstance(data, (np.ndarray, torch.Tensor)):
            shape = tuple(data.shape)
        elif hasattr(data, "__iter__"):
            iterator = iter(data)
            first = next(iterator, None)
            if first is None:
                raise ValueError(
                    "Expected `data` to yield at least one batch. Received: an empty "
                    f"{type(data).__name__}. Pass e.g. layer.adapt([x]) or a DataLoader."
                )
            first = _features(first)
            if not hasattr(first, "shape"):
                raise TypeError(
                    "Expected `data` to yield arrays or tensors (objects with a `.shape`). "
                    f"Received: an element of type {type(first).__name__}. Yield NumPy arrays "
                    "or tensors, or pass the whole array."
                )
            shape = tuple(first.shape)
            batches = itertools.chain([first], iterator)
        else:
            raise TypeError(
                "Expected `data` to be a NumPy array, a tensor, or an iterable of batches. "
                f"{received('data', data)} Wrap a map-style torch Dataset in a DataLoader."
            )
        if not self.built:
            self._maybe_build(shape)
        else:
            self._check_shape(shape)
        if batches is None:
            mean, variance = _moments(data, self._reduce_axis)
        else:
            mean, variance = self._streamed_moments(batches)
        self.mean.assign(mean)
        self.variance.assign(variance)

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) != len(self._input_shape) or any(
            shape[d] != self._input_shape[d] for d in self._keep_axis
        ):
            raise ValueError(
                f"Expected data of shape {self._input_shape} along the kept axes {self.axis}, "
                f"the shape the layer was built for. Received: data of shape {shape}. "
                "Adapt a new layer for data of another shape."
            )

    def _streamed_moments(self, batches: Iterable[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Merges per-batch means and variances, weighted by the batches' sizes."""
        dtype = torch.get_default_dtype()
        total_mean: Any = 0.0
        total_var: Any = 0.0
        total_count = 0
        for raw in batches:
            batch = torch.as_tensor(_features(raw)).to(dtype)
            self._check_shape(tuple(batch.shape))
            batch_mean, batch_var = _moments(batch, self._reduce_axis)
            batch_count = math.prod(batch.shape[d] for d in self._reduce_axis)
            total_count += batch_count
            batch_weight = batch_count / total_count
            existing_weight = 1.0 - batch_weight
            new_mean = total_mean * existing_weight + batch_mean * batch_weight
            total_var = (total_var + (total_mean - new_mean) ** 2) * existing_weight + (
                batch_var + (batch_mean - new_mean) ** 2
            ) * batch_weight
            total_mean = new_mean
        return total_mean, total_var

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            axis=self.axis,
            invert=self.invert,
            mean=np.array(self.input_mean).tolist(),
            variance=np.array(self.input_variance).tolist(),
        )
        return config


def _features(batch: Any) -> Any:
    """The inputs of a batch: `x` of an `(x, y[, sample_weight])` tuple or list."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _moments(data: Any, axes: tuple[int, ...]) -> tuple[Any, Any]:
    """Mean and biased variance over `axes` (none: the data itself, with zero spread)."""
    if isinstance(data, np.ndarray):
        return np.mean(data, axis=axes), np.var(data, axis=axes)
    data = data if data.is_floating_point() else data.to(torch.get_default_dtype())
    if not axes:
        # torch reads an empty `dim` as every dimension.
        return data, torch.zeros_like(data)
    variance, mean = torch.var_mean(data, dim=axes, correction=0)
    return mean, variance
