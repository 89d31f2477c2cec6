"""Metrics with the `keras.metrics` API: on-device running state, Keras names and lookup rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kfit.losses.functions import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from kfit.metrics.accuracy_metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from kfit.metrics.confusion_metrics import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
)
from kfit.metrics.correlation_metrics import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    concordance_correlation,
    pearson_correlation,
)
from kfit.metrics.f_score_metrics import F1Score, FBetaScore
from kfit.metrics.hinge_metrics import CategoricalHinge, Hinge, SquaredHinge
from kfit.metrics.iou_metrics import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from kfit.metrics.metric import Metric, MetricVariable
from kfit.metrics.probabilistic_metrics import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from kfit.metrics.reduction_metrics import Mean, MeanMetricWrapper, Sum
from kfit.metrics.regression_metrics import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)
from kfit.utils.errors import received, unknown_identifier_error
from kfit.utils.naming import get_object_name, to_snake_case

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "BinaryIoU",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "ConcordanceCorrelation",
    "CosineSimilarity",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "IoU",
    "KLDivergence",
    "LogCoshError",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "MetricVariable",
    "OneHotIoU",
    "OneHotMeanIoU",
    "PearsonCorrelation",
    "Poisson",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity",
    "SquaredHinge",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "accuracy",
    "binary_accuracy",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_accuracy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "concordance_correlation",
    "deserialize",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "pearson_correlation",
    "poisson",
    "resolve_metric",
    "serialize",
    "sparse_categorical_accuracy",
    "sparse_categorical_crossentropy",
    "sparse_top_k_categorical_accuracy",
    "squared_hinge",
    "top_k_categorical_accuracy",
]

_CLASSES: tuple[type[Metric], ...] = (
    Metric,
    Mean,
    Sum,
    MeanMetricWrapper,
    MeanSquaredError,
    RootMeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    LogCoshError,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TruePositives,
    TrueNegatives,
    FalsePositives,
    FalseNegatives,
    Precision,
    Recall,
    AUC,
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    R2Score,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    F1Score,
    FBetaScore,
    IoU,
    BinaryIoU,
    MeanIoU,
    OneHotIoU,
    OneHotMeanIoU,
    PearsonCorrelation,
    ConcordanceCorrelation,
)


_ALL_OBJECTS: dict[str, Any] = {
    **{cls.__name__: cls for cls in _CLASSES},
    **{to_snake_case(cls.__name__): cls for cls in _CLASSES},
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
}

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
        sparse_top_k_categorical_accuracy,
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        log_cosh,
        huber,
        hinge,
        squared_hinge,
        categorical_hinge,
        kl_divergence,
        poisson,
        binary_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        binary_focal_crossentropy,
        categorical_focal_crossentropy,
        pearson_correlation,
        concordance_correlation,
    )
}


def serialize(metric: Metric) -> dict[str, Any]:
    """Returns a JSON-friendly description of a metric: its class name and config.

    Example:
        >>> serialize(BinaryAccuracy(threshold=0.7))["config"]
        {'name': 'binary_accuracy', 'dtype': 'float32', 'threshold': 0.7}
    """
    if not isinstance(metric, Metric):
        raise TypeError(
            "Expected `metric` to be a `kfit.metrics.Metric`. "
            f"{received('metric', metric)} Wrap functions in `MeanMetricWrapper` first."
        )
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(
    config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Metric | Callable[..., Any]:
    """Rebuilds a metric from a name or from `serialize()` output.

    A dict with `"class_name": "function"` names a metric function (the form in which
    `MeanMetricWrapper.get_config` stores its `fn`) and gives that function.

    Args:
        config: A metric name or a dict with `class_name` and `config`.
        custom_objects: Extra name -> class (or function) mappings for user metrics.

    Example:
        >>> deserialize(serialize(BinaryAccuracy(threshold=0.7))).threshold
        0.7
        >>> deserialize({"class_name": "function", "config": "binary_accuracy"}).__name__
        'binary_accuracy'
    """
    table = {**_ALL_OBJECTS, **(custom_objects or {})}
    if isinstance(config, str):
        return _instantiate(config, table)  # what `get(config)` does when there are no custom objects
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Expected `config` to be a metric name or a dict with 'class_name' and 'config'. "
            f"{received('config', config)} Pass the output of `kfit.metrics.serialize`."
        )
    class_name = config["class_name"]
    if class_name == "function":
        functions = {**_FUNCTIONS, **(custom_objects or {})}
        name = config.get("config")
        if name not in functions:
            raise unknown_identifier_error("metric", name, functions)
        return functions[name]
    if class_name not in table:
        raise unknown_identifier_error("metric", class_name, table)
    return table[class_name].from_config(config.get("config") or {})


def _instantiate(name: str, table: dict[str, Any]) -> Metric:
    if name in table:
        return table[name]()
    raise unknown_identifier_error("metric", name, table)


def get(identifier: Any) -> Metric | Callable[..., Any] | None:
    """Resolves a metric identifier the way `keras.metrics.get` does.

    A string names a metric class and gives a fresh instance with the class's default
    name (`"mae"` gives `MeanAbsoluteError()`, named `"mean_absolute_error"`); a class gives
    an instance; a dict is deserialized; metrics and callables are returned unchanged.
    `"acc"` is not a name here: only `resolve_metric` (compile-time) knows it.

    Raises:
        ValueError: for an unknown name (close matches are suggested) or a non-callable.

    Example:
        >>> m = get("mae")
        >>> type(m).__name__, m.name
        ('MeanAbsoluteError', 'mean_absolute_error')
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return _instantiate(identifier, _ALL_OBJECTS)
    if isinstance(identifier, type):  # a class: a fresh instance
        return identifier()
    if callable(identifier):
        return identifier
    raise unknown_identifier_error("metric", identifier, _ALL_OBJECTS)


def _shape_kind(y_true: Any, y_pred: Any) -> str:
    """Which accuracy the string "accuracy" means for these shapes."""
    true_shape = tuple(np.shape(y_true))
    pred_shape = tuple(np.shape(y_pred))
    if pred_shape[-1] == 1:
        return "binary"
    if len(true_shape) < len(pred_shape) or (true_shape[-1] == 1 and pred_shape[-1] > 1):
        return "sparse"
    return "categorical"


def resolve_metric(identifier: Any, y_true: Any, y_pred: Any) -> Metric:
    """Turns one entry of `compile(metrics=[...])` into a `Metric`, as Keras's compile step does.

    * `"accuracy"` / `"acc"` (any case) pick `BinaryAccuracy` when `y_pred` has one column,
      `SparseCategoricalAccuracy` when `y_true` has fewer dimensions or a single column,
      else `CategoricalAccuracy`; the metric keeps the string as its name.
    * Other strings resolve through `get` and are renamed to the string as given, so
      `"mae"` logs as `"mae"` and `"mean_absolute_error"` as `"mean_absolute_error"`.
    * Metric objects are used as they are; plain functions are wrapped in
      `MeanMetricWrapper` named after the function.

    The loss plays no part in this choice (as in Keras 3).

    Args:
        identifier: A string, a `Metric` object or class, or a function `fn(y_true, y_pred)`.
        y_true: A batch of targets (only its shape is read).
        y_pred: A batch of predictions (only its shape is read).

    Example:
        >>> import torch
        >>> m = resolve_metric("acc", torch.zeros(4), torch.zeros(4, 3))
        >>> type(m).__name__, m.name
        ('SparseCategoricalAccuracy', 'acc')
    """
    if identifier is None:
        raise ValueError(
            "Expected a metric identifier (a name, a `Metric` or a function). "
            f"{received('identifier', None)} Remove the `None` entry from `metrics`."
        )
    if str(identifier).lower() in ("accuracy", "acc"):
        kind = _shape_kind(y_true, y_pred)
        cls = {
            "binary": BinaryAccuracy,
            "sparse": SparseCategoricalAccuracy,
            "categorical": CategoricalAccuracy,
        }[kind]
        metric = cls(name=str(identifier))
    else:
        metric = get(identifier)
    name = identifier if isinstance(identifier, str) else get_object_name(metric)
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric)
    metric.name = name
    return metric
