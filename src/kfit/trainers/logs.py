"""`BatchLogs`: the batch-end logs, a dict that reads its values from the device when first used.

Reading metric results back from an accelerator is a device->host sync. The trainer builds a
`BatchLogs` after a batch only when some callback overrides the batch-end hook; the read
happens only if one of them looks at the logs. So `TerminateOnNaN` or a `ModelCheckpoint` that
saves every 1000 batches costs no sync on the other batches, and the progress bar reads the
values only when it redraws.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

__all__ = ["BatchLogs"]

_F = TypeVar("_F", bound=Callable[..., Any])

# Held in the storage until the read. C code that checks the raw size before anything else
# (json's encoder writes "{}" for an empty dict without calling `items()`) must not see an empty
# dict; every Python-level access reads first, which removes this entry.
_UNREAD = object()
_PLACEHOLDER: dict[Any, None] = {_UNREAD: None}  # not a str key, by design


def _read_first(method: _F) -> _F:
    """Wraps a `dict` method so that it runs on the read values."""

    @functools.wraps(method)
    def wrapper(self: BatchLogs, *args: Any, **kwargs: Any) -> Any:
        if self._read is not None:
            self._fill()
        return method(self, *args, **kwargs)

    return cast(_F, wrapper)


class BatchLogs(dict[str, Any]):
    """A dict of log values that calls `read()` on its first access, once, then is a plain dict.

    Every way of using a dict counts as an access: indexing, `in`, `len`, iteration, `keys()`,
    `items()`, `get`, `repr`, `==`, `copy()`, writes, and C-level consumers such as
    `dict(logs)`, `{**logs}`, `f(**logs)` and `json.dumps(logs)`. `isinstance(logs, dict)` is
    True and reads nothing. A copy (`logs.copy()`, `dict(logs)`, `copy.copy`, pickling) is a
    plain `dict`.

    The values are those of the moment of the first access: a callback that keeps the logs of
    a batch for later should copy them in the hook (`dict(logs)`), or it reads later metric
    values.

    Building one costs about 0.2 us (a Python `__init__` and the placeholder entry), against
    tens of microseconds for the read it saves.

    Args:
        read: a zero-argument callable returning the mapping of log values.
        local: in data-parallel training, what `local_view()` reads instead.

    Raises:
        TypeError: if `read` is not callable.

    Example:
        >>> reads = []
        >>> logs = BatchLogs(lambda: reads.append(1) or {"loss": 0.25})
        >>> reads, isinstance(logs, dict)
        ([], True)
        >>> logs["loss"], dict(logs), len(reads)
        (0.25, {'loss': 0.25}, 1)
    """

    __slots__ = ("_local", "_read")

    def __init__(
        self, read: Callable[[], Mapping[str, Any]], local: Callable[[], Mapping[str, Any]] | None = None
    ) -> None:
        if not callable(read):
            raise TypeError(
                "Expected `read` to be a zero-argument callable returning the log values. "
                f"Received: read={read!r} (of type {type(read).__name__}). Pass e.g. "
                "BatchLogs(lambda: {'loss': 0.25}), or use a plain dict for values already known."
            )
        self._read: Callable[[], Mapping[str, Any]] | None = read
        self._local = local
        dict.update(self, _PLACEHOLDER)

    def local_view(self) -> Mapping[str, Any]:
        """The logs as this process alone sees them, when reading the global ones is a collective.

        In data-parallel training the first read of a `BatchLogs` is a collective (every rank
        reduces the metric states together), so a callback that reads the logs on one rank
        only, at moments of its own (the progress bar, at redraws), reads this view instead:
        this rank's running values, no communication. Elsewhere it is the logs themselves.

        Example:
            >>> logs = BatchLogs(lambda: {"loss": 0.5}, local=lambda: {"loss": 0.7})
            >>> logs.local_view()["loss"], logs["loss"]
            (0.7, 0.5)
        """
        if self._local is None or self._read is None:
            return self
        return BatchLogs(self._local)

    def _fill(self) -> None:
        read = self._read
        if read is None:  # already read: a plain dict from here on
            return
        values = read()
        # Cleared only after a successful read, so a read that raises is retried next time.
        self._read = None
        dict.clear(self)
        dict.update(self, values)

    __getitem__ = _read_first(dict.__getitem__)
    __setitem__ = _read_first(dict.__setitem__)
    __delitem__ = _read_first(dict.__delitem__)
    __contains__ = _read_first(dict.__contains__)
    __iter__ = _read_first(dict.__iter__)
    __reversed__ = _read_first(dict.__reversed__)
    __len__ = _read_first(dict.__len__)
    __repr__ = _read_first(dict.__repr__)
    __eq__ = _read_first(dict.__eq__)
    __ne__ = _read_first(dict.__ne__)
    __or__ = _read_first(dict.__or__)
    __ror__ = _read_first(dict.__ror__)
    __ior__ = _read_first(dict.__ior__)
    keys = _read_first(dict.keys)
    values = _read_first(dict.values)
    items = _read_first(dict.items)
    get = _read_first(dict.get)
    pop = _read_first(dict.pop)
    popitem = _read_first(dict.popitem)
    setdefault = _read_first(dict.setdefault)
    update = _read_first(dict.update)
    clear = _read_first(dict.clear)
    copy = _read_first(dict.copy)

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        # copy.copy, copy.deepcopy and pickle produce a plain dict: `read` may not pickle.
        return dict, (dict(self),)
