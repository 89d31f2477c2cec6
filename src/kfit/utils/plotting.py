"""`plot_history`: training curves from a `History`, its dict, or a `CSVLogger` file.

Keras leaves plotting to the user; this draws the usual picture in one call. matplotlib (the
`plot` extra) is imported only here, when a plot is asked for. The figure is built with
matplotlib's object-oriented `Figure`, not `pyplot`: no window opens and no GUI backend is
chosen, so it works the same without a display (`savefig` renders through Agg).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from kfit.utils.errors import received

__all__ = ["plot_history"]

_MATPLOTLIB_MISSING = (
    "plot_history draws with the `matplotlib` package, which is not installed. Install it with "
    "`pip install matplotlib` (or `pip install kfit[plot]`)."
)

Curves = dict[str, list[float]]


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(_MATPLOTLIB_MISSING) from error
    return Figure


def _number(value: Any) -> float:
    # CSVLogger writes "NA" for an epoch without that value (no validation that epoch).
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _read_csv(path: str | os.PathLike[str]) -> tuple[list[int], Curves]:
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    header = text.split("\n", 1)[0]
    # A CSVLogger header starts with the `epoch` column, then its separator.
    separator = header[5] if header.startswith("epoch") and len(header) > 5 else ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=separator) if row]
    if not rows or "epoch" not in rows[0]:
        raise ValueError(
            "Expected a CSVLogger file: a header row with an `epoch` column, then one row per epoch. "
            f"{received('history', os.fspath(path))} Pass the file that `CSVLogger(filename)` wrote."
        )
    keys = rows[0]
    columns: dict[str, list[str]] = {key: [] for key in keys}
    for row in rows[1:]:
        for key, cell in zip(keys, row):
            columns[key].append(cell)
    epochs = [int(float(e)) for e in columns.pop("epoch")]
    return epochs, {key: [_number(v) for v in values] for key, values in columns.items()}


def _curves(history: Any) -> tuple[list[int], Curves, Any]:
    """(0-based epochs, key -> values, the model when known) from any accepted `history`."""
    if isinstance(history, (str, os.PathLike)):
        return (*_read_csv(history), None)
    model = None
    epochs: list[int] = []
    if isinstance(history, Mapping):
        logs = history
    elif isinstance(getattr(history, "history", None), Mapping):
        logs, model = history.history, getattr(history, "model", None)
        epochs = [int(e) for e in getattr(history, "epoch", None) or []]
    else:
        raise TypeError(
            "Expected `history` to be a History (what `fit` returns), its `history` dict, or the "
            f"path of a CSVLogger file. {received('history', history)} Pass e.g. `model.fit(...)`'s result."
        )
    # Lists (History), tuples or arrays of per-epoch values; anything else logged is not a curve.
    curves = {
        str(key): [_number(v) for v in values]
        for key, values in logs.items()
        if isinstance(values, (list, tuple)) or getattr(values, "ndim", None) == 1
    }
    length = max((len(v) for v in curves.values()), default=0)
    if not epochs or len(epochs) != length:
        epochs = list(range(length))
    return epochs, curves, model


def _direction(key: str, model: Any) -> str | None:
    """`"min"` or `"max"` for a curve, as the monitoring callbacks decide it; None when unknown."""
    from kfit import metrics as metrics_module
    from kfit.callbacks.monitor_callback import metric_direction

    known = [m for metric in getattr(model, "metrics", None) or [] for m in getattr(metric, "metrics", [metric])]
    direction = metric_direction(key, known)
    if direction is None:
        # Without a model (a CSV file, a dict), the metric a name stands for tells its direction.
        try:
            found = metrics_module.get(key.removeprefix("val_"))
        except (ValueError, TypeError):
            return None
        name = getattr(found, "name", None)
        direction = metric_direction(name, [found]) if isinstance(name, str) else None
    return direction


def plot_history(
    history: Any,
    metrics: Sequence[str] | None = None,
    to_file: str | os.PathLike[str] | None = None,
    *,
    mark_best: bool = True,
    ncols: int | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float = 100,
) -> Any:
    """Draws one axis per metric, with its `val_` twin on the same axis and the best epoch marked.

    The best epoch is where a loss is lowest, or where a metric that goes up (accuracy, AUC,
    ...) is highest: the direction `EarlyStopping(mode="auto")` would pick. It is taken on the
    `val_` curve when there is one. Epochs are numbered from 1, as the progress bar counts them.

    Args:
        history: What `fit` returned (a `History`), its `history` dict, or the path of a file
            that `CSVLogger` wrote (any separator; "NA" cells are gaps).
        metrics: The names to plot, without `val_` (e.g. `["loss", "accuracy"]`); by default
            every logged one, `loss` first.
        to_file: When given, the figure is also written there (atomically), in the format its
            extension names (`.png`, `.svg`, `.pdf`, ...).
        mark_best: Whether to mark the best epoch of each metric whose direction is known.
        ncols: Axes per row; by default up to 3.
        figsize: The figure size in inches; by default 4 x 3 per axis.
        dpi: Resolution of the saved file.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ImportError: when matplotlib is not installed (the message says how to install it).
        ValueError: when a name in `metrics` was never logged, or nothing was.

    Example:
        >>> fig = plot_history({"loss": [0.9, 0.5, 0.6], "val_loss": [1.0, 0.7, 0.8]})
        >>> ax = fig.axes[0]
        >>> ax.get_title(), [line.get_label() for line in ax.get_lines()]
        ('loss', ['loss', 'val_loss', 'best val_loss: 0.7 (epoch 2)'])
    """
    Figure = _figure_class()
    epochs, curves, model = _curves(history)
    available = [key for key in curves if not key.startswith("val_")]
    available += [key[4:] for key in curves if key.startswith("val_") and key[4:] not in curves]
    if metrics is None:
        names = sorted(available, key=lambda key: key != "loss")
    else:
        if isinstance(metrics, str):
            metrics = [metrics]
        names = [m.removeprefix("val_") for m in metrics]
        missing = [m for m in names if m not in available]
        if missing:
            raise ValueError(
                f"Expected `metrics` to name logged quantities, one of {available}. "
                f"{received('metrics', list(metrics))} Drop or correct {missing}."
            )
    if not names:
        raise ValueError(
            "Expected a history with at least one logged quantity. "
            f"{received('history', history)} Plot the result of a `fit` that ran an epoch."
        )
    columns = ncols or min(3, len(names))
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=figsize or (4.0 * columns, 3.0 * rows), dpi=dpi, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    x = [e + 1 for e in epochs]
    for ax, name in zip(axes, names):
        drawn = [key for key in (name, f"val_{name}") if key in curves]
        for key in drawn:
            ax.plot(x[: len(curves[key])], curves[key], marker="o", markersize=3, label=key)
        best_key = drawn[-1]
        direction = _direction(best_key, model) if mark_best else None
        values = [(v, e) for v, e in zip(curves[best_key], x) if not math.isnan(v)]
        if direction is not None and values:
            value, epoch = min(values) if direction == "min" else max(values, key=lambda p: (p[0], -p[1]))
            ax.plot([epoch], [value], marker="*", markersize=12, linestyle="none", color="black",
                    label=f"best {best_key}: {value:.4g} (epoch {epoch})")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[len(names):]:
        figure.delaxes(ax)
    if to_file is not None:
        from kfit.saving.atomic import atomic_write

        extension = os.path.splitext(os.fspath(to_file))[1].lstrip(".").lower() or "png"
        with atomic_write(to_file, "wb") as f:
            figure.savefig(f, format=extension, dpi=dpi)
    return figure
