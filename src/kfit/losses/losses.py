"""The `Loss` classes: `LossFunctionWrapper` and one class per built-in loss function.

Each built-in class is a `LossFunctionWrapper` around the function of the same name in
`kfit.losses.functions`, whose config lists its constructor arguments as Keras's does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

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
from kfit.losses.loss import Loss, squeeze_or_expand_to_same_rank
from kfit.utils.errors import received

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
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
]

LossFn = Callable[..., torch.Tensor]


class LossFunctionWrapper(Loss):
    """Turns a function `fn(y_true, y_pred, **kwargs) -> values` into a `Loss`.

    The ranks of `y_true` and `y_pred` are aligned first (a trailing axis of size 1 is
    added or removed), so `fn` may be any user callable returning per-sample or scalar values.

    Args:
        fn: The loss function.
        reduction: See `Loss`.
        name: Name of the loss.
        dtype: See `Loss`.
        **kwargs: Extra keyword arguments passed to `fn` on every call.

    Example:
        >>> loss = LossFunctionWrapper(mean_absolute_error, name="mae")
        >>> y_true, y_pred = torch.tensor([1.0, 3.0]), torch.tensor([[0.0], [0.0]])
        >>> loss(y_true, y_pred, sample_weight=torch.tensor([1.0, 0.0]))
        tensor(0.5000)
    """

    def __init__(
        self,
        fn: LossFn,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not callable(fn):
            raise TypeError(
                "Expected `fn` to be a callable `fn(y_true, y_pred)`. "
                f"{received('fn', fn)} Pass a function."
            )
        self.fn = fn
        self._fn_kwargs = kwargs

    @property
    def fn_kwargs(self) -> dict[str, Any]:
        """The keyword arguments passed to `fn` on every call (a copy).

        Example:
            >>> BinaryCrossentropy(from_logits=True).fn_kwargs["from_logits"]
            True
        """
        return dict(self._fn_kwargs)

    def call(self, y_true: Any, y_pred: Any) -> torch.Tensor:
        if isinstance(y_true, torch.Tensor) and isinstance(y_pred, torch.Tensor):
            y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["fn"] = getattr(self.fn, "__name__", type(self.fn).__name__)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        config = dict(config)
        fn = config.get("fn")
        if isinstance(fn, (str, dict)):
            # Imported here: the package `__init__` (the registry) imports this module.
            from kfit.losses import deserialize

            config["fn"] = deserialize(fn)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self.fn}, kwargs={self._fn_kwargs})>"


class _BuiltinLoss(LossFunctionWrapper):
    """A `LossFunctionWrapper` whose function is fixed; its config lists constructor args."""

    _config_keys: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        config = Loss.get_config(self)
        config.update({key: self._fn_kwargs[key] for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return Loss.__repr__(self)


class MeanSquaredError(_BuiltinLoss):
    """Mean of squared errors: `mean(square(y_true - y_pred))`.

    Example:
        >>> MeanSquaredError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        tensor(0.5000)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_squared_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """Mean of absolute errors: `mean(abs(y_true - y_pred))`.

    Example:
        >>> MeanAbsoluteError()(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 3.0]]))
        tensor(1.5000)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_absolute_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinLoss):
    """Mean absolute percentage error, see `mean_absolute_percentage_error`.

    Example:
        >>> MeanAbsolutePercentageError()(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
        tensor(50.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_absolute_percentage_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype
        )


class MeanSquaredLogarithmicError(_BuiltinLoss):
    """Mean squared logarithmic error, see `mean_squared_logarithmic_error`.

    Example:
        >>> MeanSquaredLogarithmicError()(torch.tensor([[0.0]]), torch.tensor([[0.0]]))
        tensor(0.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_squared_logarithmic_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype
        )


class CosineSimilarity(_BuiltinLoss):
    """Negative cosine similarity between targets and predictions along `axis`.

    Example:
        >>> CosineSimilarity()(torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 0.0]]))
        tensor(-1.)
    """

    _config_keys = ("axis",)

    def __init__(
        self,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "cosine_similarity",
        dtype: Any = None,
    ) -> None:
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)


class Huber(_BuiltinLoss):
    """Huber loss with threshold `delta`, see `huber`.

    Example:
        >>> Huber(delta=1.0)(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
        tensor(1.3125)
    """

    _config_keys = ("delta",)

    def __init__(
        self,
        delta: float = 1.0,
        reduction: str | None = "sum_over_batch_size",
        name: str = "huber_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(_BuiltinLoss):
    """Logarithm of the hyperbolic cosine of the error, see `log_cosh`.

    Example:
        >>> LogCosh()(torch.tensor([[1.0]]), torch.tensor([[1.0]]))
        tensor(0.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "log_cosh",
        dtype: Any = None,
    ) -> None:
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class Hinge(_BuiltinLoss):
    """Hinge loss for labels in {-1, 1} (or {0, 1}), see `hinge`.

    Example:
        >>> Hinge()(torch.tensor([[1.0]]), torch.tensor([[0.25]]))
        tensor(0.7500)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "hinge",
        dtype: Any = None,
    ) -> None:
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(_BuiltinLoss):
    """Squared hinge loss, see `squared_hinge`.

    Example:
        >>> SquaredHinge()(torch.tensor([[1.0]]), torch.tensor([[0.5]]))
        tensor(0.2500)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "squared_hinge",
        dtype: Any = None,
    ) -> None:
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(_BuiltinLoss):
    """Categorical hinge loss, see `categorical_hinge`.

    Example:
        >>> CategoricalHinge()(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.9]]))
        tensor(0.3000)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_hinge",
        dtype: Any = None,
    ) -> None:
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class KLDivergence(_BuiltinLoss):
    """Kullback-Leibler divergence between target and predicted distributions.

    Example:
        >>> KLDivergence()(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
        tensor(0.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "kl_divergence",
        dtype: Any = None,
    ) -> None:
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(_BuiltinLoss):
    """Poisson loss, see `poisson`.

    Example:
        >>> Poisson()(torch.tensor([[0.0]]), torch.tensor([[2.0]]))
        tensor(2.)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "poisson",
        dtype: Any = None,
    ) -> None:
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(_BuiltinLoss):
    """Binary crossentropy, see `binary_crossentropy` for the arguments.

    Example:
        >>> bce = BinaryCrossentropy(from_logits=True)
        >>> bce(torch.tensor([1.0, 0.0]), torch.tensor([[0.0], [0.0]]))
        tensor(0.6931)
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            binary_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(_BuiltinLoss):
    """Categorical crossentropy for one-hot targets, see `categorical_crossentropy`.

    Example:
        >>> CategoricalCrossentropy()(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
        tensor(0.6931)
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Categorical crossentropy for integer labels, see `sparse_categorical_crossentropy`.

    With `ignore_class`, entries carrying that label are left out of the average.

    Example:
        >>> scce = SparseCategoricalCrossentropy(ignore_class=-1)
        >>> scce(torch.tensor([1, -1]), torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
        tensor(0.6931)
    """

    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str | None = "sum_over_batch_size",
        axis: int = -1,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            sparse_categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


class BinaryFocalCrossentropy(_BuiltinLoss):
    """Focal binary crossentropy, see `binary_focal_crossentropy` for the arguments.

    Example:
        >>> loss = BinaryFocalCrossentropy(gamma=2.0)
        >>> loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.9, 0.2]]))
        tensor(0.0050)
    """

    _config_keys = (
        "from_logits",
        "label_smoothing",
        "axis",
        "apply_class_balancing",
        "alpha",
        "gamma",
    )

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_focal_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            binary_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalFocalCrossentropy(_BuiltinLoss):
    """Focal categorical crossentropy, see `categorical_focal_crossentropy`.

    Example:
        >>> loss = CategoricalFocalCrossentropy()
        >>> loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
        tensor(0.0433)
    """

    _config_keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_focal_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            categorical_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalGeneralizedCrossEntropy(_BuiltinLoss):
    """Generalized crossentropy for integer labels, see `categorical_generalized_cross_entropy`.

    Args:
        q: The exponent, strictly between 0 and 1.
        reduction: See `Loss`.
        name: Name of the loss.
        dtype: See `Loss`.

    Raises:
        ValueError: if `q` is not in (0, 1).

    Example:
        >>> loss = CategoricalGeneralizedCrossEntropy(q=0.5)
        >>> loss(torch.tensor([1]), torch.tensor([[0.75, 0.25]]))
        tensor(1.)
    """

    _config_keys = ("q",)

    def __init__(
        self,
        q: float = 0.5,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_generalized_cross_entropy",
        dtype: Any = None,
    ) -> None:
        if not 0 < q < 1:
            raise ValueError(
                f"Expected `q` to be strictly between 0 and 1. {received('q', q)} "
                "Pass e.g. q=0.5 (closer to 0 is closer to crossentropy)."
            )
        super().__init__(
            categorical_generalized_cross_entropy, reduction=reduction, name=name, dtype=dtype, q=q
        )
        self.q = q


class Dice(_BuiltinLoss):
    """Dice loss, see `dice`.

    Example:
        >>> Dice(axis=-1)(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]))
        tensor(0.5000)
    """

    _config_keys = ("axis",)

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "dice",
        axis: int | tuple[int, ...] | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(dice, reduction=reduction, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class Tversky(_BuiltinLoss):
    """Tversky loss, see `tversky`.

    Example:
        >>> Tversky(alpha=0.5, beta=0.5)(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]))
        tensor(0.5000)
    """

    _config_keys = ("alpha", "beta", "axis")

    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        reduction: str | None = "sum_over_batch_size",
        name: str = "tversky",
        axis: int | tuple[int, ...] | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            tversky, reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=axis
        )
        self.alpha = alpha
        self.beta = beta
        self.axis = axis


class Circle(_BuiltinLoss):
    """Circle loss over the embeddings of a batch, see `circle`.

    Rows whose loss is 0 are left out of the average (the function masks them).

    Example:
        >>> emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]))
        >>> Circle()(torch.tensor([0, 0, 1]), emb).shape
        torch.Size([])
    """

    _config_keys = ("gamma", "margin", "remove_diagonal")

    def __init__(
        self,
        gamma: float = 80.0,
        margin: float = 0.4,
        remove_diagonal: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str = "circle",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            circle,
            reduction=reduction,
            name=name,
            dtype=dtype,
            gamma=gamma,
            margin=margin,
            remove_diagonal=remove_diagonal,
        )
        self.gamma = gamma
        self.margin = margin
        self.remove_diagonal = remove_diagonal


class CTC(_BuiltinLoss):
    """Connectionist temporal classification loss, see `ctc`.

    Example:
        >>> CTC()(torch.tensor([[1, 2]]), torch.zeros(1, 4, 3))
        tensor(1.6864)
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "ctc",
        dtype: Any = None,
    ) -> None:
        super().__init__(ctc, reduction=reduction, name=name, dtype=dtype)
