"""The benchmark harness runs end to end on a toy size and writes the report it promises.

Nothing here is timed: the numbers of a toy run mean nothing, only the code paths and the
shape of the report are checked.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

# `benchmarks` is a top-level folder of the repository; pytest's `pythonpath` setting finds it.
from benchmarks import measure, run
from benchmarks.plain_loops import KerasAdam, KerasRMSprop


def test_quick_run_writes_every_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Importing torch in fresh interpreters takes seconds; small stdlib modules take the same
    # code path in milliseconds.
    real_import_times = measure.import_times

    def cheap_import_times(modules: list[str], repeats: int) -> dict:
        timed = real_import_times(["json", "csv"], repeats=1)
        return {"torch": timed["json"], "kfit": timed["csv"]}

    monkeypatch.setattr(measure, "import_times", cheap_import_times)
    code = run.main([
        "--quick", "--rows", "256", "--pairs", "1", "--threads", "1", "--no-peers", "--no-jit",
        "--workloads", "W1,W3,import,syncs,gpu,memmap", "--output-dir", str(tmp_path),
    ])
    assert code == 0
    text = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    table_rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert any(r.startswith("| W1: guide model") and "| cpu | 2 |" in r for r in table_rows)
    assert not any(r.startswith("| W2") for r in table_rows)
    assert any(r.startswith("| memmap: W1 model on np.memmap") and "| cpu | 2 |" in r for r in table_rows)
    for label in (
        "| torch threads | 1 |",
        "| first overriding callback, per step",
        "| each further callback, per hook call",
        "| 20 callbacks overriding nothing, per step",
        "| 1 | CallbackList |",
        "| 20 | direct loop (floor) |",
        "| `import kfit` |",
        "| `import torch` |",
        "| cpu | ",
    ):
        assert any(r.startswith(label) for r in table_rows), label
    if not torch.cuda.is_available():
        assert "No CUDA device" in text
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    assert (tmp_path / "ratios.png").exists() == has_matplotlib


def test_pairs_of_several_processes_are_pooled() -> None:
    from benchmarks.workloads import WORKLOADS

    args = run.parse_args(["--rows", "256", "--pairs", "1", "--processes", "2", "--threads", "1", "--no-jit"])
    row = run.training_row_in_processes(WORKLOADS["W1"], args, "cpu", [])
    assert row.timings.steps == 2
    # One pair from each worker process, both sides timed in each.
    assert {side: len(s) for side, s in row.timings.seconds.items()} == {"plain": 2, "kfit": 2, "plain+torch.optim": 2}
    assert set(row.timings.logs["kfit"]) == {"loss", "mean_absolute_error"}


def test_unknown_section_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run.parse_args(["--workloads", "W1,W99"])
    assert "W99" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["RMSprop", "Adam"])
def test_plain_optimizers_do_kfits_maths(name: str) -> None:
    # The baseline must do the work kfit does, or the ratios compare different maths.
    from kfit import optimizers

    rs = np.random.RandomState(0)
    start, grads = rs.randn(5, 3).astype("float32"), [rs.randn(5, 3).astype("float32") for _ in range(3)]
    ours = torch.nn.Parameter(torch.tensor(start))
    theirs = torch.nn.Parameter(torch.tensor(start))
    plain_cls = {"RMSprop": KerasRMSprop, "Adam": KerasAdam}[name]
    plain, reference = plain_cls([ours], lr=0.1), getattr(optimizers, name)(learning_rate=0.1)
    reference.build([theirs])
    for g in grads:
        ours.grad, theirs.grad = torch.tensor(g), torch.tensor(g)
        plain.step()
        reference.step()
    torch.testing.assert_close(ours.detach(), theirs.detach())


def test_time_alternating_flips_the_order_every_pair() -> None:
    order: list[str] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def epoch(self) -> dict[str, float]:
            order.append(self.name)
            return {}

    timings = measure.time_alternating({"plain": Recorder("plain"), "kfit": Recorder("kfit")},
                                       pairs=2, steps=1, threads=torch.get_num_threads())
    # One warm-up epoch each, then plain-kfit, then kfit-plain.
    assert order == ["plain", "kfit", "plain", "kfit", "kfit", "plain"]
    assert len(timings.seconds["kfit"]) == 2


def test_w12_hand_loop_counts_what_kfits_metrics_count() -> None:
    # The baseline must compute the same metrics, or W12 would time different work. With a
    # learning rate of 0 the network is fixed, so its epoch logs are metrics of fixed scores.
    import kfit
    from benchmarks.plain_loops import plain_mlp_confusion
    from benchmarks.workloads import WORKLOADS

    x, y = WORKLOADS["W12"].make_data(300)
    loop = plain_mlp_confusion(x, y, batch_size=64)
    loop.optimizer.lr = 0.0
    with torch.no_grad():
        loop.model[4].weight.mul_(100.0)  # confident scores, so that some exceed 0.5
    logs = loop.epoch()
    assert 0 < logs["Precision"] < 1 and 0 < logs["Recall"] < 1
    with torch.no_grad():
        scores = loop.model(torch.as_tensor(x))
    target = torch.as_tensor(y)
    for name, metric in (("accuracy", kfit.metrics.CategoricalAccuracy()), ("AUC", kfit.metrics.AUC()),
                         ("Precision", kfit.metrics.Precision()), ("Recall", kfit.metrics.Recall())):
        metric.update_state(target, scores)
        assert logs[name] == pytest.approx(float(metric.result()), rel=1e-5, abs=1e-6), name


def test_ddp_report_shows_ratios_steps_per_second_and_scaling() -> None:
    import statistics

    from benchmarks.measure import Timings
    from benchmarks.report import DataParallelResult, Results, render_markdown

    one = {"plain": [1.0, 2.0], "kfit": [1.2, 2.0]}
    two = {"plain": [1.0, 1.0], "kfit": [1.0, 1.2]}
    result = DataParallelResult("W2: MLP", "cpu", "gloo", 128,
                                {1: [Timings(steps=10, seconds=one)], 2: [Timings(steps=10, seconds=two)]})
    text = render_markdown(Results(machine={}, settings={}, ddp=result))
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    # One process: plain's steps/s in the two pairs are 10/1.0 and 10/2.0, kfit's 10/1.2 and
    # 10/2.0; kfit/plain per pair 1.2 and 1.0, so the median misses the goal.
    expected = "| 1 | gloo | 10 | 7.5 [5.0 – 10.0] | 6.7 [5.0 – 8.3] | 1.10× [1.00–1.20] | ≤ 1.05× | **no** |"
    assert expected in rows, rows
    assert any(r.startswith("| 2 | gloo | 10 | 10.0 [10.0 – 10.0] |") and "| 1.10× [1.00–1.20] |" in r for r in rows)
    # Efficiency: time per global step on 1 process / (2 x time per global step on 2 processes).
    for side in ("plain", "kfit"):
        efficiency = statistics.median(one[side]) / (2 * statistics.median(two[side]))
        assert f"| {side} | {2 * efficiency:.2f}× [" in text
        assert f"| {efficiency:.2f} [{efficiency:.2f} – {efficiency:.2f}] |" in text
    kfit_efficiency = statistics.median(one["kfit"]) / (2 * statistics.median(two["kfit"]))
    plain_efficiency = statistics.median(one["plain"]) / (2 * statistics.median(two["plain"]))
    assert f"kfit's scaling efficiency / the hand loop's: {kfit_efficiency / plain_efficiency:.2f}." in text


def test_ddp_hand_loop_slices_each_global_batch_as_kfit_does() -> None:
    # The two sides must give each rank the same rows, or they would time different work.
    from benchmarks.ddp_worker import rank_slice
    from kfit.trainers.data_adapters.sharding import Shard

    for world in (1, 2, 3):
        for size in range(world, 10):
            slices = [rank_slice(7, size, r, world) for r in range(world)]
            assert [lo for lo, _ in slices] == [7 + sum(n for _, n in slices[:r]) for r in range(world)]
            assert sum(n for _, n in slices) == size and max(n for _, n in slices) - min(n for _, n in slices) <= 1
            for r, (lo, n) in enumerate(slices):
                assert Shard(r, world).slice_of(7, 7 + size)[:2] == (lo, lo + n)


def test_ddp_worker_alone_times_both_sides(tmp_path: Path) -> None:
    # Outside torchrun the worker takes the single-process path; under torchrun the same code
    # runs with a process group (the `ddp` section of `python -m benchmarks.run`).
    from benchmarks import ddp_worker
    from benchmarks.measure import Timings

    threads = torch.get_num_threads()
    try:
        assert ddp_worker.main(["--out", str(tmp_path / "t.json"), "--rows", "256", "--pairs", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    timings = Timings.from_json((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert timings.steps == 2 and {s: len(v) for s, v in timings.seconds.items()} == {"plain": 1, "kfit": 1}
    for side in ("plain", "kfit"):
        assert set(timings.logs[side]) == {"loss", "accuracy"} and all(np.isfinite(list(timings.logs[side].values())))
