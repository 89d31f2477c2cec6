"""Losses with the semantics of `keras.losses` (Keras 3), and their lookup by name.

The package follows Keras's layout:

* `loss.py`: the `Loss` base class and the helpers that losses and metrics share
  (`squeeze_or_expand_to_same_rank`, `apply_mask`, `reduce_weighted_values`, ...);
* `functions.py`: the loss functions, `(y_true, y_pred)` -> per-sample values;
* `losses.py`: `LossFunctionWrapper` and one `Loss` class per function;
* this module: the registry, `get`, `serialize` and `deserialize`, which resolve names
  (`"mse"`, `"Huber"`, ...) to those functions and classes.

`ALL_OBJECTS` (the built-in classes and functions) and `ALL_OBJECTS_DICT` (every name `get`
understands) carry Keras's names for its registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfit.losses.functions import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    categorical_hinge,
    circle,
    cosine_similarity,
    ctc,
    dice,
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
    tversky,
)
from kfit.losses.loss import Loss
from kfit.losses.losses import (
    CTC,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    CategoricalHinge,
    Circle,
    CosineSimilarity,
    Dice,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    LossFn,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    Tversky,
)
from kfit.utils.errors import received, unknown_identifier_error

__all__ = [
    "CTC",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CategoricalHinge",
    "Circle",
    "CosineSimilarity",
    "Dice",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
    "circle",
    "cosine_similarity",
    "ctc",
    "deserialize",
    "dice",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "serialize",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "tversky",
]

_CLASSES: tuple[type[Loss], ...] = (
    Loss,
    LossFunctionWrapper,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    Huber,
    LogCosh,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    CTC,
    Dice,
    Tversky,
    Circle,
)

_FUNCTIONS: tuple[LossFn, ...] = (
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    cosine_similarity,
    huber,
    log_cosh,
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
    categorical_generalized_cross_entropy,
    ctc,
    dice,
    tversky,
    circle,
)

_ALIASES: dict[str, LossFn] = {
    "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
    "kld": kl_divergence,
    "KLD": kl_divergence,
    "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error,
    # Keras 2 spelling, still common in tutorials; Keras 3 only accepts `log_cosh`.
    "logcosh": log_cosh,
}

# Keras's names: every built-in class and function, and every name `get` understands. The
# metrics read `ALL_OBJECTS` to know that a running mean of a loss is to be minimised.
ALL_OBJECTS: frozenset[Any] = frozenset(_CLASSES) | frozenset(_FUNCTIONS)
ALL_OBJECTS_DICT: dict[str, Any] = {
    **{cls.__name__: cls for cls in _CLASSES},
    **{fn.__name__: fn for fn in _FUNCTIONS},
    **_ALIASES,
}


def serialize(loss: Loss | Callable[..., Any]) -> dict[str, Any]:
    """Returns a JSON-friendly description of a `Loss` object or a loss function.

    Example:
        >>> serialize(Huber(delta=2.0))["config"]
        {'name': 'huber_loss', 'reduction': 'sum_over_batch_size', 'delta': 2.0}
        >>> serialize(mean_squared_error)
        {'class_name': 'function', 'config': 'mean_squared_error'}
    """
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    if callable(loss):
        return {"class_name": "function", "config": getattr(loss, "__name__", type(loss).__name__)}
    raise TypeError(
        "Expected `loss` to be a `Loss` object or a loss function. "
        f"{received('loss', loss)} Pass one of those."
    )


def deserialize(
    config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Loss | Callable[..., Any]:
    """Rebuilds a loss from a name or from `serialize()` output.

    Args:
        config: A loss name or a dict with `class_name` and `config`.
        custom_objects: Extra name -> class/function mappings to resolve user losses.

    Example:
        >>> deserialize(serialize(Huber(delta=2.0))).get_config()["delta"]
        2.0
    """
    table = {**ALL_OBJECTS_DICT, **(custom_objects or {})}
    if isinstance(config, str):
        if config not in table:
            raise unknown_identifier_error("loss", config, table)
        return table[config]
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Expected `config` to be a loss name or a dict with 'class_name' and 'config'. "
            f"{received('config', config)} Pass the output of `kfit.losses.serialize`."
        )
    class_name = config["class_name"]
    inner = config.get("config")
    if class_name == "function":
        if inner is None:
            raise ValueError(
                "Expected a 'function' config to hold the loss function's name under 'config'. "
                f"{received('config', config)} Pass the output of `kfit.losses.serialize`."
            )
        return deserialize(inner, custom_objects)
    if class_name not in table:
        raise unknown_identifier_error("loss", class_name, table)
    cls = table[class_name]
    return cls.from_config(inner or {})


def get(identifier: Any) -> Loss | Callable[..., Any] | None:
    """Resolves a loss identifier the way `keras.losses.get` does.

    Strings naming a function (`"mse"`, `"categorical_crossentropy"`, ...) give the
    function; strings naming a class (`"MeanSquaredError"`) give a fresh instance; dicts
    are deserialized; `Loss` objects and callables are returned unchanged; `None` gives `None`.

    Raises:
        ValueError: for an unknown name (close matches are suggested) or a non-callable.

    Example:
        >>> get("mse") is mean_squared_error
        True
        >>> type(get("Huber")).__name__
        'Huber'
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        if identifier not in ALL_OBJECTS_DICT:
            raise unknown_identifier_error("loss", identifier, ALL_OBJECTS_DICT)
        obj = ALL_OBJECTS_DICT[identifier]
    else:
        obj = identifier
    if isinstance(obj, type):  # a class: a fresh instance
        return obj()
    if callable(obj):
        return obj
    raise unknown_identifier_error("loss", identifier, ALL_OBJECTS_DICT)
