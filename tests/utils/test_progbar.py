"""Tests for kfit.utils.Progbar: exact text, throttling, values read on redraw, terminal vs. log output."""

from __future__ import annotations

import io
import re

import pytest

from kfit.trainers import BatchLogs
from kfit.utils import Progbar
from kfit.utils.progbar import _format_duration

METRICS = [("loss", 12.3456), ("mean_absolute_error", 2.3456)]
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # anything but "\n"


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def _frames(text: str) -> list[str]:
    """Splits terminal output into the successive states of the line."""
    return [frame.rstrip("\b \n") for frame in text.split("\r") if frame]


def test_final_line_format_for_a_log_file() -> None:
    clock, out = FakeClock(), io.StringIO()
    bar = Progbar(8, file=out, clock=clock)
    for step in range(1, 9):
        clock.advance(0.002)
        bar.update(step, METRICS)
    assert out.getvalue() == (
        "8/8 [==============================] - 0s 2ms/step - loss: 12.3456"
        " - mean_absolute_error: 2.3456\n"
    )


def test_non_tty_writes_whole_lines_only_at_finalize() -> None:
    clock, out = FakeClock(), io.StringIO()
    bar = Progbar(5, file=out, clock=clock)
    for step in range(1, 5):
        clock.advance(1.0)
        bar.update(step, [("loss", 1.0)])
        assert out.getvalue() == ""
    clock.advance(1.0)
    bar.update(5, [("loss", 0.5)])
    second = Progbar(3, file=out, clock=clock)
    second.update(3, [("loss", 0.25)])
    lines = out.getvalue().split("\n")
    assert lines[-1] == ""
    assert len(lines) == 3
    assert not CONTROL.search(out.getvalue())


def test_non_tty_verbose_1_never_emits_control_characters_even_for_unknown_target() -> None:
    clock, out = FakeClock(), io.StringIO()
    bar = Progbar(None, file=out, clock=clock)
    for step in range(1, 50):
        clock.advance(0.1)
        bar.update(step, [("loss", 1.0)])
    bar.update(50, [("loss", 1.0)], finalize=True)
    assert not CONTROL.search(out.getvalue())
    assert out.getvalue().count("\n") == 1


def test_tty_in_progress_line_and_redraw_in_place() -> None:
    clock, out = FakeClock(), FakeTTY()
    bar = Progbar(8, file=out, clock=clock)
    clock.advance(0.5)
    bar.update(3, METRICS)
    first = out.getvalue()
    assert first == (
        "\r3/8 [==========>...................] - ETA: 0s - loss: 12.3456"
        " - mean_absolute_error: 2.3456"
    )
    clock.advance(0.5)
    bar.update(8, [("loss", 1.0)])
    rest = out.getvalue()[len(first) :]
    # Erase exactly the previous line, return, draw, end the line.
    assert rest.startswith("\b" * len(first.lstrip("\r")) + "\r8/8 [")
    assert rest.endswith("\n")
    assert "ETA" not in rest


def test_tty_pads_a_shorter_line_over_a_longer_one() -> None:
    clock, out = FakeClock(), FakeTTY()
    bar = Progbar(4, file=out, clock=clock)
    bar.update(1, [("loss", 12345.0)])
    first = out.getvalue()
    clock.advance(0.0625)
    bar.update(2, [("loss", 1.0)])
    second = out.getvalue()[len(first) :]
    erase, visible = second.split("\r")
    assert erase == "\b" * (len(first) - 1)
    # "12345.0000" became "1.0000": four blanks cover the old tail.
    assert visible.endswith(" - loss: 1.0000    ")
    assert len(visible) == len(first) - 1


def test_tty_throttles_redraws_to_interval() -> None:
    clock, out = FakeClock(), FakeTTY()
    # Binary fractions keep the fake clock exact: four updates per interval.
    bar = Progbar(100, file=out, interval=1 / 16, clock=clock)
    for step in range(1, 100):
        clock.advance(1 / 64)
        bar.update(step)
    clock.advance(1 / 64)
    bar.update(100)
    drawn_steps = [int(frame.split("/")[0]) for frame in _frames(out.getvalue())]
    # The first update draws, then one every 4 steps, and the final update always draws.
    assert drawn_steps == [*range(1, 100, 4), 100]


def test_mapping_values_are_only_read_on_redraw() -> None:
    clock, out = FakeClock(), FakeTTY()
    calls: list[int] = []

    def read_logs() -> dict[str, float]:
        calls.append(bar._seen_so_far)
        return {"loss": 0.5}

    bar = Progbar(10, file=out, interval=1.0, clock=clock)
    for step in range(1, 11):
        clock.advance(0.3)
        bar.update(step, BatchLogs(read_logs))
    # Draws at step 1 (first), at step 5 (1.2 s after the draw at step 1), at step 9, and at
    # step 10 (final).
    assert calls == [1, 5, 9, 10]
    assert "loss: 0.5000" in out.getvalue()


def test_mapping_values_not_read_without_a_terminal_until_finalize() -> None:
    clock, out = FakeClock(), io.StringIO()
    calls = []
    bar = Progbar(10, file=out, clock=clock)
    for step in range(1, 11):
        clock.advance(1.0)
        bar.update(step, BatchLogs(lambda step=step: calls.append(step) or {"loss": 2.0}))
    assert calls == [10]
    assert out.getvalue().endswith(" - loss: 2.0000\n")


def test_unread_mapping_is_superseded_by_later_values() -> None:
    clock, out = FakeClock(), io.StringIO()

    def stale() -> dict[str, float]:
        raise AssertionError("values superseded before a redraw were read")

    bar = Progbar(3, file=out, clock=clock)
    bar.update(1, BatchLogs(stale))
    bar.update(2, [("loss", 1.0), ("acc", 0.5)])  # pairs are stored at once
    bar.update(3, BatchLogs(lambda: {"loss": 3.0}))
    assert out.getvalue().endswith(" - loss: 3.0000 - acc: 0.5000\n")  # "acc" keeps its value


def test_values_are_displayed_as_given_not_averaged() -> None:
    out = io.StringIO()
    bar = Progbar(2, file=out, clock=FakeClock())
    bar.update(1, [("loss", 1.0), ("acc", 0.5)])
    bar.update(2, [("loss", 3.0)])  # "acc" keeps its last value
    assert out.getvalue().endswith(" - loss: 3.0000 - acc: 0.5000\n")


def test_verbose_2_prints_one_summary_line() -> None:
    clock, out = FakeClock(), FakeTTY()
    bar = Progbar(8, verbose=2, file=out, clock=clock)
    for step in range(1, 9):
        clock.advance(0.002)
        bar.update(step, METRICS)
    assert out.getvalue() == (
        "8/8 - 0s - loss: 12.3456 - mean_absolute_error: 2.3456 - 16ms/epoch - 2ms/step\n"
    )


def test_verbose_0_prints_nothing() -> None:
    out = FakeTTY()
    bar = Progbar(3, verbose=0, file=out, clock=FakeClock())
    for step in range(1, 4):
        bar.update(step, [("loss", 1.0)])
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12.3456, "12.3456"),
        (0.0015, "0.0015"),
        (1e-3, "1.0000e-03"),
        (5e-4, "5.0000e-04"),
        (-2e-4, "-2.0000e-04"),
        (0.0, "0.0000e+00"),
        (-0.5, "-0.5000"),
    ],
)
def test_number_formatting(value: float, text: str) -> None:
    out = io.StringIO()
    Progbar(1, file=out, clock=FakeClock()).update(1, [("m", value)])
    assert out.getvalue().endswith(f" - m: {text}\n")


def test_verbose_2_uses_e_notation_for_small_negative_values() -> None:
    out = io.StringIO()
    Progbar(1, verbose=2, file=out, clock=FakeClock()).update(1, [("m", -2e-4)])
    assert " - m: -2.0000e-04 - " in out.getvalue()


def test_unknown_target() -> None:
    clock, out = FakeClock(), FakeTTY()
    bar = Progbar(None, file=out, clock=clock)
    clock.advance(0.014)
    bar.update(7, [("loss", 1.5)])
    assert out.getvalue() == "\r      7/Unknown - 0s 2ms/step - loss: 1.5000"


@pytest.mark.parametrize(
    ("seconds_per_step", "eta"),
    [(0.01, "9s"), (0.5, "8:19"), (5.0, "1:23:15")],
)
def test_eta_formats(seconds_per_step: float, eta: str) -> None:
    clock, out = FakeClock(), FakeTTY()
    bar = Progbar(1000, file=out, clock=clock)
    clock.advance(seconds_per_step)
    bar.update(1)
    # 999 steps left at the measured pace.
    assert f" - ETA: {eta}" in out.getvalue()


def test_time_per_step_ignores_the_slow_first_step() -> None:
    clock, out = FakeClock(), io.StringIO()
    bar = Progbar(11, file=out, clock=clock)
    clock.advance(5.0)  # e.g. compilation
    bar.update(1)
    clock.advance(0.03)  # ten more steps at 3 ms
    bar.update(11)
    assert " - 5s 3ms/step" in out.getvalue()


def test_add_advances_from_the_last_position() -> None:
    out = io.StringIO()
    bar = Progbar(6, width=6, file=out, clock=FakeClock())
    bar.add(2)
    bar.add(4, [("loss", 1.0)])
    assert out.getvalue() == "6/6 [======] - 0s 0s/step - loss: 1.0000\n"


def test_bar_uses_padded_counter_and_arrow() -> None:
    out = FakeTTY()
    bar = Progbar(120, width=10, file=out, clock=FakeClock())
    bar.update(60)
    assert out.getvalue().startswith("\r 60/120 [====>.....]")


def test_default_file_is_sys_stdout_at_write_time(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progbar(1, clock=FakeClock())
    bar.update(1, [("loss", 2.0)])
    expected = "1/1 [==============================] - 0s 0s/step - loss: 2.0000\n"
    assert capsys.readouterr().out == expected


def test_explicit_dynamic_display_overrides_isatty() -> None:
    out = io.StringIO()
    bar = Progbar(2, file=out, dynamic_display=True, clock=FakeClock())
    bar.update(1)
    assert out.getvalue().startswith("\r1/2 [")


def test_invalid_verbose_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"Received: verbose=3 \(of type int\)"):
        Progbar(3, verbose=3)


@pytest.mark.parametrize("seconds", [0.0, 2e-7, 4.4e-6, 0.0015, 0.25, 0.9994, 1.0, 12.6])
def test_duration_formatting_matches_keras(seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    from keras.src.utils.progbar import Progbar as KerasProgbar

    keras_bar = KerasProgbar(1)
    assert _format_duration(seconds, "step") == keras_bar._format_time(seconds, "step")
