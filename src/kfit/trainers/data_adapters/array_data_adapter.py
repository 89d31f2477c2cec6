"""Numpy arrays and tensors (and tuples, lists, dicts of them): converted once, batched by index.

Memory-mapped arrays and HDF5 datasets are the exception: they stay on disk as `LazyArray`s
(see `lazy_arrays`), and each batch reads only its own rows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from kfit.trainers.data_adapters.batch_checks import BatchChecker, check_label_range
from kfit.trainers.data_adapters.lazy_arrays import LazyArray, to_tensor_or_lazy
from kfit.trainers.data_adapters.sharding import Shard, WeightedBatch
from kfit.trainers.data_adapters.structures import flatten, map_structure

__all__ = ["ArrayDataAdapter", "check_class_weight", "class_weight_to_sample_weight", "split_validation"]

# Data up to this size is copied to an accelerator once per fit, so batches are gathered on the
# device; larger data stays in host memory and each batch is copied over.
DEVICE_COPY_BUDGET_BYTES = 2 * 1024**3

Batch = tuple[Any, Any, Any]


def _num_samples(name: str, data: Any) -> int | None:
    sizes = {int(t.shape[0]) for t in flatten(data)}
    if len(sizes) > 1:
        raise ValueError(
            f"Expected all arrays in `{name}` to have the same number of samples. "
            f"Received: first dimensions {sorted(sizes)}. Make every input array the same length."
        )
    return sizes.pop() if sizes else None


class ArrayDataAdapter:
    """Serves batches from in-memory arrays, gathering rows by index without a Python loop.

    The arrays become tensors once (sharing numpy's memory where possible) and, on an
    accelerator, are copied to it once when they fit `DEVICE_COPY_BUDGET_BYTES`. Each pass draws
    one permutation from its own generator, whose state `get_state` returns so that a resumed run
    can replay the same order.

    Memory-mapped arrays and `h5py.Dataset`s are not converted: they become `LazyArray`s
    (`lazy` is then True) and each batch reads just its rows, in the permutation's order, into a
    fresh host tensor (pinned when the device is CUDA), which the epoch iterator copies to the
    device. In-memory arrays next to them stay on the host and are gathered the same way. With
    `class_weight` and targets on disk the weights are computed batch by batch, and `checker`
    takes the label range the trainer sets, to check each batch's labels on the host.

    Example:
        >>> import numpy as np
        >>> adapter = ArrayDataAdapter(np.arange(10.0).reshape(5, 2), np.arange(5), batch_size=2, shuffle=False)
        >>> [tuple(x.shape) for x, y, sw in adapter.iter_pass()]
        [(2, 2), (2, 2), (1, 2)]
    """

    restartable = True

    def __init__(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        batch_size: int = 32,
        shuffle: bool | str = True,
        class_weight: dict[int, float] | None = None,
        device: torch.device | str = "cpu",
        seed: int | None = None,
        shard: Shard | None = None,
    ) -> None:
        device = torch.device(device)
        self.shard = shard
        self.x = map_structure(functools.partial(to_tensor_or_lazy, name="x"), x)
        self.y = map_structure(functools.partial(to_tensor_or_lazy, name="y"), y)
        self.sample_weight = map_structure(functools.partial(to_tensor_or_lazy, name="sample_weight"), sample_weight)
        counts = {
            name: n
            for name, data in (("x", self.x), ("y", self.y), ("sample_weight", self.sample_weight))
            if (n := _num_samples(name, data)) is not None
        }
        if len(set(counts.values())) > 1:
            described = ", ".join(f"{k} has {v}" for k, v in counts.items())
            raise ValueError(
                "Expected `x`, `y` and `sample_weight` to have the same number of samples. "
                f"Received: {described}. Pass arrays of equal length along the first axis."
            )
        self.num_samples = counts.get("x", 0)
        if not self.num_samples:
            shapes = [tuple(t.shape) for t in flatten(self.x)]
            raise ValueError(
                "Expected `x` to hold at least one sample. Received: x with 0 samples (shapes "
                f"{shapes}). Check how the data was loaded or filtered, and pass a non-empty array."
            )
        self.lazy = any(isinstance(t, LazyArray) for t in self._leaves())
        self.checker = BatchChecker("arrays") if self.lazy else None
        if self.lazy:
            # Batches are put together on the host, the permutation included.
            self.x, self.y, self.sample_weight = (
                map_structure(lambda t: t.cpu() if isinstance(t, torch.Tensor) else t, d)
                for d in (self.x, self.y, self.sample_weight)
            )
        # Class weights for targets on disk are looked up batch by batch, from this table.
        self._class_weight_table: torch.Tensor | None = None
        if class_weight is not None:
            if any(isinstance(t, LazyArray) for t in flatten(self.y) + flatten(self.sample_weight)):
                _check_single_target(self.y)
                check_class_weight(class_weight)
                self._class_weight_table = _class_weight_table(class_weight)
            else:
                self.sample_weight = class_weight_to_sample_weight(class_weight, self.y, self.sample_weight)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.num_batches = math.ceil(self.num_samples / batch_size) if self.num_samples else 0
        # Pinned batches let the copy to a CUDA device run asynchronously.
        self._pin = self.lazy and device.type == "cuda"
        if device.type != "cpu" and not self.lazy:
            nbytes = sum(t.numel() * t.element_size() for t in self._leaves())
            if nbytes <= DEVICE_COPY_BUDGET_BYTES:
                self.x, self.y, self.sample_weight = (
                    map_structure(lambda t: t.to(device), d) for d in (self.x, self.y, self.sample_weight)
                )
            else:
                self.x, self.y, self.sample_weight = (
                    map_structure(lambda t: t.pin_memory(), d) for d in (self.x, self.y, self.sample_weight)
                )
        self.data_device = next((t.device for t in self._leaves() if isinstance(t, torch.Tensor)), torch.device("cpu"))
        self.generator = torch.Generator()
        # Drawn from torch's global RNG so that torch.manual_seed makes the order reproducible.
        self.generator.manual_seed(int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed)

    def _leaves(self) -> list[Any]:
        return flatten(self.x) + flatten(self.y) + flatten(self.sample_weight)

    def get_state(self) -> dict[str, Any]:
        """The order-determining state: the permutation generator's state."""
        return {"generator": self.generator.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])

    def _order(self) -> torch.Tensor | None:
        if not self.shuffle:
            return None
        if self.shuffle == "batch":
            # Keras's "batch" shuffle keeps rows together and permutes the batch order.
            batches = torch.randperm(self.num_batches, generator=self.generator)
            rows = torch.arange(self.num_samples).split(self.batch_size)
            return torch.cat([rows[int(b)] for b in batches]).to(self.data_device)
        return torch.randperm(self.num_samples, generator=self.generator).to(self.data_device)

    def iter_pass(self) -> Iterator[Batch]:
        """Yields one pass over the data in batches (a fresh permutation when shuffling)."""
        order = self._order()
        bs = self.batch_size
        shard = self.shard
        for start in range(0, self.num_samples, bs):
            stop = min(start + bs, self.num_samples)
            if shard is None:
                yield self._rows(order, start, stop)
                continue
            # Data-parallel: this rank's slice of the global batch (see `sharding`).
            lo, hi, weight = shard.slice_of(start, stop)
            batch = self._rows(order, lo, hi) if hi > lo else self._rows(order, start, start + 1)
            yield batch if weight == 1.0 else WeightedBatch(batch, weight)

    def _rows(self, order: torch.Tensor | None, start: int, stop: int) -> Batch:
        """The batch of rows `start:stop` of the pass (positions in `order` when shuffled)."""
        if self.lazy:
            return self._read_rows(order, start, stop)
        x, y, sw = self.x, self.y, self.sample_weight
        if order is None:
            if type(x) is torch.Tensor and (y is None or type(y) is torch.Tensor) and (
                sw is None or type(sw) is torch.Tensor
            ):
                # Plain tensors (the common case) skip the structure walk; slices are views.
                return x[start:stop], None if y is None else y[start:stop], None if sw is None else sw[start:stop]
            take = lambda t: t[start:stop]  # noqa: E731
        else:
            idx = order[start:stop]
            if type(x) is torch.Tensor and (y is None or type(y) is torch.Tensor) and (
                sw is None or type(sw) is torch.Tensor
            ):
                return (x.index_select(0, idx),
                        None if y is None else y.index_select(0, idx),
                        None if sw is None else sw.index_select(0, idx))
            take = lambda t: t.index_select(0, idx)  # noqa: E731
        return map_structure(take, x), map_structure(take, y), map_structure(take, sw)

    def _read_rows(self, order: torch.Tensor | None, start: int, stop: int) -> Batch:
        """`_rows` when some arrays are on disk: every leaf's rows copied into a new host tensor."""
        pin = self._pin
        positions = None if order is None else order[start:stop]
        indices = None if positions is None else positions.numpy()

        def take(t: Any) -> torch.Tensor:
            if isinstance(t, LazyArray):
                return t.read(start, stop, pin) if indices is None else t.take(indices, pin, checked=False)
            if not pin:
                return t[start:stop] if positions is None else t.index_select(0, positions)
            out = torch.empty((stop - start, *t.shape[1:]), dtype=t.dtype, pin_memory=True)
            return out.copy_(t[start:stop]) if positions is None else torch.index_select(t, 0, positions, out=out)

        x, y, sw = map_structure(take, self.x), map_structure(take, self.y), map_structure(take, self.sample_weight)
        if self._class_weight_table is not None:
            sw = _class_weights_of(self._class_weight_table, flatten(y)[0], sw)
        checker = self.checker
        if checker is not None and checker.label_range is not None and isinstance(y, torch.Tensor):
            # Labels on disk cannot be checked whole up front: each batch is, on the host.
            check_label_range(y, *checker.label_range, where=f"rows {start}:{stop} of this pass over `y`")
        return x, y, sw


def check_class_weight(class_weight: Any) -> None:
    """Raises unless `class_weight` maps class indices (ints >= 0) to numbers.

    The adapters call it once when built, so a bad dict fails before the first step.

    Example:
        >>> check_class_weight({0: 1.0, 1: 5.0})
        >>> check_class_weight({"cat": 1.0})
        Traceback (most recent call last):
        ...
        TypeError: Expected the keys of `class_weight` to be class indices ...
    """
    if not isinstance(class_weight, dict):
        raise TypeError(
            "Expected `class_weight` to be a dict mapping class index to weight. "
            f"Received: class_weight={class_weight!r} (of type {type(class_weight).__name__}). "
            "Pass e.g. {0: 1.0, 1: 5.0}."
        )
    bad_keys = [k for k in class_weight if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0]
    if bad_keys:
        raise TypeError(
            "Expected the keys of `class_weight` to be class indices (ints >= 0), the values "
            f"`y` holds. Received: class_weight={class_weight!r} with keys {bad_keys!r} (of type "
            f"{type(bad_keys[0]).__name__}). Map names to indices first, e.g. "
            "{index: weight for index, weight in enumerate(weights)}."
        )
    bad_values = [v for v in class_weight.values() if isinstance(v, bool) or not isinstance(v, (int, float, np.number))]
    if bad_values:
        raise TypeError(
            "Expected the values of `class_weight` to be numbers. "
            f"Received: class_weight={class_weight!r} with values {bad_values!r}. Pass e.g. {{0: 1.0, 1: 5.0}}."
        )


def class_weight_to_sample_weight(
    class_weight: dict[int, float], y: Any, sample_weight: Any
) -> torch.Tensor:
    """Per-sample weights `class_weight[class of y]`, multiplied into any given sample weights.

    Classes missing from `class_weight` weigh 1. The class of a one-hot (or probability) row is
    its argmax; otherwise it is the rounded label.

    Example:
        >>> class_weight_to_sample_weight({1: 3.0}, torch.tensor([0, 1, 2]), None).tolist()
        [1.0, 3.0, 1.0]
    """
    _check_single_target(y)
    check_class_weight(class_weight)
    return _class_weights_of(_class_weight_table(class_weight), flatten(y)[0], sample_weight)


def _check_single_target(y: Any) -> None:
    if y is None or len(flatten(y)) != 1:
        raise ValueError(
            "Expected a single target array `y` when `class_weight` is given. "
            f"Received: y with {len(flatten(y))} arrays. Use `sample_weight` for multi-output models."
        )


def _class_weight_table(class_weight: dict[int, float]) -> torch.Tensor:
    table = torch.ones(int(max(class_weight, default=0)) + 1)
    for cls, weight in class_weight.items():
        table[int(cls)] = float(weight)
    return table


def _class_weights_of(table: torch.Tensor, target: torch.Tensor, sample_weight: Any) -> torch.Tensor:
    if target.dim() > 1 and target.shape[-1] > 1:
        classes = target.argmax(dim=-1)
    else:
        classes = target.reshape(target.shape[0], -1)[:, 0].round().long()
    table = table.to(classes.device)
    last = table.shape[0] - 1
    weights = torch.where(classes <= last, table[classes.clamp(max=last)], 1.0)
    if sample_weight is not None:
        weights = weights * flatten(sample_weight)[0].reshape(weights.shape[0], -1)[:, 0]
    return weights


def split_validation(data: Any, validation_split: float) -> tuple[Any, Any]:
    """Splits off the last `validation_split` fraction of rows (before any shuffling).

    Arrays on disk (memory-mapped, HDF5) are split into two `LazyArray` views: nothing is read.

    Example:
        >>> train, val = split_validation(np.arange(10.0), 0.2)
        >>> train.shape, val.tolist()
        (torch.Size([8]), [8.0, 9.0])
    """
    leaves = map_structure(to_tensor_or_lazy, data)
    n = _num_samples("x", leaves) or 0
    split_at = math.floor(n * (1.0 - validation_split))

    def part(t: Any, start: int, stop: int) -> Any:
        return t.rows(start, stop) if isinstance(t, LazyArray) else t[start:stop]

    return (
        map_structure(lambda t: part(t, 0, split_at), leaves),
        map_structure(lambda t: part(t, split_at, n), leaves),
    )
