"""The per-batch work of fit, evaluate and predict, in torch.

Each `make_*_step` returns a closure over what it needs, so the loop in `trainer.py` calls one
Python function per batch. None of them reads a value back from the device: metric states are
updated in place on the device, and the trainer decides when (and whether) to read them.

The train and test steps have two paths. The general one goes through `CompileLoss` and
`CompileMetrics`, which handle every structure, weighting and rank rule Keras has. The common
cases take `FusedPath`: one 2-D output, no sample weights, and a loss and metrics that are each
one torch op on the batch, either on a target of the output's shape (`mse`, `mae`, Huber,
cross-entropy from logits) or on integer labels (sparse cross-entropy from logits, accuracy).
The target is cast and aligned once for all of them and nothing is checked twice; on a small
model that is about a tenth of the step. Both paths compute the same numbers; the first batch
after `compile` takes the general path, which builds the loss and the metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kfit.trainers.data_adapters.structures import flatten

__all__ = ["FusedPath", "batch_size_of", "make_predict_step", "make_test_step", "make_train_step"]

Batch = tuple[Any, Any, Any]


def batch_size_of(x: Any) -> int:
    return int(x.shape[0]) if isinstance(x, torch.Tensor) else int(flatten(x)[0].shape[0])


class FusedPath:
    """The loss and metric updates of a model whose loss and metrics fuse, as direct calls.

    `plan(model)` returns one only once the model's loss and metrics are built (after the
    first batch) and every piece fuses with the same pairing (`"same_shape"` or `"sparse"`);
    `target` then decides batch by batch.

    Example:
        >>> import kfit
        >>> model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        >>> FusedPath.plan(model) is None  # nothing built before the first batch
        True
        >>> _ = model.train_on_batch(torch.ones(4, 3), torch.zeros(4))
        >>> path = FusedPath.plan(model)
        >>> path.pairing, path.target(torch.zeros(4), torch.ones(4, 1), None).shape
        ('same_shape', torch.Size([4, 1]))
    """

    def __init__(self, op: Callable[..., torch.Tensor], dtype: torch.dtype, pairing: str, tracker: Any,
                 metrics: list[Any], device: torch.device) -> None:
        self.op, self.dtype, self.pairing = op, dtype, pairing
        self.tracker, self.metrics, self.device = tracker, metrics, device

    @classmethod
    def plan(cls, model: Any) -> FusedPath | None:
        compile_loss = model._compile_loss
        fused = compile_loss.fused_op() if compile_loss is not None else None
        if fused is None or model._output_loss_trackers:
            return None
        op, dtype, pairing = fused
        compiled = model._compile_metrics
        metrics = compiled.fused_metrics(pairing) if compiled is not None else []
        tracker = model._loss_tracker
        if metrics is None or any(m._torch_dtype != dtype for m in (tracker, *metrics)):
            return None
        devices = {m.device for m in (tracker, *metrics)}
        if len(devices) != 1:
            return None
        return cls(op, dtype, pairing, tracker, metrics, devices.pop())

    def target(self, y: Any, y_pred: Any, sample_weight: Any) -> torch.Tensor | None:
        """`y` in the form the fused ops take, or None when this batch does not fit them.

        Same-shape: cast to the loss dtype and shaped like `y_pred`. Sparse: integer labels
        as an int64 vector (float labels take the general path, which casts them as Keras does).
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
        if self.pairing == "sparse":
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

    def loss(self, y: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return self.op(y_pred, y)

    def update_metrics(self, loss: torch.Tensor, y: torch.Tensor, y_pred: torch.Tensor, count: int) -> None:
        # Detached inputs record no graph, so no `torch.no_grad()` context (about 1 us) is needed.
        self.tracker.add_batch_mean(loss.detach(), count)
        y_pred = y_pred.detach()
        for metric in self.metrics:
            metric.update_fused(y, y_pred)


def make_train_step(model: Any) -> Callable[[Batch], torch.Tensor]:
    """Forward, loss, backward, optimizer step, metric update. Returns the loss (on the device)."""
    forward = model._forward_fn()
    compute_loss = model._compile_loss
    optimizer = model.optimizer
    update_metrics = model._update_metrics
    # Keras multiplies the loss by `loss_scale_factor` (when set) before differentiating.
    scale_loss = getattr(optimizer, "scale_loss", lambda loss: loss)
    fast: FusedPath | None = None
    planned = False

    def train_step(batch: Batch) -> torch.Tensor:
        nonlocal fast, planned
        x, y, sample_weight = batch
        y_pred = forward(x)
        target = None if fast is None else fast.target(y, y_pred, sample_weight)
        loss = compute_loss(y, y_pred, sample_weight) if target is None else fast.loss(target, y_pred)  # type: ignore[union-attr]
        optimizer.zero_grad(set_to_none=True)
        scale_loss(loss).backward()
        optimizer.step()
        if target is not None:
            fast.update_metrics(loss, target, y_pred, batch_size_of(x))  # type: ignore[union-attr]
            return loss
        with torch.no_grad():
            update_metrics(loss, x, y, y_pred, sample_weight)
        if not planned:
            fast, planned = FusedPath.plan(model), True
        return loss

    return train_step


def make_test_step(model: Any) -> Callable[[Batch], torch.Tensor]:
    """Forward, loss and metric update without gradients."""
    forward = model._forward_fn()
    compute_loss = model._compile_loss
    update_metrics = model._update_metrics
    fast: FusedPath | None = None
    planned = False

    def test_step(batch: Batch) -> torch.Tensor:
        nonlocal fast, planned
        x, y, sample_weight = batch
        with torch.no_grad():
            y_pred = forward(x)
            target = None if fast is None else fast.target(y, y_pred, sample_weight)
            if target is not None:
                loss = fast.loss(target, y_pred)  # type: ignore[union-attr]
                fast.update_metrics(loss, target, y_pred, batch_size_of(x))  # type: ignore[union-attr]
                return loss
            loss = compute_loss(y, y_pred, sample_weight)
            update_metrics(loss, x, y, y_pred, sample_weight)
        if not planned:
            fast, planned = FusedPath.plan(model), True
        return loss

    return test_step


def make_predict_step(model: Any) -> Callable[[Batch], Any]:
    """Forward only; returns the batch's outputs on the device."""
    forward = model._forward_fn()

    def predict_step(batch: Batch) -> Any:
        with torch.no_grad():
            return forward(batch[0])

    return predict_step
