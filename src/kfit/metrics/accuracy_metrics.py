"""Accuracy metrics: exact match, thresholded binary, categorical, sparse and top-k variants.

The per-sample functions return `floatx` tensors of 0/1 matches; the classes are running
means of them (so `sample_weight` works as for any `MeanMetricWrapper`).
"""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.config import floatx
from kfit.backend.dtypes import convert_to_tensor, to_torch_dtype
from kfit.losses.loss import squeeze_or_expand_to_same_rank
from kfit.metrics.metric import Metric
from kfit.metrics.reduction_metrics import MeanMetricWrapper

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]


def _matches(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a == b).to(to_torch_dtype(floatx()))


def _argmax(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    return torch.argmax(x, dim=-1)


def _in_top_k(targets: torch.Tensor, predictions: torch.Tensor, k: int) -> torch.Tensor:
    """Whether each target's score is at least the k-th largest score of its row (ties count)."""
    k = min(k, predictions.shape[-1])
    kth_largest = torch.topk(predictions, k, dim=-1).values[..., -1]
    target_scores = torch.take_along_dim(predictions, targets.long().unsqueeze(-1), dim=-1)
    return target_scores.squeeze(-1) >= kth_largest


def accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where `y_true == y_pred` exactly, else 0.0 (ranks aligned first).

    Example:
        >>> accuracy(torch.tensor([1, 2, 3]), torch.tensor([[1.0], [0.0], [3.0]]))
        tensor([[1.],
                [0.],
                [1.]])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return _matches(y_true, y_pred)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> torch.Tensor:
    """1.0 where `(y_pred > threshold)` equals the 0/1 label, else 0.0.

    Args:
        y_true: Labels in {0, 1}.
        y_pred: Probabilities (or scores compared with `threshold`).
        threshold: Predictions above it count as 1.

    Example:
        >>> binary_accuracy(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.7], [0.6]]))
        tensor([[1.],
                [0.]])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, device=y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return _matches(y_true, (y_pred > threshold).to(y_true.dtype))


def categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where the arg-max of the one-hot `y_true` equals the arg-max of `y_pred`.

    Example:
        >>> scores = torch.tensor([[0.2, 0.8], [0.3, 0.7]])
        >>> categorical_accuracy(torch.tensor([[0, 1], [1, 0]]), scores)
        tensor([1., 0.])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = _argmax(convert_to_tensor(y_true, device=y_pred.device)).to(y_pred.dtype)
    original_shape = y_true.shape
    reshape_matches = False
    if y_true.dim() == y_pred.dim():
        y_true = y_true.squeeze(-1)
        reshape_matches = True
    y_pred = _argmax(y_pred).to(y_true.dtype)
    matches = _matches(y_true, y_pred)
    if reshape_matches:
        matches = matches.reshape(original_shape)
    return matches


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where the integer label equals the arg-max of `y_pred`, else 0.0.

    Labels of shape `(batch, 1)` are accepted and give one value per sample.

    Example:
        >>> scores = torch.tensor([[0.2, 0.8], [0.3, 0.7]])
        >>> sparse_categorical_accuracy(torch.tensor([[1], [0]]), scores)
        tensor([1., 0.])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype, y_pred.device)
    original_shape = y_true.shape
    reshape_matches = False
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
        reshape_matches = True
    y_pred = _argmax(y_pred).to(y_true.dtype)
    matches = _matches(y_true, y_pred)
    if reshape_matches:
        matches = matches.reshape(original_shape)
    if matches.dim() > 1 and matches.shape[-1] == 1:
        matches = matches.squeeze(-1)
    return matches


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> torch.Tensor:
    """1.0 where the one-hot target class is among the `k` highest predictions (ties count).

    Example:
        >>> scores = torch.tensor([[0.5, 0.3, 0.2]])
        >>> top_k_categorical_accuracy(torch.tensor([[0, 0, 1]]), scores, k=2)
        tensor([0.])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = _argmax(convert_to_tensor(y_true, y_pred.dtype, y_pred.device))
    original_shape = y_true.shape
    if y_pred.dim() > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape_matches = y_true.dim() > 1
    if reshape_matches:
        y_true = y_true.reshape(-1)
    matches = _in_top_k(y_true, y_pred, k).to(to_torch_dtype(floatx()))
    if reshape_matches:
        matches = matches.reshape(original_shape)
    return matches


def sparse_top_k_categorical_accuracy(
    y_true: Any, y_pred: Any, k: int = 5, from_sorted_ids: bool = False
) -> torch.Tensor:
    """1.0 where the integer label is among the `k` highest predictions (ties count).

    Args:
        y_true: Integer labels.
        y_pred: Scores per class or, with `from_sorted_ids=True`, class ids sorted by
            decreasing score (only the first `k` columns are looked at).
        k: How many top predictions count as a hit.
        from_sorted_ids: Whether `y_pred` holds sorted class ids instead of scores.

    Example:
        >>> scores = torch.tensor([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])
        >>> sparse_top_k_categorical_accuracy(torch.tensor([2, 0]), scores, k=2)
        tensor([0., 1.])
    """
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true, y_pred.dtype if from_sorted_ids else torch.int32, y_pred.device)
    original_shape = y_true.shape
    if y_pred.dim() > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape_matches = y_true.dim() > 1
    if reshape_matches:
        y_true = y_true.reshape(-1)
    if from_sorted_ids:
        # A label listed twice among the first k ids still counts once.
        hits = (y_true.unsqueeze(1) == y_pred[:, :k]).any(dim=1)
    else:
        hits = _in_top_k(y_true, y_pred, k)
    matches = hits.to(to_torch_dtype(floatx()))
    if reshape_matches:
        matches = matches.reshape(original_shape)
    return matches


class _AccuracyMetric(MeanMetricWrapper):
    """Accuracy metrics: larger is better; the config lists only constructor arguments."""

    _config_keys: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        config = Metric.get_config(self)
        config.update({key: self._fn_kwargs[key] for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)


class Accuracy(_AccuracyMetric):
    """How often predictions equal labels exactly.

    Example:
        >>> m = Accuracy()
        >>> m.update_state(torch.tensor([[1], [2], [3], [4]]), torch.tensor([[0], [2], [3], [4]]))
        >>> m.result()
        tensor(0.7500)
    """

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(accuracy, name=name, dtype=dtype)
        self._direction = "up"


class BinaryAccuracy(_AccuracyMetric):
    """How often thresholded predictions match binary labels.

    Args:
        name: Name of the metric.
        dtype: Dtype of the state.
        threshold: Predictions above it count as 1.

    Example:
        >>> m = BinaryAccuracy()
        >>> y_true = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
        >>> m.update_state(y_true, torch.tensor([[0.98], [1.0], [0.0], [0.6]]))
        >>> m.result()
        tensor(0.7500)
    """

    _config_keys = ("threshold",)

    def __init__(
        self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5
    ) -> None:
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold
        self._direction = "up"


class CategoricalAccuracy(_AccuracyMetric):
    """How often the arg-max of the predictions matches the one-hot label.

    Example:
        >>> m = CategoricalAccuracy()
        >>> scores = torch.tensor([[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]])
        >>> m.update_state(torch.tensor([[0, 0, 1], [0, 1, 0]]), scores)
        >>> m.result()
        tensor(0.5000)
    """

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"


class SparseCategoricalAccuracy(_AccuracyMetric):
    """How often the arg-max of the predictions matches the integer label.

    Example:
        >>> m = SparseCategoricalAccuracy()
        >>> scores = torch.tensor([[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]])
        >>> m.update_state(torch.tensor([[2], [1]]), scores)
        >>> m.result()
        tensor(0.5000)
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"


class TopKCategoricalAccuracy(_AccuracyMetric):
    """How often the one-hot target is among the `k` top predictions.

    Example:
        >>> m = TopKCategoricalAccuracy(k=1)
        >>> scores = torch.tensor([[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]])
        >>> m.update_state(torch.tensor([[0, 0, 1], [0, 1, 0]]), scores)
        >>> m.result()
        tensor(0.5000)
    """

    _config_keys = ("k",)

    def __init__(
        self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None
    ) -> None:
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k
        self._direction = "up"


class SparseTopKCategoricalAccuracy(_AccuracyMetric):
    """How often the integer target is among the `k` top predictions.

    Args:
        k: How many top predictions count as a hit.
        name: Name of the metric.
        dtype: Dtype of the state.
        from_sorted_ids: Whether predictions are class ids sorted by decreasing score.

    Example:
        >>> m = SparseTopKCategoricalAccuracy(k=1)
        >>> m.update_state(torch.tensor([2, 1]), torch.tensor([[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]]))
        >>> m.result()
        tensor(0.5000)
    """

    def __init__(
        self,
        k: int = 5,
        name: str = "sparse_top_k_categorical_accuracy",
        dtype: Any = None,
        from_sorted_ids: bool = False,
    ) -> None:
        super().__init__(
            sparse_top_k_categorical_accuracy,
            name=name,
            dtype=dtype,
            k=k,
            from_sorted_ids=from_sorted_ids,
        )
        self.k = k
        self.from_sorted_ids = from_sorted_ids
        self._direction = "up"

    def get_config(self) -> dict[str, Any]:
        config = {**Metric.get_config(self), "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
