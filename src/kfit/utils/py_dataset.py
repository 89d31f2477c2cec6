"""`PyDataset`: a dataset of whole batches, addressed by index, that `fit` can load in parallel."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["PyDataset"]


class PyDataset:
    """Base class for data given to `fit`/`evaluate`/`predict` one batch at a time, by index.

    Subclass it, call `super().__init__(**kwargs)`, and define `__getitem__(index)` to return
    batch `index` as `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` (numpy arrays or
    tensors), and `__len__` (the number of batches), or the `num_batches` property (None
    for an endless dataset, which needs `steps_per_epoch`). `on_epoch_begin` and
    `on_epoch_end` are called around each pass over the batches (a reshuffle belongs there).

    Because batches are addressed by index, they can be loaded ahead of the step that uses
    them: with `workers > 1` by that many threads (good for I/O), and with
    `use_multiprocessing=True` by `workers` processes (for Python-heavy work; the dataset is
    copied into each process, through torch's `DataLoader` workers, so it must be picklable
    where processes are spawned rather than forked). Batches always arrive in index order.

    Args:
        workers: How many threads (or processes) load batches; 1 loads them in the training
            loop's thread.
        use_multiprocessing: Whether `workers` are processes instead of threads.
        max_queue_size: How many batches may be loaded ahead.

    Example:
        >>> import numpy as np, kfit
        >>> class Squares(kfit.utils.PyDataset):
        ...     def __init__(self, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x = np.arange(10, dtype="float32").reshape(10, 1)
        ...         self.batch_size = batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, index):
        ...         x = self.x[index * self.batch_size:(index + 1) * self.batch_size]
        ...         return x, x**2
        >>> data = Squares(batch_size=4, workers=2)
        >>> data.num_batches, [len(x) for x, _ in data]
        (3, [4, 4, 2])
        >>> model = kfit.Sequential([kfit.Input((1,)), kfit.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> len(model.fit(data, epochs=2, verbose=0).history["loss"])
        2
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        for name, value, minimum in (("workers", workers, 0), ("max_queue_size", max_queue_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(
                    f"Expected `{name}` to be an integer >= {minimum}. Received: {name}={value!r} "
                    f"(of type {type(value).__name__}). Pass e.g. {name}={max(minimum, 1)}."
                )
        self._workers = workers
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    def _setting(self, name: str) -> Any:
        if name not in self.__dict__:
            # Keras's fallback for a subclass that forgot super().__init__().
            warnings.warn(
                f"{type(self).__name__} should call `super().__init__(**kwargs)` in its "
                "constructor; `workers`, `use_multiprocessing` and `max_queue_size` go there "
                "(not to fit(), which ignores them). Using the defaults.",
                stacklevel=3,
            )
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10
        return self.__dict__[name]

    @property
    def workers(self) -> int:
        """How many threads (or processes, with `use_multiprocessing`) load batches."""
        return int(self._setting("_workers"))

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        """Whether the workers are processes rather than threads."""
        return bool(self._setting("_use_multiprocessing"))

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        """How many batches may be loaded ahead of the step that uses them."""
        return int(self._setting("_max_queue_size"))

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        """Returns batch `index` (0-based): `x`, `(x, y)` or `(x, y, sample_weight)`."""
        raise NotImplementedError(
            f"Expected {type(self).__name__} to define __getitem__(self, index), returning batch "
            "`index`. Received: a PyDataset subclass without it. Define it."
        )

    @property
    def num_batches(self) -> int | None:
        """The number of batches (`len(self)`), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"Expected {type(self).__name__} to define __len__ (or a `num_batches` property; "
            "None means endless). Received: a PyDataset subclass with neither. Define one."
        )

    def __iter__(self) -> Iterator[Any]:
        count = self.num_batches
        indices = itertools.count() if count is None else range(count)
        for index in indices:
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called before each pass over the batches."""

    def on_epoch_end(self) -> None:
        """Called after each pass over the batches (e.g. to reshuffle the samples)."""
