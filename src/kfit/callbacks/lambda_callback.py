"""`LambdaCallback`: a callback built from plain functions, one per hook."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

from kfit.callbacks.callback import Callback
from kfit.callbacks.callback_list import HOOKS

__all__ = ["LambdaCallback"]

# The legacy batch names are hooks too: the default train batch hooks forward to them.
_HOOK_NAMES = (*HOOKS, "on_batch_begin", "on_batch_end")


def _parameters(name: str) -> str:
    """How a hook is called: `(index, logs)` for epoch and batch hooks, `(logs)` otherwise."""
    if "epoch" in name:
        return "epoch, logs"
    if "batch" in name:
        return "batch, logs"
    return "logs"


def _check_hook(name: str, fn: Any) -> None:
    parameters = _parameters(name)
    expected = f"{name}({parameters})"
    if not callable(fn):
        raise TypeError(
            f"Expected `{name}` to be a function `{expected}`. Received: {name}={fn!r} "
            f"(of type {type(fn).__name__}). Pass a function or lambda, e.g. "
            f"{name}=lambda {parameters}: print({parameters.split(',')[0]})."
        )
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin without a readable signature: it is trusted
    arity = parameters.count(",") + 1
    try:
        signature.bind(*range(arity))
    except TypeError:
        raise TypeError(
            f"Expected `{name}` to accept {arity} positional argument(s), as `{expected}`. "
            f"Received: {name}={fn!r} with signature {signature}. Define it as "
            f"`lambda {parameters}: ...`, even if it ignores some of them."
        ) from None


class LambdaCallback(Callback):
    """A callback made of functions: pass one for each hook you need.

    Hooks are called with positional arguments: `on_epoch_begin`/`on_epoch_end` and the
    batch hooks (`on_train_batch_end`, `on_test_batch_begin`, ...) with `(index, logs)`;
    `on_train_begin`/`on_train_end`, `on_test_begin`, `on_predict_end`, ... with `(logs)`.
    Any hook of `Callback` can be passed through `**kwargs`. Only the hooks given count as
    overridden, so an unused batch hook still costs nothing per step.

    Args:
        on_epoch_begin: `fn(epoch, logs)`, at the start of every epoch.
        on_epoch_end: `fn(epoch, logs)`, at the end of every epoch.
        on_train_begin: `fn(logs)`, when `fit` starts.
        on_train_end: `fn(logs)`, when `fit` ends.
        on_train_batch_begin: `fn(batch, logs)`, before every training batch.
        on_train_batch_end: `fn(batch, logs)`, after every training batch.
        **kwargs: Other hooks by name, e.g. `on_test_end=fn`.

    Raises:
        ValueError: for a keyword that is not a hook name (close matches are suggested).
        TypeError: for a hook that is not callable, or that cannot be called with its
            hook's arguments (checked here, not in the middle of training).

    Differences from Keras:
        Keras copies any keyword onto the instance, so a misspelled hook such as
        `on_epoch_ends=` is silently never called; kfit raises a `ValueError` instead.
        Keras checks no signature: a function with the wrong number of arguments fails
        only when its hook first fires, possibly hours into training.

    Example:
        >>> import numpy as np, kfit
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> printer = kfit.callbacks.LambdaCallback(
        ...     on_epoch_end=lambda epoch, logs: print(f"epoch {epoch}", sorted(logs)),
        ...     on_train_end=lambda logs: print("done"))
        >>> _ = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=0, callbacks=[printer])
        epoch 0 ['loss']
        epoch 1 ['loss']
        done
    """

    def __init__(
        self,
        on_epoch_begin: Callable[[int, dict[str, Any]], Any] | None = None,
        on_epoch_end: Callable[[int, dict[str, Any]], Any] | None = None,
        on_train_begin: Callable[[dict[str, Any]], Any] | None = None,
        on_train_end: Callable[[dict[str, Any]], Any] | None = None,
        on_train_batch_begin: Callable[[int, dict[str, Any]], Any] | None = None,
        on_train_batch_end: Callable[[int, dict[str, Any]], Any] | None = None,
        **kwargs: Callable[..., Any] | None,
    ) -> None:
        super().__init__()
        unknown = sorted(set(kwargs) - set(_HOOK_NAMES))
        if unknown:
            hints = [
                f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)
                for name in unknown
                for close in [difflib.get_close_matches(name, _HOOK_NAMES, n=1)]
            ]
            raise ValueError(
                f"Expected only hook names as keyword arguments to LambdaCallback. Received: "
                f"{', '.join(hints)}. Valid hook names: {list(_HOOK_NAMES)}."
            )
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        for name, fn in hooks.items():
            if fn is None:
                continue
            _check_hook(name, fn)
            # An instance attribute shadows the no-op method; CallbackList counts it as an
            # override, and hooks left as None stay free.
            setattr(self, name, fn)
