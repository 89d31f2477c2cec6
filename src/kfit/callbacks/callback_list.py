"""`CallbackList`: fans each hook out to the callbacks that override it, and to no others."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kfit.callbacks.callback import Callback
from kfit.callbacks.event_filters import EventFilter
from kfit.callbacks.history import History
from kfit.callbacks.progbar_logger import ProgbarLogger

__all__ = ["HOOKS", "CallbackList"]

Logs = dict[str, Any]

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
# The batch hooks of each run, by the hook that begins it: their filters are bound afresh there,
# so a filter's count starts over with every fit, evaluation and predict.
_RUN_BATCH_HOOKS = {
    "on_train_begin": ("on_train_batch_begin", "on_train_batch_end"),
    "on_test_begin": ("on_test_batch_begin", "on_test_batch_end"),
    "on_predict_begin": ("on_predict_batch_begin", "on_predict_batch_end"),
}


_Calls = tuple[Callable[..., None], ...]


class _HookCalls:
    """Each hook's calls, as an attribute named after the hook.

    A slot read costs less than a dict lookup by the hook's name (about 13 ns, a tenth of a
    batch hook's whole dispatch to one callback).
    """

    __slots__ = HOOKS
    on_train_begin: _Calls
    on_train_end: _Calls
    on_epoch_begin: _Calls
    on_epoch_end: _Calls
    on_train_batch_begin: _Calls
    on_train_batch_end: _Calls
    on_test_begin: _Calls
    on_test_end: _Calls
    on_test_batch_begin: _Calls
    on_test_batch_end: _Calls
    on_predict_begin: _Calls
    on_predict_end: _Calls
    on_predict_batch_begin: _Calls
    on_predict_batch_end: _Calls

    def __init__(self) -> None:
        for hook in HOOKS:
            setattr(self, hook, ())


def _overrides(callback: Callback, hook: str) -> bool:
    names = (hook, _LEGACY[hook]) if hook in _LEGACY else (hook,)
    for name in names:
        # Hooks set on the instance (LambdaCallback, or `cb.on_epoch_end = fn`) count too.
        if name in vars(callback):
            return True
        if getattr(type(callback), name, None) is not getattr(Callback, name):
            return True
    return False


def _hook_filters(callback: Callback) -> dict[str, EventFilter]:
    """`callback.hook_filters()`, checked: hook names as keys, `EventFilter`s as values."""
    filters = callback.hook_filters()
    owner = f"{type(callback).__name__}.hook_filters()"
    if not isinstance(filters, dict):
        raise TypeError(
            f"Expected `{owner}` to return a dict from hook name to `kfit.callbacks.EventFilter`. "
            f"Received: {filters!r} (of type {type(filters).__name__}). Return e.g. "
            '{"on_train_batch_end": Every(100)}, or {} to filter nothing.'
        )
    for hook, event_filter in filters.items():
        if hook not in HOOKS:
            modern = {legacy: name for name, legacy in _LEGACY.items()}.get(hook)
            hint = f"Use {modern!r}; {hook!r} is its legacy name." if modern else f"Use one of {HOOKS}."
            raise ValueError(
                f"Expected the keys of `{owner}` to be hook names. Received: {hook!r} (of type "
                f"{type(hook).__name__}). {hint}"
            )
        if not isinstance(event_filter, EventFilter):
            raise TypeError(
                f"Expected `{owner}[{hook!r}]` to be a `kfit.callbacks.EventFilter`. Received: "
                f"{event_filter!r} (of type {type(event_filter).__name__}). Use Every(n) to call "
                "the hook every n batches, or Never() to not call it."
            )
    return filters


class CallbackList(Callback):
    """A container that calls every callback's hooks in order.

    On construction (and on `append`) it records, per hook, the bound hooks of the callbacks
    that override it, with each callback's `hook_filters()` applied: a hook filtered with
    `Never()` is left out, one filtered with `Every(n)` is wrapped in its counter (made afresh
    when each fit, evaluation or predict begins). Each hook then loops over its calls; a hook
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
        # Per hook, each overriding callback's bound hook and its filter (None: every call).
        plan: dict[str, list[tuple[Callable[..., None], EventFilter | None]]] = {hook: [] for hook in HOOKS}
        for cb in self.callbacks:
            filters = _hook_filters(cb)
            for hook in HOOKS:
                if _overrides(cb, hook):
                    plan[hook].append((getattr(cb, hook), filters.get(hook)))
        self._plan = plan
        self._calls = _HookCalls()
        for hook in HOOKS:
            self._bind(hook)

    def _bind(self, hook: str) -> None:
        # Bound here, so a dispatch is a loop of plain calls (no lookups on the callbacks).
        calls = (method if f is None else f.bind(hook, method) for method, f in self._plan[hook])
        setattr(self._calls, hook, tuple(call for call in calls if call is not None))

    def _begin_run(self, begin: str) -> None:
        for hook in _RUN_BATCH_HOOKS[begin]:
            if any(f is not None for _, f in self._plan[hook]):
                self._bind(hook)

    def resume_batch_counts(self, batches_seen: int, last_batch: int) -> None:
        """Sets the counters of the train batch hooks' filters (`Every(n)`) as an interrupted fit
        left them: `batches_seen` batches since that fit began, the last at index `last_batch`
        of the current epoch (-1 at an epoch's start). Called by `fit` when it resumes a backup.
        """
        for hook in _RUN_BATCH_HOOKS["on_train_begin"]:
            for call in getattr(self._calls, hook):
                resume = getattr(call, "resume", None)
                if resume is not None:
                    resume(batches_seen, last_batch)

    def dispatches(self, hook: str, excluding: type[Callback] | None = None) -> bool:
        """Whether `hook` calls any callback (one overrides it, and did not filter it `Never()`).

        `excluding` leaves the callbacks of that class out of the question (the trainer asks
        whether anything but the progress bar has batch hooks).
        """
        if excluding is None:
            return bool(getattr(self._calls, hook))
        return any(
            not isinstance(getattr(method, "__self__", None), excluding)
            for method, f in self._plan[hook]
            if f is None or f.bind(hook, method) is not None
        )

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

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    # Dispatch: one method per hook, each a loop over the calls `_bind` made. The callbacks of a
    # hook share one logs dict, so keys that one adds are seen by the ones after it. The loop is
    # written out in each hook rather than shared through a helper: a batch hook runs every
    # step, and one more Python call would cost as much as a callback's own.
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._begin_run("on_train_begin")
        if logs is None:
            logs = {}
        for call in self._calls.on_train_begin:
            call(logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_train_end:
            call(logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        self._begin_run("on_test_begin")
        if logs is None:
            logs = {}
        for call in self._calls.on_test_begin:
            call(logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_test_end:
            call(logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._begin_run("on_predict_begin")
        if logs is None:
            logs = {}
        for call in self._calls.on_predict_begin:
            call(logs)

    def on_predict_end(self, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_predict_end:
            call(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_epoch_begin:
            call(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_epoch_end:
            call(epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_train_batch_begin:
            call(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_train_batch_end:
            call(batch, logs)

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_test_batch_begin:
            call(batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_test_batch_end:
            call(batch, logs)

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_predict_batch_begin:
            call(batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if logs is None:
            logs = {}
        for call in self._calls.on_predict_batch_end:
            call(batch, logs)

    # Legacy aliases route to the train batch hooks, as in Keras.
    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.on_train_batch_end(batch, logs)


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
