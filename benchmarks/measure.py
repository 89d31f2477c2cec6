"""How the suite takes its numbers.

Every comparison runs both sides in one process, one epoch each, alternating over several
pairs (the order flips every pair, so a slow drift of the machine hits both sides alike). A
pair gives one ratio `side / plain`; the report shows the median ratio and the spread (min and
max over the pairs). On a shared machine single timings are noisy; ratios taken within a pair
and medians over pairs are not much.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import kfit
from kfit.backend import conversion
from kfit.callbacks import Callback, CallbackList

__all__ = [
    "FitRunner",
    "NoOpCallback",
    "Runner",
    "Spread",
    "Timings",
    "callback_overhead",
    "count_syncs",
    "dispatch_cost",
    "import_times",
    "time_alternating",
]


class Runner(Protocol):
    """One side of a comparison: `epoch()` trains one epoch and returns its logs as floats."""

    def epoch(self) -> dict[str, float]: ...


class FitRunner:
    """Runs `model.fit(..., epochs=1, verbose=0)` per epoch: kfit and Keras alike.

    Example:
        >>> from benchmarks.workloads import WORKLOADS
        >>> w = WORKLOADS["W1"]
        >>> x, y = w.make_data(256)
        >>> sorted(FitRunner(w.build(kfit), x, y, batch_size=128).epoch())
        ['loss', 'mean_absolute_error']
    """

    def __init__(self, model: Any, x: Any, y: Any, batch_size: int, callbacks: Sequence[Any] = ()) -> None:
        self.model, self.x, self.y, self.batch_size = model, x, y, batch_size
        self.callbacks = list(callbacks)

    def epoch(self) -> dict[str, float]:
        history = self.model.fit(
            self.x, self.y, batch_size=self.batch_size, epochs=1, verbose=0,
            callbacks=list(self.callbacks), shuffle=True,
        )
        return {k: float(v[-1]) for k, v in history.history.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Spread:
    """Median of some numbers, with their min and max.

    Example:
        >>> s = Spread.of([3.0, 1.0, 2.0])
        >>> s.median, s.low, s.high
        (2.0, 1.0, 3.0)
    """

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))

    def scaled(self, factor: float) -> Spread:
        return Spread(self.median * factor, self.low * factor, self.high * factor)


@dataclass
class Timings:
    """Epoch times per side over alternating pairs, and the ratios to the baseline.

    Example:
        >>> t = Timings(steps=10, seconds={"plain": [1.0, 2.0], "kfit": [1.5, 2.2]})
        >>> t.ratio("kfit").median
        1.3
    """

    steps: int
    seconds: dict[str, list[float]] = field(default_factory=dict)
    baseline: str = "plain"
    logs: dict[str, dict[str, float]] = field(default_factory=dict)

    def ratio(self, side: str) -> Spread:
        return Spread.of([s / b for s, b in zip(self.seconds[side], self.seconds[self.baseline])])

    def ms_per_step(self, side: str) -> float:
        return statistics.median(self.seconds[side]) / self.steps * 1e3

    def merged(self, other: Timings) -> Timings:
        """These pairs and `other`'s (same sides, same steps), e.g. from another process.

        Example:
            >>> a = Timings(steps=10, seconds={"plain": [1.0], "kfit": [1.1]})
            >>> a.merged(Timings(steps=10, seconds={"plain": [2.0], "kfit": [2.4]})).seconds["kfit"]
            [1.1, 2.4]
        """
        if other.steps != self.steps or list(other.seconds) != list(self.seconds):
            raise ValueError(f"Cannot pool timings of sides {list(other.seconds)} ({other.steps} steps) "
                             f"with {list(self.seconds)} ({self.steps} steps).")
        seconds = {name: self.seconds[name] + other.seconds[name] for name in self.seconds}
        return Timings(self.steps, seconds, self.baseline, {**self.logs, **other.logs})

    def to_json(self) -> str:
        return json.dumps({"steps": self.steps, "seconds": self.seconds, "baseline": self.baseline, "logs": self.logs})

    @classmethod
    def from_json(cls, text: str) -> Timings:
        """Reads what `to_json` wrote.

        Example:
            >>> t = Timings(steps=3, seconds={"plain": [1.0]}, logs={"plain": {"loss": 0.5}})
            >>> Timings.from_json(t.to_json()) == t
            True
        """
        data = json.loads(text)
        return cls(int(data["steps"]), data["seconds"], data["baseline"], data["logs"])


def time_alternating(
    runners: dict[str, Runner],
    pairs: int,
    steps: int,
    threads: int,
    device: str | torch.device = "cpu",
    progress: Callable[[str], None] | None = None,
    barrier: Callable[[], None] | None = None,
) -> Timings:
    """Times one epoch of each runner per round, for `pairs` rounds after one warm-up epoch.

    The order of the sides is reversed every other round. Threads are set again before every
    epoch, in case a peer library changes them. `barrier`, when given, is called just before
    the clock starts and just before it stops: in data-parallel runs, a wait for every process,
    so that each epoch is timed from the moment all of them start it until all of them end it.

    Example:
        >>> class Sleep:
        ...     def __init__(self, s): self.s = s
        ...     def epoch(self): time.sleep(self.s); return {}
        >>> t = time_alternating({"plain": Sleep(0.001), "kfit": Sleep(0.002)}, pairs=2, steps=1, threads=1)
        >>> 1.2 < t.ratio("kfit").median < 4
        True
    """
    device = torch.device(device)
    names = list(runners)
    timings = Timings(steps=steps, seconds={n: [] for n in names}, baseline=names[0])
    for name in names:
        torch.set_num_threads(threads)
        timings.logs[name] = runners[name].epoch()
    for i in range(pairs):
        for name in names if i % 2 == 0 else reversed(names):
            torch.set_num_threads(threads)
            # Garbage left by the previous side is collected now, not inside this side's epoch.
            gc.collect()
            _sync(device)
            if barrier is not None:
                barrier()
            start = time.perf_counter()
            timings.logs[name] = runners[name].epoch()
            _sync(device)
            if barrier is not None:
                barrier()
            timings.seconds[name].append(time.perf_counter() - start)
        if progress is not None:
            sides = ", ".join(f"{n} {timings.seconds[n][-1] / steps * 1e3:.3f} ms/step" for n in names)
            progress(f"  pair {i + 1}/{pairs}: {sides}")
    return timings


class NoOpCallback(Callback):
    """Overrides every batch hook with a body that does nothing (W3)."""

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        return None

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        return None

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        return None

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        return None

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        return None

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        return None


# Train batch hooks that fire per step in `fit` without validation.
HOOKS_PER_STEP = 2


def callback_overhead(
    build: Callable[[Any], Any],
    x: Any,
    y: Any,
    batch_size: int,
    pairs: int,
    threads: int,
    device: str | torch.device = "cpu",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Spread]:
    """W3: the time that no-op callbacks add to `fit`, in µs, from rounds of alternating fits.

    Variants: no callback, 1 and 20 no-op callbacks (overriding every batch hook), and 20 plain
    `Callback()`s (overriding nothing). Each round runs every variant once on one model, so
    their differences come from the same few seconds of machine time.

    Returns:
        `"first callback, µs/step"`: what the first overriding callback adds per step; it
        includes building the batch logs (one batched device->host read per step).
        `"per extra hook call, µs"`: each further callback's cost per hook call
        (`(t20 - t1) / (19 * 2 hooks * steps)`): the dispatch cost.
        `"20 non-overriding, µs/step"`: what 20 callbacks that override nothing add per step.
    """
    model = build(kfit).to(device)
    steps = -(-len(x) // batch_size)
    variants = {
        "0": FitRunner(model, x, y, batch_size),
        "1": FitRunner(model, x, y, batch_size, [NoOpCallback()]),
        "20": FitRunner(model, x, y, batch_size, [NoOpCallback() for _ in range(20)]),
        "20 non-overriding": FitRunner(model, x, y, batch_size, [Callback() for _ in range(20)]),
    }
    timings = time_alternating(variants, pairs, steps, threads, device=device, progress=progress)
    per_step = {k: [s / steps * 1e6 for s in v] for k, v in timings.seconds.items()}
    base = per_step["0"]
    return {
        "first callback, µs/step": Spread.of([a - b for a, b in zip(per_step["1"], base)]),
        "per extra hook call, µs": Spread.of(
            [(a - b) / (19 * HOOKS_PER_STEP) for a, b in zip(per_step["20"], per_step["1"])]
        ),
        "20 non-overriding, µs/step": Spread.of(
            [a - b for a, b in zip(per_step["20 non-overriding"], base)]
        ),
    }


def dispatch_cost(callbacks: int, calls: int = 200_000, repeats: int = 5) -> dict[str, Spread]:
    """µs per callback per call when `CallbackList` dispatches a no-op batch hook.

    Also times the floor: the same no-op methods called from a plain Python loop over bound
    methods, which is what any dispatch in Python costs at least.

    Example:
        >>> r = dispatch_cost(2, calls=1000, repeats=1)
        >>> sorted(r)
        ['CallbackList', 'direct loop (floor)']
    """
    cbs = [NoOpCallback() for _ in range(callbacks)]
    callback_list = CallbackList(cbs)
    logs: dict[str, Any] = {"loss": 0.5}
    hook = callback_list.on_train_batch_end
    bound = [cb.on_train_batch_end for cb in cbs]

    def through_list() -> None:
        for step in range(calls):
            hook(step, logs)

    def direct() -> None:
        for step in range(calls):
            for fn in bound:
                fn(step, logs)

    results: dict[str, list[float]] = {"CallbackList": [], "direct loop (floor)": []}
    for _ in range(repeats):
        for name, fn in (("CallbackList", through_list), ("direct loop (floor)", direct)):
            start = time.perf_counter()
            fn()
            results[name].append((time.perf_counter() - start) / (calls * callbacks) * 1e6)
    return {k: Spread.of(v) for k, v in results.items()}


HEAVY_MODULES = ("tensorboard", "h5py", "safetensors", "matplotlib", "pandas", "scipy", "keras", "PIL")

_IMPORT_PROBE = """
import json, sys, time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def import_times(modules: Sequence[str], repeats: int) -> dict[str, dict[str, Any]]:
    """Seconds to import each module in fresh interpreters (alternating), and heavy extras seen.

    The child finds kfit where this process found it, installed or not.

    Example:
        >>> r = import_times(["json"], repeats=1)
        >>> r["json"]["heavy"], r["json"]["seconds"].median < 5
        ([], True)
    """
    env = dict(os.environ)
    src = str(Path(kfit.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    # Timed as users import an installed package: with its bytecode compiled (pip compiles it
    # at install). With PYTHONDONTWRITEBYTECODE set (as on some CI machines) an editable
    # checkout would be recompiled on every import, which torch, installed, is not.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cache = tempfile.mkdtemp(prefix="kfit-bench-pycache-")
    env["PYTHONPYCACHEPREFIX"] = cache
    seconds: dict[str, list[float]] = {m: [] for m in modules}
    heavy: dict[str, list[str]] = {}
    for module in modules:  # compiles the bytecode into the cache
        subprocess.run([sys.executable, "-c", f"import {module}"], env=env, capture_output=True, check=True)
    for _ in range(repeats):
        for module in modules:
            code = _IMPORT_PROBE.format(module=module, heavy=HEAVY_MODULES)
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            probe = json.loads(out.stdout.strip().splitlines()[-1])
            seconds[module].append(probe["seconds"])
            heavy[module] = probe["heavy"]
    shutil.rmtree(cache, ignore_errors=True)
    return {m: {"seconds": Spread.of(seconds[m]), "heavy": heavy[m]} for m in modules}


# Ops whose result the host must wait for. `.item()`, `float(t)` and `bool(t)` all end in
# `_local_scalar_dense`; `nonzero`/`masked_select` have data-dependent output sizes.
_SYNC_OPS = {"_local_scalar_dense", "nonzero", "masked_select", "equal", "is_nonzero"}


class _SyncCounter(TorchDispatchMode):
    """Counts ops that make the host wait for the device, on any device (even the CPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        if name in _SYNC_OPS:
            self.count += 1
        elif name == "_to_copy" and isinstance(args[0], torch.Tensor) and args[0].device.type != "cpu":
            target = kwargs.get("device")
            if target is not None and torch.device(target).type == "cpu":
                self.count += 1
        return func(*args, **kwargs)


def count_syncs(
    build: Callable[[Any], Any],
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    steps: int,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Host syncs per step in a `verbose=0` fit with no callbacks, counted, not timed.

    Two fits of `steps` and `2 * steps` batches are counted; their difference divided by
    `steps` is the per-step figure, free of what happens once per fit or epoch.

    Returns:
        `to_host per step` (calls of kfit's one conversion point), `sync ops per step` (ops that
        block the host, seen by a dispatch mode), `per fit` (the sync ops of the shorter fit),
        and on CUDA `cuda sync warnings per step` from `torch.cuda.set_sync_debug_mode`.
    """
    device = torch.device(device)
    model = build(kfit).to(device)
    n = steps * batch_size
    model.fit(x[:n], y[:n], batch_size=batch_size, epochs=1, verbose=0)  # builds every lazy part

    calls = {"to_host": 0}
    original = conversion.to_host

    def counting_to_host(value: torch.Tensor) -> np.ndarray:
        calls["to_host"] += 1
        return original(value)

    def one(rows: int) -> tuple[int, int, int]:
        calls["to_host"] = 0
        warned = 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if device.type == "cuda":
                torch.cuda.set_sync_debug_mode("warn")
            try:
                with _SyncCounter() as counter:
                    model.fit(x[:rows], y[:rows], batch_size=batch_size, epochs=1, verbose=0)
            finally:
                if device.type == "cuda":
                    torch.cuda.set_sync_debug_mode("default")
            warned = sum("synchroniz" in str(w.message) for w in caught)
        return calls["to_host"], counter.count, warned

    conversion.to_host = counting_to_host
    try:
        short, long = one(n), one(2 * n)
    finally:
        conversion.to_host = original
    result = {
        "to_host per step": (long[0] - short[0]) / steps,
        "sync ops per step": (long[1] - short[1]) / steps,
        "sync ops per fit": float(short[1]),
    }
    if device.type == "cuda":
        result["cuda sync warnings per step"] = (long[2] - short[2]) / steps
    return result
