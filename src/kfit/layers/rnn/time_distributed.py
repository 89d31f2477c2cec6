"""`TimeDistributed`: one layer applied to every time step of a sequence."""

from __future__ import annotations

import inspect
from typing import Any

import torch

from kfit.layers.layer import Layer, accepts_training
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from kfit.utils.errors import received

__all__ = ["TimeDistributed"]


def _accepts_mask(fn: Any) -> bool:
    try:
        return "mask" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


@register_keras_serializable(package="keras")
class TimeDistributed(Layer):
    """Applies `layer` to each time step of a `(batch, time, ...)` input, with shared weights.

    The steps are folded into the batch, `(batch * time, ...)`, and the layer runs once, which
    gives Keras's per-step results for every layer that treats the samples of a batch
    independently (Dense, convolutions, pooling, ...). A layer that mixes samples while
    training, such as `BatchNormalization`, sees the statistics of all steps at once instead of
    one step at a time.

    The weights are the wrapped layer's, held as the attribute `layer`
    (`time_distributed/dense/kernel`). A mask `(batch, time, ...)` is passed on, folded the
    same way, to a layer whose `call` takes `mask`, and the input's mask is the output's.

    Args:
        layer: The layer to apply at each step.
        **kwargs: `name`, `dtype`, `trainable`, `input_shape`.

    Example:
        >>> from kfit.layers.dense import Dense
        >>> layer = TimeDistributed(Dense(4, name="dense"), name="time_distributed")
        >>> layer(torch.ones(2, 5, 3)).shape
        torch.Size([2, 5, 4])
        >>> [w.path for w in layer.weights]
        ['time_distributed/dense/kernel', 'time_distributed/dense/bias']
    """

    def __init__(self, layer: torch.nn.Module, **kwargs: Any) -> None:
        if not isinstance(layer, torch.nn.Module):
            raise ValueError(
                "Expected `layer` to be a layer (a kfit layer or a torch module). "
                f"{received('layer', layer)} Pass e.g. TimeDistributed(Dense(8))."
            )
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True
        # Its compute_mask only passes on or drops an incoming mask: with no masks in use,
        # calls skip the mask machinery.
        self._makes_masks = False
        call = layer.call if isinstance(layer, Layer) else layer.forward
        self._layer_takes_training = accepts_training(call)
        self._layer_takes_mask = _accepts_mask(call)
        if self._declared_input_shape is not None:
            self.build(self._declared_input_shape)
            self.built = True

    @staticmethod
    def _step_shape(input_shape: Any) -> tuple[Any, ...]:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(
                "Expected the input of TimeDistributed to have at least 3 dimensions "
                f"(batch, time, ...). {received('input_shape', input_shape)} Add a time axis."
            )
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        step_shape = self._step_shape(input_shape)
        if isinstance(self.layer, Layer) and not self.layer.built:
            self.layer.build(step_shape)
            self.layer.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        step = self.layer.compute_output_shape(self._step_shape(input_shape))  # type: ignore[operator]
        return (step[0], input_shape[1], *step[1:])

    def call(
        self, inputs: torch.Tensor, training: bool | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch, steps = inputs.shape[0], inputs.shape[1]
        kwargs: dict[str, Any] = {}
        if mask is not None:
            if mask.dim() < 2 or tuple(mask.shape[:2]) != (batch, steps):
                raise ValueError(
                    "Expected the mask passed to TimeDistributed to start with the input's "
                    f"(batch, time) = {(batch, steps)}. {received('mask.shape', tuple(mask.shape))} "
                    "Pass a (batch, time) mask."
                )
            if self._layer_takes_mask:
                kwargs["mask"] = mask.reshape(batch * steps, *mask.shape[2:])
        if self._layer_takes_training:
            kwargs["training"] = training
        folded = inputs.reshape(batch * steps, *inputs.shape[2:])
        layer = self.layer
        outputs = layer.call(folded, **kwargs) if isinstance(layer, Layer) else layer(folded, **kwargs)
        return outputs.reshape(batch, steps, *outputs.shape[1:])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["layer"] = serialize_keras_object(self.layer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        return cls(deserialize_keras_object(config.pop("layer")), **config)
