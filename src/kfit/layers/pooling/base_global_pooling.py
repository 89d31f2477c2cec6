"""`BaseGlobalPooling`: the global max and average pooling layers' arguments and shapes."""

from __future__ import annotations

from typing import Any

from kfit.backend.config import standardize_data_format
from kfit.layers.layer import Layer

__all__ = ["BaseGlobalPooling"]


class BaseGlobalPooling(Layer):
    """Reduces every spatial dimension of its input, leaving `(batch, channels)`.

    Args:
        pool_dimensions: Number of spatial dimensions (1, 2 or 3).
        data_format: `"channels_last"` or `"channels_first"`; None means the global default.
        keepdims: Whether to keep the reduced dimensions with length 1.
        **kwargs: `name`, `trainable`, `dtype`, `input_shape`.

    Example:
        >>> BaseGlobalPooling(2, keepdims=True).compute_output_shape((None, 8, 8, 3))
        (None, 1, 1, 3)
    """

    def __init__(
        self, pool_dimensions: int, data_format: str | None = None, keepdims: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.pool_dimensions = pool_dimensions
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        first = 1 if self.data_format == "channels_last" else 2
        # The spatial axes, worked out once: the call only reduces over them.
        self._axes = tuple(range(first, first + pool_dimensions))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        channels_last = self.data_format == "channels_last"
        channels = input_shape[-1] if channels_last else input_shape[1]
        if not self.keepdims:
            return (input_shape[0], channels)
        ones = (1,) * self.pool_dimensions
        return (input_shape[0], *ones, channels) if channels_last else (input_shape[0], channels, *ones)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(data_format=self.data_format, keepdims=self.keepdims)
        return config
