"""The `Callback` base class: the hooks that watch and steer `fit`, `evaluate` and `predict`."""

from __future__ import annotations

from typing import Any

from kfit.callbacks.event_filters import EventFilter

__all__ = ["Callback"]

Logs = dict[str, Any]


class Callback:
    """Base class for callbacks: override the hooks you need; the rest cost nothing.

    `CallbackList` works out once which hooks a callback overrides and never calls the others,
    so an empty hook is free. Hooks receive `logs`, a dict (never None). Epoch and batch indices
    are 0-based; `batch` restarts at 0 every epoch.

    The batch-end logs are a `kfit.trainers.BatchLogs`: a dict that reads the values from the
    device on its first access. A batch hook that does not look at `logs` costs no device sync;
    one that keeps them for later should copy them (`dict(logs)`) in the hook.

    Attributes:
        params: `{"verbose": ..., "epochs": ..., "steps": ...}` for the running call.
        model: the model being trained (never a DistributedDataParallel wrapper).

    What each hook receives (values are Python floats, keys sorted):

    | hook | logs |
    |---|---|
    | `on_train_begin`, `on_epoch_begin`, `on_*_batch_begin`, `on_test_begin`, `on_predict_begin`, `on_predict_end` | `{}` |
    | `on_train_batch_end`, `on_test_batch_end` | running means since the epoch began, e.g. `{"loss": 0.25, "mean_absolute_error": 0.41}` |
    | `on_test_end` | the means over the whole evaluation |
    | `on_epoch_end`, `on_train_end` | train means plus `val_`-prefixed validation results; `on_train_end` gets `{}` when no epoch ran |
    | `on_predict_batch_end` | `{"outputs": <numpy array of the batch's predictions>}` |

    When training stops early, the hooks that still fire:

    | `model.stop_training = True` set in | what happens next |
    |---|---|
    | `on_train_batch_begin` / `on_train_batch_end` | the batch finishes; validation, `on_epoch_end` and `on_train_end` run |
    | `on_epoch_begin` | one batch runs, then as above (the flag is read after each batch) |
    | `on_epoch_end` | no further epoch starts; `on_train_end` runs |
    | `on_test_batch_*` (`stop_evaluating`) / `on_predict_batch_*` (`stop_predicting`) | the loop ends after that batch; `on_test_end` / `on_predict_end` run |

    `on_batch_begin`/`on_batch_end` are legacy names for the train batch hooks: the default
    `on_train_batch_*` forwards to them, so overriding either works.

    To have a hook called only every N batches, or not at all, declare it in `hook_filters()`
    (as Ignite declares `Events.ITERATION_COMPLETED(every=N)` when a handler is registered)
    rather than counting in the hook or replacing it in `__init__`:

    | `hook_filters()` returns | `CallbackList` |
    |---|---|
    | `{}` (the default) | calls every hook the class overrides, every time |
    | `{"on_train_batch_end": Every(100)}` | calls it once every 100 batches, counted across epochs (as Keras counts `save_freq`) |
    | `{"on_train_batch_end": Never()}` | never calls it; if nobody else overrides it, the trainer does not build the batch logs |

    The filters are read when `CallbackList` indexes its callbacks (once per `fit` unless a
    `CallbackList` is passed in), so they may depend on the instance's settings, such as
    `ModelCheckpoint`'s `save_freq`. A hook called directly (`cb.on_train_batch_end(...)`)
    is not filtered.

    A callback with state that matters for the rest of a run (a counter, a best value, rows
    already written) returns it from `get_state()` and takes it back in `set_state(state)`,
    as Lightning's `state_dict`/`load_state_dict` do. `BackupAndRestore` saves the state of
    every callback of the running `fit` with each backup (values as JSON, tensors as
    safetensors) and, when a rerun resumes, hands it back in its `on_train_begin`, after the
    model, optimizer and random state are restored, matching callbacks by position and class
    name. That `on_train_begin` may come before or after the callback's own, so a callback
    that resets itself there should keep the restored values (the built-ins do). The
    defaults (`{}` and a no-op) suit callbacks whose behaviour does not depend on the past.

    Example:
        >>> import kfit
        >>> class Counter(kfit.callbacks.Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(f"epoch {epoch}: {sorted(logs)}")
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=3)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> import numpy as np
        >>> _ = model.fit(np.ones((4, 3)), np.ones(4), epochs=2, verbose=0, callbacks=[Counter()])
        epoch 0: ['loss']
        epoch 1: ['loss']
    """

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._model: Any = None

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        # Under torch.distributed the trainer may hold a DDP wrapper; callbacks want the model.
        model = self._model
        while model is not None and type(model).__name__ == "DistributedDataParallel":
            model = model.module
        return model

    @model.setter
    def model(self, value: Any) -> None:
        self._model = value

    def hook_filters(self) -> dict[str, EventFilter]:
        """The hooks `CallbackList` should call less often than every time: `{hook: filter}`.

        Keys are hook names (`"on_train_batch_end"`, ...; not the legacy `on_batch_*`), values
        `kfit.callbacks.Every(n)`, `kfit.callbacks.Never()` or another `EventFilter`. Read when
        `CallbackList` indexes the callbacks; the default filters nothing.

        Example:
            >>> from kfit.callbacks import Callback, CallbackList, Every
            >>> class Sparse(Callback):
            ...     def hook_filters(self):
            ...         return {"on_train_batch_end": Every(2)}
            ...     def on_train_batch_end(self, batch, logs=None):
            ...         print("batch", batch)
            >>> cbs = CallbackList([Sparse()])
            >>> for batch in range(4):
            ...     cbs.on_train_batch_end(batch, {})
            batch 1
            batch 3
        """
        return {}

    def get_state(self) -> dict[str, Any]:
        """The state a resumed run needs to go on exactly as this one would: `{}` by default.

        Values are JSON-able (`str`, `int`, `float`, `bool`, `None`, lists and dicts of them)
        or `torch.Tensor`s, possibly in nested dicts. `BackupAndRestore` stores the result
        with every backup and passes it to `set_state` of the same callback when a killed run
        is rerun. The caller stores the result before any other hook runs, so tensors may be
        returned as they are (a copy at every backup would cost memory and time); anything
        else is best returned as a new list or dict.

        Example:
            >>> import json
            >>> from kfit.callbacks import Callback
            >>> class CountBadEpochs(Callback):
            ...     def __init__(self):
            ...         super().__init__()
            ...         self.bad_epochs = 0
            ...     def on_epoch_end(self, epoch, logs=None):
            ...         if logs["loss"] > 1.0:
            ...             self.bad_epochs += 1
            ...     def get_state(self):
            ...         return {"bad_epochs": self.bad_epochs}
            ...     def set_state(self, state):
            ...         self.bad_epochs = state["bad_epochs"]
            >>> counter = CountBadEpochs()
            >>> counter.on_epoch_end(0, {"loss": 2.5})
            >>> saved = json.dumps(counter.get_state())  # what a backup keeps
            >>> resumed = CountBadEpochs()
            >>> resumed.set_state(json.loads(saved))
            >>> resumed.bad_epochs
            1
        """
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores what `get_state` returned (possibly by another process): a no-op by default.

        Called by `BackupAndRestore` when a run resumes, during `on_train_begin` of the resumed
        `fit` (before or after this callback's own `on_train_begin`, depending on the order of
        the callback list). See `get_state` for an example.

        Args:
            state: the dict `get_state` returned, after a JSON round trip (tuples come back
                as lists) with its tensors on the CPU.
        """

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Legacy alias of `on_train_batch_begin`."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Legacy alias of `on_train_batch_end`."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the start of an epoch, with `logs == {}`."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the end of an epoch, after validation.

        Example logs: `{"loss": 0.25, "mean_absolute_error": 0.41, "val_loss": 0.3,
        "val_mean_absolute_error": 0.44}`. Keys added here are seen by later callbacks and
        land in `History`.
        """

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before a training batch, with `logs == {}`."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after a training batch.

        Example logs: `{"loss": 0.25, "mean_absolute_error": 0.41}`, the sample-weighted running
        means since the epoch began.
        """
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before an evaluation batch (also during `fit`'s validation)."""

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after an evaluation batch. Example logs: `{"loss": 0.3}` (running means)."""

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before a prediction batch."""

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after a prediction batch. Example logs: `{"outputs": np.zeros((128, 1))}`."""

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Called once when `fit` starts, with `logs == {}`."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Called once when `fit` ends, with the last epoch's logs (`{}` if none ran)."""

    def on_test_begin(self, logs: Logs | None = None) -> None:
        """Called when evaluation starts, with `logs == {}`."""

    def on_test_end(self, logs: Logs | None = None) -> None:
        """Called when evaluation ends. Example logs: `{"loss": 0.3, "mean_absolute_error": 0.44}`."""

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        """Called when prediction starts, with `logs == {}`."""

    def on_predict_end(self, logs: Logs | None = None) -> None:
        """Called when prediction ends, with `logs == {}`."""
