"""`Trainer`: compile, fit, evaluate and predict, with every callback hook call, in one file.

The three loops below read top to bottom. Their one rule for speed: nothing here reads a value
back from the device inside the batch loop unless a callback overrides the batch hook being
dispatched (then the logs are built in one batched transfer) or the progress bar redraws.
Epoch-level logs are read once per epoch.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from kfit import optimizers as optimizers_module
from kfit.backend import conversion
from kfit.backend import distributed as distributed_backend
from kfit.backend.device import default_device
from kfit.callbacks.callback_list import CallbackList
from kfit.callbacks.progbar_logger import ProgbarLogger
from kfit.layers.layer import losses_in_use
from kfit.metrics import Mean
from kfit.optimizers.loss_scale_optimizer import wrap_for_policy
from kfit.trainers.compile_utils import (
    CompileLoss,
    CompileMetrics,
    check_compile_arguments,
    sparse_label_users,
    sparse_outputs,
)
from kfit.trainers.data_adapters import (
    ArrayDataAdapter,
    TorchDataLoaderAdapter,
    WeightedBatch,
    batch_size_of,
    check_label_range,
    flatten,
    get_data_adapter,
    is_array_like,
    map_structure,
    sample_signature,
    split_validation,
    unpack_x_y_sample_weight,
)
from kfit.trainers.epoch_iterator import EpochIterator
from kfit.trainers.logs import BatchLogs
from kfit.trainers.resume import ResumePoint, restore_rng
from kfit.trainers.step_functions import StepFunction, make_step_function, sum_of_losses, uses_builtin_step

if TYPE_CHECKING:
    # To the type checker the mixin is the `Layer` that `kfit.Model` combines it with, so that
    # `self.train()`, `self.parameters()` and `self(x)` check. At run time it is a plain mixin.
    from kfit.layers.layer import Layer as _MixinBase
else:
    _MixinBase = object

__all__ = ["Trainer"]

Logs = dict[str, Any]
Batch = tuple[Any, Any, Any]


def _received(name: str, value: Any) -> str:
    return f"Received: {name}={value!r} (of type {type(value).__name__})."


def _check_int(name: str, value: Any, minimum: int, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(
            f"Expected `{name}` to be {bound}{' or None' if allow_none else ''}. "
            f"{_received(name, value)} Pass e.g. {name}={max(minimum, 32 if name.endswith('batch_size') else 1)}."
        )


def _check_verbose(verbose: Any) -> None:
    if verbose not in ("auto", 0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            f"Expected `verbose` to be 'auto', 0, 1 or 2. {_received('verbose', verbose)} "
            "Use 0 for silence, 1 for a progress bar, 2 for one line per epoch."
        )


class Trainer(_MixinBase):
    """The Keras training API, mixed into `kfit.Model`.

    Example:
        >>> import numpy as np, kfit
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        >>> history = model.fit(np.ones((8, 2)), np.ones(8), epochs=2, verbose=0)
        >>> sorted(history.history)
        ['loss', 'mae']
        >>> model.predict(np.ones((3, 2)), verbose=0).shape
        (3, 1)
    """

    # A model nested in another keeps its metrics to itself (see `Layer.metrics`).
    _owns_its_metrics = True

    # Set by Model.__init__; declared here for readers and type checkers.
    optimizer: Any
    compiled: bool
    stop_training: bool
    stop_evaluating: bool
    stop_predicting: bool
    history: Any

    if TYPE_CHECKING:
        # Defined by `kfit.Model`, the class this mixin is part of.
        def _is_built(self) -> bool: ...
        def _expected_input_shape(self) -> tuple[int | None, ...] | None: ...

    def _init_trainer(self) -> None:
        self.compiled = False
        self.optimizer = None
        self.stop_training = False
        self.stop_evaluating = False
        self.stop_predicting = False
        self.history = None
        self._compile_loss: CompileLoss | None = None
        self._compile_metrics: CompileMetrics | None = None
        self._loss_tracker: Mean | None = None
        self._jit_compile = False
        self._compiled_forward: Any = None
        self._step_functions: dict[str, StepFunction] = {}
        self.steps_per_execution = 1
        self._device: torch.device | None = None
        self._explicit_device: torch.device | None = None
        # Set during on_train_begin by a callback resuming a run (BackupAndRestore); fit reads
        # and clears it at once, so it applies to that one fit only (Keras keeps it: a bug).
        self._resume_point: ResumePoint | None = None
        # Set by fit while it runs, for BackupAndRestore (see fit).
        self._fit_callbacks: CallbackList | None = None
        self._train_iterator: EpochIterator | None = None
        self._backup_writer: Any = None
        # Whether the running fit validates; set before on_train_begin (CSVLogger reads it).
        self._fit_has_validation = False
        # Data-parallel training (see `kfit.distribution`): the process group's context while
        # a loop runs under torch.distributed, and the model in DDP for the built-in step. The
        # wrapper is kept out of nn.Module's registry: as a submodule, the model would contain
        # itself.
        self._ddp: distributed_backend.DataParallel | None = None
        self.__dict__["_ddp_forward"] = None
        # Whether stop_training is agreed on by all ranks after every batch (see fit).
        self._stop_sync = False

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        loss_weights: Any = None,
        metrics: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool = False,
        steps_per_execution: int = 1,
        jit_compile: bool | str = "auto",
        auto_scale_loss: bool = True,
        device: str | torch.device | None = None,
    ) -> None:
        """Configures the model for training.

        Args:
            optimizer: name, `kfit.optimizers.Optimizer`, or a ready `torch.optim.Optimizer`.
            loss: name, `kfit.losses.Loss`, callable `fn(y_true, y_pred)`, or a list/dict per output.
            loss_weights: a scalar, or one per output, multiplying each output's loss.
            metrics: list of names, `kfit.metrics.Metric`s or callables (a dict per output).
            weighted_metrics: like `metrics`, but weighted by `sample_weight`/`class_weight`.
            run_eagerly: accepted for Keras compatibility; kfit always runs eagerly.
            steps_per_execution: batches run per execution. Batch hooks fire once per execution,
                with the indices of its first (begin) and last (end) batch, as in Keras; so
                callbacks that read batch logs cost one read per execution.
            jit_compile: True compiles the forward pass with `torch.compile`; "auto" means False.
            auto_scale_loss: under the `"mixed_float16"` policy, wrap the optimizer in a
                `kfit.mixed_precision.LossScaleOptimizer` (as Keras does).
            device: where to train; by default cuda, then mps, then cpu (or where `model.to()`
                put the model).

        Example:
            >>> import kfit
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
            >>> model.compile(optimizer=kfit.optimizers.Adam(1e-3), loss="mse", metrics=["mae"])
            >>> model.compiled
            True
        """
        del run_eagerly
        _check_int("steps_per_execution", steps_per_execution, 1, allow_none=False)
        # Everything that can be checked without data is checked here, before any state changes.
        check_compile_arguments(loss, loss_weights, metrics, weighted_metrics, self._known_output_names())
        self.steps_per_execution = int(steps_per_execution)
        if isinstance(optimizer, torch.optim.Optimizer) and not isinstance(optimizer, optimizers_module.Optimizer):
            self.optimizer = optimizer
        else:
            self.optimizer = optimizers_module.get(optimizer)
            self.optimizer = wrap_for_policy(self.optimizer, self.dtype_policy.name, auto_scale_loss)
        self._compile_loss = CompileLoss(loss, loss_weights) if loss is not None else None
        self._compile_metrics = CompileMetrics(metrics, weighted_metrics) if metrics or weighted_metrics else None
        self._loss_tracker = Mean(name="loss")
        self._jit_compile = jit_compile is True
        self._compiled_forward = None
        self._step_functions = {}
        if device is not None:
            self._explicit_device = torch.device(device)
        self.compiled = True

    def _known_output_names(self) -> list[str] | None:
        """The names the compiled loss and metrics will see for the outputs, when known before
        any data (a functional model's graph): its dict keys (sorted), else its output names."""
        graph_of = getattr(self, "_functional_graph", None)
        graph = graph_of() if graph_of is not None else None
        if graph is None:
            return None
        structure = getattr(graph, "output_structure", None)
        if isinstance(structure, dict):
            return sorted(structure)
        return list(graph.output_names())

    def _resolve_device(self) -> torch.device:
        if self._explicit_device is not None:
            device = self._explicit_device
        elif self._ddp is not None:
            device = self._ddp.device()  # this rank's LOCAL_RANK GPU, or the CPU
        else:
            params = [p for p in self.parameters() if not isinstance(p, torch.nn.parameter.UninitializedParameter)]
            on = {p.device.type for p in params}
            device = params[0].device if on - {"cpu"} else default_device()
        if self._device != device:
            self.to(device)
            self._device = device
        return device

    def _compiled_loss_tracker(self, method: str) -> Mean:
        """The `Mean` of the loss that `compile()` creates."""
        tracker = self._loss_tracker
        if tracker is None:
            raise RuntimeError(
                f"Expected a compiled model before `{method}()`. Received: a model on which "
                "`compile()` was never called. Call `model.compile(optimizer=..., loss=...)` first."
            )
        return tracker

    def _assert_compiled(self, method: str) -> None:
        if not self.compiled:
            raise RuntimeError(
                f"Expected a compiled model before `{method}()`. Received: a model on which "
                "`compile()` was never called. Call `model.compile(optimizer=..., loss=...)` first."
            )
        kind = "train" if method in ("fit", "train_on_batch") else "test"
        # A model with its own step or `compute_loss` may need no compiled loss (Keras's guide
        # trains a GAN that way); the built-in step does, so it is checked before any work.
        if (
            method != "predict"
            and self._compile_loss is None
            and uses_builtin_step(self, kind)
            and not self._may_add_losses()
        ):
            raise ValueError(
                f"Expected a loss to `{method}()` with. Received: compile(loss=None). "
                "Pass a loss to `compile`, e.g. loss='mse', or override `compute_loss` or "
                f"`{kind}_step`."
            )

    # ------------------------------------------------------------------ the step: Keras's contract
    def train_step(self, data: Any) -> dict[str, Any]:
        """One training step on one batch; returns the metric results (`get_metrics_result()`).

        Override it to customise what `fit` does, as in Keras's guide "Customizing what happens
        in fit() with PyTorch": `data` is `x`, `(x, y)` or `(x, y, sample_weight)`, and the
        returned dict (values may stay tensors) becomes the batch logs. The default does what
        Keras's does: forward with `training=True`, `zero_grad`, `compute_loss`, the loss
        tracker, `backward`, `optimizer.apply`, then `compute_metrics`. A model that overrides
        none of `train_step`, `compute_loss` and `compute_metrics` runs an equivalent built-in
        step that skips building this dict (see `kfit.trainers.step_functions`).

        Example:
            >>> import numpy as np, torch, kfit
            >>> class Custom(kfit.Sequential):
            ...     def train_step(self, data):
            ...         x, y = data
            ...         self.zero_grad()
            ...         y_pred = self(x, training=True)
            ...         loss = self.compute_loss(y=y, y_pred=y_pred)
            ...         loss.backward()
            ...         weights = self.trainable_weights
            ...         with torch.no_grad():
            ...             self.optimizer.apply([w.value.grad for w in weights], weights)
            ...         for metric in self.metrics:
            ...             if metric.name == "loss":
            ...                 metric.update_state(loss)
            ...             else:
            ...                 metric.update_state(y, y_pred)
            ...         return {m.name: m.result() for m in self.metrics}
            >>> model = Custom([kfit.Input((3,)), kfit.layers.Dense(1)])
            >>> model.compile(optimizer="adam", loss="mse", metrics=["mae"])
            >>> sorted(model.fit(np.ones((8, 3)), np.ones(8), verbose=0).history)
            ['loss', 'mae']
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        self.zero_grad()
        loss = self._compute_loss(x, y, y_pred, sample_weight, training=True)
        self._compiled_loss_tracker("train_step").update_state(loss.detach(), sample_weight=batch_size_of(x))
        weights = self.trainable_weights
        if weights:
            scale_loss = getattr(self.optimizer, "scale_loss", None)
            (loss if scale_loss is None else scale_loss(loss)).backward()
            with torch.no_grad():
                if isinstance(self.optimizer, optimizers_module.Optimizer):
                    self.optimizer.apply([w.grad for w in weights], weights)
                else:
                    self.optimizer.step()  # a torch optimizer reads the gradients from `.grad`
        else:
            warnings.warn("The model does not have any trainable weights.", UserWarning, stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data: Any) -> dict[str, Any]:
        """One evaluation step (run without gradients); returns the metric results.

        Example:
            >>> import numpy as np, kfit
            >>> class Custom(kfit.Sequential):
            ...     def test_step(self, data):
            ...         x, y = data
            ...         y_pred = self(x, training=False)
            ...         loss = self.compute_loss(y=y, y_pred=y_pred)
            ...         self.metrics[0].update_state(loss)
            ...         return {"loss": self.metrics[0].result(), "doubled": 2 * self.metrics[0].result()}
            >>> model = Custom([kfit.Input((3,)), kfit.layers.Dense(1, kernel_initializer="zeros")])
            >>> model.compile(optimizer="sgd", loss="mse")
            >>> model.evaluate(np.ones((4, 3)), np.ones(4), verbose=0, return_dict=True)
            {'doubled': 2.0, 'loss': 1.0}
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self._compute_loss(x, y, y_pred, sample_weight, training=False)
        self._compiled_loss_tracker("test_step").update_state(loss, sample_weight=batch_size_of(x))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for one batch (run without gradients).

        Example:
            >>> import numpy as np, kfit
            >>> class Rounded(kfit.Sequential):
            ...     def predict_step(self, data):
            ...         x, _, _ = kfit.utils.unpack_x_y_sample_weight(data)
            ...         return self(x, training=False).round()
            >>> model = Rounded([kfit.Input((2,)), kfit.layers.Dense(1, kernel_initializer="ones")])
            >>> model.predict(np.full((3, 2), 0.3), verbose=0).ravel().tolist()
            [1.0, 1.0, 1.0]
        """
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def compute_loss(
        self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None, training: bool = True
    ) -> torch.Tensor:
        """The total loss of a batch: the compiled loss of `y` and `y_pred`.

        Override it to change the loss while keeping the rest of the built-in step.

        Raises:
            ValueError: when there is no loss to compute (no `compile(loss=...)`).

        Example:
            >>> import torch, kfit
            >>> model = kfit.Sequential([kfit.Input((1,)), kfit.layers.Dense(1)])
            >>> model.compile(optimizer="sgd", loss="mae")
            >>> float(model.compute_loss(y=torch.zeros(2, 1), y_pred=torch.ones(2, 1)))
            1.0
        """
        del x, training  # the default uses neither
        losses = [] if self._compile_loss is None else [self._compile_loss(y, y_pred, sample_weight)]
        # Keras adds the model's own losses (`add_loss`, weight and activity regularizers).
        extra = self.losses if losses_in_use() else []
        if extra:
            losses.append(sum_of_losses(extra, losses[0].dtype if losses else torch.get_default_dtype()))
        if not losses:
            raise ValueError(
                "Expected a loss to compute. Received: compile(loss=None) and no losses added by "
                "the model's layers. Pass a loss to `compile()`, e.g. loss='mse', or override "
                "`compute_loss`."
            )
        return losses[0] if len(losses) == 1 else losses[0] + losses[1]

    def _compute_loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool) -> torch.Tensor:
        # Overrides written before Keras 3.3 have no `training` argument. The built-in step calls
        # this for every batch that misses the fast path, so the signature is read once per class.
        if _takes_training(getattr(self.compute_loss, "__func__", self.compute_loss)):
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict[str, Any]:
        """Updates the compiled metrics with a batch; returns `get_metrics_result()`.

        Example:
            >>> import torch, kfit
            >>> model = kfit.Sequential([kfit.Input((1,)), kfit.layers.Dense(1)])
            >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
            >>> logs = model.compute_metrics(None, torch.zeros(2, 1), torch.ones(2, 1))
            >>> {k: float(v) for k, v in logs.items()}
            {'loss': 0.0, 'mae': 1.0}
        """
        del x  # the default does not use it
        if self._compile_metrics is not None and y is not None:
            with torch.no_grad():
                self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict[str, Any]:
        """Every metric's result by name, dict results flattened in; values stay on the device.

        Keras converts them to Python floats here, a device sync; kfit leaves that to the
        trainer, which does it in one transfer and only when a callback reads the logs.

        Example:
            >>> import kfit
            >>> model = kfit.Sequential([kfit.Input((1,)), kfit.layers.Dense(1)])
            >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
            >>> sorted(model.get_metrics_result())
            ['loss']
        """
        results: dict[str, Any] = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                results.update(result)
            else:
                results[metric.name] = result
        return results

    @property
    def metrics(self) -> list[Any]:
        """The metrics `fit` resets each epoch, in Keras's order.

        The loss tracker (`"loss"`), the compiled metrics as one `CompileMetrics`, each output's
        loss tracker (several outputs), then the metrics held as attributes of the model and of
        its layers (`self.tracker = kfit.metrics.Mean()` in `__init__` is enough). Override it
        to list your own trackers, as Keras's guide does.

        Example:
            >>> import kfit
            >>> model = kfit.Sequential([kfit.Input((1,)), kfit.layers.Dense(1)])
            >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
            >>> model.metrics_names
            ['loss', 'compile_metrics']
        """
        found: list[Any] = []
        if self.compiled:
            found.append(self._loss_tracker)
            if self._compile_metrics is not None:
                found.append(self._compile_metrics)
            if self._compile_loss is not None:
                found.extend(self._compile_loss.metrics)
        own = (self._loss_tracker, self._compile_metrics)
        found.extend(m for m in self._tracked_metrics() if all(m is not o for o in own))
        return found

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def _forward_fn(self) -> Callable[[Any], Any]:
        if not self._jit_compile:
            return self
        if self._compiled_forward is None:
            # Stored past nn.Module.__setattr__: registered as a submodule, the compiled
            # wrapper would make the model contain itself.
            self.__dict__["_compiled_forward"] = torch.compile(self)
        return self._compiled_forward

    def _step_function(self, kind: str) -> StepFunction:
        step = self._step_functions.get(kind)
        if step is None:
            step = self._step_functions[kind] = make_step_function(self, kind)
        return step

    def _logs(self) -> Logs:
        """The current metric results as Python floats, keys sorted: one device->host transfer.

        In data-parallel training the results are global: the metric states are summed over
        the ranks first (one all-reduce), so every rank gets the same logs.
        """
        ddp = self._ddp
        if ddp is None:
            return self._local_logs()
        with ddp.reduce_metric_states(self.metrics):
            return self._local_logs()

    def _local_logs(self) -> Logs:
        return conversion.pythonify_logs(self.get_metrics_result())

    def _global_step_logs(self, local: Logs, results: Logs | None = None) -> Logs:
        """A custom step's logs (already Python values) made global in data-parallel training.

        Keys that are metric results take the reduced metrics' values (`results`, when the
        caller has them already: each reduction is a collective); any other value is averaged
        over the ranks.
        """
        ddp = self._ddp
        if ddp is None:
            return local
        if results is None:
            results = self._logs()
        averaged = ddp.mean_values({k: v for k, v in local.items() if k not in results})
        return {k: results[k] if k in results else averaged[k] for k in local}

    def _batch_logs(self, step_logs: Any) -> BatchLogs:
        """Batch logs that read the device only when a callback reads them.

        The built-in step returns None: the logs are the metric results. A model's own step
        returns its dict, as in Keras.
        """
        if self._ddp is not None:
            if step_logs is None:
                return BatchLogs(self._logs, local=self._local_logs)
            return BatchLogs(
                lambda: self._global_step_logs(conversion.pythonify_logs(step_logs)),
                local=lambda: conversion.pythonify_logs(step_logs),
            )
        if step_logs is None:
            return BatchLogs(self._logs)
        return BatchLogs(lambda: conversion.pythonify_logs(step_logs))

    def _epoch_logs(self, step_logs: Any) -> Logs:
        """An epoch's logs: the metric results, or a custom step's last logs when their keys differ.

        That is Keras's rule: a `train_step` that reports values `model.metrics` does not hold
        gets its own last values into the epoch logs.
        """
        logs = self._logs()
        if step_logs is None:
            return logs
        last = conversion.pythonify_logs(step_logs)
        if set(last) == set(logs):
            return logs
        return self._global_step_logs(last, results=logs)

    # ------------------------------------------------------------------ building
    def _check_input_shape(self, x: Any, name: str = "x") -> None:
        expected = self._expected_input_shape()
        if expected is None:
            return
        if isinstance(x, dict):
            # A one-input model given a dict: most often a Dataset whose items are dicts, which
            # Keras (and kfit) take as `x` alone.
            raise ValueError(
                f"Expected `{name}` to be one tensor of shape {expected} for model {self.name!r}, "
                f"and data items to be `(x, y[, sample_weight])` tuples. Received: {name} as a dict "
                f"with keys {list(x)}. Yield tuples instead, e.g. `(item[{next(iter(x), 'x')!r}], "
                "item['label'])`, or give the model named inputs (a functional model)."
            )
        if not isinstance(x, torch.Tensor):
            return
        got = tuple(x.shape)
        if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected[1:], got[1:])):
            raise ValueError(
                f"Expected input of shape {expected} for model {self.name!r}. "
                f"Received: {name} with shape {got}. Reshape the data so that each sample has shape "
                f"{expected[1:]}, or build the model for inputs of shape {got[1:]}."
            )

    def _check_first_batch(self, iterator: EpochIterator, kind: str) -> None:
        """Checks the targets against the compiled loss and metrics before the first step.

        With the built-in step: a compiled loss needs `y`; the compiled loss and metrics are
        built from a forward pass on two samples (so per-output mistakes raise before any weight
        changes); and labels for a sparse categorical loss or metric must be class indices
        below the output size. Arrays are checked whole (one min/max read per call); a
        generator or DataLoader on its first batch here, then batch by batch on the host by
        its adapter.
        """
        x, y = self._first_x_y(iterator)
        if kind == "train":
            # Kept for `_validation_iterator`, which compares the validation inputs with these.
            self._train_sample_signature = None if x is None else (sample_signature(x), _sample_shapes(x))
        if x is None or not uses_builtin_step(self, kind) or self._compile_loss is None:
            return
        if y is None:
            keys = f" The data's items are dicts (keys {list(x)}), which are taken as `x` alone." if (
                isinstance(x, dict)) else ""
            source = "`y`" if isinstance(iterator.adapter, ArrayDataAdapter) else "targets in the data"
            raise ValueError(
                f"Expected {source} for `{'fit' if kind == 'train' else 'evaluate'}()`, since the "
                f"model was compiled with a loss that compares predictions with targets. Received: "
                f"no y.{keys} Pass `y=...`, or yield `(x, y[, sample_weight])` tuples from the "
                "generator or DataLoader; without targets, override `compute_loss` or `train_step`."
            )
        metrics = self._compile_metrics
        built = self._compile_loss.built and (metrics is None or metrics.built)
        if (
            built
            and not sparse_label_users(self._compile_loss, metrics)[0]
            and not sparse_outputs(self._compile_loss, metrics)
        ):
            return  # a later fit of the same compiled model: nothing left to check
        if any(getattr(m, "stateful", False) is True for m in self.modules()):
            return  # a forward pass would advance a stateful layer's carried state
        # Two samples, not one: a model that squeezes its outputs would change their rank at 1.
        sample = iterator._place(map_structure(lambda t: t[:2], (x, y, None)))
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                y_pred = self(sample[0])
        finally:
            self.train(was_training)
        if not self._compile_loss.built:
            self._compile_loss.build(y_pred)
        if metrics is not None and not metrics.built:
            metrics.build(sample[1], y_pred)
            metrics.to(_first_device(y_pred))
        self._check_sparse_labels(iterator, y, y_pred)

    def _check_sparse_labels(self, iterator: EpochIterator, y: Any, y_pred: Any) -> None:
        """Labels for sparse categorical losses and metrics must lie in [0, outputs)."""
        if isinstance(y_pred, (list, tuple, dict)):
            self._check_sparse_labels_per_output(y, y_pred)
            return
        if not isinstance(y, torch.Tensor) or not isinstance(y_pred, torch.Tensor) or y_pred.dim() < 2:
            return
        if y.dim() > 2 or (y.dim() == 2 and y.shape[-1] != 1):
            return  # not class indices (one-hot, or per-timestep labels)
        sparse, ignore_class = sparse_label_users(self._compile_loss, self._compile_metrics)
        if not sparse:
            return
        num_classes = int(y_pred.shape[-1])
        whole = isinstance(iterator.adapter, ArrayDataAdapter) and not iterator.adapter.lazy
        check_label_range(y, num_classes, ignore_class, where="y" if whole else "batch 0 of the data")
        checker = getattr(iterator.adapter, "checker", None)
        if checker is not None:
            checker.label_range = (num_classes, ignore_class)

    def _check_sparse_labels_per_output(self, y: Any, y_pred: Any) -> None:
        # Several outputs: each one with a sparse loss or metric is checked against its own
        # number of classes (on the first batch, or the whole arrays).
        loss = self._compile_loss
        names = getattr(loss, "names", None)
        if names is None:
            return
        for index, ignore_class in sparse_outputs(loss, self._compile_metrics).items():
            name = names[index]
            labels = _output_of(y, names, index)
            logits = _output_of(y_pred, names, index)
            if not isinstance(labels, torch.Tensor) or not isinstance(logits, torch.Tensor) or logits.dim() < 2:
                continue
            if labels.dim() > 2 or (labels.dim() == 2 and labels.shape[-1] != 1):
                continue
            check_label_range(labels, int(logits.shape[-1]), ignore_class, where=f"the targets of output {name!r}",
                              name=f"y[{name!r}]")

    def _first_x_y(self, iterator: EpochIterator) -> tuple[Any, Any]:
        """The inputs and targets to check: the whole arrays, or the first batch held back."""
        adapter = iterator.adapter
        if isinstance(adapter, ArrayDataAdapter) and not adapter.lazy:  # lazy: arrays on disk
            return adapter.x, adapter.y
        batch = iterator.peek()
        return (None, None) if batch is None else (batch[0], batch[1])

    def _build_for(self, x: Any) -> None:
        """Builds unbuilt layers with a forward pass on a slice of `x`, then the optimizer."""
        if not self._is_built():
            sample = map_structure(lambda t: t[:1], x)
            was_training = self.training
            self.eval()
            try:
                with torch.no_grad():
                    self(sample)
            finally:
                self.train(was_training)
        opt = self.optimizer
        if isinstance(opt, optimizers_module.Optimizer) and not opt.built:
            # Names let `exclude_from_weight_decay(var_names=...)` match parameters.
            opt.build([(n, p) for n, p in self.named_parameters() if p.requires_grad])

    def _first_x(self, iterator: EpochIterator) -> Any:
        """The inputs to check and build from: the whole arrays, or a first batch held back."""
        if isinstance(iterator.adapter, ArrayDataAdapter) and not iterator.adapter.lazy:
            return iterator.adapter.x
        batch = iterator.peek()
        return None if batch is None else batch[0]

    # ------------------------------------------------------------------ data-parallel training
    def _enter_distributed(self) -> distributed_backend.DataParallel | None:
        """The process group's context for the loop starting now (None in a single process).

        Under torchrun it joins the group first (see `kfit.distribution.initialize`).
        """
        ddp = distributed_backend.active()
        if (ddp is None) != (self._ddp is None):
            self._step_functions = {}  # the built-in steps differ (see `step_functions`)
        self._ddp = ddp
        return ddp

    def _leave_data_parallel(self, outer: distributed_backend.DataParallel | None) -> None:
        """Ends a loop's data-parallel state, giving back that of an enclosing fit, if any."""
        if outer is None:
            # Dropped after each fit: a model holding its DDP wrapper could not be deep-copied
            # or pickled, and the process group may be gone by the next fit.
            self.__dict__["_ddp_forward"] = None
            if isinstance(self.optimizer, optimizers_module.Optimizer):
                self.optimizer.gradient_reducer = None
        if (outer is None) != (self._ddp is None):
            self._step_functions = {}
        self._ddp = outer

    def _prepare_data_parallel(self, ddp: distributed_backend.DataParallel) -> None:
        """Starts every rank from rank 0's weights, then sets up the gradient averaging.

        The built-in step runs the model through `DistributedDataParallel`, which averages the
        gradients during the backward pass. A model's own `train_step` calls the model itself,
        so its `self.optimizer.apply(...)` averages them (`Optimizer.gradient_reducer`).
        """
        ddp.broadcast_module(self)
        forward = None
        if uses_builtin_step(self, "train"):
            if any(p.requires_grad for p in self.parameters()):
                forward = ddp.wrap(self)
        elif isinstance(self.optimizer, optimizers_module.Optimizer):
            self.optimizer.gradient_reducer = ddp.average_gradients
        if forward is not self.__dict__.get("_ddp_forward"):
            self.__dict__["_ddp_forward"] = forward
            self._step_functions = {}

    @property
    def distribute_rank(self) -> int:
        """This process's rank in data-parallel training (0 in a single process).

        A callback writes files only where `self.model.distribute_rank == 0`, as kfit's own
        writers (ModelCheckpoint, CSVLogger, ...) do; see `kfit.distribution`.

        Example:
            >>> import kfit
            >>> kfit.Sequential([kfit.layers.Dense(1)]).distribute_rank
            0
        """
        return distributed_backend.get_rank()

    @property
    def distribute_world_size(self) -> int:
        """The number of processes training together (1 in a single process).

        Example:
            >>> import kfit
            >>> kfit.Sequential([kfit.layers.Dense(1)]).distribute_world_size
            1
        """
        return distributed_backend.get_world_size()

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Any = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool | str = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int | Sequence[int] = 1,
    ) -> Any:
        """Trains the model for `epochs` epochs; returns the `History`.

        Arguments and their meaning are Keras 3's. `x` may be arrays or tensors (or tuples,
        lists, dicts of them), a torch `Dataset` or `DataLoader`, or a generator yielding
        `(x, y[, sample_weight])`.

        Example:
            >>> import numpy as np, kfit
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=3)])
            >>> model.compile(optimizer="adam", loss="mse")
            >>> h = model.fit(np.ones((10, 3)), np.ones(10), batch_size=4, epochs=3,
            ...               validation_split=0.2, verbose=0)
            >>> h.epoch, sorted(h.history)
            ([0, 1, 2], ['loss', 'val_loss'])
        """
        self._assert_compiled("fit")
        _check_int("batch_size", batch_size, 1)
        _check_int("epochs", epochs, 0, allow_none=False)
        _check_int("initial_epoch", initial_epoch, 0, allow_none=False)
        _check_int("steps_per_epoch", steps_per_epoch, 1)
        _check_int("validation_steps", validation_steps, 1)
        _check_int("validation_batch_size", validation_batch_size, 1)
        if isinstance(validation_freq, (list, tuple)):
            if not all(isinstance(e, int) and not isinstance(e, bool) and e >= 1 for e in validation_freq):
                raise ValueError(
                    "Expected `validation_freq` as a list to hold 1-based epoch numbers (ints >= 1). "
                    f"{_received('validation_freq', validation_freq)} Pass e.g. validation_freq=[1, 5, 10]."
                )
        else:
            _check_int("validation_freq", validation_freq, 1, allow_none=False)
        _check_verbose(verbose)
        if epochs < initial_epoch:
            raise ValueError(
                "Expected `epochs` >= `initial_epoch` (epochs is the index to stop at, not a "
                f"count). Received: epochs={epochs!r}, initial_epoch={initial_epoch!r}. "
                f"Pass epochs={initial_epoch + epochs} to train {epochs} more epochs."
            )
        if not (isinstance(validation_split, (int, float)) and 0.0 <= validation_split < 1.0):
            raise ValueError(
                "Expected `validation_split` to be a float in [0, 1). "
                f"{_received('validation_split', validation_split)} Pass e.g. validation_split=0.2."
            )
        if validation_split and validation_data is None:
            if not is_array_like(x):
                raise ValueError(
                    "Expected `x` to be arrays or tensors when `validation_split` is used, since "
                    f"only those can be split. Received: x of type {type(x).__name__}. Pass "
                    "`validation_data` instead, or split the data yourself."
                )
            (x, val_x), (y, val_y), (sample_weight, val_sw) = (
                split_validation(d, validation_split) if d is not None else (None, None)
                for d in (x, y, sample_weight)
            )
            validation_data = (val_x, val_y, val_sw)
        outer_ddp = self._ddp
        ddp = self._enter_distributed()
        device = self._resolve_device()
        adapter = get_data_adapter(
            x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
            class_weight=class_weight, device=device, distributed=ddp,
        )
        train_iterator = EpochIterator(adapter, steps_per_epoch, device=device)
        # Everything is checked and built before on_train_begin, so callbacks there (restoring a
        # backup, say) see the model's weights and the optimizer's state.
        first_x = self._first_x(train_iterator)
        if first_x is not None:
            self._check_input_shape(first_x)
        self._check_first_batch(train_iterator, "train")
        val_iterator = None
        if validation_data is not None:
            val_iterator = self._validation_iterator(
                validation_data, validation_batch_size or batch_size, validation_steps, device
            )
        if first_x is not None:
            self._build_for(first_x)
        if ddp is not None:
            self._prepare_data_parallel(ddp)

        verbose = 1 if verbose == "auto" else verbose
        callbacks = _callback_list(
            callbacks, self, add_history=True, add_progbar=verbose != 0 and (ddp is None or ddp.is_main),
            verbose=verbose, epochs=epochs, steps=train_iterator.num_batches,
        )
        # Decided once per fit: a hook nobody overrides is not called, and its logs not built.
        batch_begin = callbacks.dispatches("on_train_batch_begin")
        batch_end = callbacks.dispatches("on_train_batch_end")
        # Data-parallel: after a batch, stop_training is agreed on (one tiny all-reduce) only when
        # something could have set it during the batch: a batch hook of a callback (the bar, on
        # rank 0 alone, never does) or the model's own train_step.
        self._stop_sync = ddp is not None and (
            _batch_hooks_besides_progbar(callbacks, "train") or not uses_builtin_step(self, "train")
        )
        was_training = self.training
        self.stop_training = False
        self._fit_has_validation = val_iterator is not None
        self._resume_point = None
        # BackupAndRestore reads these: the other callbacks (for their states) and the data
        # position; it sets _backup_writer and _resume_point during on_train_begin.
        self._fit_callbacks = callbacks
        self._train_iterator = train_iterator
        self._backup_writer = None
        try:
            callbacks.on_train_begin()
            resume, self._resume_point = self._resume_point, None
            training_logs = self._fit_epochs(
                callbacks, train_iterator, val_iterator, resume, initial_epoch, epochs,
                validation_freq, batch_begin, batch_end,
            )
        except BaseException:
            writer = self._backup_writer
            if writer is not None:
                writer.release()  # the signal handlers of a failed fit
            self._fit_callbacks = self._train_iterator = self._backup_writer = None
            self._resume_point = None
            self._leave_data_parallel(outer_ddp)
            raise
        self._leave_data_parallel(outer_ddp)
        writer = self._backup_writer
        callbacks.on_train_end(training_logs)
        if ddp is not None:
            # Whatever rank 0 wrote (checkpoints, the CSV file, a backup's removal) is complete
            # when fit returns on any rank, so the script may read it right away.
            distributed_backend.barrier()
        self._fit_callbacks = self._train_iterator = self._backup_writer = None
        self.train(was_training)
        if writer is not None and writer.preempted is not None:
            writer.exit_preempted()  # a signal came after the last batch: backed up, exits
        return self.history

    def _fit_epochs(
        self,
        callbacks: CallbackList,
        train_iterator: EpochIterator,
        val_iterator: EpochIterator | None,
        resume: ResumePoint | None,
        initial_epoch: int,
        epochs: int,
        validation_freq: int | Sequence[int],
        batch_begin: bool,
        batch_end: bool,
    ) -> Logs:
        """fit's epoch loop, from `initial_epoch` or from where a restored backup stopped."""
        training_logs: Logs = {}
        writer = self._backup_writer  # BackupAndRestore: writes after every hook has run
        # Train batches of this fit before the current epoch: a backup records it, so that
        # `Every(n)` batch hooks keep their rhythm across a resume.
        self._fit_batches_before_epoch = 0
        if resume is not None:
            initial_epoch = resume.epoch
            if resume.stop_training:
                return training_logs  # the backup was taken after an early stop
        for epoch in range(initial_epoch, epochs):
            if train_iterator.exhausted and resume is None:
                train_iterator.warn_exhausted()
                break
            self.reset_metrics()
            self.train()
            callbacks.on_epoch_begin(epoch)
            ddp = self._ddp
            if ddp is not None:
                self.stop_training = ddp.any_true(self.stop_training)
            start = 0
            if resume is not None:
                # Exact resumption: the data position, the epoch's metric states so far, then
                # the RNG states of the backup (the skip above may have drawn numbers).
                start = resume.batch
                if resume.iterator is not None:
                    train_iterator.resume(resume.iterator)
                if resume.metrics is not None and start:
                    for metric, state in zip(self.metrics, resume.metrics):
                        metric.set_state(state)
                if resume.rng is not None:
                    restore_rng(resume.rng, self)
                if resume.batches_seen is not None:
                    self._fit_batches_before_epoch = resume.batches_seen - start
                    callbacks.resume_batch_counts(resume.batches_seen, start - 1)
                resume = None
                if train_iterator.exhausted:
                    train_iterator.warn_exhausted()
                    break
            step = start - 1
            step_logs = None
            train_step = self._step_function("train")
            for begin, step, batches in _executions(train_iterator.epoch(start), self.steps_per_execution):
                if batch_begin:
                    callbacks.on_train_batch_begin(begin)
                for batch in batches:
                    step_logs = train_step(batch)
                if batch_end:
                    callbacks.on_train_batch_end(step, self._batch_logs(step_logs))
                if writer is not None:
                    writer.write_due()
                    if writer.should_preempt():
                        writer.preempt(epoch, step + 1)  # backs up, then exits the process
                if self._stop_sync:
                    assert ddp is not None
                    self.stop_training = ddp.any_true(self.stop_training)
                if self.stop_training:
                    break
            if step < 0:
                break  # the input ran dry before this epoch's first batch
            self._fit_batches_before_epoch += step + 1 - start
            # Read the train means before validation, which resets the shared metrics.
            epoch_logs = self._epoch_logs(step_logs)
            if val_iterator is not None and _should_validate(epoch, validation_freq):
                val_logs = self._evaluate_loop(val_iterator, callbacks, restart=True)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                epoch_logs = dict(sorted(epoch_logs.items()))
            callbacks.on_epoch_end(epoch, epoch_logs)
            if ddp is not None:
                self.stop_training = ddp.any_true(self.stop_training)
            if writer is not None:
                writer.write_due()
                if writer.should_preempt() and epoch + 1 < epochs:
                    writer.preempt(epoch + 1, 0)  # a signal during validation, say
            training_logs = epoch_logs
            if self.stop_training:
                break
        if isinstance(self.optimizer, optimizers_module.Optimizer) and int(self.optimizer.iterations) > 0:
            # With use_ema, Keras ends fit with the moving averages as the weights (only once a
            # step has filled them: before that they are zeros).
            self.optimizer.finalize_variable_values()
        return training_logs

    def _validation_iterator(
        self, validation_data: Any, batch_size: int | None, steps: int | None, device: torch.device
    ) -> EpochIterator:
        if isinstance(validation_data, (tuple, list)):
            vx, vy, vsw = unpack_x_y_sample_weight(tuple(validation_data))
        else:
            vx, vy, vsw = validation_data, None, None
        adapter = get_data_adapter(
            vx, vy, vsw, batch_size=batch_size, shuffle=False, device=device, distributed=self._ddp
        )
        iterator = EpochIterator(adapter, steps, device=device)
        # The same up-front checks as for `x`: against the model, and against the training data
        # (which also covers a model that is built only from the first training batch).
        first = self._first_x(iterator)
        if first is not None:
            self._check_input_shape(first, name="validation_data")
            train = getattr(self, "_train_sample_signature", None)
            # The rule of `BatchChecker`: same inputs and ranks, same feature size of float inputs.
            if train is not None and sample_signature(first) != train[0]:
                raise ValueError(
                    "Expected the inputs of `validation_data` to match the training inputs per "
                    f"sample (same inputs, ranks and feature sizes): {train[1]}. Received: "
                    f"validation_data inputs with shape per sample {_sample_shapes(first)}. Pass "
                    "validation data prepared the same way as `x`."
                )
        return iterator

    # ------------------------------------------------------------------ evaluate
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: Any = None,
        return_dict: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Returns the loss and metrics over the data: a float, a list, or a dict.

        Example:
            >>> import numpy as np, kfit
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=3, kernel_initializer="zeros")])
            >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
            >>> model.evaluate(np.ones((4, 3)), np.full(4, 2.0), verbose=0)
            [4.0, 2.0]
        """
        if kwargs:
            raise TypeError(f"Unrecognized arguments for `evaluate`: {sorted(kwargs)}.")
        self._assert_compiled("evaluate")
        _check_int("batch_size", batch_size, 1)
        _check_int("steps", steps, 1)
        _check_verbose(verbose)
        outer_ddp = self._ddp
        ddp = self._enter_distributed()
        device = self._resolve_device()
        adapter = get_data_adapter(
            x, y, sample_weight, batch_size=batch_size, shuffle=False, device=device, distributed=ddp
        )
        iterator = EpochIterator(adapter, steps, device=device)
        first_x = self._first_x(iterator)
        if first_x is not None:
            self._check_input_shape(first_x)
            self._check_first_batch(iterator, "test")
            self._build_for(first_x)
        verbose = 1 if verbose == "auto" else verbose
        callbacks = _callback_list(
            callbacks, self, add_progbar=verbose != 0 and (ddp is None or ddp.is_main),
            verbose=verbose, epochs=1, steps=iterator.num_batches,
        )
        was_training = self.training
        try:
            logs = self._evaluate_loop(iterator, callbacks)
        finally:
            self._leave_data_parallel(outer_ddp)
        self.train(was_training)
        if return_dict:
            return logs
        return self._flatten_in_order(logs)

    def _evaluate_loop(self, iterator: EpochIterator, callbacks: CallbackList, restart: bool = False) -> Logs:
        if restart and iterator.adapter.restartable:
            iterator.restart()
        batch_begin = callbacks.dispatches("on_test_batch_begin")
        batch_end = callbacks.dispatches("on_test_batch_end")
        self.eval()
        self.reset_metrics()
        self.stop_evaluating = False
        callbacks.on_test_begin()
        step_logs = None
        test_step = self._step_function("test")
        ddp = self._ddp
        stop_sync = ddp is not None and (
            _batch_hooks_besides_progbar(callbacks, "test") or not uses_builtin_step(self, "test")
        )
        for begin, step, batches in _executions(iterator.epoch(), self.steps_per_execution):
            if batch_begin:
                callbacks.on_test_batch_begin(begin)
            for batch in batches:
                step_logs = test_step(batch)
            if batch_end:
                callbacks.on_test_batch_end(step, self._batch_logs(step_logs))
            if stop_sync:
                assert ddp is not None
                self.stop_evaluating = ddp.any_true(self.stop_evaluating)
            if self.stop_evaluating:
                break
        logs = self._epoch_logs(step_logs)
        callbacks.on_test_end(logs)
        return logs

    def _flatten_in_order(self, logs: Logs) -> Any:
        # Keras's order: the metrics in `model.metrics`, a CompileMetrics by its members' names.
        names = [
            name for m in self.metrics
            for name in ([x.name for x in m.metrics] if isinstance(m, CompileMetrics) else [m.name])
        ]
        results = [logs[n] for n in names if n in logs]
        results += [logs[k] for k in sorted(logs) if k not in names]
        return results[0] if len(results) == 1 else results

    # ------------------------------------------------------------------ predict
    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        steps: int | None = None,
        callbacks: Any = None,
    ) -> Any:
        """Returns the model's outputs for `x` as numpy arrays (the structure of the outputs).

        Example:
            >>> import numpy as np, kfit
            >>> model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
            >>> model.predict(np.ones((5, 3)), batch_size=2, verbose=0).shape
            (5, 2)
        """
        _check_int("batch_size", batch_size, 1)
        _check_int("steps", steps, 1)
        _check_verbose(verbose)
        outer_ddp = self._ddp
        ddp = self._enter_distributed()
        try:
            return self._predict(x, batch_size, verbose, steps, callbacks, ddp)
        finally:
            self._leave_data_parallel(outer_ddp)

    def _predict(
        self, x: Any, batch_size: int | None, verbose: int | str, steps: int | None, callbacks: Any,
        ddp: distributed_backend.DataParallel | None,
    ) -> Any:
        device = self._resolve_device()
        if isinstance(x, (tuple, list)) and len(x) in (2, 3) and not is_array_like(x):
            x = x[0]
        adapter = get_data_adapter(x, batch_size=batch_size, shuffle=False, device=device, distributed=ddp)
        iterator = EpochIterator(adapter, steps, device=device)
        first_x = self._first_x(iterator)
        if first_x is not None:
            self._check_input_shape(first_x)
            self._build_for(first_x)
        callbacks = _callback_list(
            callbacks, self, add_progbar=verbose != 0 and (ddp is None or ddp.is_main),
            verbose=verbose, epochs=1, steps=iterator.num_batches,
        )
        stop_sync = ddp is not None and _batch_hooks_besides_progbar(callbacks, "predict")
        # Data-parallel: which of this rank's outputs are padding rows (see `sharding`).
        padding: list[bool] = []
        batch_begin = callbacks.dispatches("on_predict_batch_begin")
        batch_end = callbacks.dispatches("on_predict_batch_end")
        was_training = self.training
        self.eval()
        self.stop_predicting = False
        outputs: list[Any] = []
        callbacks.on_predict_begin()
        predict_step = self._step_function("predict")
        for begin, step, batches in _executions(iterator.epoch(), self.steps_per_execution):
            if batch_begin:
                callbacks.on_predict_batch_begin(begin)
            group = [predict_step(batch) for batch in batches]
            outputs.extend(group)
            if ddp is not None:
                padding.extend(isinstance(b, WeightedBatch) and b.weight == 0.0 for b in batches)
            if batch_end:
                callbacks.on_predict_batch_end(step, BatchLogs(functools.partial(_predict_logs, group)))
            if stop_sync:
                assert ddp is not None
                self.stop_predicting = ddp.any_true(self.stop_predicting)
            if self.stop_predicting:
                break
        callbacks.on_predict_end()
        self.train(was_training)
        if ddp is not None and outputs:
            outputs = [_gather_predictions(ddp, adapter, outputs, padding)]
        if not outputs:
            raise ValueError(
                "Expected `x` to yield at least one batch for `predict`. Received: empty input. "
                "Pass at least one sample."
            )
        return _to_numpy(_concat(outputs))

    # ------------------------------------------------------------------ single batches
    def _single_batch(self, x: Any, y: Any, sample_weight: Any, class_weight: Any = None) -> tuple[Any, Any, Any]:
        device = self._resolve_device()
        adapter = ArrayDataAdapter(x, y, sample_weight, batch_size=max(1, _len(x)), shuffle=False,
                                   class_weight=class_weight, device=device)
        self._check_input_shape(adapter.x)
        self._build_for(adapter.x)
        batch = next(adapter.iter_pass())
        return EpochIterator(adapter, device=device)._place(batch)

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: dict[int, float] | None = None,
        return_dict: bool = False,
    ) -> Any:
        """Runs one gradient update on one batch; returns that batch's loss and metrics.

        Example:
            >>> import numpy as np, kfit
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> model.compile(optimizer="sgd", loss="mse")
            >>> isinstance(model.train_on_batch(np.ones((4, 2)), np.ones(4)), float)
            True
        """
        self._assert_compiled("train_on_batch")
        batch = self._single_batch(x, y, sample_weight, class_weight)
        self.train()
        self.reset_metrics()  # Keras reports this batch alone
        logs = self._epoch_logs(self._step_function("train")(batch))
        return logs if return_dict else self._flatten_in_order(logs)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False) -> Any:
        """Evaluates one batch; returns its loss and metrics.

        Example:
            >>> import numpy as np, kfit
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2, kernel_initializer="zeros")])
            >>> model.compile(optimizer="sgd", loss="mse")
            >>> model.test_on_batch(np.ones((4, 2)), np.ones(4))
            1.0
        """
        self._assert_compiled("test_on_batch")
        batch = self._single_batch(x, y, sample_weight)
        self.eval()
        self.reset_metrics()
        logs = self._epoch_logs(self._step_function("test")(batch))
        return logs if return_dict else self._flatten_in_order(logs)

    def predict_on_batch(self, x: Any) -> Any:
        """Returns the outputs for one batch as numpy.

        Example:
            >>> import numpy as np, kfit
            >>> model = kfit.Sequential([kfit.layers.Dense(2, input_dim=2)])
            >>> model.predict_on_batch(np.ones((3, 2))).shape
            (3, 2)
        """
        batch = self._single_batch(x, None, None)
        self.eval()
        return _to_numpy(self._step_function("predict")(batch))

    # ------------------------------------------------------------------ compile config
    def get_compile_config(self) -> dict[str, Any]:
        """Returns the `compile()` arguments as a JSON-ready dict in Keras 3's format.

        The optimizer, and loss and metric objects, are `serialize_keras_object` records;
        names and functions are kept by name. `{}` for an uncompiled model. This is what
        `.keras` archives and `to_json()` store.

        Raises:
            ValueError: when an argument cannot be written (a lambda loss, a plain
                `torch.optim` optimizer), naming it.

        Example:
            >>> import kfit
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> model.compile(optimizer="adam", loss="mse", metrics=["mae"])
            >>> config = model.get_compile_config()
            >>> config["optimizer"]["class_name"], config["loss"], config["metrics"]
            ('Adam', 'mse', ['mae'])
        """
        from kfit.saving.model_io import get_compile_config

        return get_compile_config(self, strict=True) or {}  # type: ignore[arg-type]

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compiles the model with a `get_compile_config()` dict (kfit's or Keras's).

        As in Keras, a model that overrides `compile()` is left uncompiled, with a warning:
        such a model should override this method too.

        Example:
            >>> import kfit
            >>> a = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> a.compile(optimizer=kfit.optimizers.SGD(0.1), loss="mae")
            >>> b = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> b.compile_from_config(a.get_compile_config())
            >>> type(b.optimizer).__name__, float(b.optimizer.learning_rate)
            ('SGD', 0.1)
        """
        defined_by = next(c for c in type(self).__mro__ if "compile" in c.__dict__)
        if not defined_by.__module__.startswith(("kfit.models.", "kfit.trainers.")):
            warnings.warn(
                f"compile_from_config() did not compile the model: {type(self).__name__} "
                "overrides compile(). Override get_compile_config() and "
                "compile_from_config(config) too, or call compile() yourself.",
                stacklevel=2,
            )
            return
        from kfit.saving.model_io import compile_from_config

        compile_from_config(self, config)  # type: ignore[arg-type]


@functools.cache
def _takes_training(compute_loss: Callable[..., Any]) -> bool:
    return "training" in inspect.signature(compute_loss).parameters


def _sample_shapes(x: Any) -> list[tuple[int, ...]]:
    return [tuple(t.shape[1:]) for t in flatten(x) if isinstance(t, torch.Tensor)]


def _first_device(data: Any) -> torch.device:
    leaves = [t for t in flatten(data) if isinstance(t, torch.Tensor)]
    return leaves[0].device if leaves else torch.device("cpu")


def _output_of(data: Any, names: list[str], index: int) -> Any:
    """One output's entry of a list, tuple or dict (keyed by output name) of targets/outputs."""
    if isinstance(data, dict):
        return data.get(names[index])
    if isinstance(data, (list, tuple)) and index < len(data):
        return data[index]
    return None


def _should_validate(epoch: int, validation_freq: int | Sequence[int]) -> bool:
    # validation_freq counts epochs from 1: every N-th epoch, or the listed epochs.
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def _executions(
    epoch: Iterator[tuple[int, Batch]], size: int
) -> Iterator[tuple[int, int, Sequence[Batch]]]:
    """Groups an epoch's batches by `steps_per_execution`: `(first step, last step, batches)`."""
    if size == 1:
        for step, batch in epoch:
            yield step, step, (batch,)
        return
    group: list[Batch] = []
    for step, batch in epoch:
        group.append(batch)
        if len(group) == size:
            yield step - size + 1, step, group
            group = []
    if group:
        yield step - len(group) + 1, step, group


def _callback_list(
    callbacks: Any, model: Any, add_history: bool = False, add_progbar: bool = False, **params: Any
) -> CallbackList:
    if isinstance(callbacks, CallbackList):
        callbacks.set_model(model)
        callbacks.set_params(params)
        return callbacks
    return CallbackList(callbacks, add_history=add_history, add_progbar=add_progbar, model=model, **params)


def _len(x: Any) -> int:
    leaves = flatten(x)
    return int(np.shape(leaves[0])[0]) if leaves else 0


def _concat(outputs: list[Any]) -> Any:
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(outputs) if len(outputs) > 1 else first
    if isinstance(first, dict):
        return {k: _concat([o[k] for o in outputs]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concat([o[i] for o in outputs]) for i in range(len(first)))
    return outputs


def _to_numpy(value: Any) -> Any:
    return map_structure(lambda t: conversion.to_host(t) if isinstance(t, torch.Tensor) else t, value)


def _batch_hooks_besides_progbar(callbacks: CallbackList, run: str) -> bool:
    """Whether a callback other than the progress bar has batch hooks in `run` ("train", ...)."""
    return any(
        callbacks.dispatches(f"on_{run}_batch_{when}", excluding=ProgbarLogger) for when in ("begin", "end")
    )


def _gather_predictions(
    ddp: distributed_backend.DataParallel, adapter: Any, outputs: list[Any], padding: list[bool]
) -> Any:
    """Every rank's predictions, in the order of the data, on every rank.

    Arrays and Datasets split each global batch into contiguous slices, rank by rank: the
    result is read batch by batch, rank by rank, leaving out padding rows. A resharded
    `DataLoader` deals samples round-robin (`DistributedSampler`): sample `i` is row `i // N`
    of rank `i % N`, and its padding (repeats at the end) is cut off. A generator's batches
    are put together batch by batch, rank by rank.
    """
    template = next(o for o, pad in zip(outputs, padding) if not pad) if not all(padding) else outputs[0]
    kept = [o for o, pad in zip(outputs, padding) if not pad]
    sizes = [0 if pad else _len(o) for o, pad in zip(outputs, padding)]
    per_rank_sizes = ddp.all_gather_sizes(sizes)
    leaves_per_batch = [flatten(o) for o in kept]
    merged_leaves = []
    sampler = getattr(getattr(adapter, "loader", None), "sampler", None)
    strided = isinstance(adapter, TorchDataLoaderAdapter) and type(sampler).__name__ == "DistributedSampler"
    for i, leaf in enumerate(flatten(template)):
        local = torch.cat([b[i] for b in leaves_per_batch]) if leaves_per_batch else leaf[:0]
        ranks = ddp.gather_rows(local)
        if strided:
            total = sum(int(r.shape[0]) for r in ranks)
            merged = ranks[0].new_empty((total, *ranks[0].shape[1:]))
            for r, rows in enumerate(ranks):
                merged[r :: ddp.world_size][: rows.shape[0]] = rows
            merged_leaves.append(merged[: len(adapter.loader.dataset)])
            continue
        cursors = [0] * ddp.world_size
        pieces = []
        for b in range(len(sizes)):
            for r in range(ddp.world_size):
                n = per_rank_sizes[r][b]
                pieces.append(ranks[r][cursors[r] : cursors[r] + n])
                cursors[r] += n
        merged_leaves.append(torch.cat(pieces))
    it = iter(merged_leaves)
    return map_structure(lambda _: next(it), template)


def _predict_logs(group: list[Any]) -> Logs:
    """The batch logs of a predict execution: its outputs, as numpy."""
    return {"outputs": _to_numpy(_concat(group))}
