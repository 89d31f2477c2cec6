"""F-scores: `FBetaScore` and `F1Score`, from per-class true/false positive and negative counts.

The counts are sums of (weighted) 0/1 products, accumulated on the inputs' device; the score
is formed only in `result()`.
"""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.config import epsilon
from kfit.backend.dtypes import convert_to_tensor
from kfit.metrics.metric import Metric
from kfit.utils.errors import received

__all__ = ["F1Score", "FBetaScore"]

_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """F-beta score: `(1 + beta**2) * precision * recall / (beta**2 * precision + recall)`.

    It works for multi-class and multi-label targets of shape `(batch, num_classes)`. The
    state (one count per class, or one in all with `average="micro"`) is created by the
    first update, when the number of classes is known.

    Args:
        average: `None` (one score per class), `"micro"` (one score from the counts summed
            over classes), `"macro"` (the mean of the per-class scores) or `"weighted"`
            (their mean weighted by each class's number of true instances).
        beta: How much more recall counts than precision; a float > 0.
        threshold: Predictions above it count as 1. `None` marks the largest prediction of
            each row instead (a float in (0, 1] otherwise).
        name: Name of the metric.
        dtype: Dtype of the state.

    Raises:
        ValueError: for an unknown `average`, a `beta` that is not a positive float or a
            `threshold` that is not a float in (0, 1].

    Example:
        >>> import torch
        >>> m = FBetaScore(beta=2.0, threshold=0.5)
        >>> y_true = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0]])
        >>> y_pred = torch.tensor([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]])
        >>> m.update_state(y_true, y_pred)
        >>> m.result()
        tensor([0.3846, 0.9091, 0.8333])
    """

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str = "fbeta_score",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if average not in _AVERAGES:
            raise ValueError(
                f"Expected `average` to be one of {_AVERAGES}. {received('average', average)} "
                "Use None for per-class scores or 'macro' for their mean."
            )
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(
                f"Expected `beta` to be a Python float > 0. {received('beta', beta)} "
                "Pass e.g. beta=2.0 (not the int 2)."
            )
        if threshold is not None and (
            not isinstance(threshold, float) or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                "Expected `threshold` to be None or a Python float with 0 < threshold <= 1. "
                f"{received('threshold', threshold)} Pass e.g. threshold=0.5."
            )
        self.average = average
        self.beta = beta
        self.threshold = threshold
        # The batch axis is summed for per-class counts; "micro" sums everything.
        self.axis: int | None = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        if y_pred.dim() != 2 or y_true.dim() != 2:
            raise ValueError(
                f"`{type(self).__name__}` expects 2D inputs of shape (batch_size, num_classes). "
                f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}. "
                "One-hot encode integer labels first (e.g. `kfit.utils.to_categorical`)."
            )
        self._add_state(() if self.average == "micro" else (y_pred.shape[-1],))

    def _add_state(self, shape: tuple[int, ...]) -> None:
        self.true_positives = self.add_variable(shape=shape, name="true_positives")
        self.false_positives = self.add_variable(shape=shape, name="false_positives")
        self.false_negatives = self.add_variable(shape=shape, name="false_negatives")
        self.intermediate_weights = self.add_variable(shape=shape, name="intermediate_weights")
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds the (weighted) per-class counts of one batch.

        Args:
            y_true: 0/1 targets of shape `(batch, num_classes)`.
            y_pred: Scores of the same shape.
            sample_weight: Optional per-sample weights of shape `(batch,)`.
        """
        dtype = self._torch_dtype
        y_pred = convert_to_tensor(y_pred, dtype, self._device)
        if y_pred.device != self._device:
            self.to(y_pred.device)  # once: the state follows the inputs
        y_true = convert_to_tensor(y_true, dtype, y_pred.device)
        if not self._built:
            self._build(y_true, y_pred)
        if self.threshold is None:
            row_max = y_pred.amax(dim=-1, keepdim=True)
            predicted = (y_pred >= row_max) & (y_pred.abs() > 1e-9)
        else:
            predicted = y_pred > self.threshold
        y_pred = predicted.to(dtype)
        weight = None
        if sample_weight is not None:
            weight = convert_to_tensor(sample_weight, dtype, y_pred.device)
            if weight.dim() == 1:
                weight = weight.unsqueeze(1)

        def weighted_sum(values: torch.Tensor) -> torch.Tensor:
            if weight is not None:
                values = values * weight
            return values.sum() if self.axis is None else values.sum(dim=self.axis)

        self.true_positives.add_(weighted_sum(y_pred * y_true))
        self.false_positives.add_(weighted_sum(y_pred * (1.0 - y_true)))
        self.false_negatives.add_(weighted_sum((1.0 - y_pred) * y_true))
        self.intermediate_weights.add_(weighted_sum(y_true))

    def result(self) -> torch.Tensor:
        """The score per class (`average=None`) or a 0-d tensor; zeros before any update."""
        if not self._built:
            return torch.zeros((), dtype=self._torch_dtype, device=self._device)
        eps = epsilon()
        tp = self.true_positives.as_subclass(torch.Tensor)
        precision = tp / (tp + self.false_positives + eps)
        recall = tp / (tp + self.false_negatives + eps)
        beta2 = self.beta**2
        score = precision * recall / (beta2 * precision + recall + eps) * (1 + beta2)
        if self.average == "weighted":
            support = self.intermediate_weights.as_subclass(torch.Tensor)
            return (score * (support / (support.sum() + eps))).sum()
        if self.average is not None:
            return score.mean()
        return score

    def set_state(self, state: dict[str, Any]) -> None:
        if not self._built and "true_positives" in state:
            # A fresh metric restoring a saved one: the shape comes from the saved counts.
            self._add_state(tuple(torch.as_tensor(state["true_positives"]).shape))
        super().set_state(state)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """F1 score, the harmonic mean of precision and recall (`FBetaScore` with `beta=1.0`).

    Args:
        average: `None`, `"micro"`, `"macro"` or `"weighted"` (see `FBetaScore`).
        threshold: Predictions above it count as 1; `None` marks each row's largest one.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> import torch
        >>> m = F1Score(threshold=0.5)
        >>> y_true = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0]])
        >>> y_pred = torch.tensor([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]])
        >>> m.update_state(y_true, y_pred)
        >>> m.result()
        tensor([0.5000, 0.8000, 0.6667])
    """

    def __init__(
        self,
        average: str | None = None,
        threshold: float | None = None,
        name: str = "f1_score",
        dtype: Any = None,
    ) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config
