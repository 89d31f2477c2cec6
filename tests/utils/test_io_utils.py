"""Interactive logging: the progress bar and `summary` print to stdout, or log to `"kfit"`."""

from __future__ import annotations

import io
import logging
import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest

import kfit
from kfit.utils import Progbar, io_utils

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@pytest.fixture(autouse=True)
def _interactive_again():  # type: ignore[no-untyped-def]
    try:
        yield
    finally:
        io_utils.enable_interactive_logging()
        keras.utils.enable_interactive_logging()


@pytest.fixture
def kfit_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="kfit")
    return caplog


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kfit"]


def test_switch_matches_keras() -> None:
    for lib in (kfit, keras):
        assert lib.utils.is_interactive_logging_enabled() is True
        lib.utils.disable_interactive_logging()
        assert lib.utils.is_interactive_logging_enabled() is False
        lib.utils.enable_interactive_logging()
        assert lib.utils.is_interactive_logging_enabled() is True


def test_print_msg_prints_or_logs(capsys: pytest.CaptureFixture[str], kfit_log: pytest.LogCaptureFixture) -> None:
    io_utils.print_msg("to stdout")
    io_utils.print_msg("no break", line_break=False)
    assert capsys.readouterr().out == "to stdout\nno break"
    io_utils.disable_interactive_logging()
    io_utils.print_msg("to the log\n")
    assert capsys.readouterr().out == ""
    assert _messages(kfit_log) == ["to the log"]
    assert kfit_log.records[-1].levelno == logging.INFO


@pytest.mark.parametrize("dynamic_display", [True, False])
def test_progbar_logs_whole_lines_when_disabled(
    dynamic_display: bool, capsys: pytest.CaptureFixture[str], kfit_log: pytest.LogCaptureFixture
) -> None:
    io_utils.disable_interactive_logging()
    for verbose in (1, 2):
        bar = Progbar(3, verbose=verbose, dynamic_display=dynamic_display, clock=lambda: 0.0)
        for step in range(1, 4):
            bar.update(step, values=[("loss", 0.5)])
    assert capsys.readouterr().out == ""
    messages = _messages(kfit_log)
    # One record per finished bar, as a log file gets, with no redraw control characters.
    assert len(messages) == 2
    assert messages[0].startswith("3/3 [====") and messages[0].endswith("loss: 0.5000")
    assert messages[1].startswith("3/3 - 0s - loss: 0.5000")
    assert not any(CONTROL.search(m) for m in messages)


def test_progbar_with_its_own_file_ignores_the_switch(kfit_log: pytest.LogCaptureFixture) -> None:
    io_utils.disable_interactive_logging()
    out = io.StringIO()
    bar = Progbar(2, file=out, clock=lambda: 0.0)
    bar.update(2, values=[("loss", 1.0)])
    assert out.getvalue().startswith("2/2 [")
    assert _messages(kfit_log) == []


def test_progbar_prints_when_enabled(capsys: pytest.CaptureFixture[str], kfit_log: pytest.LogCaptureFixture) -> None:
    bar = Progbar(2, dynamic_display=False, clock=lambda: 0.0)
    bar.update(2)
    assert capsys.readouterr().out.startswith("2/2 [")
    assert _messages(kfit_log) == []


def _model(lib):  # type: ignore[no-untyped-def]
    inputs = lib.Input((3,), name="x")
    return lib.Model(inputs, lib.layers.Dense(2, name="out")(inputs), name="tiny")


def test_summary_goes_to_the_log_as_keras_does(capsys: pytest.CaptureFixture[str],
                                               kfit_log: pytest.LogCaptureFixture) -> None:
    model = _model(kfit)
    model.summary(line_length=60)
    printed = capsys.readouterr().out
    io_utils.disable_interactive_logging()
    model.summary(line_length=60)
    assert capsys.readouterr().out == ""
    # The whole table is one record, the same text as the printed one.
    assert _messages(kfit_log) == [printed.rstrip("\n")]

    # Keras sends its table to its logger too, and prints nothing.
    keras.utils.disable_interactive_logging()
    _model(keras).summary(line_length=60)
    assert "Model: " not in capsys.readouterr().out


def test_summary_print_fn_wins_over_the_switch(kfit_log: pytest.LogCaptureFixture) -> None:
    io_utils.disable_interactive_logging()
    lines: list[str] = []
    _model(kfit).summary(print_fn=lines.append)
    assert len(lines) == 1 and 'Model: "tiny"' in lines[0]
    assert _messages(kfit_log) == []


def test_fit_progress_bar_is_logged_when_disabled(capsys: pytest.CaptureFixture[str],
                                                  kfit_log: pytest.LogCaptureFixture) -> None:
    model = _model(kfit)
    model.compile(optimizer="sgd", loss="mse")
    io_utils.disable_interactive_logging()
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "loss" not in out
    bars = [m for m in _messages(kfit_log) if m.startswith("2/2 [")]
    assert len(bars) == 1 and "loss:" in bars[0]
