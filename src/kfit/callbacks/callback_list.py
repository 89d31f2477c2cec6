"""`CallbackList`: fans each hook out to the callbacks that override it, and to no others."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kfit.callbacks.callback import Callback
from kfit.callbacks.history import History
from kfit.callbacks.progbar_logger import ProgbarLogger

__all__ = ["CallbackList", "HOOKS"]

Logs = dict[str, Any]
# Batch-end logs may arrive as a zero-argument function that builds them: reading metric values
# is a device sync, so it happens only when a callback that needs the values is dispatched.
LogsOrFactory = Logs | Callable[[], Logs] | None

HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
# The default train batch hooks forward to these, so overriding either counts.
_LEGACY = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _overrides(callback: Callback, hook: str) -> bool:
    names = (hook, _LEGACY[hook]) if hook in _LEGACY else (hook,)
    for name in names:
        # Hooks set on the instance (LambdaCallback, or `cb.on_epoch_end = fn`) count too.
        if name in vars(callback):
            return True
        if getattr(type(callback), name, None) is not getattr(Callback, name):
            return True
    return False


class _Memo:
    """Calls a logs factory at most once, however many callbacks ask."""

    __slots__ = ("_factory", "_logs")

    def __init__(self, factory: Callable[[], Logs]) -> None:
        self._factory = factory
        self._logs: Logs | None = None

    def __call__(self) -> Logs:
        if self._logs is None:
            self._logs = self._factory()
        return self._logs


class CallbackList(Callback):
    """A container that calls every callback's hooks in order.

    On construction (and on `append`) it records, per hook, which callbacks override it; a hook
    that nobody overrides dispatches nothing, and `dispatches(hook)` lets the trainer skip even
    building the logs for it. `History` and `ProgbarLogger` are appended after the user's
    callbacks, so they see keys that earlier callbacks add to the shared logs dict.

    Args:
        callbacks: a (possibly nested) list of `Callback` instances.
        add_history: append a `History` unless one is given; it becomes `model.history`.
        add_progbar: append a `ProgbarLogger` unless one is given.
        model: the model the callbacks watch.
        **params: `verbose`, `epochs`, `steps`, passed to every callback as `params`.

    Example:
        >>> class Hello(Callback):
        ...     def on_train_begin(self, logs=None):
        ...         print("hello", logs)
        >>> cbs = CallbackList([Hello()], add_history=True, verbose=0, epochs=1, steps=1)
        >>> cbs.on_train_begin()
        hello {}
        >>> cbs.dispatches("on_train_batch_end")
        False
    """

    def __init__(
        self,
        callbacks: Iterable[Callback] | Callback | None = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ) -> None:
        super().__init__()
        self.callbacks: list[Callback] = _flatten(callbacks)
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self._index_hooks()
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def _index_hooks(self) -> None:
        self._targets: dict[str, tuple[Callback, ...]] = {
            hook: tuple(cb for cb in self.callbacks if _overrides(cb, hook)) for hook in HOOKS
        }
        # Bound once here, so a dispatch is a loop of plain calls (no attribute lookups).
        self._methods: dict[str, tuple[Callable[..., None], ...]] = {
            hook: tuple(getattr(cb, hook) for cb in targets) for hook, targets in self._targets.items()
        }
        # Callbacks that accept a logs factory and resolve it only when they need the values
        # (the progress bar reads them only when it redraws).
        self._eager: dict[str, bool] = {
            hook: any(not getattr(cb, "lazy_batch_logs", False) for cb in self._targets[hook])
            for hook in HOOKS
        }
        # The per-batch hooks run every step: each becomes one closure over its callbacks, set on
        # the instance, so a dispatch is a single call plus the callbacks' own.
        for hook in _BATCH_HOOKS:
            setattr(self, hook, _batch_dispatcher(self._methods[hook], self._eager[hook]))

    def dispatches(self, hook: str) -> bool:
        """Whether any callback overrides `hook` (so calling it does something)."""
        return bool(self._targets[hook])

    def append(self, callback: Callback) -> None:
        self.callbacks.extend(_flatten([callback]))
        self._index_hooks()
        if self._model is not None:
            callback.set_model(self._model)
        if self.params:
            callback.set_params(self.params)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)
        history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if history is not None:
            model.history = history

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    # Dispatch. Begin/end hooks share one dict per call, so keys that one callback adds are seen
    # by the ones after it.
    def _call(self, hook: str, logs: Logs | None) -> None:
        logs = {} if logs is None else logs
        for method in self._methods[hook]:
            method(logs)

    def _call_batch(self, hook: str, batch: int, logs: LogsOrFactory) -> None:
        methods = self._methods[hook]
        if not methods:
            return
        if logs is None:
            logs = {}
        elif callable(logs):
            logs = logs() if self._eager[hook] else _Memo(logs)
        for method in methods:
            method(batch, logs)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._call("on_train_end", logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._call("on_predict_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._call_batch("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._call_batch("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: LogsOrFactory = None) -> None:
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: LogsOrFactory = None) -> None:
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch: int, logs: LogsOrFactory = None) -> None:
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: LogsOrFactory = None) -> None:
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch: int, logs: LogsOrFactory = None) -> None:
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: LogsOrFactory = None) -> None:
        self._call_batch("on_predict_batch_end", batch, logs)

    # Legacy aliases route to the train batch hooks, as in Keras.
    def on_batch_begin(self, batch: int, logs: LogsOrFactory = None) -> None:
        self.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: LogsOrFactory = None) -> None:
        self.on_train_batch_end(batch, logs)


_BATCH_HOOKS = tuple(h for h in HOOKS if "_batch_" in h)


def _batch_dispatcher(
    methods: tuple[Callable[..., None], ...], eager: bool
) -> Callable[[int, LogsOrFactory], None]:
    def dispatch(batch: int, logs: LogsOrFactory = None) -> None:
        if not methods:
            return
        if logs is None:
            logs = {}
        elif callable(logs):
            logs = logs() if eager else _Memo(logs)
        for method in methods:
            method(batch, logs)

    return dispatch


def _flatten(callbacks: Any) -> list[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    out: list[Callback] = []
    for i, cb in enumerate(callbacks):
        if isinstance(cb, (list, tuple)):
            out.extend(_flatten(cb))
        elif isinstance(cb, Callback):
            out.append(cb)
        else:
            raise TypeError(
                "Expected every item of `callbacks` to be a `kfit.callbacks.Callback` instance. "
                f"Received: callbacks[{i}]={cb!r} (of type {type(cb).__name__}). Subclass "
                "`kfit.callbacks.Callback`, pass an instance rather than the class, or wrap plain "
                "functions in `kfit.callbacks.LambdaCallback`."
            )
    return out
