"""Confusion-matrix counting shared by the thresholded metrics (`Precision`, `AUC`, ...).

Every count is "how much weight falls in each (label, prediction > threshold) cell", for
one or many thresholds. `confusion_counts` computes the four cells for a batch with device
ops only, so a metric's `update_state` never waits for the device:

* Evenly spaced thresholds (`AUC`'s 200, the `...AtRecall` family) are counted by bucketing:
  each prediction gets the index of the last threshold it exceeds, the weights are added
  into a `(label, bucket)` histogram with one `index_add_`, and a reversed cumulative sum
  turns the histogram into counts at every threshold. That is O(batch + thresholds), as in
  Keras, and it reproduces Keras's bucket arithmetic (predictions are clipped to `[0, 1]`).
* Any other list of thresholds is compared with every prediction at once (a
  `(thresholds, predictions)` boolean matrix reduced by a matrix product).

The rules for inputs follow Keras's `update_confusion_matrix_variables`: labels are cast to
bool, `sample_weight` is aligned with the labels and broadcast to the predictions, `top_k`
keeps only the `k` largest predictions of each row, and `class_id` keeps one column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from kfit.backend.config import epsilon
from kfit.losses.loss import squeeze_or_expand_to_same_rank
from kfit.utils.errors import received

__all__ = [
    "CONFUSION_KEYS",
    "NEG_INF",
    "confusion_counts",
    "filter_top_k",
    "is_evenly_distributed",
    "parse_thresholds",
]

NEG_INF = -1e10
"""The score given to predictions outside the top `k` (and the default threshold with `top_k`)."""

CONFUSION_KEYS = ("tp", "fp", "tn", "fn")
"""Keys of the counts `confusion_counts` returns: true/false positives, true/false negatives."""


def parse_thresholds(thresholds: Any, default: float = 0.5) -> list[float]:
    """Returns the thresholds as a list of floats, checking that each lies in `[0, 1]`.

    Args:
        thresholds: A number, a list/tuple of numbers, or None for `[default]`.
        default: The threshold used when `thresholds` is None (not range-checked, so that
            `NEG_INF` can be the default of `top_k` metrics).

    Raises:
        ValueError: for a threshold outside `[0, 1]` (or None inside a list).

    Example:
        >>> parse_thresholds(None), parse_thresholds(0.3), parse_thresholds([0.2, 0.8])
        ([0.5], [0.3], [0.2, 0.8])
    """
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad:
        raise ValueError(
            "Expected every threshold to be a number in [0, 1]. "
            f"{received('thresholds', thresholds)} Out of range: {bad}. "
            "Pass e.g. thresholds=0.5 or thresholds=[0.3, 0.7]."
        )
    return [float(t) for t in values]


def is_evenly_distributed(thresholds: Sequence[float]) -> bool:
    """Whether the thresholds are `i / (n - 1)` for `i` in `0..n-1` (n >= 3), up to epsilon.

    Such thresholds can be counted by bucketing, in time independent of their number.

    Example:
        >>> is_evenly_distributed([0.0, 0.5, 1.0]), is_evenly_distributed([0.2, 0.5, 1.0])
        (True, False)
    """
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(np.asarray(thresholds, dtype=np.float64), even, atol=epsilon()))


def filter_top_k(x: torch.Tensor, k: int) -> torch.Tensor:
    """Keeps the `k` largest values of each row of `x` and sets the others to `NEG_INF`.

    Example:
        >>> filter_top_k(torch.tensor([[0.1, 0.7, 0.4]]), 2)
        tensor([[-1.0000e+10,  7.0000e-01,  4.0000e-01]])
    """
    indices = torch.topk(x, k, dim=-1).indices
    mask = torch.zeros_like(x).scatter_(-1, indices, 1.0)
    # Written as a blend (not `where`) so that the kept values are bit-identical to Keras's.
    return x * mask + NEG_INF * (1 - mask)


def _as_tensor(x: Any, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        x = x.detach() if x.requires_grad else x
        if x.dtype == dtype and x.device == device:
            return x
        return x.to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def _prepare(
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    top_k: int | None,
    class_id: int | None,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    y_pred = _as_tensor(y_pred, dtype, device)
    y_true = _as_tensor(y_true, dtype, device)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = _as_tensor(sample_weight, dtype, device).unsqueeze(-1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.dim() < 2:
            raise ValueError(
                "Expected `y_pred` of shape (num_samples, num_classes) when `class_id` is set. "
                f"Received: y_pred of shape {tuple(y_pred.shape)} (of type Tensor). "
                "Pass one score per class, or leave class_id=None for binary predictions."
            )
        # The kept axis lets a per-sample weight broadcast against the column.
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
    return y_true, y_pred, sample_weight


def _weights(
    sample_weight: torch.Tensor | None,
    label_weights: torch.Tensor | None,
    shape: torch.Size,
) -> torch.Tensor | None:
    weights = None
    if sample_weight is not None:
        weights = sample_weight.broadcast_to(shape)
    if label_weights is not None:
        lw = label_weights.to(device=weights.device if weights is not None else label_weights.device)
        lw = lw.unsqueeze(0).broadcast_to(shape)
        weights = lw if weights is None else weights * lw
    return weights


def _histogram(slot: torch.Tensor, weights: torch.Tensor | None, size: int) -> torch.Tensor:
    """Sums `weights` (or counts ones) into `size` bins by `slot`, reading nothing back."""
    if slot.device.type == "cpu":
        # On the CPU there is no device to wait for, and bincount is one pass.
        return torch.bincount(slot, weights=weights, minlength=size)
    # CUDA's bincount reads the largest index back to size its output; index_add_ does not.
    values = weights if weights is not None else torch.ones(slot.shape, dtype=torch.int64, device=slot.device)
    return torch.zeros(size, dtype=values.dtype, device=slot.device).index_add_(0, slot, values)


Counts = dict[str, torch.Tensor]


def _bucketed(
    positive: torch.Tensor,
    y_pred: torch.Tensor,
    weights: torch.Tensor | None,
    num_thresholds: int,
    with_epsilon: bool,
) -> Counts:
    """Counts at evenly spaced thresholds.

    Inputs are `(rows,)`, giving `(T,)` counts, or `(rows, columns)`, giving `(T, columns)`.
    """
    n = num_thresholds
    columns = y_pred.shape[1] if y_pred.dim() == 2 else 0
    # Slot s >= 1 holds predictions in (t_{s-1}, t_s]: ceil(p * (n - 1)), Keras's bucket plus
    # one. Slot 0 holds predictions above no threshold, which Keras leaves out of its buckets
    # but still counts in the label totals; NaN scores go there too. Each label gets n + 1
    # slots, so that the count above the last threshold comes out as 0. (Arithmetic rather
    # than `bucketize`: a binary search per score is 20x slower for 10,000 scores on a CPU.)
    slot = y_pred.clamp(0.0, 1.0).nan_to_num_(0.0).mul_(n - 1).ceil_()
    if with_epsilon:
        # The first threshold is -epsilon, so a prediction of exactly 0 still exceeds it.
        slot.clamp_(min=1.0)
    width = n + 1
    # Integers from here on: float16 could not even hold the slot numbers exactly.
    slot = slot.to(torch.int64)
    # Positive labels use the second half of the bins, and each column its own pair of halves.
    slot.add_(positive, alpha=width)
    if columns:
        slot.add_(torch.arange(columns, device=slot.device), alpha=2 * width)
    histogram = _histogram(
        slot.view(-1),
        None if weights is None else weights.reshape(-1),
        max(columns, 1) * 2 * width,
    ).to(y_pred.dtype)  # one cast here saves one in each of the four state updates
    # above[..., label, s]: weight of predictions in slot s or higher; slot 0 gives the totals.
    above = histogram.view(columns, 2, width) if columns else histogram.view(2, width)
    above = above.flip(-1).cumsum(-1).flip(-1)
    fp_tp = above[..., 1:]
    tn_fn = above[..., :1] - fp_tp
    if columns:
        # (columns, T) -> (T, columns), the layout of Keras's multi-label state.
        fp_tp, tn_fn = fp_tp.permute(2, 0, 1), tn_fn.permute(2, 0, 1)
        return {"tp": fp_tp[:, :, 1], "fp": fp_tp[:, :, 0], "tn": tn_fn[:, :, 0], "fn": tn_fn[:, :, 1]}
    return {"tp": fp_tp[1], "fp": fp_tp[0], "tn": tn_fn[0], "fn": tn_fn[1]}


def _compared(
    positive: torch.Tensor,
    y_pred: torch.Tensor,
    weights: torch.Tensor | None,
    thresholds: torch.Tensor,
    keys: Sequence[str],
) -> Counts:
    """Counts at arbitrary thresholds; input shapes as for `_bucketed`.

    Only the cells in `keys` are computed (a precision needs two of the four). Unweighted
    counts stay integers: adding them to a float state is exact and saves a cast.
    """
    above = y_pred.unsqueeze(0) > thresholds.view(-1, *[1] * y_pred.dim())  # (T, rows[, columns])
    true_weight = None if weights is None else torch.where(positive, weights, 0.0)
    tp = (above & positive).sum(1) if true_weight is None else (above * true_weight).sum(1)
    counts = {"tp": tp}
    if "fp" in keys or "tn" in keys:
        predicted = above.sum(1) if weights is None else (above * weights).sum(1)
        counts["fp"] = predicted - tp
    if "fn" in keys or "tn" in keys:
        positives = positive.sum(0) if true_weight is None else true_weight.sum(0)
        counts["fn"] = positives - tp
        if "tn" in keys:
            total = y_pred.shape[0] if weights is None else weights.sum(0)
            counts["tn"] = (total - positives) - counts["fp"]
    return counts


def confusion_counts(
    y_true: Any,
    y_pred: Any,
    thresholds: Sequence[float],
    *,
    thresholds_tensor: torch.Tensor | None = None,
    evenly_distributed: bool = False,
    top_k: int | None = None,
    class_id: int | None = None,
    sample_weight: Any = None,
    multi_label: bool = False,
    label_weights: torch.Tensor | None = None,
    keys: Sequence[str] = CONFUSION_KEYS,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> Counts:
    """Weighted true/false positive/negative counts of one batch at each threshold.

    A prediction is positive at threshold `t` when it is greater than `t`; a label is
    positive when it is non-zero. Device ops only: nothing is read back to the host.

    Args:
        y_true: Labels, shaped like `y_pred` (a trailing axis of size 1 may differ).
        y_pred: Scores, usually in `[0, 1]`.
        thresholds: The thresholds as Python floats (sorted when `evenly_distributed`).
        thresholds_tensor: The same thresholds as a tensor on the inputs' device (avoids a
            host-to-device copy per call); made from `thresholds` when None.
        evenly_distributed: Whether the thresholds are evenly spaced over `[0, 1]`, possibly
            with `-epsilon` and `1 + epsilon` ends (see `is_evenly_distributed`).
        top_k: Keep only the `k` largest predictions of each row positive.
        class_id: Count only this column of `y_true` and `y_pred`.
        sample_weight: Weights broadcastable to the labels (rank 0 or the labels' rank).
        multi_label: Count each column of 2-D inputs separately instead of flattening.
        label_weights: Per-column weights, applied to the flattened counts (only when
            `multi_label` is False).
        keys: The cells wanted, from `CONFUSION_KEYS` (others may be returned too).
        dtype: Dtype of the inputs once cast (and of weighted counts).
        device: Device of the counts; defaults to `y_pred`'s (or the CPU).

    Returns:
        `{"tp", "fp", "tn", "fn"}` tensors of shape `(len(thresholds),)`, or
        `(len(thresholds), columns)` when `multi_label`. Unweighted counts may be integer
        tensors; add them to a float state in place.

    Raises:
        ValueError: for `class_id` with 1-D predictions, or `label_weights` with `multi_label`.

    Example:
        >>> counts = confusion_counts([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], [0.5])
        >>> {k: v.tolist() for k, v in counts.items()}
        {'tp': [1], 'fp': [1], 'fn': [1], 'tn': [1]}
    """
    if multi_label and label_weights is not None:
        raise ValueError(
            "Expected `label_weights=None` when `multi_label=True` (the label weights then "
            "average the per-label results instead). "
            f"{received('label_weights', label_weights)} Apply them to the per-label values."
        )
    if device is None:
        device = y_pred.device if isinstance(y_pred, torch.Tensor) else torch.device("cpu")
    y_true, y_pred, sample_weight = _prepare(y_true, y_pred, sample_weight, top_k, class_id, dtype, device)
    weights = _weights(sample_weight, label_weights, y_pred.shape)
    try:
        positive = (y_true != 0).broadcast_to(y_pred.shape)
    except RuntimeError:
        raise ValueError(
            "Expected `y_true` shaped like `y_pred` (one label per prediction). "
            f"Received: y_true of shape {tuple(y_true.shape)} and y_pred of shape "
            f"{tuple(y_pred.shape)} (of type Tensor). For integer class labels and one score "
            "per class, one-hot encode the labels (e.g. `kfit.utils.to_categorical`)."
        ) from None
    if multi_label:
        columns = y_pred.shape[-1] if y_pred.dim() > 1 else 1
        y_pred, positive = y_pred.reshape(-1, columns), positive.reshape(-1, columns)
        weights = None if weights is None else weights.reshape(-1, columns)
    else:
        y_pred, positive = y_pred.reshape(-1), positive.reshape(-1)
        weights = None if weights is None else weights.reshape(-1)
    if evenly_distributed:
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        return _bucketed(positive, y_pred, weights, len(thresholds), with_epsilon)
    if thresholds_tensor is None:
        thresholds_tensor = torch.tensor(list(thresholds), dtype=dtype, device=device)
    return _compared(positive, y_pred, weights, thresholds_tensor, keys)
