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
        "--workloads", "W1,W3,import,syncs,gpu", "--output-dir", str(tmp_path),
    ])
    assert code == 0
    text = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    table_rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert any(r.startswith("| W1: guide model") and "| cpu | 2 |" in r for r in table_rows)
    assert not any(r.startswith("| W2") for r in table_rows)
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
