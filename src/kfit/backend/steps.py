"""The per-batch work of fit, evaluate and predict, in torch.

Each `make_*_step` returns a closure over what it needs, so the loop in `trainer.py` calls one
Python function per batch. None of them reads a value back from the device: metric states are
updated in place on the device, and the trainer decides when (and whether) to read them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kfit.trainers.data_adapters.structures import flatten

__all__ = ["make_train_step", "make_test_step", "make_predict_step", "batch_size_of"]

Batch = tuple[Any, Any, Any]


def batch_size_of(x: Any) -> int:
    return int(x.shape[0]) if isinstance(x, torch.Tensor) else int(flatten(x)[0].shape[0])


def make_train_step(model: Any) -> Callable[[Batch], torch.Tensor]:
    """Forward, loss, backward, optimizer step, metric update. Returns the loss (on the device)."""
    forward = model._forward_fn()
    compute_loss = model._compile_loss
    optimizer = model.optimizer
    update_metrics = model._update_metrics
    # Keras multiplies the loss by `loss_scale_factor` (when set) before differentiating.
    scale_loss = getattr(optimizer, "scale_loss", lambda loss: loss)

    def train_step(batch: Batch) -> torch.Tensor:
        x, y, sample_weight = batch
        y_pred = forward(x)
        loss = compute_loss(y, y_pred, sample_weight)
        optimizer.zero_grad(set_to_none=True)
        scale_loss(loss).backward()
        optimizer.step()
        with torch.no_grad():
            update_metrics(loss, x, y, y_pred, sample_weight)
        return loss

    return train_step


def make_test_step(model: Any) -> Callable[[Batch], torch.Tensor]:
    """Forward, loss and metric update without gradients."""
    forward = model._forward_fn()
    compute_loss = model._compile_loss
    update_metrics = model._update_metrics

    def test_step(batch: Batch) -> torch.Tensor:
        x, y, sample_weight = batch
        with torch.no_grad():
            y_pred = forward(x)
            loss = compute_loss(y, y_pred, sample_weight)
            update_metrics(loss, x, y, y_pred, sample_weight)
        return loss

    return test_step


def make_predict_step(model: Any) -> Callable[[Batch], Any]:
    """Forward only; returns the batch's outputs on the device."""
    forward = model._forward_fn()

    def predict_step(batch: Batch) -> Any:
        with torch.no_grad():
            return forward(batch[0])

    return predict_step
