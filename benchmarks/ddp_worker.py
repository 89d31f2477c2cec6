"""The `ddp` section's worker: `torchrun` starts it once per process, and rank 0 reports.

    $ python -m torch.distributed.run --standalone --nproc_per_node=2 -m benchmarks.ddp_worker --out t.json

Every process builds both sides on W2's data: kfit's W2 model, trained by
`fit(x, y, batch_size=global batch, shuffle=True, verbose=0)`, and `DataParallelLoop`, W2's hand
loop in `DistributedDataParallel`. The sides alternate epoch by epoch (`measure.time_alternating`,
after one untimed warm-up epoch each), and each epoch is timed between two barriers, so it runs
from the moment every process starts it until every process ends it. Rank 0 writes the timings
as JSON to `--out`.

Started as a module (`-m`), not as a file: run as `benchmarks/ddp_worker.py`, the folder would
come first on `sys.path`, and `benchmarks/profile.py` would shadow the standard `profile`
module that `cProfile` imports.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import kfit
from benchmarks import measure
from benchmarks.plain_loops import PlainLoop, plain_mlp
from benchmarks.workloads import WORKLOADS

__all__ = ["DataParallelLoop", "main", "rank_slice"]

# Every rank seeds its shuffling generator alike: one permutation, and no message to share it.
SHUFFLE_SEED = 1234


def rank_slice(start: int, size: int, rank: int, world_size: int) -> tuple[int, int]:
    """Where this rank's contiguous slice of the global batch `start:start + size` begins, and its rows.

    Slices differ by at most a row; the first `size % world_size` ranks take the extra rows.

    Example:
        >>> [rank_slice(10, 5, r, 2) for r in range(2)]
        [(10, 3), (13, 2)]
    """
    base, extra = divmod(size, world_size)
    return start + rank * base + min(rank, extra), base + (1 if rank < extra else 0)


class DataParallelLoop:
    """A plain loop trained data-parallel by hand: what a careful user writes with DDP.

    Each epoch draws one permutation, the same on every rank (a generator seeded alike);
    every rank takes its contiguous slice of each global batch of `loop.batch_size` rows,
    runs the model through `DistributedDataParallel` (which averages the gradients during the
    backward pass), and steps the loop's optimizer. The running sums stay on the device and are
    summed over the ranks once, at the end of the epoch. With one process (no process group)
    nothing is wrapped and the slice is the whole batch: the plain loop itself.

    Example:
        >>> import numpy as np
        >>> x, y = np.ones((10, 784), "float32"), np.zeros(10, "int64")
        >>> sorted(DataParallelLoop(plain_mlp(x, y, batch_size=4)).epoch())
        ['accuracy', 'loss']
    """

    def __init__(self, loop: PlainLoop) -> None:
        self.loop = loop
        distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if distributed else 0
        self.world_size = dist.get_world_size() if distributed else 1
        rows, batch = loop.x.shape[0], loop.batch_size
        if 0 < rows % batch < self.world_size:
            raise ValueError(
                f"Expected every global batch to have at least one row per process ({self.world_size}). "
                f"Received: rows={rows} with batch_size={batch}, a last batch of {rows % batch} row(s). "
                "Choose a number of rows whose last batch is empty or at least as large as the world size."
            )
        self.model: torch.nn.Module = loop.model
        if self.world_size > 1:
            device_ids = [loop.device.index] if loop.device.type == "cuda" else None
            self.model = DistributedDataParallel(loop.model, device_ids=device_ids)
        self.generator = torch.Generator(device=loop.device)
        self.generator.manual_seed(SHUFFLE_SEED)

    def epoch(self) -> dict[str, float]:
        loop, model, world, rank = self.loop, self.model, self.world_size, self.rank
        optimizer, loss_fn, metric_fn = loop.optimizer, loop.loss_fn, loop.metric_fn
        x, y, bs, device = loop.x, loop.y, loop.batch_size, loop.device
        n = x.shape[0]
        order = torch.randperm(n, generator=self.generator, device=device)
        loss_sum = torch.zeros((), device=device)
        metric_sum = torch.zeros((), device=device)
        model.train()
        for start in range(0, n, bs):
            size = min(bs, n - start)
            lo, rows = rank_slice(start, size, rank, world)
            idx = order[lo : lo + rows]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            pred = model(xb)
            loss = loss_fn(pred, yb)
            optimizer.zero_grad(set_to_none=True)
            if rows * world == size:
                loss.backward()
            else:
                # DDP averages the ranks' gradients; weighting each rank's mean by its share of
                # the rows makes that average the gradient of the global batch's mean.
                (loss * (rows * world / size)).backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum.add_(loss.detach(), alpha=rows)
                metric_sum.add_(metric_fn(pred.detach(), yb))
        totals = torch.stack((loss_sum, metric_sum))
        if world > 1:
            dist.all_reduce(totals)
        # The one device->host read of the epoch.
        loss_total, metric_total = totals.tolist()
        return {"loss": loss_total / n, loop.metric_name: metric_total / n}


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temporary, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ddp_worker", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where rank 0 writes the timings (JSON)")
    parser.add_argument("--rows", type=int, required=True, help="rows of W2's data per epoch")
    parser.add_argument("--pairs", type=int, default=3, help="alternating pairs of timed epochs")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu: gloo; cuda: nccl, one GPU per process (LOCAL_RANK)")
    parser.add_argument("--steady-malloc", action="store_true", help="pin glibc's malloc thresholds (see run.py)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="rank 0 writes a cProfile of the timed pairs here (pstats format)")
    args = parser.parse_args(argv)

    # One thread per process: the parent sets OMP_NUM_THREADS=1 as well.
    torch.set_num_threads(1)
    if args.steady_malloc:
        from benchmarks.run import steady_malloc

        steady_malloc()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cpu")
    if args.device == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if world_size > 1:
        # Joined here, before kfit would: the backend follows --device, not whether CUDA exists.
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if world_size > 1 else 0

    w = WORKLOADS["W2"]
    x, y = w.make_data(args.rows)
    runners: dict[str, measure.Runner] = {
        "plain": DataParallelLoop(plain_mlp(x, y, w.batch_size, device)),
        "kfit": measure.FitRunner(w.build(kfit).to(device), x, y, w.batch_size),
    }
    steps = -(-args.rows // w.batch_size)

    def say(text: str) -> None:
        print(f"  [{world_size} proc] {text.strip()}", flush=True)

    profile = cProfile.Profile() if args.profile is not None and rank == 0 else None
    if profile is not None:
        profile.enable()
    timings = measure.time_alternating(
        runners, args.pairs, steps, threads=1, device=device, progress=say if rank == 0 else None,
        barrier=dist.barrier if world_size > 1 else None,
    )
    if profile is not None:
        profile.disable()
        profile.dump_stats(str(args.profile))
    if rank == 0:
        _write_atomically(args.out, timings.to_json())
    if world_size > 1:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
