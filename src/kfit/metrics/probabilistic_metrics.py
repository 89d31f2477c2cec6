"""Probabilistic metrics: running means of the crossentropies, KL divergence and Poisson loss."""

from __future__ import annotations

from typing import Any

from kfit.losses.functions import (
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from kfit.metrics.metric import Metric
from kfit.metrics.reduction_metrics import MeanMetricWrapper

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "KLDivergence",
    "Poisson",
    "SparseCategoricalCrossentropy",
]


class _LossMeanMetric(MeanMetricWrapper):
    """A running mean of one loss function: smaller is better.

    The config is `name`, `dtype` and the constructor arguments named in `_config_keys`.
    """

    _config_keys: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        config = Metric.get_config(self)
        config.update({key: self._fn_kwargs[key] for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)


class KLDivergence(_LossMeanMetric):
    """Running mean of `kl_divergence` values.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> import torch
        >>> m = KLDivergence()
        >>> m.update_state(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[0.6, 0.4], [0.4, 0.6]]))
        >>> m.result()
        tensor(0.4581)
    """

    def __init__(self, name: str = "kl_divergence", dtype: Any = None) -> None:
        super().__init__(kl_divergence, name=name, dtype=dtype)
        self._direction = "down"


class Poisson(_LossMeanMetric):
    """Running mean of `poisson` values.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> import torch
        >>> m = Poisson()
        >>> m.update_state(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
        >>> m.result()
        tensor(0.5000)
    """

    def __init__(self, name: str = "poisson", dtype: Any = None) -> None:
        super().__init__(poisson, name=name, dtype=dtype)
        self._direction = "down"


class BinaryCrossentropy(_LossMeanMetric):
    """Running mean of `binary_crossentropy` values.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.
        from_logits: Whether predictions are logits.
        label_smoothing: Squeezes targets towards 0.5 (see `binary_crossentropy`).

    Example:
        >>> import torch
        >>> m = BinaryCrossentropy()
        >>> m.update_state(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[0.6, 0.4], [0.4, 0.6]]))
        >>> m.result()
        tensor(0.8149)
    """

    _config_keys = ("from_logits", "label_smoothing")

    def __init__(
        self,
        name: str = "binary_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0,
    ) -> None:
        super().__init__(
            binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self._direction = "down"


class CategoricalCrossentropy(_LossMeanMetric):
    """Running mean of `categorical_crossentropy` values (one-hot targets).

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.
        from_logits: Whether predictions are logits.
        label_smoothing: Mixes targets with the uniform distribution.
        axis: The class axis.

    Example:
        >>> import torch
        >>> m = CategoricalCrossentropy()
        >>> m.update_state(torch.tensor([[0, 1, 0], [0, 0, 1]]), torch.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))
        >>> m.result()
        tensor(1.1769)
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        name: str = "categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0,
        axis: int = -1,
    ) -> None:
        super().__init__(
            categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        self._direction = "down"


class SparseCategoricalCrossentropy(_LossMeanMetric):
    """Running mean of `sparse_categorical_crossentropy` values (integer targets).

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.
        from_logits: Whether predictions are logits.
        ignore_class: A label whose entries are left out of the mean.
        axis: The class axis.

    Example:
        >>> import torch
        >>> m = SparseCategoricalCrossentropy()
        >>> m.update_state(torch.tensor([1, 2]), torch.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))
        >>> m.result()
        tensor(1.1769)
    """

    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(
        self,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        ignore_class: int | None = None,
        axis: int = -1,
    ) -> None:
        super().__init__(
            sparse_categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis
        self._direction = "down"
