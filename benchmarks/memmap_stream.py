"""The `memmap` section: kfit's `fit` over `np.memmap` arrays against a hand loop over the same maps.

Both sides read every batch from the map (a shuffled pass: the rows of a random permutation),
so the ratio measures kfit's batch reading and conversion, not the disk: the files are written
just before and sit in the page cache. Without streaming, `fit` would first copy the whole map
into memory (a read-only map cannot be shared with torch), which this section would show as a
large ratio on its first epoch and as memory, not in the later epochs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import kfit
from benchmarks import measure, report
from benchmarks.plain_loops import PLAIN_BUILDERS, PlainLoop
from benchmarks.workloads import Workload

__all__ = ["MemmapLoop", "memmap_row"]


class MemmapLoop:
    """The workload's plain loop, except that each batch is read from the maps `x` and `y`.

    What a careful user writes for data on disk: a `randperm` per epoch, then per batch
    `torch.from_numpy(x[idx])` (numpy reads just those rows), the step, and the running sums
    kept on the CPU.

    Example:
        >>> import os
        >>> from benchmarks.plain_loops import plain_guide
        >>> from benchmarks.workloads import guide_data
        >>> x, y = guide_data(10)
        >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
        >>> np.save(path, x)
        >>> sorted(MemmapLoop(plain_guide(x[:1], y[:1], 4), np.load(path, mmap_mode="r"), y).epoch())
        ['loss', 'mean_absolute_error']
    """

    def __init__(self, loop: PlainLoop, x: np.ndarray, y: np.ndarray) -> None:
        self.loop, self.x, self.y = loop, x, y

    def epoch(self) -> dict[str, float]:
        loop = self.loop
        model, optimizer, loss_fn, metric_fn = loop.model, loop.optimizer, loop.loss_fn, loop.metric_fn
        n, bs = self.x.shape[0], loop.batch_size
        order = torch.randperm(n).numpy()
        loss_sum, metric_sum = torch.zeros(()), torch.zeros(())
        model.train()
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            xb, yb = torch.from_numpy(self.x[idx]), torch.from_numpy(self.y[idx])
            pred = model(xb)
            loss = loss_fn(pred, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum.add_(loss.detach(), alpha=idx.shape[0])
                metric_sum.add_(metric_fn(pred.detach(), yb))
        return {"loss": float(loss_sum) / n, loop.metric_name: float(metric_sum) / n}


def memmap_row(w: Workload, rows: int, pairs: int, threads: int,
               progress: Callable[[str], Any] | None = None) -> report.TrainingRow:
    """Workload `w`'s model trained on its data saved as `.npy` and loaded with `mmap_mode="r"`."""
    x, y = w.make_data(rows)
    steps = -(-rows // w.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        for name, array in (("x", x), ("y", y)):
            np.save(Path(tmp) / f"{name}.npy", array)
        mx, my = (np.load(Path(tmp) / f"{name}.npy", mmap_mode="r") for name in ("x", "y"))
        runners: dict[str, measure.Runner] = {
            "plain": MemmapLoop(PLAIN_BUILDERS[w.key](x[:1], y[:1], w.batch_size), mx, my),
            "kfit": measure.FitRunner(w.build(kfit), mx, my, w.batch_size),
        }
        if progress is not None:
            progress(f"memmap ({w.key} model): {rows} rows, {steps} steps/epoch, sides {', '.join(runners)}")
        timings = measure.time_alternating(runners, pairs, steps, threads, progress=progress)
        del runners, mx, my  # the maps close before their files go
    return report.TrainingRow("memmap", f"{w.key} model on np.memmap x and y, each batch read from the map", "cpu",
                              timings)
