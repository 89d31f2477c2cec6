"""The fast path: the built-in step's loss and metric updates as a few direct torch calls.

Losses and metrics carry Keras's semantics and nothing else: every rank rule, cast, mask and
weighting. This module is the one place that knows, for the common cases, a single torch op
that computes the same number, and when it is safe to use it. On a small model those checks
and conversions are a tenth of the step, so the built-in step takes this path whenever a batch
allows it, and the general path otherwise.

A batch takes it when the model has one 2-D output, no sample weights, and a loss and metrics
that each have a kernel here, all in one `Pairing` (see `docs/performance.md`):

| kernel registry | keyed by | kernels |
|---|---|---|
| `LOSS_KERNELS` | the public loss function a `LossFunctionWrapper` wraps | mse, mae, Huber, binary and categorical cross-entropy (logits or probabilities), sparse cross-entropy |
| `METRIC_KERNELS` | the exact metric class | MeanSquaredError, MeanAbsoluteError, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy |

`FastPath.plan` is the one precondition check on the compiled pieces (made once, on the first
batch, which builds them); `FastPath.target` decides batch by batch. The tests in
`tests/trainers/test_fast_path.py` hold both paths to a float64 hand-written loop.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from kfit import losses, metrics
from kfit.backend import torch_compat
from kfit.backend.config import epsilon

__all__ = ["LOSS_KERNELS", "METRIC_KERNELS", "FastPath", "LossKernel", "MetricKernel", "Pairing"]

Kernel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Pairing(enum.Enum):
    """The form of the target that a kernel takes, beside a `(batch, units)` prediction."""

    SAME_SHAPE = "same_shape"
    """The target cast to the prediction's dtype and shaped like it (a `(batch,)` target gains an axis)."""
    LABELS = "labels"
    """Integer class labels as an int64 vector of shape `(batch,)`."""


@dataclass(frozen=True)
class LossKernel:
    """A loss averaged over the batch as one op on `(y_pred, target)`."""

    op: Kernel
    pairing: Pairing


@dataclass(frozen=True)
class MetricKernel:
    """The sum of a metric's per-sample values over a batch, as one op on `(y_pred, target)`.

    With `per_element`, `total` sums over every element, and the per-sample values (means over
    the last axis) sum to `total / units`.
    """

    total: Kernel
    pairing: Pairing
    per_element: bool


# --------------------------------------------------------------------------------------
# Loss kernels: the unweighted batch mean of `fn(y_true, y_pred, **options)`.
# --------------------------------------------------------------------------------------


def _probabilities_bce(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    # Keras clips probabilities to [eps, 1 - eps] before the logarithms.
    eps = epsilon()
    return torch_compat.binary_cross_entropy(torch.clamp(y_pred, eps, 1.0 - eps), y_true)


def _log_probabilities(y_pred: torch.Tensor) -> torch.Tensor:
    # Keras renormalises the probabilities to sum to 1, then clips, then takes the logarithm.
    eps = epsilon()
    return torch.log(torch.clamp(y_pred / y_pred.sum(dim=-1, keepdim=True), eps, 1.0 - eps))


def _probabilities_cce(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    if y_pred.shape[-1] == 1:
        # The loss function warns about a one-column softmax, as Keras does: let it.
        return losses.categorical_crossentropy(y_true, y_pred).mean()
    return -(y_true * _log_probabilities(y_pred)).sum(dim=-1).mean()


def _logits_cce(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(y_pred, y_true)


def _probabilities_sparse(y_pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.nll_loss(_log_probabilities(y_pred), labels)


def _plain_crossentropy(options: Mapping[str, Any]) -> bool:
    return not options.get("label_smoothing", 0.0) and options.get("axis", -1) == -1 and set(options) <= {
        "from_logits", "label_smoothing", "axis"
    }


def _mean_squared_error(options: Mapping[str, Any]) -> LossKernel | None:
    return None if options else LossKernel(torch_compat.mse_loss, Pairing.SAME_SHAPE)


def _mean_absolute_error(options: Mapping[str, Any]) -> LossKernel | None:
    return None if options else LossKernel(torch_compat.l1_loss, Pairing.SAME_SHAPE)


def _huber(options: Mapping[str, Any]) -> LossKernel | None:
    if not set(options) <= {"delta"}:
        return None
    delta, huber_loss = float(options.get("delta", 1.0)), torch_compat.huber_loss
    return LossKernel(lambda y_pred, y_true: huber_loss(y_pred, y_true, delta), Pairing.SAME_SHAPE)


def _binary_crossentropy(options: Mapping[str, Any]) -> LossKernel | None:
    if not _plain_crossentropy(options):
        return None
    if options.get("from_logits"):
        return LossKernel(torch.nn.functional.binary_cross_entropy_with_logits, Pairing.SAME_SHAPE)
    return LossKernel(_probabilities_bce, Pairing.SAME_SHAPE)


def _categorical_crossentropy(options: Mapping[str, Any]) -> LossKernel | None:
    if not _plain_crossentropy(options):
        return None
    return LossKernel(_logits_cce if options.get("from_logits") else _probabilities_cce, Pairing.SAME_SHAPE)


def _sparse_categorical_crossentropy(options: Mapping[str, Any]) -> LossKernel | None:
    if options.get("ignore_class") is not None or options.get("axis", -1) != -1:
        return None
    if not set(options) <= {"from_logits", "ignore_class", "axis"}:
        return None
    op = torch_compat.cross_entropy if options.get("from_logits") else _probabilities_sparse
    return LossKernel(op, Pairing.LABELS)


LOSS_KERNELS: dict[Callable[..., Any], Callable[[Mapping[str, Any]], LossKernel | None]] = {
    losses.mean_squared_error: _mean_squared_error,
    losses.mean_absolute_error: _mean_absolute_error,
    losses.huber: _huber,
    losses.binary_crossentropy: _binary_crossentropy,
    losses.categorical_crossentropy: _categorical_crossentropy,
    losses.sparse_categorical_crossentropy: _sparse_categorical_crossentropy,
}
"""Loss function -> `factory(options)`, which gives the kernel for those keyword options or None."""


def loss_kernel(loss: Any) -> LossKernel | None:
    """The kernel for a compiled loss object, or None when it has none.

    Only a `LossFunctionWrapper` (or a built-in loss class) that keeps the base class's code and
    averages over the batch: a subclass that changes `call` or `__call__` must have it run.

    Example:
        >>> loss_kernel(losses.MeanSquaredError()).pairing
        <Pairing.SAME_SHAPE: 'same_shape'>
        >>> loss_kernel(losses.MeanSquaredError(reduction="sum")) is None
        True
    """
    cls = type(loss)
    if not isinstance(loss, losses.LossFunctionWrapper) or cls.call is not losses.LossFunctionWrapper.call:
        return None
    if cls.__call__ is not losses.LossFunctionWrapper.__call__ or loss.reduction not in ("sum_over_batch_size", "mean"):
        return None
    factory = LOSS_KERNELS.get(loss.fn)
    return None if factory is None else factory(loss.fn_kwargs)


# --------------------------------------------------------------------------------------
# Metric kernels: the sum over a batch of the metric's per-sample values.
# --------------------------------------------------------------------------------------


def _abs_error_total(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    return torch.dist(y_pred, y_true, 1)  # one kernel for sum(|y_pred - y_true|)


def _squared_error_total(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    return torch.sub(y_pred, y_true).square_().sum()


def _label_hits(y_pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (torch.argmax(y_pred, dim=-1) == labels).sum()


def _one_hot_hits(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    return (torch.argmax(y_pred, dim=-1) == torch.argmax(y_true, dim=-1)).sum()


def _binary_accuracy(metric: Any) -> MetricKernel:
    threshold = metric.threshold

    def hits(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return ((y_pred > threshold).to(y_true.dtype) == y_true).sum()

    return MetricKernel(hits, Pairing.SAME_SHAPE, per_element=True)


METRIC_KERNELS: dict[type, Callable[[Any], MetricKernel]] = {
    metrics.MeanAbsoluteError: lambda metric: MetricKernel(_abs_error_total, Pairing.SAME_SHAPE, True),
    metrics.MeanSquaredError: lambda metric: MetricKernel(_squared_error_total, Pairing.SAME_SHAPE, True),
    metrics.BinaryAccuracy: _binary_accuracy,
    metrics.CategoricalAccuracy: lambda metric: MetricKernel(_one_hot_hits, Pairing.SAME_SHAPE, False),
    metrics.SparseCategoricalAccuracy: lambda metric: MetricKernel(_label_hits, Pairing.LABELS, False),
}
"""Metric class (exactly: subclasses take the general path) -> `factory(metric)`."""


def metric_kernel(metric: Any) -> MetricKernel | None:
    """The kernel for a metric object, or None when it has none.

    Example:
        >>> metric_kernel(metrics.BinaryAccuracy()).pairing
        <Pairing.SAME_SHAPE: 'same_shape'>
        >>> metric_kernel(metrics.Mean()) is None
        True
    """
    factory = METRIC_KERNELS.get(type(metric))
    return None if factory is None else factory(metric)


# --------------------------------------------------------------------------------------
# The plan.
# --------------------------------------------------------------------------------------


def _torch_dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


class FastPath:
    """The loss and metric updates of a compiled model whose loss has a kernel.

    `plan` returns one only when the compiled loss and metrics are built (`plan_for_batch`
    builds them from the first batch) and the loss has a kernel; metrics with a kernel of the
    same pairing (and the loss's dtype) are fused, any other metric (AUC, Precision, a custom
    one) is updated by its own `update_state`, as the general path would. All pieces share a
    device; `target` then decides batch by batch.

    Example:
        >>> from kfit.trainers.compile_utils import CompileLoss, CompileMetrics
        >>> loss, compiled = CompileLoss("mse"), CompileMetrics(["mae"])
        >>> FastPath.plan(loss, compiled, metrics.Mean(name="loss")) is None  # not built yet
        True
        >>> y, y_pred = torch.zeros(4), torch.ones(4, 1)
        >>> _ = loss(y, y_pred); compiled.update_state(y, y_pred, None)
        >>> path = FastPath.plan(loss, compiled, metrics.Mean(name="loss"))
        >>> path.pairing, path.target(y, y_pred, None).shape
        (<Pairing.SAME_SHAPE: 'same_shape'>, torch.Size([4, 1]))
    """

    def __init__(self, loss: LossKernel, dtype: torch.dtype, device: torch.device, tracker: Any,
                 metric_updates: list[tuple[Any, MetricKernel]], own_updates: list[Any] | None = None) -> None:
        self.op, self.pairing = loss.op, loss.pairing
        self.dtype, self.device, self.tracker = dtype, device, tracker
        self.metric_updates = metric_updates
        # Metrics without a kernel: their own `update_state(y, y_pred)`, in compile order
        # after the fused ones (the order does not change any metric's result).
        self.own_updates = own_updates or []

    @classmethod
    def plan(cls, compiled_loss: Any, compiled_metrics: Any, tracker: Any) -> FastPath | None:
        """The plan for these compiled pieces, or None when some piece has no kernel.

        Args:
            compiled_loss: the model's `CompileLoss` (or None).
            compiled_metrics: the model's `CompileMetrics` (or None).
            tracker: the `Mean` that tracks the loss.
        """
        loss = compiled_loss.sole_loss() if compiled_loss is not None else None
        if loss is None or not isinstance(tracker, metrics.Mean):
            return None
        kernel = loss_kernel(loss)
        if kernel is None:
            return None
        dtype = _torch_dtype(loss.dtype)
        if kernel.pairing is Pairing.LABELS and dtype != torch.float32:
            return None
        compiled = compiled_metrics.single_output_metrics() if compiled_metrics is not None else []
        if compiled is None:
            return None
        updates: list[tuple[Any, MetricKernel]] = []
        own: list[Any] = []
        for metric in compiled:
            metric_update = metric_kernel(metric)
            if metric_update is None or metric_update.pairing is not kernel.pairing or (
                _torch_dtype(metric.dtype) != dtype
            ):
                own.append(metric)
            else:
                updates.append((metric, metric_update))
        pieces = [tracker, *compiled]
        if _torch_dtype(tracker.dtype) != dtype or len({m.device for m in pieces}) != 1:
            return None
        return cls(kernel, dtype, tracker.device, tracker, updates, own)

    @classmethod
    def plan_for_batch(cls, compiled_loss: Any, compiled_metrics: Any, tracker: Any, y: Any,
                       y_pred: Any) -> FastPath | None:
        """`plan`, after building the compiled pieces from a first batch as the general path would.

        The metrics' state moves to the batch's device first, so that the very first batch can
        take the plan: then every batch that fits is computed by the same kernels, and two
        evaluations of the same data give the same numbers to the last bit.
        """
        if compiled_loss is None or type(y) is not torch.Tensor or type(y_pred) is not torch.Tensor:
            return None
        if not compiled_loss.built:
            compiled_loss.build(y_pred)
        if compiled_metrics is not None and not compiled_metrics.built:
            compiled_metrics.build(y, y_pred)
        tracker.to(y_pred.device)
        if compiled_metrics is not None:
            compiled_metrics.to(y_pred.device)
        return cls.plan(compiled_loss, compiled_metrics, tracker)

    def target(self, y: Any, y_pred: Any, sample_weight: Any) -> torch.Tensor | None:
        """`y` in the form the kernels take, or None when this batch does not fit them.

        Same shape: cast to the loss dtype and shaped like `y_pred`. Labels: integer labels as
        an int64 vector (float labels take the general path, which casts them as Keras does).
        """
        if (
            sample_weight is not None
            or type(y_pred) is not torch.Tensor
            or type(y) is not torch.Tensor
            or y_pred.dim() != 2
            or y_pred.dtype != self.dtype
            or y_pred.device != self.device
            or y.device != self.device
        ):
            return None
        if self.pairing is Pairing.LABELS:
            if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
                return None
            if y.dim() == 2 and y.shape[1] == 1:
                y = y.reshape(-1)
            if y.dim() != 1 or y.shape[0] != y_pred.shape[0]:
                return None
            return y if y.dtype == torch.int64 else y.long()
        if y.dtype != self.dtype:
            y = y.to(self.dtype)
        if y.dim() == 1:
            y = y.unsqueeze(-1)  # Keras's rank alignment for a (batch,) target
        return y if y.shape == y_pred.shape else None

    def loss(self, target: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return self.op(y_pred, target)

    def update_metrics(self, loss: torch.Tensor, target: torch.Tensor, y_pred: torch.Tensor, y: Any = None) -> None:
        """The loss tracker and the metrics, for a batch `target` allowed; `y` as the batch gave it."""
        # Detached inputs record no graph, so no `torch.no_grad()` context (about 1 us) is needed.
        count = y_pred.shape[0]
        self.tracker.add_batch_total(loss.detach(), count, scale=count)
        y_pred = y_pred.detach()
        for metric, kernel in self.metric_updates:
            # Element sums become sums of per-sample means (over the last axis) by one scale.
            scale = 1.0 / y_pred.shape[1] if kernel.per_element else 1.0
            metric.add_batch_total(kernel.total(y_pred, target), count, scale=scale)
        for metric in self.own_updates:
            metric.update_state(target if y is None else y, y_pred)
