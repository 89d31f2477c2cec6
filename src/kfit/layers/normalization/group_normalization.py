"""`GroupNormalization`: Keras's group normalization, on torch's fused `group_norm` kernel."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from kfit import constraints, initializers, regularizers
from kfit.backend.variables import Variable
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import serialize_keras_object
from kfit.utils.errors import received

__all__ = ["GroupNormalization"]


@register_keras_serializable(package="keras")
class GroupNormalization(Layer):
    """Normalizes each sample over groups of channels, as Keras does.

    The channels along `axis` are split into `groups` contiguous blocks. Each sample's
    block is normalized with its mean and (biased) variance, taken over the block's channels
    and every other non-batch axis; then `gamma` and `beta` (one value per channel) apply.
    `groups=-1` gives one group per channel (instance normalization), and `groups=1` one
    group for all (layer normalization over every axis).

    Args:
        groups: The number of groups; it must divide the number of channels. Default 32.
        axis: The channels axis.
        epsilon: Added to the variance before the square root.
        center: Whether to add the learned offset `beta`.
        scale: Whether to multiply by the learned `gamma`.
        beta_initializer: Initializer of `beta`.
        gamma_initializer: Initializer of `gamma`.
        beta_regularizer: Regularizer of `beta`.
        gamma_regularizer: Regularizer of `gamma`.
        beta_constraint: Constraint of `beta`.
        gamma_constraint: Constraint of `gamma`.
        **kwargs: Layer arguments (`name`, `trainable`, `dtype`, ...).

    Raises:
        ValueError: for `groups` that is not a positive integer or -1, or (at build) that
            does not divide the number of channels.

    Example:
        >>> import torch
        >>> gn = GroupNormalization(groups=2)
        >>> gn(torch.tensor([[0.0, 2.0, 5.0, 5.0]])).round(decimals=3).tolist()
        [[-1.0, 1.0, 0.0, 0.0]]
        >>> [(w.name, tuple(w.shape)) for w in gn.weights]
        [('gamma', (4,)), ('beta', (4,))]
    """

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(groups, int) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
            raise ValueError(
                "Expected `groups` to be a positive integer, or -1 for one group per channel. "
                f"{received('groups', groups)} Pass e.g. groups=8."
            )
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(
                f"Expected `axis` to be an integer (the channels axis). {received('axis', axis)} "
                "Pass e.g. axis=-1 or axis=1."
            )
        super().__init__(**kwargs)
        self.groups = groups
        self.axis = axis
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        ndim = len(input_shape)
        _check_axis(self.axis, input_shape)
        axis = self.axis % ndim
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(
                f"Expected axis {self.axis} of the input to have a known size. "
                f"{received('input_shape', input_shape)} Give the channels dimension a size."
            )
        if self.groups == -1:
            self.groups = channels
        if channels < self.groups or channels % self.groups:
            raise ValueError(
                f"Expected `groups` to divide the number of channels ({channels}). "
                f"{received('groups', self.groups)} Pass a divisor of {channels}."
            )
        shape = (channels,)
        self.gamma: Variable | None
        self.beta: Variable | None
        if self.scale:
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
        if self.center:
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
        self._channel_axis = axis
        self._weightless_dtype = torch.get_default_dtype()

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        weight = self.gamma if self.gamma is not None else self.beta
        dtype = self._weightless_dtype if weight is None else weight.dtype
        x = inputs if inputs.dtype == dtype else inputs.to(dtype)
        axis = self._channel_axis
        if axis == 1:
            return F.group_norm(x, self.groups, self.gamma, self.beta, self.epsilon)
        # torch's kernel wants the channels on axis 1. For channels-last images the moved
        # view is torch's channels_last layout, which the kernel reads without a copy.
        out = F.group_norm(x.movedim(axis, 1), self.groups, self.gamma, self.beta, self.epsilon)
        return out.movedim(1, axis)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        _check_axis(self.axis, input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            groups=self.groups,
            axis=self.axis,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=serialize_keras_object(self.beta_initializer),
            gamma_initializer=serialize_keras_object(self.gamma_initializer),
            beta_regularizer=regularizers.serialize(self.beta_regularizer),
            gamma_regularizer=regularizers.serialize(self.gamma_regularizer),
            beta_constraint=constraints.serialize(self.beta_constraint),
            gamma_constraint=constraints.serialize(self.gamma_constraint),
        )
        return config


def _check_axis(axis: int, input_shape: Any) -> None:
    ndim = len(input_shape)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"Expected `axis` to index one of the input's {ndim} dimensions. "
            f"{received('axis', axis)} The input shape is {tuple(input_shape)}; pass an axis in "
            f"[{-ndim}, {ndim})."
        )
