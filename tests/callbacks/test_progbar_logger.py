"""ProgbarLogger: which hooks draw, and when it reads the logs."""

from __future__ import annotations

import numpy as np

import kfit
from kfit.callbacks import CallbackList, ProgbarLogger
from kfit.trainers import BatchLogs


def _run_epoch(bar, steps, read):
    bar.on_train_begin()
    bar.on_epoch_begin(0)
    for i in range(steps):
        bar.on_train_batch_end(i, BatchLogs(read))
    bar.on_epoch_end(0, {"loss": 1.0})


def test_batch_logs_are_read_only_when_the_bar_redraws(capsys):
    reads = []

    def read():
        reads.append(1)
        return {"loss": 1.0}

    bar = ProgbarLogger()
    cbs = CallbackList([bar], verbose=2, epochs=1, steps=50)
    _run_epoch(cbs, 50, read)
    # verbose=2 draws once per epoch, from the epoch logs: batch logs are never read.
    assert reads == []
    assert capsys.readouterr().out.startswith("50/50 - ")


def test_verbose_1_without_a_terminal_reads_no_batch_logs(capsys, host_reads):
    # Captured output is not a terminal, so the bar draws only the finished line per epoch.
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((40, 2)), np.ones(40), batch_size=4, epochs=2, verbose=1)
    assert host_reads["n"] == 2  # the epoch logs, once per epoch
    assert capsys.readouterr().out.count("10/10 [") == 2


def test_validation_inside_fit_draws_nothing(capsys):
    bar = ProgbarLogger()
    bar.set_params({"verbose": 1, "epochs": 1, "steps": 2})
    bar.on_train_begin()
    capsys.readouterr()
    bar.on_test_begin()
    bar.on_test_batch_end(0, {"loss": 1.0})
    bar.on_test_end({"loss": 1.0})
    assert capsys.readouterr().out == ""
    bar.on_train_end()
    bar.on_test_begin()
    bar.on_test_batch_end(0, {"loss": 1.0})
    bar.on_test_end({"loss": 1.0})
    assert capsys.readouterr().out.startswith("2/2 [")


def test_epoch_header_only_with_several_epochs(capsys):
    bar = ProgbarLogger()
    bar.set_params({"verbose": "auto", "epochs": 3, "steps": 1})
    assert bar.verbose == 1
    bar.on_epoch_begin(1)
    assert capsys.readouterr().out == "Epoch 2/3\n"
    bar.set_params({"verbose": 1, "epochs": 1, "steps": 1})
    bar.on_epoch_begin(0)
    assert capsys.readouterr().out == ""


def test_unknown_steps_use_the_count_seen(capsys):
    bar = ProgbarLogger()
    bar.set_params({"verbose": 2, "epochs": 1, "steps": None})
    bar.on_predict_begin()
    for i in range(3):
        bar.on_predict_batch_end(i, None)
    bar.on_predict_end()
    assert capsys.readouterr().out.startswith("3/3 - ")
