"""`kfit.utils.PyDataset` inputs: batches fetched by index, in this thread, threads or processes.

How batches are loaded follows the dataset's settings, as in Keras:

| `workers` | `use_multiprocessing` | loading |
|---|---|---|
| 0 or 1 | False | in the training loop, one `dataset[i]` per step |
| n > 1 | False | a pool of n threads, up to `max_queue_size` batches ahead |
| n >= 1 | True | n torch `DataLoader` worker processes (`batch_size=None`: each item is a batch) |

Each pass calls `on_epoch_begin()` before its first batch and `on_epoch_end()` after its last
(a pass dropped early and started again is begun once), so with `steps_per_epoch` shorter
than the dataset they bracket passes, not epochs (Keras calls them every epoch). With
`shuffle` (fit's default, as in Keras) the batch order is permuted each pass by the
adapter's own torch generator, which the epoch iterator records for exact resumption; a
resume replays the order and loads the skipped batches again (their content is the dataset's
business: state that `on_epoch_end` changed is not restored).
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import itertools
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from kfit.trainers.data_adapters.array_data_adapter import check_class_weight, class_weight_to_sample_weight
from kfit.trainers.data_adapters.batch_checks import BatchChecker
from kfit.trainers.data_adapters.structures import map_structure, to_tensor, unpack_x_y_sample_weight
from kfit.utils.py_dataset import PyDataset

__all__ = ["PyDatasetAdapter", "adapt_py_dataset"]

Batch = tuple[Any, Any, Any]


class _Batches(Dataset):
    """The PyDataset seen by torch's DataLoader: item `i` is batch `i`."""

    def __init__(self, dataset: PyDataset) -> None:
        self.dataset = dataset

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]


def _unchanged(item: Any) -> Any:
    # Module level, so that spawned workers can unpickle it.
    return item


class PyDatasetAdapter:
    """Serves a `PyDataset`'s batches, loading ahead with its workers.

    Example:
        >>> import numpy as np
        >>> from kfit.utils import PyDataset
        >>> class Two(PyDataset):
        ...     def __len__(self):
        ...         return 2
        ...     def __getitem__(self, index):
        ...         return np.full((3, 1), index, "float32"), np.zeros(3)
        >>> adapter = PyDatasetAdapter(Two())
        >>> adapter.num_batches, [float(x[0, 0]) for x, y, sw in adapter.iter_pass()]
        (2, [0.0, 1.0])
    """

    restartable = True

    def __init__(
        self,
        dataset: PyDataset,
        shuffle: bool = False,
        class_weight: dict[int, float] | None = None,
    ) -> None:
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        # The batch order's own RNG, seeded from torch's: the epoch iterator saves its state.
        self.generator = torch.Generator()
        self.generator.manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
        if class_weight is not None:
            check_class_weight(class_weight)
        self.class_weight = class_weight
        self.checker = BatchChecker("PyDataset")
        self.num_batches: int | None = dataset.num_batches
        self._within_pass = False

    def _order(self) -> Iterable[int]:
        count = self.num_batches
        if count is None:
            return itertools.count()
        if self.shuffle:
            return torch.randperm(count, generator=self.generator).tolist()
        return range(count)

    def iter_pass(self) -> Iterator[Batch]:
        if not self._within_pass:
            # A pass dropped before its end (the trainer peeks at the first batch of
            # validation data, then restarts it) is not begun twice: the hooks stay paired.
            self.dataset.on_epoch_begin()
            self._within_pass = True
        workers = self.dataset.workers
        if self.dataset.use_multiprocessing and workers > 0:
            items = self._from_processes(workers)
        elif workers > 1:
            items = self._from_threads(workers)
        else:
            items = (self.dataset[i] for i in self._order())
        for index, item in enumerate(items):
            yield self._convert(index, item)
        self._within_pass = False
        self.dataset.on_epoch_end()

    def _from_threads(self, workers: int) -> Iterator[Any]:
        executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="kfit-pydataset")
        pending: collections.deque[concurrent.futures.Future[Any]] = collections.deque()
        ahead = max(self.dataset.max_queue_size, workers)
        try:
            order = iter(self._order())
            for index in itertools.islice(order, ahead):
                pending.append(executor.submit(self.dataset.__getitem__, index))
            while pending:
                item = pending.popleft().result()
                for index in itertools.islice(order, 1):
                    pending.append(executor.submit(self.dataset.__getitem__, index))
                yield item
        finally:
            # A pass left early (steps_per_epoch, an error) drops what was queued.
            executor.shutdown(wait=False, cancel_futures=True)

    def _from_processes(self, workers: int) -> Iterator[Any]:
        loader = DataLoader(
            _Batches(self.dataset),
            batch_size=None,
            sampler=self._order(),
            num_workers=workers,
            collate_fn=_unchanged,
            prefetch_factor=max(1, -(-self.dataset.max_queue_size // workers)),
            # Worker seeds come from this generator, so a resumed pass seeds them the same.
            generator=self.generator,
        )
        yield from loader

    def _convert(self, index: int, item: Any) -> Batch:
        x, y, sw = unpack_x_y_sample_weight(_standardize(item))
        x, y, sw = _tensors(x, "x"), _tensors(y, "y"), _tensors(sw, "sample_weight")
        self.checker.check(index, x, y)
        if self.class_weight is not None:
            sw = class_weight_to_sample_weight(self.class_weight, y, sw)
        return x, y, sw


def _standardize(item: Any) -> Any:
    """A batch as `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`; Keras's rules."""
    if isinstance(item, (dict, np.ndarray, torch.Tensor)):
        return item
    if isinstance(item, list):
        item = tuple(item)
    if not isinstance(item, tuple) or len(item) not in (1, 2, 3):
        length = f" of length {len(item)}" if isinstance(item, tuple) else ""
        raise ValueError(
            "Expected PyDataset.__getitem__() to return a batch: `x`, or a tuple `(x,)`, "
            f"`(x, y)` or `(x, y, sample_weight)`. Received: a {type(item).__name__}{length}. "
            "Return a tuple of arrays (or a dict of input arrays)."
        )
    return item


def _tensors(data: Any, name: str) -> Any:
    return map_structure(functools.partial(to_tensor, name=name), data)


def adapt_py_dataset(
    dataset: PyDataset,
    y: Any = None,
    sample_weight: Any = None,
    shuffle: bool | str = False,
    class_weight: dict[int, float] | None = None,
) -> PyDatasetAdapter:
    """The adapter for `dataset`, after refusing the `fit` arguments a PyDataset supplies itself.

    `batch_size` is ignored, as in Keras: the dataset's batches are served as they are.

    Example:
        >>> from kfit.utils import PyDataset
        >>> class One(PyDataset):
        ...     def __len__(self):
        ...         return 1
        >>> type(adapt_py_dataset(One(), shuffle=True)).__name__
        'PyDatasetAdapter'
    """
    for name, value in (("y", y), ("sample_weight", sample_weight)):
        if value is not None:
            raise ValueError(
                f"Expected `{name}` to be None when `x` is a PyDataset, whose batches hold "
                f"`(x, y[, sample_weight])` themselves. Received: {name} of type "
                f"{type(value).__name__}. Return them from the dataset's __getitem__ instead."
            )
    if shuffle and dataset.num_batches is None:
        warnings.warn(
            "`shuffle=True` was passed, but is ignored: `x` is an endless PyDataset, which "
            "is expected to shuffle its own batches.",
            stacklevel=3,
        )
    shuffle = bool(shuffle) and dataset.num_batches is not None
    return PyDatasetAdapter(dataset, shuffle=shuffle, class_weight=class_weight)
