"""`python -m benchmarks.run`: runs the selected benchmarks and writes RESULTS.md and ratios.png.

Sections (pick with `--workloads`, default all): W1, W2, W4 to W12 (training time against the
plain loop, and peers), W3 (callback overhead and the dispatch micro-benchmark), import (import
time), syncs (host syncs per step), gpu (W1 and W2 on CUDA, only when a GPU is present), memmap
(W1's model trained on np.memmap arrays against a hand loop reading the same maps), ddp (W2
data-parallel under torchrun on 1 and 2 processes, kfit against a hand-written DDP loop).

Example:
    $ python -m benchmarks.run --quick --workloads W1,W3
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

import kfit
from benchmarks import ddp, measure, memmap_stream, peers, report
from benchmarks.plain_loops import PLAIN_BUILDERS
from benchmarks.workloads import WORKLOADS, Workload

SECTIONS = ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "W11", "W12", "import", "syncs", "gpu",
            "memmap", "ddp")
JIT_SIDE = "kfit jit_compile"
GPU_WORKLOADS = ("W1", "W2")
# Of the peers only Keras has W12's metrics; Lightning and Poutyne would time accuracy alone.
KERAS_ONLY = ("W12",)


def _say(text: str) -> None:
    print(text, flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and pairs: a run of a minute or two")
    parser.add_argument("--workloads", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run, from {','.join(SECTIONS)} (default: all)")
    parser.add_argument("--pairs", type=int, default=None,
                        help="alternating pairs per comparison in each process (default 3, quick 3)")
    parser.add_argument("--processes", type=int, default=None,
                        help="fresh processes per training workload, their pairs pooled; for ddp, torchrun "
                             "launches per process count (default 3, quick 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads for every side (default: torch's default, "
                             f"{torch.get_num_threads()} here); 1 steadies timings on a busy machine")
    parser.add_argument("--rows", type=int, default=None, help="rows of data per epoch for every workload")
    parser.add_argument("--no-peers", action="store_true", help="skip Keras, Lightning and Poutyne")
    parser.add_argument("--no-jit", action="store_true",
                        help="skip the kfit jit_compile=True side (torch.compile; slow to compile)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc malloc's mmap/trim thresholds as they are (by default they are "
                             "pinned, so that freed activation buffers are reused instead of returned to "
                             "the OS and page-faulted in again on every step)")
    # A worker process times one training row and writes it as JSON for its parent.
    parser.add_argument("--worker-row", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-peers", default="", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output-dir", type=Path, default=Path(__file__).resolve().parent,
                        help="where RESULTS.md and ratios.png go (default: benchmarks/)")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.workloads.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown} in --workloads; choose from {','.join(SECTIONS)}")
    args.sections = chosen
    args.pairs = args.pairs or 3
    args.steady_malloc = not args.default_malloc
    args.processes = args.processes or (1 if args.quick else 3)
    if args.pairs < 1 or args.processes < 1:
        parser.error(f"--pairs and --processes must be at least 1; received {args.pairs} and {args.processes}")
    args.threads = args.threads or torch.get_num_threads()
    return args


def _rows(w: Workload, args: argparse.Namespace) -> int:
    rows = args.rows or (w.quick_rows if args.quick else w.rows)
    return max(rows, w.batch_size)


def steady_malloc() -> str:
    """Pins glibc's mmap and trim thresholds; returns a note for the report.

    By default glibc raises its mmap threshold as it goes and hands large freed blocks back to
    the OS, so a step's activation buffers may be page-faulted in afresh on one step and reused
    on the next. On the CNN (W4) that swings between none and 6,000 faults per step, 11 to 22
    ms a step, at random and on either side of a comparison: the ratio would measure the
    allocator's luck, not the training loop. Pinned, both sides run with no faults per step.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return "malloc left as it is: this C library is not glibc."
    m_trim_threshold, m_mmap_threshold = -1, -3
    if mallopt(m_mmap_threshold, 32 * 1024**2) and mallopt(m_trim_threshold, 1024**3):
        return ("glibc malloc pinned for every side (mmap threshold 32 MiB, trim threshold 1 GiB), so "
                "freed buffers are reused rather than page-faulted in again; --default-malloc turns "
                "this off.")
    return "glibc refused the pinned malloc thresholds; malloc left as it is."


def _busy(threads: int) -> str | None:
    """A warning when other work already loads the cores that torch's threads would share."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    cores = os.cpu_count() or 1
    if threads > 1 and load > 0.5 * cores:
        return (f"The machine was busy (1-minute load {load:.2f} on {cores} cores) and torch used "
                f"{threads} threads: a thread that waits for a busy core stalls whole ops, so these "
                "timings swing widely. Rerun with --threads 1 for steadier ratios.")
    return None


def training_row(w: Workload, args: argparse.Namespace, device: str, peer_names: Sequence[str]) -> report.TrainingRow:
    """Plain loop, kfit and the given peers on workload `w`, timed in alternating pairs."""
    rows = _rows(w, args)
    x, y = w.make_data(rows)
    steps = math.ceil(rows / w.batch_size)
    if w.key in KERAS_ONLY:
        peer_names = [n for n in peer_names if n == "Keras"]
    runners: dict[str, measure.Runner] = {
        "plain": PLAIN_BUILDERS[w.key](x, y, w.batch_size, device),
        "kfit": measure.FitRunner(w.build(kfit).to(device), x, y, w.batch_size),
        "plain+torch.optim": PLAIN_BUILDERS[w.key](x, y, w.batch_size, device, with_torch_optim=True),
    }
    if not args.no_jit:
        # Compiled during the warm-up epoch, which is not timed.
        runners[JIT_SIDE] = measure.FitRunner(w.build(kfit, jit_compile=True).to(device), x, y, w.batch_size)
    for name in peer_names:
        runners[name] = peers.make_peer_runner(name, w.key, x, y, w.batch_size)
    _say(f"{w.key} on {device}: {rows} rows, {steps} steps/epoch, sides {', '.join(runners)}")
    timings = measure.time_alternating(runners, args.pairs, steps, args.threads, device=device, progress=_say)
    for side, logs in timings.logs.items():
        if not all(math.isfinite(v) for v in logs.values()):
            raise RuntimeError(f"{w.key}: {side} produced non-finite logs {logs}; the comparison is void.")
    return report.TrainingRow(w.key, w.title, device, timings, w.goal)


def training_row_in_processes(w: Workload, args: argparse.Namespace, device: str,
                              peer_names: Sequence[str]) -> report.TrainingRow:
    """`training_row` in `args.processes` fresh interpreters, one after another, pairs pooled.

    Where the allocator happens to place a process's buffers shifts both sides' speed by a few
    per cent, and the shift holds for the life of the process: on W4 the median ratio of one
    process has come out anywhere from 0.89 to 1.04. Pooling the pairs of several processes
    measures the code rather than one process's luck.
    """
    if args.processes == 1:
        return training_row(w, args, device, peer_names)
    merged: measure.Timings | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.processes):
            _say(f"{w.key} on {device}: process {i + 1}/{args.processes}")
            out = Path(tmp) / f"{i}.json"
            command = [
                sys.executable, "-m", "benchmarks.run", "--worker-row", f"{w.key}:{device}",
                "--worker-peers", ",".join(peer_names), "--worker-out", str(out),
                "--pairs", str(args.pairs), "--threads", str(args.threads), "--processes", "1",
            ]
            command += ["--rows", str(args.rows)] if args.rows else []
            command += [flag for flag, on in (("--quick", args.quick), ("--no-jit", args.no_jit),
                                              ("--default-malloc", args.default_malloc)) if on]
            subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)
            part = measure.Timings.from_json(out.read_text(encoding="utf-8"))
            merged = part if merged is None else merged.merged(part)
    assert merged is not None
    return report.TrainingRow(w.key, w.title, device, merged, w.goal)


def _worker(args: argparse.Namespace) -> int:
    key, device = args.worker_row.split(":")
    if args.steady_malloc:
        steady_malloc()
    torch.set_num_threads(args.threads)
    peer_names = [n for n in args.worker_peers.split(",") if n]
    row = training_row(WORKLOADS[key], args, device, peer_names)
    args.worker_out.write_text(row.timings.to_json(), encoding="utf-8")
    return 0


def run(args: argparse.Namespace) -> report.Results:
    torch.set_num_threads(args.threads)
    results = report.Results(
        machine=report.machine_info(args.threads),
        settings={"pairs": args.pairs, "processes": args.processes, "quick": args.quick,
                  "rows": args.rows or "per workload"},
        load_before=report.load_average(),
    )
    results.notes.append(
        "W4 uses torch.nn.Conv2d/MaxPool2d/ReLU inside kfit.Sequential (any torch module is a "
        "layer) with kfit Flatten and Dense; inputs are NCHW. Keras runs Conv2D/MaxPooling2D with "
        "data_format='channels_first'. W10 runs kfit's own Conv2D/MaxPooling2D, channels_last."
    )
    results.notes.append(
        "The plain loop's optimizers do Keras's maths with torch._foreach_* ops (RMSprop: epsilon "
        "inside the square root; Adam: bias corrections folded into the step size), the same "
        "work as kfit's. `plain+torch.optim` is the same loop with torch.optim.RMSprop / "
        "torch.optim.Adam (foreach=True): torch's Adam makes one more pass over the parameters "
        "per step, and every torch.optim step and zero_grad goes through torch's profiling and "
        "hook wrappers. Lightning and Poutyne use those torch.optim optimizers too."
    )
    results.settings["steady malloc"] = args.steady_malloc
    if args.steady_malloc:
        results.notes.append(steady_malloc())
    busy = _busy(args.threads)
    if busy:
        results.notes.append(busy)
    peer_names: list[str] = []
    if args.no_peers:
        results.notes.append("Peers skipped (--no-peers).")
    else:
        results.peers = peers.available_peers()
        peer_names = [n for n, v in results.peers.items() if v]
        missing = [n for n, v in results.peers.items() if not v]
        if missing:
            results.notes.append(f"Not installed, so not run: {', '.join(missing)}.")

    for key in ("W1", "W2", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "W11", "W12"):
        if key in args.sections:
            results.training.append(training_row_in_processes(WORKLOADS[key], args, "cpu", peer_names))

    wins = [row.key for row in results.training
            if JIT_SIDE in row.timings.seconds
            and row.timings.ratio(JIT_SIDE).median < row.timings.ratio("kfit").median]
    if any(JIT_SIDE in row.timings.seconds for row in results.training):
        results.notes.append(
            "`kfit jit_compile` is kfit with `compile(jit_compile=True)` (torch.compile of the forward "
            "pass, compiled in the untimed warm-up epoch). It wins over eager kfit on: "
            + (", ".join(wins) if wins else "none of the workloads") + "."
        )

    if "gpu" in args.sections:
        if torch.cuda.is_available():
            for key in GPU_WORKLOADS:
                results.training.append(training_row_in_processes(WORKLOADS[key], args, "cuda", ()))
        else:
            results.notes.append("No CUDA device: the GPU rows (W1, W2 on CUDA) were skipped.")

    if "memmap" in args.sections:
        w = WORKLOADS["W1"]
        results.training.append(memmap_stream.memmap_row(w, _rows(w, args), args.pairs, args.threads, progress=_say))

    if "ddp" in args.sections:
        w = WORKLOADS["W2"]
        # Launches (fresh process groups) play the part of --processes; rows per epoch are
        # fewer with --quick, since every launch also pays for starting its interpreters.
        rows = args.rows or (ddp.QUICK_ROWS if args.quick else w.rows)
        results.ddp = ddp.time_data_parallel(w, rows, args.pairs, args.processes, args.steady_malloc, progress=_say)

    if "W3" in args.sections:
        w = WORKLOADS["W1"]
        x, y = w.make_data(_rows(w, args))
        _say("W3: callback overhead on W1")
        # Its figures are differences of a few µs per step, so it takes three times the rounds.
        results.callbacks = measure.callback_overhead(w.build, x, y, w.batch_size, 3 * args.pairs, args.threads,
                                                      progress=_say)
        _say("W3: dispatch micro-benchmark")
        calls = 50_000 if args.quick else 200_000
        results.dispatch = {n: measure.dispatch_cost(n, calls=calls // n) for n in (1, 20)}

    if "import" in args.sections:
        _say("import time")
        results.imports = measure.import_times(["torch", "kfit"], repeats=3 if args.quick else 7)

    if "syncs" in args.sections:
        _say("host syncs")
        w = WORKLOADS["W1"]
        x, y = w.make_data(40 * w.batch_size)
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        results.syncs = {d: measure.count_syncs(w.build, x, y, w.batch_size, steps=20, device=d) for d in devices}

    results.load_after = report.load_average()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker_row:
        return _worker(args)
    results = run(args)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    markdown = args.output_dir / "RESULTS.md"
    markdown.write_text(report.render_markdown(results), encoding="utf-8")
    _say(f"wrote {markdown}")
    why_not = report.plot_ratios(results, args.output_dir / "ratios.png")
    _say(f"plot skipped: {why_not}" if why_not else f"wrote {args.output_dir / 'ratios.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
