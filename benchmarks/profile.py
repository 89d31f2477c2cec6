"""`python -m benchmarks.profile W1`: where one side of a workload spends its time, as a call tree.

Uses pyinstrument when it is installed (`pip install pyinstrument`), else cProfile. Run it for
`--side kfit` and `--side plain` and compare the trees: the extra time of kfit is in the
branches that the plain loop does not have, or has cheaper.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import sys
from collections.abc import Sequence

import torch

import kfit
from benchmarks.measure import FitRunner, Runner
from benchmarks.plain_loops import PLAIN_BUILDERS
from benchmarks.workloads import WORKLOADS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=sorted(PLAIN_BUILDERS))
    parser.add_argument("--side", choices=("kfit", "plain"), default="kfit")
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=3, help="profiled epochs, after one warm-up epoch")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    w = WORKLOADS[args.workload]
    x, y = w.make_data(args.rows)
    runner: Runner = (PLAIN_BUILDERS[w.key](x, y, w.batch_size) if args.side == "plain"
                      else FitRunner(w.build(kfit), x, y, w.batch_size))
    runner.epoch()
    steps = -(-args.rows // w.batch_size) * args.epochs
    print(f"{w.key} {args.side}: {steps} steps profiled; divide a branch's seconds by {steps} for its time per step")
    if importlib.util.find_spec("pyinstrument") is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(args.epochs):
            runner.epoch()
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
    else:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.epochs):
            runner.epoch()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
