"""`LayerNormalization`: Keras's per-sample normalization, on torch's `layer_norm` where it applies."""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F

from kfit import constraints, initializers, regularizers
from kfit.backend.variables import Variable
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import serialize_keras_object
from kfit.utils.errors import received

__all__ = ["LayerNormalization"]


@register_keras_serializable(package="keras")
class LayerNormalization(Layer):
    """Normalizes each sample over `axis`: `(x - mean) / sqrt(var + epsilon) * gamma + beta`.

    The mean and (biased) variance are taken over the axes in `axis`, separately for every
    position along the other axes. `gamma` and `beta` have the shape of those axes. It runs
    torch's fused `layer_norm` (on a view with those axes moved last, when they are not).

    After building, `axis` is a sorted list (`[-1]`), as Keras stores it.

    Args:
        axis: An axis or a list of axes to normalize over.
        epsilon: Added to the variance before the square root.
        center: Whether to add the learned offset `beta`.
        scale: Whether to multiply by the learned `gamma`.
        beta_initializer: Initializer of `beta`.
        gamma_initializer: Initializer of `gamma`.
        beta_regularizer: Regularizer of `beta`.
        gamma_regularizer: Regularizer of `gamma`.
        beta_constraint: Constraint of `beta`.
        gamma_constraint: Constraint of `gamma`.
        rms_scaling: Deprecated in Keras, kept for its models: no centering, the output is
            `x / sqrt(var + epsilon) * gamma` (the variance, not the mean square) and there
            is no `beta`.
        **kwargs: Layer arguments (`name`, `trainable`, `dtype`, ...).

    Raises:
        TypeError: when `axis` is neither an int nor a list/tuple of ints.

    Example:
        >>> import torch
        >>> ln = LayerNormalization()
        >>> ln(torch.tensor([[1.0, 3.0]])).round(decimals=3).tolist()
        [[-1.0, 1.0]]
        >>> [(w.name, tuple(w.shape)) for w in ln.weights], ln.axis
        ([('gamma', (2,)), ('beta', (2,))], [-1])
    """

    def __init__(
        self,
        axis: int | list[int] | tuple[int, ...] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        rms_scaling: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and all(_is_int(a) for a in axis):
            self.axis: int | list[int] = list(axis)
        elif _is_int(axis):
            self.axis = int(axis)  # type: ignore[arg-type]  # _is_int checked it
        else:
            raise TypeError(
                f"Expected `axis` to be an int or a list/tuple of ints. {received('axis', axis)} "
                "Pass e.g. axis=-1 or axis=[1, 2]."
            )
        if rms_scaling:
            warnings.warn(
                "rms_scaling=True is deprecated (as in Keras): it divides by the square root of "
                "the variance, not of the mean square, and it has no `beta`.",
                DeprecationWarning,
                stacklevel=2,
            )
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        ndim = len(input_shape)
        axes = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        _check_axes(axes, input_shape)
        positive = [a % ndim for a in axes]
        if any(input_shape[a] is None for a in positive):
            raise ValueError(
                f"Expected the normalized axes {axes} of the input to have known sizes. "
                f"{received('input_shape', input_shape)} Give those dimensions a size."
            )
        shape = tuple(int(input_shape[a]) for a in positive)  # type: ignore[arg-type]  # checked above
        self.axis = axes
        self.gamma: Variable | None
        self.beta: Variable | None
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(
                shape=shape,
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                autocast=False,
            )
        else:
            self.gamma = None
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(
                shape=shape,
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                autocast=False,
            )
        else:
            self.beta = None
        self._normalized_shape = shape
        self._dims = tuple(positive)
        # torch's layer_norm normalizes the trailing dimensions; other axes are moved there
        # (in order, so that gamma's layout still matches) and back.
        trailing = tuple(range(ndim - len(positive), ndim))
        self._moved = None if self._dims == trailing else (self._dims, trailing)
        self._broadcast_shape = tuple(
            int(input_shape[d]) if d in positive else 1  # type: ignore[arg-type]
            for d in range(ndim)
        )
        self._weightless_dtype = torch.get_default_dtype()

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # Computed in the weights' dtype, as Keras computes in float32 (integer or half inputs).
        weight = self.gamma if self.gamma is not None else self.beta
        dtype = self._weightless_dtype if weight is None else weight.dtype
        x = inputs if inputs.dtype == dtype else inputs.to(dtype)
        if self.rms_scaling:
            variance = torch.var(x, dim=self._dims, correction=0, keepdim=True)
            inv = torch.rsqrt(variance + self.epsilon)
            if self.gamma is not None:
                inv = inv * self.gamma.view(self._broadcast_shape)
            return x * inv
        moved = self._moved
        if moved is None:
            return F.layer_norm(x, self._normalized_shape, self.gamma, self.beta, self.epsilon)
        out = F.layer_norm(x.movedim(*moved), self._normalized_shape, self.gamma, self.beta, self.epsilon)
        return out.movedim(moved[1], moved[0])

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        _check_axes(self.axis if isinstance(self.axis, list) else [self.axis], input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            axis=self.axis,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            rms_scaling=self.rms_scaling,
            beta_initializer=serialize_keras_object(self.beta_initializer),
            gamma_initializer=serialize_keras_object(self.gamma_initializer),
            beta_regularizer=regularizers.serialize(self.beta_regularizer),
            gamma_regularizer=regularizers.serialize(self.gamma_regularizer),
            beta_constraint=constraints.serialize(self.beta_constraint),
            gamma_constraint=constraints.serialize(self.gamma_constraint),
        )
        return config


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_axes(axes: list[int], input_shape: Any) -> None:
    ndim = len(input_shape)
    for axis in axes:
        if not -ndim <= axis < ndim:
            raise ValueError(
                f"Expected every axis to index one of the input's {ndim} dimensions. "
                f"{received('axis', axis)} The input shape is {tuple(input_shape)}; pass axes in "
                f"[{-ndim}, {ndim})."
            )
