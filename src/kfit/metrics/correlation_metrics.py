"""Correlation metrics: running means of per-sample Pearson and concordance correlations.

Each sample's correlation is taken along `axis` (the features of one sample), then averaged
over samples like any `MeanMetricWrapper`; this is Keras's definition, not a correlation
over the whole data set.
"""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.config import epsilon
from kfit.losses.loss import cast_and_align
from kfit.metrics.metric import Metric
from kfit.metrics.reduction_metrics import MeanMetricWrapper

__all__ = [
    "ConcordanceCorrelation",
    "PearsonCorrelation",
    "concordance_correlation",
    "pearson_correlation",
]


def pearson_correlation(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Pearson correlation between `y_true` and `y_pred` along `axis` (population moments).

    Args:
        y_true: Targets.
        y_pred: Predictions, same shape (a missing or extra trailing axis of size 1 is fine).
        axis: The axis along which the correlation is computed.

    Example:
        >>> import torch
        >>> pearson_correlation(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[2.0, 4.0, 7.0]]))
        tensor([0.9934])
    """
    y_true, y_pred = cast_and_align(y_true, y_pred)
    true_centered = y_true - y_true.mean(dim=axis, keepdim=True)
    pred_centered = y_pred - y_pred.mean(dim=axis, keepdim=True)
    true_centered = true_centered / true_centered.std(dim=axis, keepdim=True, correction=0)
    pred_centered = pred_centered / pred_centered.std(dim=axis, keepdim=True, correction=0)
    return (true_centered * pred_centered).mean(dim=axis)


def concordance_correlation(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Lin's concordance correlation along `axis`, with Keras 3's exact formula.

    Keras forms the covariance term from `y_true - mean(y_pred)` (not `mean(y_true)`); kfit
    does the same so that the numbers agree.

    Args:
        y_true: Targets.
        y_pred: Predictions, same shape.
        axis: The axis along which the correlation is computed.

    Example:
        >>> import torch
        >>> concordance_correlation(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1.0, 2.0, 3.0]]))
        tensor([1.0000])
    """
    y_true, y_pred = cast_and_align(y_true, y_pred)
    true_mean = y_true.mean(dim=axis, keepdim=True)
    pred_mean = y_pred.mean(dim=axis, keepdim=True)
    true_var = (y_true - true_mean).var(dim=axis, keepdim=True, correction=0)
    pred_var = (y_pred - pred_mean).var(dim=axis, keepdim=True, correction=0)
    covariance = (y_true - pred_mean) * (y_pred - pred_mean)
    norm = true_var + pred_var + torch.square(true_mean - pred_mean)
    return (2 * covariance / (norm + epsilon())).mean(dim=axis)


class _CorrelationMetric(MeanMetricWrapper):
    """A running mean of a correlation function: larger is better; the config adds `axis`."""

    def get_config(self) -> dict[str, Any]:
        return {**Metric.get_config(self), "axis": self._fn_kwargs["axis"]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)


class PearsonCorrelation(_CorrelationMetric):
    """Running mean of the per-sample `pearson_correlation`.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.
        axis: The axis along which each correlation is computed.

    Example:
        >>> import torch
        >>> m = PearsonCorrelation()
        >>> y_true = torch.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, 2.0]])
        >>> m.update_state(y_true, torch.tensor([[2.0, 4.0, 7.0], [0.0, 1.0, 2.0]]))
        >>> m.result()
        tensor(0.7467)
    """

    def __init__(self, name: str = "pearson_correlation", dtype: Any = None, axis: int = -1) -> None:
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"


class ConcordanceCorrelation(_CorrelationMetric):
    """Running mean of the per-sample `concordance_correlation`.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.
        axis: The axis along which each correlation is computed.

    Example:
        >>> import torch
        >>> m = ConcordanceCorrelation()
        >>> y_true = torch.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, 2.0]])
        >>> m.update_state(y_true, torch.tensor([[2.0, 4.0, 7.0], [0.0, 1.0, 2.0]]))
        >>> m.result()
        tensor(0.4113)
    """

    def __init__(self, name: str = "concordance_correlation", dtype: Any = None, axis: int = -1) -> None:
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"
