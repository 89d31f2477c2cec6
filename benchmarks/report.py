"""What the suite writes: `RESULTS.md` (machine, versions, tables) and `ratios.png`."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import kfit
from benchmarks.measure import Spread, Timings

__all__ = [
    "DataParallelResult", "Results", "TrainingRow", "load_average", "machine_info", "plot_ratios", "render_markdown",
]

IMPORT_GOAL_S = 0.2
DISPATCH_GOAL_US = 0.1
DDP_GOAL = 1.05


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, or "n/a" where the OS has none."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def machine_info(threads: int) -> dict[str, str]:
    """The machine and the versions the numbers were taken with.

    Example:
        >>> list(machine_info(1))[:3]
        ['CPU', 'cores', 'torch threads']
    """
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "torch threads": str(threads),
        "GPU": gpu,
        "OS": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "kfit": kfit.__version__,
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


@dataclass
class TrainingRow:
    """One workload on one device: the plain loop's speed and every side's ratio to it."""

    key: str
    title: str
    device: str
    timings: Timings
    goal: float | None = None

    @property
    def sides(self) -> list[str]:
        return [s for s in self.timings.seconds if s != self.timings.baseline]


@dataclass
class DataParallelResult:
    """The `ddp` section: one workload under torchrun on 1 and 2 processes, kfit and a hand DDP loop.

    `runs` maps a process count to one `Timings` per launch (sides `plain` and `kfit`, epoch
    seconds on rank 0, `steps` global steps per epoch). Launch `i` of every count belongs to
    round `i`, which the scaling figures pair up.

    Example:
        >>> one = Timings(steps=10, seconds={"plain": [1.0, 1.0], "kfit": [1.0, 1.1]})
        >>> two = Timings(steps=10, seconds={"plain": [0.625, 0.625], "kfit": [0.6, 0.7]})
        >>> r = DataParallelResult("W2", "cpu", "gloo", 128, {1: [one], 2: [two]})
        >>> r.steps_per_second(1, "plain").median, r.efficiency("plain").median
        (10.0, 0.8)
    """

    workload: str
    device: str
    backend: str
    batch_size: int
    runs: dict[int, list[Timings]]
    goal: float = DDP_GOAL

    def pooled(self, processes: int) -> Timings:
        """Every launch's pairs on `processes` processes together."""
        launches = self.runs[processes]
        merged = launches[0]
        for part in launches[1:]:
            merged = merged.merged(part)
        return merged

    def steps_per_second(self, processes: int, side: str) -> Spread:
        """Global steps per second of `side`: median [min, max] over the pooled pairs."""
        t = self.pooled(processes)
        return Spread.of([t.steps / s for s in t.seconds[side]])

    def efficiency(self, side: str) -> Spread:
        """`t(1) / (2 * t(2))` per round, from each launch's median epoch time; over the rounds.

        With the global batch fixed, 1.0 means two processes halve the time per global step.
        """
        rounds = zip(self.runs[1], self.runs[2])
        return Spread.of([one.ms_per_step(side) / (2 * two.ms_per_step(side)) for one, two in rounds])


@dataclass
class Results:
    """Everything one run measured; the sections it skipped stay None."""

    machine: dict[str, str]
    settings: dict[str, Any]
    training: list[TrainingRow] = field(default_factory=list)
    callbacks: dict[str, Spread] | None = None
    dispatch: dict[int, dict[str, Spread]] | None = None
    imports: dict[str, dict[str, Any]] | None = None
    syncs: dict[str, dict[str, float]] | None = None
    ddp: DataParallelResult | None = None
    peers: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    load_before: str = "n/a"
    load_after: str = "n/a"


def _ratio(s: Spread) -> str:
    return f"{s.median:.2f}× [{s.low:.2f}–{s.high:.2f}]"


def _us(s: Spread, digits: int = 2) -> str:
    return f"{s.median:.{digits}f} [{s.low:.{digits}f} – {s.high:.{digits}f}]"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return [*lines, ""]


def render_markdown(results: Results) -> str:
    """The whole `RESULTS.md` text.

    Example:
        >>> text = render_markdown(Results(machine={"CPU": "x"}, settings={"pairs": 1}))
        >>> text.splitlines()[0]
        '# kfit benchmark results'
    """
    out = [
        "# kfit benchmark results",
        "",
        "Written by `python -m benchmarks.run` (`make bench`); regenerate rather than edit.",
        "",
        "## Machine",
        "",
        *_table(["what", "value"], [[k, v] for k, v in results.machine.items()]),
        f"Load average (1/5/15 min) before the run: {results.load_before}; after: "
        f"{results.load_after}. Settings: "
        + ", ".join(f"{k}={v}" for k, v in results.settings.items())
        + ".",
        "",
    ]
    peers = ", ".join(f"{k} {v}" if v else f"{k} (not installed: skipped)" for k, v in results.peers.items())
    if peers:
        out += [f"Peers: {peers}.", ""]

    if results.training:
        sides = []
        for row in results.training:
            sides += [s for s in row.sides if s not in sides]
        out += [
            "## Training time against a hand-written torch loop",
            "",
            (
                "Each pair runs one epoch of the plain loop and one of each other side, in one "
                "process, in alternating order. Ratio = side's epoch time / plain loop's epoch time "
                "in the same pair: the median over the pairs, [min–max]; with several processes "
                "(the `processes` setting above), the pairs of all of them are pooled. Lower is "
                "better; 1.00× is the hand-written loop."
            ),
            "",
        ]
        header = ["workload", "device", "steps/epoch", "plain ms/step", "kfit ms/step"]
        header += [f"{s} ratio" for s in sides] + ["goal", "met"]
        rows = []
        for row in results.training:
            t = row.timings
            cells = [f"{row.key}: {row.title}", row.device, str(t.steps), f"{t.ms_per_step('plain'):.3f}",
                     f"{t.ms_per_step('kfit'):.3f}" if "kfit" in t.seconds else "–"]
            cells += [_ratio(t.ratio(s)) if s in t.seconds else "–" for s in sides]
            if row.goal is not None and "kfit" in t.seconds:
                cells += [f"≤ {row.goal:.2f}×", _met(t.ratio("kfit").median <= row.goal)]
            else:
                cells += ["–", "–"]
            rows.append(cells)
        out += _table(header, rows)

    if results.callbacks is not None:
        cb = results.callbacks
        first, extra, none = (cb["first callback, µs/step"], cb["per extra hook call, µs"],
                              cb["20 non-overriding, µs/step"])
        out += [
            "## Callback overhead (W3: W1 with no-op callbacks)",
            "",
            (
                "From rounds of alternating fits with 0, 1 and 20 callbacks that override every "
                "batch hook with an empty body, and 20 that override nothing. Median [min–max] over "
                "rounds. These are differences of noisy timings; the dispatch micro-benchmark below "
                "is the precise figure."
            ),
            "",
            *_table(["measure", "µs", "goal", "met"], [
                ["first overriding callback, per step (2 hook calls + the batch logs read)", _us(first, 1),
                 "dispatch + one batched log read", "–"],
                ["each further callback, per hook call", _us(extra, 3), f"≤ {DISPATCH_GOAL_US} µs",
                 _met(extra.median <= DISPATCH_GOAL_US)],
                ["20 callbacks overriding nothing, per step", _us(none, 1), "0",
                 _met(none.low <= 0 <= none.high or abs(none.median) < 1.0)],
            ]),
        ]
    if results.dispatch is not None:
        rows = []
        for n, r in results.dispatch.items():
            for name, s in r.items():
                goal = f"≤ {DISPATCH_GOAL_US}" if name == "CallbackList" else "–"
                met = _met(s.median <= DISPATCH_GOAL_US) if name == "CallbackList" else "–"
                rows.append([str(n), name, _us(s, 3), goal, met])
        out += [
            "### Dispatch micro-benchmark",
            "",
            (
                "`CallbackList.on_train_batch_end(step, logs)` with N no-op callbacks, µs per "
                "callback per call; the floor is a Python loop calling the same bound methods directly."
            ),
            "",
            *_table(["N callbacks", "caller", "µs per callback call", "goal", "met"], rows),
        ]
    if results.imports is not None:
        imp = results.imports
        torch_s, kfit_s = imp["torch"]["seconds"], imp["kfit"]["seconds"]
        extra = kfit_s.median - torch_s.median
        out += [
            "## Import time (fresh interpreters, alternating)",
            "",
            *_table(["import", "seconds", "heavy optional modules loaded"], [
                [f"`import {m}`", _us(v["seconds"], 3), ", ".join(v["heavy"]) or "none"] for m, v in imp.items()
            ]),
            (
                f"kfit costs {extra:+.3f} s on top of torch (goal ≤ +{IMPORT_GOAL_S} s: "
                f"{_met(extra <= IMPORT_GOAL_S)})."
            ),
            "",
        ]
    if results.syncs is not None:
        keys: list[str] = []
        for counts in results.syncs.values():
            keys += [k for k in counts if k not in keys]
        rows = [[dev, *(f"{counts[k]:g}" if k in counts else "–" for k in keys)]
                for dev, counts in results.syncs.items()]
        ok = all(c["sync ops per step"] == 0 and c["to_host per step"] == 0 for c in results.syncs.values())
        out += [
            "## Host syncs in a `verbose=0` fit without callbacks (W1, counted)",
            "",
            (
                "Per step = (count over 2k steps − count over k steps) / k, so once-per-fit and "
                "once-per-epoch reads drop out. `sync ops` are ops that make the host wait for the "
                "device (`.item()`, `float()`, `bool()`, `nonzero`, device→host copies), seen by a "
                "torch dispatch mode on any device."
            ),
            "",
            *_table(["device", *keys], rows),
            f"Goal: 0 per step: {_met(ok)}.",
            "",
        ]
    if results.ddp is not None:
        out += _ddp_section(results.ddp)
    if results.training:
        out += ["![kfit and peers against the hand-written loop](ratios.png)", ""]
    if results.notes:
        out += ["## Notes", "", *[f"- {n}" for n in results.notes], ""]
    return "\n".join(out)


def _ddp_section(r: DataParallelResult) -> list[str]:
    launches = len(r.runs[1])
    rows = []
    for n in sorted(r.runs):
        t = r.pooled(n)
        ratio = t.ratio("kfit")
        rows.append([str(n), r.backend, str(t.steps), _us(r.steps_per_second(n, "plain"), 1),
                     _us(r.steps_per_second(n, "kfit"), 1), _ratio(ratio), f"≤ {r.goal:.2f}×",
                     _met(ratio.median <= r.goal)])
    scaling = []
    for side in ("plain", "kfit"):
        e = r.efficiency(side)
        scaling.append([side, _ratio(e.scaled(2.0)), _us(e)])
    relative = r.efficiency("kfit").median / r.efficiency("plain").median
    unit = "one GPU per process" if r.device == "cuda" else "one torch thread per process"
    return [
        f"## Data-parallel training ({r.workload.split(':')[0]} under torchrun, {r.backend})",
        "",
        (
            f"{r.workload}, launched with `torchrun --standalone` on 1 and on 2 processes "
            f"({r.device}, {r.backend}, {unit}, whatever `--threads` says). The global batch is "
            f"{r.batch_size} rows on any number of processes: on 2, each process takes a "
            "contiguous half of every global batch and DistributedDataParallel averages the "
            "gradients. kfit runs `fit(x, y, batch_size="
            f"{r.batch_size}, shuffle=True, verbose=0)`; the hand-written loop is W2's plain loop "
            "with its model in DistributedDataParallel, each process slicing its half of each "
            "global batch from a permutation that a common seed makes the same everywhere (on 1 "
            "process, the plain loop as it is, and kfit's single-process fit). The sides alternate "
            "epoch by epoch in the same processes, after an untimed warm-up epoch each; every "
            "epoch is timed on rank 0 between two barriers. Steps/s are global steps per second, "
            f"median [min – max] over the pairs of all {launches} launch(es) per process count; the "
            "ratio is kfit's epoch time / the hand loop's in the same pair."
        ),
        "",
        *_table(["processes", "backend", "global steps/epoch", "hand loop steps/s", "kfit steps/s",
                 "kfit / hand time per step", "goal", "met"], rows),
        (
            "Scaling with the global batch fixed: a global step is the same work on 1 or 2 "
            "processes, so what 2 processes gain shows as a shorter time per global step t. "
            "Speed-up = t(1 process) / t(2 processes); scaling efficiency = t(1) / (2 × t(2)), "
            "1.00 when two processes halve the step time and 0.50 when they gain nothing. Each "
            "round's figure uses the median epoch time of that round's two launches; median "
            "[min – max] over rounds."
        ),
        "",
        *_table(["side", "speed-up, 1 → 2 processes", "scaling efficiency"], scaling),
        f"kfit's scaling efficiency / the hand loop's: {relative:.2f}.",
        "",
    ]


def plot_ratios(results: Results, path: Path) -> str | None:
    """Draws every side's median ratio (with its spread) per workload; returns why not, if not.

    Example:
        >>> plot_ratios(Results(machine={}, settings={}), Path("unused.png"))
        'no training results to plot'
    """
    if not results.training:
        return "no training results to plot"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib, or the `bench` extra)"

    labels = [f"{r.key} ({r.device})" for r in results.training]
    sides: list[str] = []
    for row in results.training:
        sides += [s for s in row.sides if s not in sides]
    height = 0.8 / len(sides)
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.5 * len(labels) * len(sides) ** 0.5 + 0.8))
    for j, side in enumerate(sides):
        ys, medians, errors = [], [], [[], []]
        for i, row in enumerate(results.training):
            if side not in row.timings.seconds:
                continue
            s = row.timings.ratio(side)
            ys.append(i + (j - (len(sides) - 1) / 2) * height)
            medians.append(s.median)
            errors[0].append(s.median - s.low)
            errors[1].append(s.high - s.median)
        ax.barh(ys, medians, height=height * 0.9, xerr=errors, capsize=2, label=side)
        for yy, m, hi in zip(ys, medians, errors[1]):
            ax.text(m + hi + 0.02, yy, f"{m:.2f}×", va="center", fontsize="x-small")
    for i, row in enumerate(results.training):
        if row.goal is not None:
            ax.plot([row.goal, row.goal], [i - 0.45, i + 0.45], color="red", linestyle=":", linewidth=1.5)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("epoch time / hand-written torch loop (median, bars: min–max; red: goal)")
    ax.set_title(f"kfit benchmarks, {results.machine.get('CPU', '')}, "
                 f"torch threads: {results.machine.get('torch threads', '?')}")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None
