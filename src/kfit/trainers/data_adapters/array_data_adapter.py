"""Numpy arrays and tensors (and tuples, lists, dicts of them): converted once, batched by index."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from kfit.trainers.data_adapters.structures import flatten, map_structure, to_tensor

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
    ) -> None:
        device = torch.device(device)
        self.x = map_structure(functools.partial(to_tensor, name="x"), x)
        self.y = map_structure(functools.partial(to_tensor, name="y"), y)
        self.sample_weight = map_structure(functools.partial(to_tensor, name="sample_weight"), sample_weight)
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
        if class_weight is not None:
            self.sample_weight = class_weight_to_sample_weight(class_weight, self.y, self.sample_weight)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.num_batches = math.ceil(self.num_samples / batch_size) if self.num_samples else 0
        if device.type != "cpu":
            nbytes = sum(t.numel() * t.element_size() for t in self._leaves())
            if nbytes <= DEVICE_COPY_BUDGET_BYTES:
                self.x, self.y, self.sample_weight = (
                    map_structure(lambda t: t.to(device), d) for d in (self.x, self.y, self.sample_weight)
                )
            else:
                self.x, self.y, self.sample_weight = (
                    map_structure(lambda t: t.pin_memory(), d) for d in (self.x, self.y, self.sample_weight)
                )
        self.data_device = next((t.device for t in self._leaves()), torch.device("cpu"))
        self.generator = torch.Generator()
        # Drawn from torch's global RNG so that torch.manual_seed makes the order reproducible.
        self.generator.manual_seed(int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed)

    def _leaves(self) -> list[torch.Tensor]:
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
        x, y, sw = self.x, self.y, self.sample_weight
        if all(d is None or type(d) is torch.Tensor for d in (x, y, sw)):
            # Plain tensors (the common case) skip the structure walk on every batch.
            for start in range(0, self.num_samples, bs):
                if order is None:
                    yield (x[start : start + bs],
                           None if y is None else y[start : start + bs],
                           None if sw is None else sw[start : start + bs])
                else:
                    idx = order[start : start + bs]
                    yield (x.index_select(0, idx),
                           None if y is None else y.index_select(0, idx),
                           None if sw is None else sw.index_select(0, idx))
            return
        for start in range(0, self.num_samples, bs):
            if order is None:
                take = lambda t, s=start: t[s : s + bs]  # noqa: E731  (a view, no copy)
            else:
                idx = order[start : start + bs]
                take = lambda t, i=idx: t.index_select(0, i)  # noqa: E731
            yield (
                map_structure(take, self.x),
                map_structure(take, self.y),
                map_structure(take, self.sample_weight),
            )


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
    """Per-sample weights `class_weight[class of y]`, multiplied into any given sample weights."""
    if y is None or len(flatten(y)) != 1:
        raise ValueError(
            "Expected a single target array `y` when `class_weight` is given. "
            f"Received: y with {len(flatten(y))} arrays. Use `sample_weight` for multi-output models."
        )
    check_class_weight(class_weight)
    target = flatten(y)[0]
    if target.dim() > 1 and target.shape[-1] > 1:
        classes = target.argmax(dim=-1)
    else:
        classes = target.reshape(target.shape[0], -1)[:, 0].round().long()
    table = torch.ones(max(int(max(class_weight)), int(classes.max()) if classes.numel() else 0) + 1)
    for cls, weight in class_weight.items():
        table[int(cls)] = float(weight)
    weights = table.to(classes.device)[classes.long()]
    if sample_weight is not None:
        weights = weights * flatten(sample_weight)[0].reshape(weights.shape[0], -1)[:, 0]
    return weights


def split_validation(data: Any, validation_split: float) -> tuple[Any, Any]:
    """Splits off the last `validation_split` fraction of rows (before any shuffling)."""
    tensors = map_structure(to_tensor, data)
    n = _num_samples("x", tensors) or 0
    split_at = math.floor(n * (1.0 - validation_split))
    return (
        map_structure(lambda t: t[:split_at], tensors),
        map_structure(lambda t: t[split_at:], tensors),
    )
