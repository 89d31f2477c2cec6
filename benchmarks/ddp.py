"""The `ddp` section: W2 trained data-parallel under `torchrun`, kfit against a hand-written DDP loop.

The parent (this module) launches `benchmarks.ddp_worker` with `torchrun --standalone`, on 1 and
on 2 processes, alternating the two counts round after round (`launches` rounds); each launch
times alternating pairs of epochs of both sides and rank 0 writes them to a file in a temporary
folder. On CPU the processes use gloo and one torch thread each; on a machine with more than
one CUDA GPU they use nccl and one GPU each.

The global batch is W2's batch size on any number of processes (Keras's meaning of
`batch_size`), so a global step does the same work on 1 or 2 processes and scaling shows as a
shorter time per global step.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import kfit
from benchmarks import report
from benchmarks.measure import Timings
from benchmarks.workloads import Workload

__all__ = ["PROCESS_COUNTS", "QUICK_ROWS", "launch", "section_device", "time_data_parallel"]

PROCESS_COUNTS = (1, 2)
# With --quick: 25 global steps per epoch, so that both launches stay well under a minute.
QUICK_ROWS = 3200
REPOSITORY = Path(__file__).resolve().parent.parent


def section_device() -> str:
    """`"cuda"` (nccl, one GPU per process) with more than one GPU, else `"cpu"` (gloo).

    Example:
        >>> section_device() in ("cpu", "cuda")
        True
    """
    return "cuda" if torch.cuda.device_count() > 1 else "cpu"


def _environment(device: str) -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    if device == "cpu":
        # kfit's single-process fit would pick a visible GPU; this section measures the CPU.
        env["CUDA_VISIBLE_DEVICES"] = ""
    # The workers find kfit and `benchmarks` where this process found them, installed or not.
    paths = (str(REPOSITORY), str(Path(kfit.__file__).resolve().parents[1]), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def launch(processes: int, rows: int, pairs: int, device: str, out: Path, steady_malloc: bool = True) -> Timings:
    """Runs the worker on `processes` processes under `torchrun --standalone`; rank 0's timings."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
        "-m", "benchmarks.ddp_worker", "--out", str(out), "--rows", str(rows), "--pairs", str(pairs),
        "--device", device, *(("--steady-malloc",) if steady_malloc else ()),
    ]
    subprocess.run(command, check=True, cwd=REPOSITORY, env=_environment(device))
    return Timings.from_json(out.read_text(encoding="utf-8"))


def time_data_parallel(
    w: Workload,
    rows: int,
    pairs: int,
    launches: int,
    steady_malloc: bool = True,
    progress: Callable[[str], Any] | None = None,
) -> report.DataParallelResult:
    """`launches` rounds of one launch per process count (the order flips every round)."""
    device = section_device()
    runs: dict[int, list[Timings]] = {n: [] for n in PROCESS_COUNTS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(launches):
            for n in PROCESS_COUNTS if r % 2 == 0 else reversed(PROCESS_COUNTS):
                if progress is not None:
                    progress(f"ddp ({w.key} on {device}): round {r + 1}/{launches}, {n} process(es), {rows} rows")
                runs[n].append(launch(n, rows, pairs, device, Path(tmp) / f"{r}-{n}.json", steady_malloc))
    return report.DataParallelResult(
        workload=f"{w.key}: {w.title}", device=device, backend="nccl" if device == "cuda" else "gloo",
        batch_size=w.batch_size, runs=runs,
    )
