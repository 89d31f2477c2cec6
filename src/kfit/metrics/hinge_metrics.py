"""Hinge metrics: running means of the hinge, squared hinge and categorical hinge losses."""

from __future__ import annotations

from typing import Any

from kfit.losses.functions import categorical_hinge, hinge, squared_hinge
from kfit.metrics.metric import Metric
from kfit.metrics.reduction_metrics import MeanMetricWrapper

__all__ = ["CategoricalHinge", "Hinge", "SquaredHinge"]


class _HingeMetric(MeanMetricWrapper):
    """A running mean of one hinge loss: smaller is better; the config is `name` and `dtype`."""

    def get_config(self) -> dict[str, Any]:
        return Metric.get_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)


class Hinge(_HingeMetric):
    """Running mean of `hinge` values (labels in {0, 1} are mapped to {-1, 1}).

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> import torch
        >>> m = Hinge()
        >>> m.update_state(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[0.6, 0.4], [0.4, 0.6]]))
        >>> m.result()
        tensor(1.3000)
    """

    def __init__(self, name: str = "hinge", dtype: Any = None) -> None:
        super().__init__(hinge, name=name, dtype=dtype)
        self._direction = "down"


class SquaredHinge(_HingeMetric):
    """Running mean of `squared_hinge` values.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> import torch
        >>> m = SquaredHinge()
        >>> m.update_state(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[0.6, 0.4], [0.4, 0.6]]))
        >>> m.result()
        tensor(1.8600)
    """

    def __init__(self, name: str = "squared_hinge", dtype: Any = None) -> None:
        super().__init__(squared_hinge, name=name, dtype=dtype)
        self._direction = "down"


class CategoricalHinge(_HingeMetric):
    """Running mean of `categorical_hinge` values.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> import torch
        >>> m = CategoricalHinge()
        >>> m.update_state(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[0.6, 0.4], [0.4, 0.6]]))
        >>> m.result()
        tensor(1.4000)
    """

    def __init__(self, name: str = "categorical_hinge", dtype: Any = None) -> None:
        super().__init__(categorical_hinge, name=name, dtype=dtype)
        self._direction = "down"
