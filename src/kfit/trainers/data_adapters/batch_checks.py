"""Per-batch checks for data that arrives batch by batch (generators, DataLoaders).

Arrays are checked once, whole, when their adapter is built. A generator or DataLoader can
change shape or carry a bad label in any batch, so each batch it yields is compared with the
first: Python-level shape tuples only, on the host, before the batch is moved to the device.
"""

from __future__ import annotations

from typing import Any

import torch

from kfit.trainers.data_adapters.structures import flatten

__all__ = ["BatchChecker", "check_label_range", "sample_signature"]


def sample_signature(x: Any) -> tuple[tuple[int, int | None], ...]:
    """What must agree between batches: each input's rank, and the feature size (last dim) of
    floating inputs. Other dims may vary legitimately: sequence lengths of token ids, time
    steps, image sizes for a convolutional model.

    Example:
        >>> sample_signature([torch.zeros(2, 5, 3), torch.zeros(2, 7, dtype=torch.long)])
        ((3, 3), (2, None))
    """
    return tuple(
        (t.dim(), int(t.shape[-1]) if t.dim() > 1 and t.is_floating_point() else None)
        for t in flatten(x) if isinstance(t, torch.Tensor)
    )


def _y_signature(y: Any) -> tuple[int, ...]:
    return tuple(t.dim() for t in flatten(y) if isinstance(t, torch.Tensor))


def _shapes(data: Any) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for t in flatten(data) if isinstance(t, torch.Tensor)]


class BatchChecker:
    """Compares each batch of a pass with the first batch the adapter ever served.

    `label_range` is set by the trainer once it knows the model's output size (for a sparse
    categorical loss or metric): `(num_classes, ignore_class)`; each later batch's integer
    labels are then checked on the host, where that costs no device sync.

    Example:
        >>> checker = BatchChecker("generator")
        >>> checker.check(0, torch.zeros(2, 3), torch.zeros(2))
        >>> checker.check(1, torch.zeros(2, 4), torch.zeros(2))
        Traceback (most recent call last):
        ...
        ValueError: Expected every batch of the generator to have the shape per sample of its first batch ...
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.first: tuple[Any, Any, list[tuple[int, ...]], list[tuple[int, ...]]] | None = None
        self.label_range: tuple[int, int | None] | None = None

    def check(self, index: int, x: Any, y: Any) -> None:
        xs, ys = sample_signature(x), _y_signature(y)
        if self.first is None:
            self.first = (xs, ys, _shapes(x), _shapes(y))
        elif xs != self.first[0] or ys != self.first[1]:
            raise ValueError(
                f"Expected every batch of the {self.kind} to have the shape per sample of its first "
                f"batch (the same inputs, ranks and feature sizes): x shapes {self.first[2]}, y "
                f"shapes {self.first[3]}. Received: batch {index} (0-based, in this pass) with x "
                f"shapes {_shapes(x)}, y shapes {_shapes(y)}. Make every batch alike per sample "
                "(pad, crop or reshape; for a DataLoader, in its `collate_fn`), or drop the odd batch."
            )
        if self.label_range is not None and isinstance(y, torch.Tensor) and y.device.type == "cpu":
            check_label_range(y, *self.label_range, where=f"batch {index} of the {self.kind}")


def check_label_range(labels: torch.Tensor, num_classes: int, ignore_class: int | None, where: str,
                      name: str = "y") -> None:
    """Raises when integer class labels fall outside `[0, num_classes)` (one read of min and max).

    Example:
        >>> check_label_range(torch.tensor([0, 2]), 3, None, where="y")
        >>> check_label_range(torch.tensor([0, 3]), 3, None, where="y")
        Traceback (most recent call last):
        ...
        ValueError: Expected the labels in `y` to be class indices in [0, 3) ...
    """
    if labels.numel() == 0:
        return
    if ignore_class is not None:
        labels = labels[labels != ignore_class]
        if labels.numel() == 0:
            return
    low, high = (int(v) for v in torch.aminmax(labels.detach().reshape(-1)))
    if low >= 0 and high < num_classes:
        return
    if low < 0:
        fix = (f"Map the labels to 0..{num_classes - 1}, or, for a padding label, pass it as "
               f"`ignore_class` to the loss, e.g. SparseCategoricalCrossentropy(ignore_class={low}).")
    else:
        fix = (f"Give the last layer {high + 1} units if there are {high + 1} classes, or map the "
               f"labels to 0..{num_classes - 1}.")
    raise ValueError(
        f"Expected the labels in `{name}` to be class indices in [0, {num_classes}) for a sparse "
        f"categorical loss or metric, as the model has {num_classes} outputs per sample. "
        f"Received: label {low if low < 0 else high} in {where} (labels range from {low} to "
        f"{high}). {fix}"
    )
