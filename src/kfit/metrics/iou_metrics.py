"""Intersection-over-union metrics, from a running `(num_classes, num_classes)` confusion matrix.

Rows of the matrix are true classes and columns predicted ones. Every update adds one
batch's matrix with a single `index_add_` on the inputs' device; entries outside
`[0, num_classes)` (and those of `ignore_class`) get weight 0 instead of being filtered, so
shapes never depend on the data and nothing is read back to the host.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch

from kfit.backend.config import epsilon
from kfit.backend.dtypes import convert_to_tensor
from kfit.metrics.metric import Metric
from kfit.utils.errors import received

__all__ = ["BinaryIoU", "IoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU"]


class _IoUBase(Metric):
    """The confusion-matrix state and its update, shared by the IoU metrics."""

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ) -> None:
        # Keras counts in integers by default, so float weights are truncated as there.
        super().__init__(name=name, dtype=dtype or "int")
        self._direction = "up"
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable(
            shape=(num_classes, num_classes), name="total_confusion_matrix"
        )
        self._class_index: dict[torch.device, torch.Tensor] = {}

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds one batch to the confusion matrix.

        Args:
            y_true: Class ids (or one-hot vectors when `sparse_y_true=False`), any shape.
            y_pred: Class ids (or scores when `sparse_y_pred=False`), as many entries.
            sample_weight: Optional weights broadcast to the entries; 0 drops an entry.
        """
        y_pred = convert_to_tensor(y_pred, device=self._device)
        if y_pred.device != self._device:
            self.to(y_pred.device)  # once: the state follows the inputs
        device = y_pred.device
        y_true = convert_to_tensor(y_true, device=device)
        if not self.sparse_y_true:
            y_true = torch.argmax(y_true, dim=self.axis)
        if not self.sparse_y_pred:
            y_pred = torch.argmax(y_pred, dim=self.axis)
        state_dtype = self.total_cm.dtype
        # Class ids go through the state dtype first, as in Keras (float ids are truncated).
        y_true = y_true.to(state_dtype).reshape(-1).long()
        y_pred = y_pred.to(state_dtype).reshape(-1).long()
        if sample_weight is None:
            weight = torch.ones((), dtype=state_dtype, device=device)
        else:
            if "float" in str(getattr(sample_weight, "dtype", "")) and not state_dtype.is_floating_point:
                warnings.warn(
                    "`sample_weight` is float but the IoU metric counts in "
                    f"{self.dtype}, so the weights are truncated. Pass integer weights or "
                    "build the metric with dtype='float32'.",
                    stacklevel=2,
                )
            weight = convert_to_tensor(sample_weight, state_dtype, device).reshape(-1)
        weight = weight.broadcast_to(y_true.shape)
        n = self.num_classes
        valid = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
        if self.ignore_class is not None:
            valid &= y_true != self.ignore_class
        cells = torch.where(valid, y_true * n + y_pred, 0)
        weight = torch.where(valid, weight, 0)
        self.total_cm.view(-1).index_add_(0, cells, weight)

    def _iou_of(self, class_ids: Sequence[int]) -> torch.Tensor:
        """Mean IoU over `class_ids`, counting only classes that occur (denominator > 0)."""
        cm = self.total_cm.as_subclass(torch.Tensor).to(torch.float32)
        true_positives = torch.diagonal(cm)
        denominator = cm.sum(dim=0) + cm.sum(dim=1) - true_positives
        ids = self._class_index.get(cm.device)
        if ids is None:
            # Built once per device: a host-to-device copy on every `result()` could stall it.
            ids = torch.as_tensor(list(class_ids), dtype=torch.long, device=cm.device)
            self._class_index = {cm.device: ids}
        true_positives = true_positives[ids]
        denominator = denominator[ids]
        valid = denominator > 1e-9
        iou = torch.where(valid, true_positives / (denominator + epsilon()), 0.0)
        return iou.sum() / (valid.to(torch.float32).sum() + epsilon())


def _check_target_ids(target_class_ids: Sequence[int], num_classes: int) -> list[int]:
    ids = list(target_class_ids)
    if not ids or max(ids) >= num_classes or min(ids) < 0:
        raise ValueError(
            f"Expected `target_class_ids` to be class ids in [0, {num_classes}). "
            f"{received('target_class_ids', target_class_ids)} "
            "Pass ids below `num_classes`."
        )
    return ids


class IoU(_IoUBase):
    """Intersection over union `TP / (TP + FP + FN)`, averaged over `target_class_ids`.

    Classes that never occur (neither as label nor as prediction) are left out of the mean.

    Args:
        num_classes: The number of classes; the state is a `(num_classes, num_classes)` matrix.
        target_class_ids: The classes whose IoU is averaged.
        name: Name of the metric.
        dtype: Dtype of the confusion matrix; integer by default (as in Keras).
        ignore_class: A label whose entries are not counted (e.g. a void class).
        sparse_y_true: Whether labels are class ids (else one-hot along `axis`).
        sparse_y_pred: Whether predictions are class ids (else scores along `axis`).
        axis: The class axis of one-hot labels or scores.

    Raises:
        ValueError: if a target class id is not in `[0, num_classes)`.

    Example:
        >>> import torch
        >>> m = IoU(num_classes=2, target_class_ids=[0])
        >>> m.update_state(torch.tensor([0, 1, 0, 1]), torch.tensor([0, 1, 1, 1]))
        >>> m.result()
        tensor(0.5000)
    """

    def __init__(
        self,
        num_classes: int,
        target_class_ids: Sequence[int],
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ) -> None:
        super().__init__(
            num_classes=num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )
        self.target_class_ids = _check_target_ids(target_class_ids, num_classes)

    def result(self) -> torch.Tensor:
        """The mean IoU of the target classes, a float32 0-d tensor."""
        return self._iou_of(self.target_class_ids)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "target_class_ids": self.target_class_ids,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class BinaryIoU(IoU):
    """IoU for binary tasks: predictions `>= threshold` count as class 1.

    Args:
        target_class_ids: Which of the classes 0 and 1 are averaged.
        threshold: Scores at or above it are class 1, the others class 0.
        name: Name of the metric.
        dtype: Dtype of the confusion matrix.

    Example:
        >>> import torch
        >>> m = BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
        >>> m.update_state(torch.tensor([0, 1, 0, 1]), torch.tensor([0.1, 0.2, 0.4, 0.7]))
        >>> m.result()
        tensor(0.3333)
    """

    def __init__(
        self,
        target_class_ids: Sequence[int] = (0, 1),
        threshold: float = 0.5,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Thresholds the scores, then adds the batch to the confusion matrix."""
        y_pred = convert_to_tensor(y_pred, torch.float32, self._device)
        super().update_state(y_true, (y_pred >= self.threshold).to(torch.int32), sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {
            "target_class_ids": self.target_class_ids,
            "threshold": self.threshold,
            "name": self.name,
            "dtype": self.dtype,
        }


class MeanIoU(IoU):
    """IoU averaged over all classes.

    Args:
        num_classes: The number of classes.
        name: Name of the metric.
        dtype: Dtype of the confusion matrix.
        ignore_class: A label whose entries are not counted.
        sparse_y_true: Whether labels are class ids (else one-hot along `axis`).
        sparse_y_pred: Whether predictions are class ids (else scores along `axis`).
        axis: The class axis of one-hot labels or scores.

    Example:
        >>> import torch
        >>> m = MeanIoU(num_classes=2)
        >>> m.update_state(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1]))
        >>> m.result()
        tensor(0.3333)
    """

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ) -> None:
        super().__init__(
            num_classes=num_classes,
            target_class_ids=list(range(num_classes)),
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "num_classes": self.num_classes,
            "name": self.name,
            "dtype": self.dtype,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class OneHotIoU(IoU):
    """`IoU` for one-hot labels and per-class scores (both reduced by arg-max along `axis`).

    Args:
        num_classes: The number of classes.
        target_class_ids: The classes whose IoU is averaged.
        name: Name of the metric.
        dtype: Dtype of the confusion matrix.
        ignore_class: A class id whose entries are not counted.
        sparse_y_pred: Whether predictions are class ids already.
        axis: The class axis.

    Example:
        >>> import torch
        >>> m = OneHotIoU(num_classes=3, target_class_ids=[0, 2])
        >>> y_true = torch.tensor([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]])
        >>> y_pred = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])
        >>> m.update_state(y_true, y_pred)
        >>> m.result()
        tensor(0.1667)
    """

    def __init__(
        self,
        num_classes: int,
        target_class_ids: Sequence[int],
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ) -> None:
        super().__init__(
            num_classes=num_classes,
            target_class_ids=target_class_ids,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "num_classes": self.num_classes,
            "target_class_ids": self.target_class_ids,
            "name": self.name,
            "dtype": self.dtype,
            "ignore_class": self.ignore_class,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` for one-hot labels and per-class scores (arg-max along `axis`).

    Args:
        num_classes: The number of classes.
        name: Name of the metric.
        dtype: Dtype of the confusion matrix.
        ignore_class: A class id whose entries are not counted.
        sparse_y_pred: Whether predictions are class ids already.
        axis: The class axis.

    Example:
        >>> import torch
        >>> m = OneHotMeanIoU(num_classes=3)
        >>> y_true = torch.tensor([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]])
        >>> y_pred = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])
        >>> m.update_state(y_true, y_pred)
        >>> m.result()
        tensor(0.1111)
    """

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ) -> None:
        super().__init__(
            num_classes=num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "num_classes": self.num_classes,
            "name": self.name,
            "dtype": self.dtype,
            "ignore_class": self.ignore_class,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }
