"""`BatchNormalization`: Keras's batch normalization, on torch's fused `batch_norm` kernel.

Keras normalizes a training batch with the batch's biased variance and moves its statistics
toward that same biased variance. Torch's kernel normalizes the same way but moves its running
variance toward the unbiased one, n/(n-1) times larger. Rather than pay a second pass over the
batch for the biased statistics, the layer hands torch a running variance divided by
s = (n-1)/n and multiplies the result by s: torch then computes
`momentum * moving_variance + (1 - momentum) * s * unbiased_variance`, which is Keras's update.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from kfit import constraints, initializers, regularizers
from kfit.backend.config import epsilon as fuzz_factor
from kfit.backend.variables import Variable
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import serialize_keras_object
from kfit.utils.errors import received

__all__ = ["BatchNormalization"]


@register_keras_serializable(package="keras")
class BatchNormalization(Layer):
    """Normalizes its inputs over the batch (and every axis but `axis`), as Keras does.

    In training (`training=True`, a trainable layer) the output is
    `(x - mean) / sqrt(var + epsilon) * gamma + beta` with the batch's mean and biased
    variance, and the moving statistics become
    `moving * momentum + batch * (1 - momentum)`. In inference, and whenever the layer is
    frozen (`trainable=False`, even with `training=True`), the moving statistics are used
    and left unchanged. With a mask (a sequence from `Embedding(mask_zero=True)`, say) the
    batch statistics count only the unmasked steps.

    Weights, in Keras's order: `gamma` and `beta` (trainable, shape `(channels,)`), then
    `moving_mean` and `moving_variance` (non-trainable).

    Args:
        axis: The channels axis (-1 for channels_last, 1 for channels_first).
        momentum: Weight of the old value in the moving statistics' update.
        epsilon: Added to the variance before the square root.
        center: Whether to add the learned offset `beta`.
        scale: Whether to multiply by the learned `gamma`.
        beta_initializer: Initializer of `beta`.
        gamma_initializer: Initializer of `gamma`.
        moving_mean_initializer: Initializer of `moving_mean`.
        moving_variance_initializer: Initializer of `moving_variance`.
        beta_regularizer: Regularizer of `beta`.
        gamma_regularizer: Regularizer of `gamma`.
        beta_constraint: Constraint of `beta`.
        gamma_constraint: Constraint of `gamma`.
        renorm: Batch renormalization; only False is supported.
        renorm_clipping: Accepted with `renorm=False` only (then unused).
        renorm_momentum: Accepted with `renorm=False` only (then unused).
        synchronized: Cross-device statistics; only False is supported (as in Keras on torch).
        **kwargs: Layer arguments (`name`, `trainable`, `dtype`, ...).

    Raises:
        NotImplementedError: for `renorm=True`.
        ValueError: for `synchronized=True`, or an `axis` outside the input's dimensions.

    Example:
        >>> import torch
        >>> bn = BatchNormalization()
        >>> x = torch.tensor([[0.0, 1.0], [2.0, 5.0]])
        >>> bn(x, training=True).round(decimals=2).tolist()
        [[-1.0, -1.0], [1.0, 1.0]]
        >>> [w.name for w in bn.weights]
        ['gamma', 'beta', 'moving_mean', 'moving_variance']
        >>> [round(v, 4) for v in bn.moving_mean.tolist() + bn.moving_variance.tolist()]
        [0.01, 0.03, 1.0, 1.03]
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        renorm: bool = False,
        renorm_clipping: dict[str, float] | None = None,
        renorm_momentum: float = 0.99,
        synchronized: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(
                "Expected `axis` to be an integer (the channels axis). "
                f"{received('axis', axis)} Pass e.g. axis=-1 or axis=1."
            )
        if renorm:
            raise NotImplementedError(
                "Expected renorm=False: kfit does not implement batch renormalization. "
                f"{received('renorm', renorm)} Use renorm=False."
            )
        if synchronized:
            raise ValueError(
                "Expected synchronized=False: cross-device batch statistics are not supported "
                f"on torch (as in Keras). {received('synchronized', synchronized)} "
                "Use synchronized=False."
            )
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.renorm = renorm
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.synchronized = synchronized
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        ndim = len(input_shape)
        axis = _positive_axis(self.axis, ndim, input_shape)
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(
                f"Expected axis {self.axis} of the input to have a known size. "
                f"{received('input_shape', input_shape)} Give the channels dimension a size."
            )
        shape = (int(channels),)
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
        self.moving_mean = self.add_weight(
            shape=shape,
            name="moving_mean",
            initializer=self.moving_mean_initializer,
            trainable=False,
            autocast=False,
        )
        self.moving_variance = self.add_weight(
            shape=shape,
            name="moving_variance",
            initializer=self.moving_variance_initializer,
            trainable=False,
            autocast=False,
        )
        self._ndim = ndim
        self._channel_axis = axis
        self._channels = shape[0]
        self._reduction_axes = tuple(d for d in range(ndim) if d != axis)
        self._broadcast_shape = tuple(shape[0] if d == axis else 1 for d in range(ndim))

    def call(
        self, inputs: torch.Tensor, training: bool | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        moving_mean = self.moving_mean
        x = inputs if inputs.dtype == moving_mean.dtype else inputs.to(moving_mean.dtype)
        if x.dim() != self._ndim:
            raise ValueError(
                f"Expected an input of rank {self._ndim}, the rank {self.name!r} was built for. "
                f"Received: inputs of shape {tuple(x.shape)}. Use one BatchNormalization "
                "layer per input rank."
            )
        if mask is not None and mask.dim() != x.dim() - 1:
            raise ValueError(
                "Expected a mask with one dimension less than the inputs. Received: "
                f"mask of shape {tuple(mask.shape)} for inputs of shape {tuple(x.shape)}. "
                "Pass the (batch, steps) mask of a (batch, steps, channels) input."
            )
        if not (training and self.trainable):
            return self._normalize(x, moving_mean, self.moving_variance, False)
        if mask is not None:
            return self._train_step_by_hand(x, mask)
        per_channel = x.numel() // self._channels
        if per_channel < 2:
            # torch's kernel refuses a single value per channel; Keras gives variance 0.
            return self._train_step_by_hand(x, None)
        keep = (per_channel - 1) / per_channel
        # See the module docstring: torch moves this scratch copy toward the unbiased
        # variance; multiplied back by `keep` it has moved toward the biased one. A scratch
        # copy, because autograd keeps what the kernel was given for the backward pass.
        scratch = self.moving_variance * (1.0 / keep)
        out = self._normalize(x, moving_mean, scratch, True)
        torch.mul(scratch, keep, out=self.moving_variance)
        return out

    def _normalize(
        self, x: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor, training: bool
    ) -> torch.Tensor:
        """Torch's kernel with the channels moved to axis 1; it updates mean/variance when training."""
        axis = self._channel_axis
        momentum = 1.0 - self.momentum
        if axis == 1:
            return F.batch_norm(x, mean, variance, self.gamma, self.beta, training, momentum, self.epsilon)
        if axis == self._ndim - 1:
            # Channels last: a (rows, channels) matrix, which torch normalizes per column
            # without moving any data.
            flat = x.reshape(-1, self._channels)
            out = F.batch_norm(flat, mean, variance, self.gamma, self.beta, training, momentum, self.epsilon)
            return out.view(x.shape)
        moved = x.movedim(axis, 1)
        out = F.batch_norm(moved, mean, variance, self.gamma, self.beta, training, momentum, self.epsilon)
        return out.movedim(1, axis)

    def _train_step_by_hand(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """A training step without torch's kernel: the batch statistics (over the unmasked steps
        only, as Keras takes them, when there is a mask), the update, the normalization."""
        axes = self._reduction_axes
        if mask is None:
            variance, mean = torch.var_mean(x, dim=axes, correction=0, keepdim=True)
        else:
            kept = mask.unsqueeze(-1).to(torch.bool)
            count = kept.to(x.dtype).expand(x.shape).sum(dim=axes, keepdim=True) + fuzz_factor()
            mean = torch.where(kept, x, 0.0).sum(dim=axes, keepdim=True) / count
            variance = torch.where(kept, x - mean, 0.0).square().sum(dim=axes, keepdim=True) / count
        with torch.no_grad():
            weight = 1.0 - self.momentum
            self.moving_mean.lerp_(mean.reshape(-1), weight)
            self.moving_variance.lerp_(variance.reshape(-1), weight)
        inv = torch.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * self.gamma.view(self._broadcast_shape)
        out = (x - mean) * inv
        if self.beta is not None:
            out = out + self.beta.view(self._broadcast_shape)
        return out

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        _positive_axis(self.axis, len(input_shape), input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            axis=self.axis,
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=serialize_keras_object(self.beta_initializer),
            gamma_initializer=serialize_keras_object(self.gamma_initializer),
            moving_mean_initializer=serialize_keras_object(self.moving_mean_initializer),
            moving_variance_initializer=serialize_keras_object(self.moving_variance_initializer),
            beta_regularizer=regularizers.serialize(self.beta_regularizer),
            gamma_regularizer=regularizers.serialize(self.gamma_regularizer),
            beta_constraint=constraints.serialize(self.beta_constraint),
            gamma_constraint=constraints.serialize(self.gamma_constraint),
            synchronized=self.synchronized,
            renorm=self.renorm,
            renorm_clipping=self.renorm_clipping,
            renorm_momentum=self.renorm_momentum,
        )
        return config


def _positive_axis(axis: int, ndim: int, input_shape: Any) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"Expected `axis` to index one of the input's {ndim} dimensions. "
            f"{received('axis', axis)} The input shape is {tuple(input_shape)}; pass an axis in "
            f"[{-ndim}, {ndim})."
        )
    return axis % ndim
