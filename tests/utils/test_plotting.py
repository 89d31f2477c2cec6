"""plot_history and History.plot: axes, curves, best-epoch markers, files, CSVLogger input."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import kfit
from kfit.utils.plotting import plot_history

pytest.importorskip("matplotlib")


def _lines(ax) -> dict[str, tuple[list[float], list[float]]]:  # type: ignore[no-untyped-def]
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}


def _trained_history(tmp_path, separator=","):  # type: ignore[no-untyped-def]
    rs = np.random.RandomState(0)
    x = rs.rand(64, 4).astype("float32")
    y = (x.sum(axis=1) > 2).astype("float32")
    model = kfit.Sequential([kfit.Input((4,)), kfit.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=kfit.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    csv_path = tmp_path / "training.csv"
    history = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0,
                        callbacks=[kfit.callbacks.CSVLogger(str(csv_path), separator=separator)])
    return history, csv_path


def test_one_axis_per_metric_with_val_twin_and_best_marker():
    logs = {"loss": [0.9, 0.5, 0.4, 0.45], "val_loss": [1.0, 0.6, 0.7, 0.55],
            "accuracy": [0.5, 0.7, 0.8, 0.8], "val_accuracy": [0.4, 0.75, 0.75, 0.7]}
    fig = plot_history(logs)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    loss, accuracy = (_lines(ax) for ax in fig.axes)
    assert loss["loss"] == ([1, 2, 3, 4], logs["loss"])
    assert loss["val_loss"] == ([1, 2, 3, 4], logs["val_loss"])
    # A loss is best where lowest; accuracy where highest (the first such epoch), both on val_.
    assert loss["best val_loss: 0.55 (epoch 4)"] == ([4], [0.55])
    assert accuracy["best val_accuracy: 0.75 (epoch 2)"] == ([2], [0.75])
    assert all(ax.get_xlabel() == "epoch" for ax in fig.axes)


def test_metrics_argument_selects_and_validates():
    logs = {"loss": [1.0, 0.5], "mae": [0.3, 0.2], "learning_rate": [0.1, 0.05]}
    fig = plot_history(logs, metrics=["mae"])
    assert [ax.get_title() for ax in fig.axes] == ["mae"]
    assert "best mae: 0.2 (epoch 2)" in _lines(fig.axes[0])
    # No direction is known for a learning rate: drawn, not marked.
    fig = plot_history(logs, metrics=["learning_rate"])
    assert list(_lines(fig.axes[0])) == ["learning_rate"]
    with pytest.raises(ValueError, match=r"Drop or correct \['accuarcy'\]"):
        plot_history(logs, metrics=["accuarcy"])
    with pytest.raises(TypeError, match="Received: history=3"):
        plot_history(3)


def test_history_plot_writes_a_png_atomically(tmp_path):
    history, _ = _trained_history(tmp_path)
    target = tmp_path / "plots" / "history.png"
    fig = history.plot(to_file=target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert [p for p in os.listdir(target.parent) if p != "history.png"] == []  # no temporary left
    best = [label for label in _lines(fig.axes[0]) if label.startswith("best")]
    expected = int(np.argmin(history.history["val_loss"])) + 1
    assert best == [f"best val_loss: {min(history.history['val_loss']):.4g} (epoch {expected})"]


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_csv_logger_file_plots_like_the_history(tmp_path, separator):
    history, csv_path = _trained_history(tmp_path, separator)
    from_history, from_csv = plot_history(history), plot_history(str(csv_path))
    assert [ax.get_title() for ax in from_csv.axes] == [ax.get_title() for ax in from_history.axes]
    for ours, theirs in zip(from_csv.axes, from_history.axes):
        a, b = _lines(ours), _lines(theirs)
        assert list(a) == list(b)
        for label in a:
            assert a[label][0] == b[label][0]
            np.testing.assert_allclose(a[label][1], b[label][1], rtol=1e-6)


def test_csv_na_cells_are_gaps(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,val_loss\n0,0.9,NA\n1,0.5,0.8\n2,0.4,0.6\n")
    lines = _lines(plot_history(path).axes[0])
    assert np.isnan(lines["val_loss"][1][0])
    assert "best val_loss: 0.6 (epoch 3)" in lines


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install kfit\[plot\]"):
        plot_history({"loss": [1.0]})
