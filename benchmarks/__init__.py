"""kfit's speed against a hand-written torch loop, and against peers when they are installed.

Run `make bench` (or `python -m benchmarks.run --help`; from a checkout without `pip install -e .`
put `src` on `PYTHONPATH`). It writes `benchmarks/RESULTS.md` and `benchmarks/ratios.png`.

Where things are:

- `workloads.py`: the data and the models (W1 the guide's model, W2 an MLP, W4 a small CNN),
  each built by one function that takes the Keras-like module, so kfit and Keras run the same
  model code;
- `plain_loops.py`: the baseline, a careful hand-written torch loop per workload;
- `peers.py`: Keras 3 (torch backend), PyTorch Lightning and Poutyne, each skipped when absent;
- `measure.py`: how time is taken: alternating pairs in one process, medians and spreads, the
  callback-overhead runs (W3), the dispatch micro-benchmark, import times and sync counts;
- `report.py`: the machine description, the markdown table and the plot;
- `ddp.py`, `ddp_worker.py`: the `ddp` section, W2 data-parallel under `torchrun` on 1 and 2
  processes against a hand-written DistributedDataParallel loop (the worker runs in each process);
- `run.py`: the command line that ties them together;
- `profile.py`: a call-tree profile of one side of a workload, for finding where time goes.
"""
