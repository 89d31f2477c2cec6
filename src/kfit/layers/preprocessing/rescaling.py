"""`Rescaling`: `inputs * scale + offset`, e.g. pixel values from [0, 255] to [0, 1]."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kfit.backend.config import image_data_format
from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["Rescaling"]


@register_keras_serializable(package="keras")
class Rescaling(Layer):
    """Multiplies its inputs by `scale` and adds `offset`, in float (integer pixels included).

    `scale` and `offset` are numbers or per-channel arrays. Under the channels_first image
    data format an array applies along axis 1 of an image, as in Keras. No weights.

    Args:
        scale: The factor: `1 / 255` maps [0, 255] to [0, 1].
        offset: Added after scaling: `Rescaling(1 / 127.5, offset=-1)` maps [0, 255] to [-1, 1].
        **kwargs: Layer arguments (`name`, `dtype`, ...).

    Example:
        >>> import torch
        >>> Rescaling(1 / 127.5, offset=-1.0)(torch.tensor([[0, 255]], dtype=torch.uint8)).tolist()
        [[-1.0, 1.0]]
    """

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True
        # (device, dtype, scale, offset), made on the first call and again if those change.
        self._factors: tuple[Any, ...] | None = None

    def _factors_on(self, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
        found = self._factors
        if found is None or found[0] != device or found[1] != dtype:
            scale, offset = (_as_factor(v, dtype, device) for v in (self.scale, self.offset))
            if isinstance(scale, torch.Tensor) and scale.dim() > 0 and image_data_format() == "channels_first":
                scale = scale.reshape(*scale.shape, *(1,) * (3 - scale.dim()))
            found = self._factors = (device, dtype, scale, offset)
        return found[2], found[3]

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        dtype = torch.get_default_dtype()
        x = inputs if inputs.dtype == dtype else inputs.to(dtype)
        scale, offset = self._factors_on(x.device, dtype)
        out = x * scale
        if isinstance(offset, torch.Tensor) or offset != 0:
            out = out + offset
        return out

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(scale=serialize_keras_object(self.scale), offset=serialize_keras_object(self.offset))
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Rescaling:
        config = dict(config)
        config["scale"] = deserialize_keras_object(config["scale"])
        config["offset"] = deserialize_keras_object(config["offset"])
        return cls(**config)


def _as_factor(value: Any, dtype: torch.dtype, device: torch.device) -> Any:
    """A number as a Python float rounded to `dtype` (so torch computes Keras's product
    exactly), an array as a tensor on `device`."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
    tensor = torch.as_tensor(np.asarray(value), dtype=dtype)
    if tensor.dim() == 0:
        return float(tensor)
    return tensor.to(device=device)
