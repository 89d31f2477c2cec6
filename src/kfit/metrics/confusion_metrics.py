"""Metrics built on confusion-matrix counts: TP/FP/TN/FN, precision, recall, AUC and friends.

Each metric keeps Keras's state variables (`accumulator`, or `true_positives`,
`false_positives`, `true_negatives`, `false_negatives`), one entry per threshold, and adds a
batch's counts to them with device ops only (see `kfit.metrics.metrics_utils`). `result()`
derives the value from the counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kfit.backend.config import epsilon
from kfit.losses.loss import divide_no_nan
from kfit.metrics.metric import Metric
from kfit.metrics.metrics_utils import (
    NEG_INF,
    confusion_counts,
    is_evenly_distributed,
    parse_thresholds,
)
from kfit.utils.errors import received

__all__ = [
    "AUC",
    "FalseNegatives",
    "FalsePositives",
    "Precision",
    "PrecisionAtRecall",
    "Recall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "TrueNegatives",
    "TruePositives",
]

_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class _ConfusionMetric(Metric):
    """Shared plumbing: the thresholds, their tensor on the state's device, and the update."""

    thresholds: list[float]
    _evenly: bool

    def _set_thresholds(self, thresholds: list[float], evenly: bool) -> None:
        self.thresholds = thresholds
        self._evenly = evenly
        self._threshold_tensor = torch.tensor(thresholds, dtype=self._torch_dtype)

    def to(self, device: torch.device | str) -> Metric:
        super().to(device)
        self._threshold_tensor = self._threshold_tensor.to(self._device)
        return self

    def _counts(
        self,
        y_true: Any,
        y_pred: Any,
        sample_weight: Any,
        **options: Any,
    ) -> dict[str, torch.Tensor]:
        if isinstance(y_pred, torch.Tensor) and y_pred.device != self._device:
            # The state follows the inputs: it moves once, on the first update.
            self.to(y_pred.device)
        return confusion_counts(
            y_true,
            y_pred,
            self.thresholds,
            thresholds_tensor=self._threshold_tensor,
            evenly_distributed=self._evenly,
            sample_weight=sample_weight,
            dtype=self._torch_dtype,
            device=self._device,
            **options,
        )

    def _value(self, values: torch.Tensor) -> torch.Tensor:
        # One threshold gives a scalar, several a vector, as in Keras.
        values = values.detach().as_subclass(torch.Tensor)
        return values[0].clone() if len(self.thresholds) == 1 else values.clone()


class _ConfusionCount(_ConfusionMetric):
    """The weighted count of one confusion-matrix cell at each threshold."""

    _cell = "tp"

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        values = parse_thresholds(thresholds, 0.5)
        self._set_thresholds(values, is_evenly_distributed(values))
        self.accumulator = self.add_variable(shape=(len(values),), name="accumulator")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds the batch's (weighted) count of the cell at each threshold."""
        self.accumulator.add_(self._counts(y_true, y_pred, sample_weight, keys=(self._cell,))[self._cell])

    def result(self) -> torch.Tensor:
        return self._value(self.accumulator)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The number (or total weight) of positive labels predicted above the threshold.

    Args:
        thresholds: A threshold in `[0, 1]` or a list of them (a vector result); default 0.5.
            With logits (no sigmoid), use 0.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = TruePositives()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> m.result()
        tensor(2.)
    """

    _cell = "tp"


class FalsePositives(_ConfusionCount):
    """The number (or total weight) of negative labels predicted above the threshold.

    Args:
        thresholds: A threshold in `[0, 1]` or a list of them (a vector result); default 0.5.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = FalsePositives(thresholds=[0.25, 0.75])
        >>> m.update_state([0, 1, 0, 0], [0.5, 0.0, 1.0, 1.0])
        >>> m.result()
        tensor([3., 2.])
    """

    _cell = "fp"


class TrueNegatives(_ConfusionCount):
    """The number (or total weight) of negative labels predicted at or below the threshold.

    Args:
        thresholds: A threshold in `[0, 1]` or a list of them (a vector result); default 0.5.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = TrueNegatives()
        >>> m.update_state([0, 1, 0, 0], [1, 1, 0, 0], sample_weight=[0, 0, 1, 0])
        >>> m.result()
        tensor(1.)
    """

    _cell = "tn"


class FalseNegatives(_ConfusionCount):
    """The number (or total weight) of positive labels predicted at or below the threshold.

    Args:
        thresholds: A threshold in `[0, 1]` or a list of them (a vector result); default 0.5.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = FalseNegatives()
        >>> m.update_state([0, 1, 1, 1], [0, 1, 0, 0])
        >>> m.result()
        tensor(2.)
    """

    _cell = "fn"


class _PrecisionRecall(_ConfusionMetric):
    """Shared constructor of `Precision` and `Recall`."""

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        # With top_k, every kept prediction counts as positive unless thresholds say otherwise.
        values = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._set_thresholds(values, is_evenly_distributed(values))
        self.true_positives = self.add_variable(shape=(len(values),), name="true_positives")

    _other = ""  # the second cell: "fp" for precision, "fn" for recall

    def _update(self, y_true: Any, y_pred: Any, sample_weight: Any) -> dict[str, torch.Tensor]:
        counts = self._counts(
            y_true, y_pred, sample_weight, top_k=self.top_k, class_id=self.class_id, keys=("tp", self._other)
        )
        self.true_positives.add_(counts["tp"])
        return counts

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecall):
    """The fraction of positive predictions that are right: `tp / (tp + fp)`.

    A prediction is positive when it is above the threshold (and, with `top_k`, among the
    `k` largest of its row). With `class_id`, only that column is looked at.

    Args:
        thresholds: A threshold in `[0, 1]` or a list of them (a vector result). Defaults
            to 0.5, or to "any score" when `top_k` is set. With logits, use 0.
        top_k: Count only the `k` largest predictions of each row as positive.
        class_id: The column (class) to compute the metric for.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = Precision()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> m.result()
        tensor(0.6667)
        >>> m = Precision(top_k=2)  # the two highest scores, 0.9 and 0.8, are positive
        >>> m.update_state([[0, 0, 1, 1]], [[0.1, 0.9, 0.8, 0.2]])
        >>> m.result()
        tensor(0.5000)
    """

    _other = "fp"

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(thresholds, top_k, class_id, name, dtype)
        self.false_positives = self.add_variable(shape=(len(self.thresholds),), name="false_positives")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds the batch's true and false positives at each threshold."""
        self.false_positives.add_(self._update(y_true, y_pred, sample_weight)["fp"])

    def result(self) -> torch.Tensor:
        return self._value(divide_no_nan(self.true_positives, self.true_positives + self.false_positives))


class Recall(_PrecisionRecall):
    """The fraction of positive labels that are predicted positive: `tp / (tp + fn)`.

    Args:
        thresholds: A threshold in `[0, 1]` or a list of them (a vector result). Defaults
            to 0.5, or to "any score" when `top_k` is set. With logits, use 0.
        top_k: Count only the `k` largest predictions of each row as positive.
        class_id: The column (class) to compute the metric for.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = Recall()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
        >>> m.result()
        tensor(1.)
    """

    _other = "fn"

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(thresholds, top_k, class_id, name, dtype)
        self.false_negatives = self.add_variable(shape=(len(self.thresholds),), name="false_negatives")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds the batch's true positives and false negatives at each threshold."""
        self.false_negatives.add_(self._update(y_true, y_pred, sample_weight)["fn"])

    def result(self) -> torch.Tensor:
        return self._value(divide_no_nan(self.true_positives, self.true_positives + self.false_negatives))


def _check_fraction(name: str, value: Any) -> None:
    if not isinstance(value, (int, float, np.integer, np.floating)) or not 0 <= value <= 1:
        raise ValueError(
            f"Expected `{name}` to be a number in [0, 1]. {received(name, value)} "
            f"Pass e.g. {name}=0.5."
        )


class _AtOperatingPoint(_ConfusionMetric):
    """Counts at `num_thresholds` even thresholds; `result` picks the best feasible one."""

    _config_key = ""

    def __init__(
        self,
        value: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        _check_fraction(self._config_key, value)
        if not isinstance(num_thresholds, (int, np.integer)) or num_thresholds <= 0:
            raise ValueError(
                "Expected `num_thresholds` to be an integer > 0. "
                f"{received('num_thresholds', num_thresholds)} Pass e.g. num_thresholds=200."
            )
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.value = value
        self.num_thresholds = int(num_thresholds)
        self.class_id = class_id
        if num_thresholds == 1:
            self._set_thresholds([0.5], False)
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._set_thresholds([0.0, *inner, 1.0], True)
        shape = (len(self.thresholds),)
        self.true_positives = self.add_variable(shape=shape, name="true_positives")
        self.false_positives = self.add_variable(shape=shape, name="false_positives")
        self.true_negatives = self.add_variable(shape=shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape=shape, name="false_negatives")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds the batch's confusion counts at each threshold."""
        counts = self._counts(y_true, y_pred, sample_weight, class_id=self.class_id)
        self.true_positives.add_(counts["tp"])
        self.false_positives.add_(counts["fp"])
        self.true_negatives.add_(counts["tn"])
        self.false_negatives.add_(counts["fn"])

    def _rates(self) -> dict[str, torch.Tensor]:
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        return {
            "recall": divide_no_nan(tp, tp + fn),
            "precision": divide_no_nan(tp, tp + fp),
            "specificity": divide_no_nan(tn, tn + fp),
        }

    def _best(self, constrained: torch.Tensor, dependent: torch.Tensor) -> torch.Tensor:
        """The largest `dependent` value where `constrained >= value` (0 if there is none)."""
        feasible = torch.where(constrained >= self.value, dependent, 0.0)
        return feasible.max().clamp_min(0.0)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "class_id": self.class_id,
            "num_thresholds": self.num_thresholds,
            self._config_key: self.value,
        }


class SensitivityAtSpecificity(_AtOperatingPoint):
    """The best sensitivity (recall) over thresholds whose specificity is at least `specificity`.

    Args:
        specificity: The required specificity `tn / (tn + fp)`, in `[0, 1]`.
        num_thresholds: How many evenly spaced thresholds in `[0, 1]` to try.
        class_id: The column (class) to compute the metric for.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = SensitivityAtSpecificity(0.5)
        >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
        >>> m.result()
        tensor(0.5000)
    """

    _config_key = "specificity"

    def __init__(
        self,
        specificity: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(specificity, num_thresholds, class_id, name, dtype)
        self.specificity = specificity

    def result(self) -> torch.Tensor:
        rates = self._rates()
        return self._best(rates["specificity"], rates["recall"])


class SpecificityAtSensitivity(_AtOperatingPoint):
    """The best specificity over thresholds whose sensitivity (recall) is at least `sensitivity`.

    Args:
        sensitivity: The required sensitivity `tp / (tp + fn)`, in `[0, 1]`.
        num_thresholds: How many evenly spaced thresholds in `[0, 1]` to try.
        class_id: The column (class) to compute the metric for.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = SpecificityAtSensitivity(0.5)
        >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
        >>> m.result()
        tensor(0.6667)
    """

    _config_key = "sensitivity"

    def __init__(
        self,
        sensitivity: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)
        self.sensitivity = sensitivity

    def result(self) -> torch.Tensor:
        rates = self._rates()
        return self._best(rates["recall"], rates["specificity"])


class PrecisionAtRecall(_AtOperatingPoint):
    """The best precision over thresholds whose recall is at least `recall`.

    Args:
        recall: The required recall, in `[0, 1]`.
        num_thresholds: How many evenly spaced thresholds in `[0, 1]` to try.
        class_id: The column (class) to compute the metric for.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = PrecisionAtRecall(0.5)
        >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
        >>> m.result()
        tensor(0.5000)
    """

    _config_key = "recall"

    def __init__(
        self,
        recall: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(recall, num_thresholds, class_id, name, dtype)
        self.recall = recall

    def result(self) -> torch.Tensor:
        rates = self._rates()
        return self._best(rates["recall"], rates["precision"])


class RecallAtPrecision(_AtOperatingPoint):
    """The best recall over thresholds whose precision is at least `precision` (0 if none).

    Args:
        precision: The required precision, in `[0, 1]`.
        num_thresholds: How many evenly spaced thresholds in `[0, 1]` to try.
        class_id: The column (class) to compute the metric for.
        name: Name of the metric.
        dtype: Dtype of the state.

    Example:
        >>> m = RecallAtPrecision(0.8)
        >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        >>> m.result()
        tensor(0.5000)
    """

    _config_key = "precision"

    def __init__(
        self,
        precision: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(precision, num_thresholds, class_id, name, dtype)
        self.precision = precision

    def result(self) -> torch.Tensor:
        rates = self._rates()
        return self._best(rates["precision"], rates["recall"])


class AUC(_ConfusionMetric):
    """Area under the ROC or precision-recall curve, by a Riemann sum over thresholds.

    The predictions are counted in buckets between `num_thresholds` evenly spaced thresholds
    (or the given `thresholds`, with `-epsilon` and `1 + epsilon` added at the ends); the
    curve through the resulting operating points is then summed.

    Args:
        num_thresholds: Number of thresholds (> 1), `-epsilon` and `1 + epsilon` included.
        curve: `"ROC"` (default), `"PR"` (precision-recall) or `"PRGAIN"`.
        summation_method: `"interpolation"` (trapezoids; for PR, the interpolation of Davis &
            Goadrich), `"minoring"` (lower bound) or `"majoring"` (upper bound).
        name: Name of the metric.
        dtype: Dtype of the state.
        thresholds: Explicit thresholds in `[0, 1]`; `num_thresholds` is then ignored.
        multi_label: Compute one AUC per column of 2-D data and average them, instead of
            flattening the data into one binary problem.
        num_labels: Number of columns with `multi_label`; without it the state is created
            on the first update.
        label_weights: Per-column weights: of the per-label AUCs in the average with
            `multi_label`, else of each flattened prediction.
        from_logits: Whether predictions are logits (a sigmoid is applied first).

    Differences from Keras:
        `get_config()["label_weights"]` is a list of floats (Keras puts a tensor there), so
        the config is plain JSON.

    Example:
        >>> m = AUC(num_thresholds=3)
        >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        >>> m.result()
        tensor(0.7500)
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Any = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Any = None,
        from_logits: bool = False,
    ) -> None:
        curve_key = str(curve).lower()
        if curve_key not in _CURVES:
            raise ValueError(
                f"Expected `curve` to be one of {list(_CURVES.values())}. {received('curve', curve)} "
                "Pass curve='ROC' or curve='PR'."
            )
        method = str(summation_method).lower()
        if method not in _SUMMATIONS:
            raise ValueError(
                f"Expected `summation_method` to be one of {list(_SUMMATIONS)}. "
                f"{received('summation_method', summation_method)} Pass e.g. 'interpolation'."
            )
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(thresholds))
            self.num_thresholds = len(inner) + 2
            evenly = is_evenly_distributed([0.0, *inner, 1.0])
        else:
            if not isinstance(num_thresholds, (int, np.integer)) or num_thresholds <= 1:
                raise ValueError(
                    "Expected `num_thresholds` to be an integer > 1. "
                    f"{received('num_thresholds', num_thresholds)} Pass e.g. num_thresholds=200."
                )
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        # End points just outside [0, 1], so that scores of exactly 0 or 1 fall inside.
        self._set_thresholds([0.0 - epsilon(), *inner, 1.0 + epsilon()], evenly)
        self.curve = _CURVES[curve_key]
        self.summation_method = method
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights: torch.Tensor | None = None
        if label_weights is not None:
            self.label_weights = torch.as_tensor(np.asarray(label_weights), dtype=self._torch_dtype)
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build(num_labels)
        else:
            if num_labels:
                raise ValueError(
                    "Expected `num_labels` only with `multi_label=True`. "
                    f"{received('num_labels', num_labels)} Remove it, or set multi_label=True."
                )
            self._build(None)

    def _build(self, num_labels: int | None) -> None:
        shape: tuple[int, ...] = (self.num_thresholds,)
        if num_labels is not None:
            self._num_labels = num_labels
            shape = (self.num_thresholds, num_labels)
        self.true_positives = self.add_variable(shape=shape, name="true_positives")
        self.false_positives = self.add_variable(shape=shape, name="false_positives")
        self.true_negatives = self.add_variable(shape=shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape=shape, name="false_negatives")
        self._built = True

    def to(self, device: torch.device | str) -> Metric:
        super().to(device)
        if self.label_weights is not None:
            self.label_weights = self.label_weights.to(self._device)
        return self

    def set_state(self, state: dict[str, Any]) -> None:
        # A multi-label AUC without `num_labels` learns the label count from restored state.
        if not self._built and "true_positives" in state:
            self._build(int(np.shape(state["true_positives"])[1]))
            self.to(self._device)
        super().set_state(state)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds the batch's confusion counts at each threshold."""
        if not self._built:
            shape = tuple(np.shape(y_pred))
            if len(shape) != 2:
                raise ValueError(
                    "Expected `y_pred` of rank 2 (samples, labels) with `multi_label=True`. "
                    f"Received: y_pred of shape {shape} (of type {type(y_pred).__name__}). "
                    "Reshape the predictions, or set multi_label=False."
                )
            self._build(int(shape[1]))
        if self._from_logits:
            y_pred = torch.sigmoid(torch.as_tensor(y_pred, dtype=self._torch_dtype))
        counts = self._counts(
            y_true,
            y_pred,
            sample_weight,
            multi_label=self.multi_label,
            # With multi_label the label weights average the per-label AUCs in `result`.
            label_weights=None if self.multi_label else self.label_weights,
        )
        self.true_positives.add_(counts["tp"])
        self.false_positives.add_(counts["fp"])
        self.true_negatives.add_(counts["tn"])
        self.false_negatives.add_(counts["fn"])

    def _average(self, per_threshold: torch.Tensor) -> torch.Tensor:
        if not self.multi_label:
            return per_threshold.sum()
        by_label = per_threshold.sum(0)
        if self.label_weights is None:
            return by_label.mean()
        weights = self.label_weights
        return divide_no_nan((by_label * weights).sum(), weights.sum())

    def _interpolated_pr_auc(self, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
        # Between two thresholds TP and P = TP + FP are taken to change linearly, so the
        # precision TP / P is integrated in closed form (Davis & Goadrich, 2006).
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, dp.clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        ratio = torch.where(
            (p[:-1] > 0) & (p[1:] > 0),
            divide_no_nan(p[:-1], p[1:].clamp_min(0)),
            torch.ones_like(p[1:]),
        )
        increments = divide_no_nan(
            slope * (dtp + intercept * torch.log(ratio)),
            (tp[1:] + fn[1:]).clamp_min(0),
        )
        return self._average(increments)

    def result(self) -> torch.Tensor:
        if not self._built:
            return torch.zeros((), dtype=self._torch_dtype, device=self._device)
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr_auc(tp, fp, fn)
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:
            # Precision and recall gains (Flach & Kull, 2015), with the same guards as Keras:
            # no true positives gives recall gain 0 and precision gain 1; negative recall
            # gains are raised to 0.
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
            no_tp = tp == 0
            x = torch.where(no_tp, 0.0, recall_gain).clamp_min(0.0)
            y = torch.where(no_tp, 1.0, precision_gain)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            # A list rather than Keras's tensor, so the config is plain JSON.
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
