"""Regression metrics: running means of the regression losses, plus RMSE and cosine similarity."""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.dtypes import convert_to_tensor
from kfit.losses.functions import (
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from kfit.losses.loss import cast_and_align, l2_normalize, squeeze_or_expand_to_same_rank
from kfit.metrics.metric import Metric
from kfit.metrics.reduction_metrics import Mean, MeanMetricWrapper

__all__ = [
    "CosineSimilarity",
    "LogCoshError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "RootMeanSquaredError",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
]


class _FixedFunctionMetric(MeanMetricWrapper):
    """A `MeanMetricWrapper` whose function is implied by the class."""

    def get_config(self) -> dict[str, Any]:
        return Metric.get_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)


class MeanSquaredError(_FixedFunctionMetric):
    """Running mean of `mean_squared_error` values.

    Example:
        >>> m = MeanSquaredError()
        >>> m.update_state(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        >>> m.result()
        tensor(0.5000)
    """

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_error, name=name, dtype=dtype)
        self._direction = "down"


class MeanAbsoluteError(_FixedFunctionMetric):
    """Running mean of `mean_absolute_error` values.

    Example:
        >>> m = MeanAbsoluteError()
        >>> m.update_state(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [1.0]]))
        >>> m.result()
        tensor(0.5000)
    """

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, name=name, dtype=dtype)
        self._direction = "down"


class MeanAbsolutePercentageError(_FixedFunctionMetric):
    """Running mean of `mean_absolute_percentage_error` values.

    Example:
        >>> m = MeanAbsolutePercentageError()
        >>> m.update_state(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
        >>> m.result()
        tensor(50.)
    """

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)
        self._direction = "down"


class MeanSquaredLogarithmicError(_FixedFunctionMetric):
    """Running mean of `mean_squared_logarithmic_error` values.

    Example:
        >>> m = MeanSquaredLogarithmicError()
        >>> m.update_state(torch.tensor([[1.0]]), torch.tensor([[1.0]]))
        >>> m.result()
        tensor(0.)
    """

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_logarithmic_error, name=name, dtype=dtype)
        self._direction = "down"


class RootMeanSquaredError(Mean):
    """Square root of the running (weighted) mean of squared errors.

    Example:
        >>> m = RootMeanSquaredError()
        >>> m.update_state(torch.tensor([[0.0], [0.0]]), torch.tensor([[3.0], [-3.0]]))
        >>> m.result()
        tensor(3.)
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self._direction = "down"

    # Keras's API: a `Mean` that takes `(y_true, y_pred)`, not `values`.
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        """Adds the squared errors of a batch to the running mean."""
        y_pred = convert_to_tensor(y_pred, self._torch_dtype)
        y_true = convert_to_tensor(y_true, self._torch_dtype, y_pred.device)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        super().update_state(torch.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self) -> torch.Tensor:
        return torch.sqrt(super().result())


def _cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    y_true, y_pred = cast_and_align(y_true, y_pred)
    return (l2_normalize(y_true, axis) * l2_normalize(y_pred, axis)).sum(dim=axis)


class CosineSimilarity(MeanMetricWrapper):
    """Running mean of the cosine similarity between targets and predictions along `axis`.

    Unlike the loss of the same name, larger is better (1 for parallel vectors).

    Example:
        >>> m = CosineSimilarity()
        >>> m.update_state(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]))
        >>> m.result()
        tensor(1.)
    """

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None, axis: int = -1) -> None:
        super().__init__(_cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"

    def get_config(self) -> dict[str, Any]:
        return {**Metric.get_config(self), "axis": self.axis}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)


class LogCoshError(_FixedFunctionMetric):
    """Running mean of `log_cosh` values.

    Example:
        >>> m = LogCoshError()
        >>> m.update_state(torch.tensor([[1.0]]), torch.tensor([[1.0]]))
        >>> m.result(), m.name
        (tensor(0.), 'logcosh')
    """

    def __init__(self, name: str = "logcosh", dtype: Any = None) -> None:
        super().__init__(log_cosh, name=name, dtype=dtype)
        self._direction = "down"
