"""Event filters: how often `CallbackList` calls a callback's hook, declared by the callback.

Modelled on Ignite's `Events.ITERATION_COMPLETED(every=N)`: how often a handler fires belongs
to its registration, not to a counter inside the handler or a method patched in `__init__`. A
callback returns `{hook name: filter}` from `Callback.hook_filters()`; `CallbackList` reads it
when it indexes its callbacks and binds each filtered hook then, so a hook filtered with
`Never()` is not dispatched at all, and one filtered with `Every(n)` is called only on the
batches that are due.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["EventFilter", "Every", "Never"]

Hook = Callable[..., None]


class EventFilter(abc.ABC):
    """Decides which calls of one callback's hook `CallbackList` makes.

    `CallbackList` calls `bind(hook, method)` when it indexes its callbacks, and again when a
    run of the hook begins (`on_train_begin` for the train batch hooks, `on_test_begin` for the
    test batch hooks, `on_predict_begin` for the predict batch hooks). State kept in the
    returned callable therefore starts fresh with every `fit`, evaluation and `predict`, and a
    filter instance can be shared.

    Example:
        >>> class FirstBatches(EventFilter):
        ...     '''Calls a batch hook on the first `n` batches of each epoch only.'''
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def bind(self, hook, method):
        ...         def call(batch, logs):
        ...             if batch < self.n:
        ...                 method(batch, logs)
        ...         return call
        >>> call = FirstBatches(2).bind("on_train_batch_end", lambda batch, logs: print(batch))
        >>> for batch in range(4):
        ...     call(batch, {})
        0
        1
    """

    @abc.abstractmethod
    def bind(self, hook: str, method: Hook) -> Hook | None:
        """Returns what `CallbackList` calls in place of `method`, or None to never call it.

        Args:
            hook: the hook's name, e.g. `"on_train_batch_end"`.
            method: the callback's bound hook.

        Returns:
            A callable taking the hook's arguments, or None: the hook is left out of the
            dispatch (and `CallbackList.dispatches(hook)` ignores it).
        """


@dataclass(frozen=True)
class Every(EventFilter):
    """Calls a batch hook once every `n` batches, counted across epochs as Keras counts `save_freq`.

    The count is of batches seen since the hook's previous call, and it carries over epoch
    boundaries: with 5 batches per epoch, `Every(15)` calls the hook after the last batch of
    epochs 3, 6, 9, ... With `steps_per_execution`, one call stands for several batches (the
    index the hook receives jumps) and all of them count; the hook is called once at least
    `n` batches are seen, so with `steps_per_execution=2`, `Every(3)` calls it every 4 batches,
    as Keras's `ModelCheckpoint(save_freq=3)` saves. The count restarts with every `fit`
    (every evaluation, every `predict` for those hooks).

    Args:
        n: the number of batches between two calls; 1 calls the hook after every batch.

    Raises:
        ValueError: if `n` is not an integer >= 1, or the hook is not a batch hook.

    Example:
        >>> import numpy as np, kfit
        >>> class Report(kfit.callbacks.Callback):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.calls = []
        ...     def hook_filters(self):
        ...         return {"on_train_batch_end": Every(3)}
        ...     def on_train_batch_end(self, batch, logs=None):
        ...         self.calls.append(batch)
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> report = Report()
        >>> _ = model.fit(np.ones((10, 2)), np.ones(10), batch_size=2, epochs=2, verbose=0,
        ...               callbacks=[report])
        >>> report.calls  # 5 batches per epoch: the 3rd, 6th and 9th batch
        [2, 0, 3]
    """

    n: int

    def __post_init__(self) -> None:
        n = self.n
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(
                "Expected `n` to be an integer >= 1 (a number of batches). "
                f"Received: n={n!r} (of type {type(n).__name__}). Pass e.g. Every(100), or "
                "Never() for a hook that should not be called."
            )
        object.__setattr__(self, "n", int(n))

    def bind(self, hook: str, method: Hook) -> Hook | None:
        if "_batch_" not in hook:
            raise ValueError(
                "Expected `Every(n)` on a batch hook (such as on_train_batch_end): it counts "
                f"batches. Received: hook={hook!r} (of type {type(hook).__name__}). Filter a "
                "batch hook, or count epochs inside the epoch hook."
            )
        every = self.n
        if every == 1:
            # Every call covers at least one batch, so every call is due.
            return method
        seen = 0
        last = -1

        def every_n_batches(batch: int, logs: Any) -> None:
            nonlocal seen, last
            # Indices restart at 0 each epoch; within one they only grow, by more than 1 when
            # a call covers several batches (steps_per_execution). Keras counts the same way.
            seen += batch - last if batch > last else batch + 1
            last = batch
            if seen >= every:
                seen = 0
                method(batch, logs)

        def resume(batches_seen: int, last_batch: int) -> None:
            # A resumed fit continues the count of the interrupted one: `batches_seen` batches
            # since the fit began, the last of them at index `last_batch` of the current epoch.
            nonlocal seen, last
            seen = batches_seen % every
            last = last_batch

        every_n_batches.resume = resume  # type: ignore[attr-defined]
        return every_n_batches


@dataclass(frozen=True)
class Never(EventFilter):
    """Never calls the hook: for a hook the class defines that this instance does not need.

    The hook is left out of the dispatch, so when no other callback overrides it,
    `CallbackList.dispatches(hook)` is False and the trainer does not even build the batch logs.

    Example:
        >>> import kfit
        >>> class EpochCheckpoint(kfit.callbacks.Callback):
        ...     def __init__(self, per_batch):
        ...         super().__init__()
        ...         self.per_batch = per_batch
        ...     def hook_filters(self):
        ...         return {} if self.per_batch else {"on_train_batch_end": Never()}
        ...     def on_train_batch_end(self, batch, logs=None):
        ...         pass
        >>> kfit.callbacks.CallbackList([EpochCheckpoint(False)]).dispatches("on_train_batch_end")
        False
    """

    def bind(self, hook: str, method: Hook) -> Hook | None:
        return None
