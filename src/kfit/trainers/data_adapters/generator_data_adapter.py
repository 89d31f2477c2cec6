"""Python generators (and other one-shot iterators) yielding `(x, y[, sample_weight])`."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from kfit.trainers.data_adapters.array_data_adapter import check_class_weight, class_weight_to_sample_weight
from kfit.trainers.data_adapters.batch_checks import BatchChecker
from kfit.trainers.data_adapters.structures import map_structure, to_tensor, unpack_x_y_sample_weight

__all__ = ["GeneratorDataAdapter"]

Batch = tuple[Any, Any, Any]


class GeneratorDataAdapter:
    """Serves the batches a generator yields, converting each to tensors.

    A generator cannot be restarted: once it runs dry, every later pass is empty, which the
    epoch iterator reports as the input running out of data.

    Example:
        >>> import numpy as np
        >>> gen = ((np.zeros((2, 3)), np.zeros(2)) for _ in range(2))
        >>> [tuple(x.shape) for x, y, sw in GeneratorDataAdapter(gen).iter_pass()]
        [(2, 3), (2, 3)]
    """

    restartable = False
    num_batches: int | None = None

    def __init__(self, generator: Iterator[Any], class_weight: dict[int, float] | None = None) -> None:
        self.generator = generator
        if class_weight is not None:
            check_class_weight(class_weight)
        self.class_weight = class_weight
        self.checker = BatchChecker("generator")

    def iter_pass(self) -> Iterator[Batch]:
        for index, item in enumerate(self.generator):
            yield self._convert(index, item)

    def _convert(self, index: int, item: Any) -> Batch:
        x, y, sw = unpack_x_y_sample_weight(item)
        x, y, sw = _tensors(x, "x"), _tensors(y, "y"), _tensors(sw, "sample_weight")
        self.checker.check(index, x, y)
        if self.class_weight is not None:
            sw = class_weight_to_sample_weight(self.class_weight, y, sw)
        return x, y, sw


def _tensors(data: Any, name: str) -> Any:
    return map_structure(functools.partial(to_tensor, name=name), data)
