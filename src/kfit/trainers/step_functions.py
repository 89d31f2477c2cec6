"""What the loops call for each batch: the model's own step, or the built-in one made fast.

`Trainer.train_step`, `test_step` and `predict_step` are Keras's public contract: override one
and `fit`, `evaluate` or `predict` call it for every batch with `data` packed as Keras packs it
(`x`, `(x, y)` or `(x, y, sample_weight)`); the dict it returns becomes the batch logs.

A model that overrides none of `train_step`, `compute_loss` and `compute_metrics` runs the
built-in step below instead. It computes what `Trainer.train_step` computes, with two
differences that let it cost what a hand-written torch loop costs:

- it returns no dict: the trainer reads the logs from `model.metrics`, and only when a
  callback asks for them (a read is a device-to-host sync);
- a batch that allows it takes `FastPath` (`fast_path.py`): the loss and metric updates as a
  few direct torch calls, planned on the first batch (which builds the loss and the metrics).

Example:
    >>> import kfit
    >>> model = kfit.Sequential([kfit.Input((2,)), kfit.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> model.optimizer.build(list(model.parameters()))
    >>> step = make_step_function(model, "train")
    >>> step((torch.ones(4, 2), torch.zeros(4), None)) is None  # logs come from model.metrics
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kfit.layers.layer import losses_in_use
from kfit.trainers.data_adapters import batch_size_of, pack_x_y_sample_weight
from kfit.trainers.fast_path import FastPath

__all__ = ["StepFunction", "make_step_function", "sum_of_losses", "uses_builtin_step"]

Batch = tuple[Any, Any, Any]
StepFunction = Callable[[Batch], Any]
"""Takes one `(x, y, sample_weight)` batch; returns the step's logs, or None for "read `model.metrics`"."""

# The methods whose override hands a loop over to the model's own step.
_OVERRIDES = {
    "train": ("train_step", "compute_loss", "compute_metrics"),
    "test": ("test_step", "compute_loss", "compute_metrics"),
    "predict": ("predict_step",),
}


def uses_builtin_step(model: Any, kind: str) -> bool:
    """Whether `model` leaves the `kind` step (`"train"`, `"test"`, `"predict"`) to kfit.

    Example:
        >>> import kfit
        >>> class Custom(kfit.Model):
        ...     def train_step(self, data):
        ...         return {}
        >>> uses_builtin_step(Custom(), "train"), uses_builtin_step(Custom(), "test")
        (False, True)
    """
    from kfit.trainers.trainer import Trainer

    cls = type(model)
    return all(getattr(cls, name) is getattr(Trainer, name) for name in _OVERRIDES[kind])


def make_step_function(model: Any, kind: str) -> StepFunction:
    """The per-batch function for `kind`: the built-in step, or a call of the model's own."""
    if not uses_builtin_step(model, kind):
        step = _user_step(getattr(model, f"{kind}_step"), grad=kind == "train")
        statistics = _moving_statistics(model) if kind == "train" and model._ddp is not None else []
        if not statistics:
            return step
        average = model._ddp.average_

        def averaged(batch: Batch) -> Any:
            logs = step(batch)
            average(statistics)  # as the built-in step does (see `_train_function`)
            return logs

        return averaged
    return {"train": _train_function, "test": _test_function, "predict": _predict_function}[kind](model)


def _user_step(method: Callable[[Any], Any], grad: bool) -> StepFunction:
    if grad:
        return lambda batch: method(pack_x_y_sample_weight(*batch))

    def step(batch: Batch) -> Any:
        # Keras runs evaluation and prediction steps without recording gradients.
        with torch.no_grad():
            return method(pack_x_y_sample_weight(*batch))

    return step


def _train_function(model: Any) -> StepFunction:
    # Data-parallel training: the forward pass goes through DistributedDataParallel (which
    # averages the gradients), and a batch may carry this rank's loss weight (`WeightedBatch`).
    weighted = model._ddp is not None
    ddp_forward = model.__dict__.get("_ddp_forward") if weighted else None
    forward = model._forward_fn() if ddp_forward is None else ddp_forward
    # Keras averages the moving statistics of BatchNormalization over the replicas at every
    # step (mirrored variables with MEAN aggregation): here, one small all-reduce per step,
    # only for models that have such statistics (a frozen layer's never change).
    statistics = _moving_statistics(model) if weighted else []
    average = model._ddp.average_ if statistics else None
    optimizer = model.optimizer
    compute_loss = model._compute_loss
    tracker = model._loss_tracker
    compiled_metrics = model._compile_metrics
    # Keras multiplies the loss by `loss_scale_factor` (when set) before differentiating.
    scale_loss = getattr(optimizer, "scale_loss", None)
    fast: FastPath | None = None
    planned = False

    def train_step(batch: Batch) -> None:
        nonlocal fast, planned
        x, y, sample_weight = batch
        weight = getattr(batch, "weight", 1.0) if weighted else 1.0
        y_pred = forward(x)
        if not planned:
            fast, planned = FastPath.plan_for_batch(model._compile_loss, compiled_metrics, tracker, y, y_pred), True
        target = None if fast is None else fast.target(y, y_pred, sample_weight)
        if fast is None or target is None:
            loss = compute_loss(x, y, y_pred, sample_weight, training=True)
        else:
            loss = fast.loss(target, y_pred)
            if losses_in_use():
                loss = _with_model_losses(model, loss)
        optimizer.zero_grad(set_to_none=True)
        # A rank's uneven share of a global batch scales its loss, so that DDP's average of the
        # gradients is the gradient of the global batch's loss; a padding row adds nothing.
        scaled = loss if weight == 1.0 else loss * weight
        (scaled if scale_loss is None else scale_loss(scaled)).backward()
        optimizer.step()
        if average is not None:
            average(statistics)
        if weight == 0.0:
            return
        if fast is not None and target is not None:
            fast.update_metrics(loss, target, y_pred, y)
            return
        with torch.no_grad():
            tracker.update_state(loss.detach(), sample_weight=batch_size_of(x))
            if compiled_metrics is not None and y is not None:
                compiled_metrics.update_state(y, y_pred, sample_weight)

    return train_step


def _test_function(model: Any) -> StepFunction:
    forward = model._forward_fn()
    weighted = model._ddp is not None
    compute_loss = model._compute_loss
    tracker = model._loss_tracker
    compiled_metrics = model._compile_metrics
    fast: FastPath | None = None
    planned = False

    def test_step(batch: Batch) -> None:
        nonlocal fast, planned
        x, y, sample_weight = batch
        if weighted and getattr(batch, "weight", 1.0) == 0.0:
            return  # a padding row of data-parallel evaluation (see `sharding`)
        with torch.no_grad():
            y_pred = forward(x)
            if not planned:
                fast, planned = FastPath.plan_for_batch(model._compile_loss, compiled_metrics, tracker, y, y_pred), True
            target = None if fast is None else fast.target(y, y_pred, sample_weight)
            if fast is not None and target is not None:
                loss = fast.loss(target, y_pred)
                if losses_in_use():
                    loss = _with_model_losses(model, loss)
                fast.update_metrics(loss, target, y_pred, y)
                return
            loss = compute_loss(x, y, y_pred, sample_weight, training=False)
            tracker.update_state(loss, sample_weight=batch_size_of(x))
            if compiled_metrics is not None and y is not None:
                compiled_metrics.update_state(y, y_pred, sample_weight)

    return test_step


def _moving_statistics(model: Any) -> list[torch.Tensor]:
    """The moving mean and variance of every trainable BatchNormalization layer in `model`."""
    from kfit.layers.normalization.batch_normalization import BatchNormalization

    return [
        statistic
        for module in model.modules()
        if isinstance(module, BatchNormalization) and module.trainable
        for statistic in (module.moving_mean, module.moving_variance)
    ]


def sum_of_losses(values: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """A model's own losses (`add_loss` values, regularizer losses) as one scalar of `dtype`.

    Example:
        >>> float(sum_of_losses([torch.tensor([1.0, 2.0]), torch.tensor(0.5)], torch.float32))
        3.5
    """
    return torch.stack([v.to(dtype).sum() for v in values]).sum()


def _with_model_losses(model: Any, loss: torch.Tensor) -> torch.Tensor:
    # What `Trainer.compute_loss` adds: the layers' `add_loss` values and regularizer losses.
    extra = model.losses
    return loss + sum_of_losses(extra, loss.dtype) if extra else loss


def _predict_function(model: Any) -> StepFunction:
    forward = model._forward_fn()

    def predict_step(batch: Batch) -> Any:
        with torch.no_grad():
            return forward(batch[0])

    return predict_step
