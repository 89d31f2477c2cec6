"""Regression metrics: running means of the regression losses, RMSE, cosine similarity and R2."""

from __future__ import annotations

import warnings
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
from kfit.utils.errors import received

__all__ = [
    "CosineSimilarity",
    "LogCoshError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "R2Score",
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


_CLASS_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """Coefficient of determination `1 - SS_res / SS_tot`, per output column, then aggregated.

    The state holds per-column sums of (weighted) targets, squared targets, squared errors and
    weights, so the score over all batches seen is exact, not a mean of batch scores. It is
    created by the first update, when the number of columns is known.

    Args:
        class_aggregation: How the per-column scores are combined: `"uniform_average"`
            (their mean), `"variance_weighted_average"` (weighted by each column's target
            variance) or `None` (one score per column).
        num_regressors: The number of independent variables of the model; a value > 0
            gives the adjusted R2 score.
        name: Name of the metric.
        dtype: Dtype of the state.

    Raises:
        ValueError: for an unknown `class_aggregation` or a negative `num_regressors`.

    Example:
        >>> m = R2Score()
        >>> m.update_state(torch.tensor([[1.0], [4.0], [3.0]]), torch.tensor([[2.0], [4.0], [4.0]]))
        >>> m.result()
        tensor(0.5714)
    """

    def __init__(
        self,
        class_aggregation: str | None = "uniform_average",
        num_regressors: int = 0,
        name: str = "r2_score",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if class_aggregation not in _CLASS_AGGREGATIONS:
            raise ValueError(
                f"Expected `class_aggregation` to be one of {_CLASS_AGGREGATIONS}. "
                f"{received('class_aggregation', class_aggregation)} "
                "Use 'uniform_average' (the default) unless columns need other weights."
            )
        if num_regressors < 0:
            raise ValueError(
                "Expected `num_regressors` to be >= 0. "
                f"{received('num_regressors', num_regressors)} Pass 0 for the plain R2 score."
            )
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable(shape=(), name="num_samples")
        # `num_samples` as a host number too: the adjusted score branches on it in `result()`.
        self._host_num_samples = 0
        self._built = False

    def _add_state(self, num_columns: int) -> None:
        self.squared_sum = self.add_variable(shape=(num_columns,), name="squared_sum")
        self.sum = self.add_variable(shape=(num_columns,), name="sum")
        self.total_mse = self.add_variable(shape=(num_columns,), name="residual")
        self.count = self.add_variable(shape=(num_columns,), name="count")
        self._built = True

    # Keras's API: `(y_true, y_pred)`, not `values`.
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch of 2-D targets and predictions (and optional per-sample weights)."""
        dtype = self._torch_dtype
        y_pred = convert_to_tensor(y_pred, dtype, self._device)
        if y_pred.device != self._device:
            self.to(y_pred.device)  # once: the state follows the inputs
        y_true = convert_to_tensor(y_true, dtype, y_pred.device)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            if y_true.dim() != 2 or y_pred.dim() != 2:
                raise ValueError(
                    "R2Score expects 2D inputs of shape (batch_size, output_dim). "
                    f"Received: y_true.shape={tuple(y_true.shape)}, "
                    f"y_pred.shape={tuple(y_pred.shape)}. Reshape them to (batch_size, output_dim)."
                )
            self._add_state(y_pred.shape[-1])
        if sample_weight is None:
            weight = torch.ones((), dtype=dtype, device=y_true.device)
        else:
            weight = convert_to_tensor(sample_weight, dtype, y_true.device)
            if weight.dim() == 1:
                weight = weight.unsqueeze(1)
        weight = weight.broadcast_to(y_true.shape)
        weighted_y_true = y_true * weight
        self.sum.add_(weighted_y_true.sum(dim=0))
        self.squared_sum.add_((y_true * weighted_y_true).sum(dim=0))
        self.total_mse.add_((torch.square(y_true - y_pred) * weight).sum(dim=0))
        self.count.add_(weight.sum(dim=0))
        self.num_samples.add_(y_true.numel())
        self._host_num_samples += y_true.numel()

    def result(self) -> torch.Tensor:
        if not self._built:
            return torch.zeros((), dtype=self._torch_dtype, device=self._device)
        total_sum = self.sum.as_subclass(torch.Tensor)
        mean = total_sum / self.count
        total = self.squared_sum - total_sum * mean
        raw_scores = 1.0 - self.total_mse / total
        raw_scores = torch.where(torch.isinf(raw_scores), 0.0, raw_scores)
        if self.class_aggregation == "uniform_average":
            score = raw_scores.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw_scores).sum() / total.sum()
        else:
            score = raw_scores
        if self.num_regressors == 0:
            return score
        n = self._host_num_samples
        if self.num_regressors > n - 1:
            warnings.warn(
                "More independent predictors than data points in the adjusted R2 score. "
                "Falling back to the standard R2 score.",
                stacklevel=2,
            )
            return score
        if self.num_regressors == n - 1:
            warnings.warn(
                "Division by zero in the adjusted R2 score. Falling back to the standard R2 score.",
                stacklevel=2,
            )
            return score
        return 1.0 - (1.0 - score) * float(n - 1) / float(n - self.num_regressors - 1)

    def reset_state(self) -> None:
        super().reset_state()
        self._host_num_samples = 0

    def set_state(self, state: dict[str, Any]) -> None:
        if not self._built and "sum" in state:
            # A fresh metric restoring a saved one: the width comes from the saved sums.
            self._add_state(torch.as_tensor(state["sum"]).shape[0])
        super().set_state(state)
        # Restoring is rare (resume): reading the count back to the host is fine here.
        self._host_num_samples = int(self.num_samples.item())

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
