"""`PReLU`: a leaky ReLU whose negative slopes are learned, one per input element by default."""

from __future__ import annotations

from typing import Any

import torch

from kfit import constraints, initializers, regularizers
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["PReLU"]


@register_keras_serializable(package="keras")
class PReLU(Layer):
    """Parametric ReLU: `x` for positive inputs, `alpha * x` otherwise, with `alpha` learned.

    The weight `alpha` has the input's shape without the batch axis ((5, 3) for inputs
    (batch, 5, 3)); each axis listed in `shared_axes` (1-based, as in Keras) gets size 1, so one
    slope is shared along it, e.g. `shared_axes=[1, 2]` for one slope per channel of images.

    Args:
        alpha_initializer: Initializer of `alpha` (zeros: the layer starts as a ReLU).
        alpha_regularizer: Regularizer of `alpha`, or None.
        alpha_constraint: Constraint on `alpha`, or None.
        shared_axes: An axis or list of axes (1-based) that share a slope.
        **kwargs: Layer arguments such as `name`.

    Example:
        >>> layer = PReLU(alpha_initializer="ones")
        >>> layer(torch.tensor([[-2.0, 3.0]]))
        tensor([[-2.,  3.]], grad_fn=<WhereBackward0>)
        >>> layer.alpha.shape
        torch.Size([2])
    """

    def __init__(
        self,
        alpha_initializer: Any = "Zeros",
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: int | list[int] | tuple[int, ...] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes: list[int] | None = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = list(shared_axes)
        else:
            self.shared_axes = [shared_axes]

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis <= len(shape):
                raise ValueError(
                    f"Expected every entry of `shared_axes` to be an input axis in [1, {len(shape)}] "
                    f"(1-based, the batch axis excluded). Received: shared_axes={self.shared_axes!r} "
                    f"for input shape {tuple(input_shape)}. Count axes from 1 after the batch axis."
                )
            shape[axis - 1] = 1
        sizes = [d for d in shape if d is not None]
        if len(sizes) != len(shape):
            raise ValueError(
                "Expected the input shape of a PReLU layer to be known on every axis that is not "
                f"shared. Received: input_shape={tuple(input_shape)!r}. Declare the sizes, or list "
                "the variable axes in `shared_axes`."
            )
        self.alpha = self.add_weight(
            shape=tuple(sizes),
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
            name="alpha",
        )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # Keras computes relu(x) - alpha * relu(-x). `where` gives the same values in two
        # kernels instead of five; only the gradient at inputs exactly 0 differs (alpha rather
        # than 0), and such inputs come from ReLU, padding or dropout, whose own gradient there
        # is 0 or unused.
        return torch.where(inputs > 0, inputs, inputs * self.alpha)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha_initializer": (
                None if self.alpha_initializer is None else initializers.serialize(self.alpha_initializer)
            ),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }
