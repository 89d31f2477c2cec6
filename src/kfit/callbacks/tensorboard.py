"""`TensorBoard`: Keras's TensorBoard logging through `torch.utils.tensorboard`, no TensorFlow.

The `tensorboard` package is an optional extra (`pip install kfit[tensorboard]`). It is
imported when a `TensorBoard` callback is created, never by `import kfit`.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import errno
import io
import numbers
import os
import time
import warnings
from typing import Any, Literal

import numpy as np
import torch

from kfit.backend import conversion
from kfit.backend.distributed import is_main_process
from kfit.callbacks.callback import Callback
from kfit.callbacks.event_filters import EventFilter, Never
from kfit.saving.atomic import check_writable

__all__ = ["TensorBoard"]

Logs = dict[str, Any]


def _summary_writer_class() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError(
            "The TensorBoard callback writes event files with the `tensorboard` package, which "
            "is not installed. Install it with `pip install tensorboard` (or "
            "`pip install kfit[tensorboard]`)."
        ) from error
    return SummaryWriter


class _NullWriter:
    """A `SummaryWriter` that writes nothing: the TensorBoard writer of ranks other than 0."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _received(name: str, value: Any) -> str:
    return f"Received: {name}={value!r} (of type {type(value).__name__})."


def _is_count(value: Any, minimum: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value >= minimum)


def _check_freq(name: str, value: Any) -> int:
    if not _is_count(value, 0):
        raise ValueError(
            f"Expected `{name}` to be an integer >= 0 (a number of epochs; 0 disables it). "
            f"{_received(name, value)} Pass e.g. {name}=1 to write every epoch."
        )
    return int(value)


def _parse_update_freq(value: Any) -> Literal["epoch"] | int:
    if value == "batch":
        return 1
    if value == "epoch" or _is_count(value, 1):
        return "epoch" if isinstance(value, str) else int(value)
    hint = 'Pass "epoch", "batch" or a number of batches such as update_freq=100.'
    if isinstance(value, str):
        close = difflib.get_close_matches(value, ["epoch", "batch"], n=1)
        if close:
            hint = f'Did you mean update_freq="{close[0]}"?'
    raise ValueError(
        f'Expected `update_freq` to be "epoch", "batch" or an integer >= 1. '
        f"{_received('update_freq', value)} {hint}"
    )


def _parse_profile_batch(value: Any) -> tuple[int, int] | None:
    """Returns the (start, stop) train batches to profile, counted from 1, or None."""
    parsed: Any = value
    if isinstance(value, str):
        try:
            parsed = tuple(int(part) for part in value.split(","))
        except ValueError:
            parsed = None
        if parsed is not None and len(parsed) == 1:
            parsed = parsed[0]
    if _is_count(parsed, 0):
        start = stop = int(parsed)
    elif isinstance(parsed, (tuple, list)) and len(parsed) == 2 and all(_is_count(b, 0) for b in parsed):
        start, stop = int(parsed[0]), int(parsed[1])
    else:
        start, stop = -1, -1
    if start == stop == 0:
        return None
    if start < 1 or stop < start:
        raise ValueError(
            "Expected `profile_batch` to be 0 (no profiling), a batch number >= 1, or a pair "
            '(start, stop) with 1 <= start <= stop (also accepted as the string "start,stop"); '
            f"batches are counted from 1 across the epochs of a fit. {_received('profile_batch', value)} "
            "Pass e.g. profile_batch=(10, 20)."
        )
    return start, stop


def _is_scalar(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _first_sample(value: Any) -> Any:
    return value[:1] if isinstance(value, torch.Tensor) and value.dim() > 0 else value


def _weight_image(array: np.ndarray) -> np.ndarray | None:
    """A weight as a grayscale (height, width) image scaled to [0, 1], or None for scalars."""
    if array.ndim == 0 or array.size == 0:
        return None
    if array.ndim == 1:
        image = array.reshape(1, -1)
    elif array.ndim == 2:
        # Keras lays a Dense kernel out wide rather than tall.
        image = array.T if array.shape[0] > array.shape[1] else array
    else:
        image = array.reshape(array.shape[0], -1)
    image = image.astype(np.float32)
    low, high = float(image.min()), float(image.max())
    if high > low:
        return (image - low) / (high - low)
    return np.zeros_like(image)


class TensorBoard(Callback):
    """Writes TensorBoard event files: metrics, learning rate, weight histograms, graph, profile.

    Uses `torch.utils.tensorboard.SummaryWriter`; TensorFlow is not needed. Files go to
    `log_dir/train` and `log_dir/validation` with Keras's tag names, so dashboards built for
    Keras read the same:

    | tag | run | step |
    |---|---|---|
    | `epoch_<metric>` (e.g. `epoch_loss`) | `train` | epoch (0-based) |
    | `epoch_<metric>` for each `val_<metric>` | `validation` | epoch |
    | `epoch_learning_rate` | `train` | epoch |
    | `epoch_steps_per_second` (`write_steps_per_second`) | `train` | epoch |
    | `evaluation_<metric>_vs_iterations` (each evaluation) | `validation` | `optimizer.iterations` |
    | `batch_<metric>`, `batch_steps_per_second` (`update_freq` != `"epoch"`) | `train` | batch, from 1 over epochs |
    | `<weight>/histogram`, `<weight>/image` (`histogram_freq`, `write_images`) | `train` | epoch |

    `<weight>` is the weight's `state_dict` name with `/` for `.` (e.g. `dense/kernel`). A writer
    is created on first use, so `validation/` gets no event file unless validation runs.

    Batch logging costs one device->host transfer per written batch and nothing on the others:
    the batch hooks are filtered out (`hook_filters`) unless `update_freq` is not `"epoch"` or
    a profile is requested, and they read the logs only on the batches they write.

    Args:
        log_dir: the folder to write to.
        histogram_freq: write weight histograms every this many epochs (0: never).
        write_graph: write the model's graph, traced with `torch.jit.trace` on one sample of
            the first training batch. A model that cannot be traced gets a warning and no graph.
        write_images: with `histogram_freq`, also write each weight as a grayscale image
            (scaled to [0, 1]; tensors of more than two dimensions are flattened to 2-D).
        write_steps_per_second: also write the training speed, per epoch and (when batches
            are logged) per logged batch.
        update_freq: `"epoch"`, `"batch"` (same as 1), or N: write `batch_<metric>` every N
            training batches (the running means Keras logs, not per-batch values).
        profile_batch: 0 (off), a batch number, or `(start, stop)` / `"start,stop"`: profile
            those training batches of each fit with `torch.profiler`. The trace goes to
            `log_dir/train/plugins/profile/<date_time>/*.pt.trace.json`, which TensorBoard's
            PyTorch profiler plugin (`torch-tb-profiler`) and `chrome://tracing` open.
        embeddings_freq: every this many epochs, write the weights of each `torch.nn.Embedding`
            in the model to the projector (0: never). A model without embedding modules writes
            nothing.
        embeddings_metadata: a path to a metadata TSV file for every embedding, or a dict from
            embedding name (its path in `model.named_modules()`, e.g. `"module.0"`) to a path.

    Raises:
        ImportError: if the `tensorboard` package is not installed.
        ValueError: for an invalid argument.
        OSError: in `on_train_begin`, before any training step, if `log_dir` (or its
            `train`/`validation` folders) is a file or cannot be written.

    Differences from Keras:
        - No TensorFlow: event files come from `torch.utils.tensorboard`; `profile_batch`
          works (Keras refuses it on the torch backend) and writes a `torch.profiler` trace.
        - `write_graph` writes the traced torch graph instead of Keras's JSON model summary.
        - `batch_steps_per_second` is measured over the batches since the previous write
          (Keras times one batch from begin to end, which on an accelerator measures only the
          Python dispatch, not the device work).
        - Weight images are scaled to [0, 1] (Keras writes raw values, which TensorBoard clips).
        - Histogram and image tags use `state_dict` names (`dense/kernel/histogram`) where
          Keras uses variable paths (`sequential/dense/kernel/histogram`).
        - `evaluation_<metric>_vs_iterations` and `epoch_steps_per_second` need a kfit optimizer
          (they count its `iterations`); with a plain `torch.optim` optimizer they are skipped.
        - Embeddings go through `SummaryWriter.add_embedding` (the projector files live in
          `log_dir/train`) and cover `torch.nn.Embedding` modules; Keras saves a checkpoint.
        - An `evaluate(callbacks=[tb])` outside `fit` writes its
          `evaluation_<metric>_vs_iterations` and closes the writer it opened.

    Example:
        >>> import os, tempfile
        >>> import numpy as np, kfit
        >>> from kfit.callbacks.tensorboard import TensorBoard
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=3)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> log_dir = tempfile.mkdtemp()
        >>> _ = model.fit(np.ones((8, 3)), np.ones(8), epochs=2, validation_split=0.25,
        ...               verbose=0, callbacks=[TensorBoard(log_dir, write_graph=False)])
        >>> sorted(os.listdir(log_dir))
        ['train', 'validation']
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: str | int = "epoch",
        profile_batch: int | str | tuple[int, int] = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: str | dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(
                f"Expected `log_dir` to be a path (str or os.PathLike). {_received('log_dir', log_dir)} "
                'Pass e.g. log_dir="logs".'
            )
        if embeddings_metadata is not None and not isinstance(embeddings_metadata, (str, dict)):
            raise TypeError(
                "Expected `embeddings_metadata` to be None, a file path, or a dict from embedding "
                f"name to file path. {_received('embeddings_metadata', embeddings_metadata)}"
            )
        self._summary_writer = _summary_writer_class()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _check_freq("histogram_freq", histogram_freq)
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = _parse_update_freq(update_freq)
        self.embeddings_freq = _check_freq("embeddings_freq", embeddings_freq)
        self.embeddings_metadata = embeddings_metadata
        self._profile_range = _parse_profile_batch(profile_batch)

        self._writers: dict[str, Any] = {}
        self._in_fit = False
        self._global_train_batch = 0
        self._resumed = False
        self._window_step = 0
        self._window_time = 0.0
        self._epoch_start_time = 0.0
        self._epoch_start_iterations: int | None = None
        self._graph_hook: Any = None
        self._graph_input: tuple[Any, ...] | None = None
        self._profiler: torch.profiler.profile | None = None

    def hook_filters(self) -> dict[str, EventFilter]:
        # With the defaults TensorBoard adds nothing to a training step. The batch-end hook is
        # not filtered `Every(update_freq)`: it numbers the written batches by counting its calls
        # (Keras's `batch_*` steps), so it runs after every batch and reads the logs on the
        # written ones only.
        filters: dict[str, EventFilter] = {}
        if self._profile_range is None:
            filters["on_train_batch_begin"] = Never()
            if self.update_freq == "epoch":
                filters["on_train_batch_end"] = Never()
        return filters

    # ------------------------------------------------------------------ writers
    @property
    def _train_dir(self) -> str:
        return os.path.join(self.log_dir, "train")

    @property
    def _val_dir(self) -> str:
        return os.path.join(self.log_dir, "validation")

    def _writer(self, run: str) -> Any:
        writer = self._writers.get(run)
        if writer is None:
            folder = self._train_dir if run == "train" else self._val_dir
            if is_main_process():
                writer = self._writers[run] = self._summary_writer(log_dir=folder)
            else:
                # Data-parallel: rank 0 writes. The other ranks still run every hook (and read
                # the logs when rank 0 does: that read is a collective) but write nothing.
                writer = self._writers[run] = _NullWriter()
        return writer

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        # A later fit opens fresh writers (new event files in the same folders).
        self._writers = {}

    # ------------------------------------------------------------------ optimizer values
    def _optimizer(self) -> Any:
        return getattr(self.model, "optimizer", None)

    def _iterations(self) -> int | None:
        iterations = getattr(self._optimizer(), "iterations", None)
        return None if iterations is None else int(iterations)

    def _learning_rate(self) -> float | None:
        optimizer = self._optimizer()
        if optimizer is None:
            return None
        learning_rate = getattr(optimizer, "learning_rate", None)
        if learning_rate is not None:
            return float(learning_rate)
        groups = getattr(optimizer, "param_groups", None)
        if groups and _is_scalar(groups[0].get("lr")):
            return float(groups[0]["lr"])
        return None

    # ------------------------------------------------------------------ fit
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._check_log_dir()
        self._in_fit = True
        if self._resumed:
            # set_state (BackupAndRestore) came first: batch steps go on from the backup's.
            self._resumed = False
        else:
            self._global_train_batch = 0
        self._check_embeddings_metadata()
        if self.write_graph and self.model is not None:
            self._graph_input = None
            self._graph_hook = self.model.register_forward_pre_hook(self._capture_graph_input)

    def _check_log_dir(self) -> None:
        # The writers are created lazily, at the first epoch end; without this, a log_dir
        # that is a file or read-only fails only then, with os.makedirs's "File exists".
        check_writable(self.log_dir, "log_dir", "folder")
        for folder in (self._train_dir, self._val_dir):
            if os.path.lexists(folder) and not os.path.isdir(folder):
                raise NotADirectoryError(
                    errno.ENOTDIR,
                    f"Expected {folder!r} to be a folder for TensorBoard's event files, but it "
                    f"is a file. {_received('log_dir', self.log_dir)} Remove or rename that "
                    "file, or choose another log_dir.",
                )
            check_writable(folder, "log_dir", "folder", shown=self.log_dir)

    def _capture_graph_input(self, module: Any, args: tuple[Any, ...]) -> None:
        # One sample of the first training batch is enough to trace the graph; the hook
        # removes itself so that later steps pay nothing.
        self._remove_graph_hook()
        self._graph_input = tuple(_first_sample(a) for a in args)

    def _remove_graph_hook(self) -> None:
        if self._graph_hook is not None:
            self._graph_hook.remove()
            self._graph_hook = None

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch_start_time = time.perf_counter()
        self._epoch_start_iterations = self._iterations()
        self._window_step = self._global_train_batch
        self._window_time = self._epoch_start_time
        # Every on_train_begin of this fit has run: a later fit starts afresh again.
        self._resumed = False

    def get_state(self) -> dict[str, Any]:
        """`{"global_train_batch": n}`: the step of the last `batch_*` summary's batch.

        Epoch summaries are numbered by the epoch and evaluation ones by the optimizer's
        `iterations`, so the batch count is all a resumed run needs to write its summaries
        at the steps an uninterrupted run would.
        """
        return {"global_train_batch": self._global_train_batch}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores the batch count, so that the resumed run's batch summaries go on from it."""
        self._global_train_batch = int(state["global_train_batch"])
        self._resumed = True

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        upcoming = self._global_train_batch + 1
        if self._profile_range is not None and upcoming == self._profile_range[0]:
            self._start_profiler()
        elif self._profiler is not None:
            self._profiler.step()

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._global_train_batch += 1
        step = self._global_train_batch
        if self.update_freq != "epoch" and step % self.update_freq == 0:
            # Copying the batch logs reads them from the device (a sync): only on written
            # batches, and before the clock, so that the rate covers the device's work.
            values = {} if logs is None else dict(logs)
            now = time.perf_counter()
            writer = self._writer("train")
            for name, value in values.items():
                if _is_scalar(value):
                    writer.add_scalar(f"batch_{name}", value, step)
            if self.write_steps_per_second and now > self._window_time:
                rate = (step - self._window_step) / (now - self._window_time)
                writer.add_scalar("batch_steps_per_second", rate, step)
            self._window_step, self._window_time = step, now
        profile_range = self._profile_range  # not None while a profiler runs
        if self._profiler is not None and profile_range is not None and step >= profile_range[1]:
            self._stop_profiler()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self._graph_input is not None:
            self._write_graph()
        self._log_epoch_metrics(epoch, logs or {})
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._log_embeddings(epoch)
        # Flushed every epoch so that a running TensorBoard shows the epoch at once.
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs: Logs | None = None) -> None:
        iterations = self._iterations()
        if iterations is not None and logs:
            writer = self._writer("validation")
            for name, value in logs.items():
                if _is_scalar(value):
                    writer.add_scalar(f"evaluation_{name}_vs_iterations", value, iterations)
        if not self._in_fit:
            self._close_writers()

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._stop_profiler()
        self._remove_graph_hook()
        self._graph_input = None
        self._close_writers()
        self._in_fit = False

    # ------------------------------------------------------------------ epoch summaries
    def _log_epoch_metrics(self, epoch: int, logs: Logs) -> None:
        train = {k: v for k, v in logs.items() if not k.startswith("val_") and _is_scalar(v)}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_") and _is_scalar(v)}
        learning_rate = self._learning_rate()
        if learning_rate is not None:
            train["learning_rate"] = learning_rate
        if self.write_steps_per_second:
            iterations = self._iterations()
            elapsed = time.perf_counter() - self._epoch_start_time
            if iterations is not None and self._epoch_start_iterations is not None and elapsed > 0:
                train["steps_per_second"] = (iterations - self._epoch_start_iterations) / elapsed
        for run, values in (("train", train), ("validation", val)):
            if values:
                writer = self._writer(run)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", value, epoch)

    def _log_weights(self, epoch: int) -> None:
        named = [
            (name, t)
            for name, t in self.model.state_dict().items()
            if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel()
        ]
        if not named:
            return
        # One device->host transfer for all weights rather than one per tensor.
        flat = torch.cat([t.detach().reshape(-1).to(torch.float32) for _, t in named])
        host = conversion.to_host(flat)
        writer = self._writer("train")
        offset = 0
        for name, tensor in named:
            values = host[offset : offset + tensor.numel()].reshape(tuple(tensor.shape))
            offset += tensor.numel()
            tag = name.replace(".", "/")
            writer.add_histogram(f"{tag}/histogram", values, epoch)
            if self.write_images:
                image = _weight_image(values)
                if image is not None:
                    writer.add_image(f"{tag}/image", image, epoch, dataformats="HW")

    def _write_graph(self) -> None:
        inputs, self._graph_input = self._graph_input, None
        model = self.model
        was_training = model.training
        try:
            # Tracing is best effort: torch.jit prints its failures and warns about its own
            # deprecation, none of which the user can act on from here.
            with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                self._writer("train").add_graph(model, inputs, use_strict_trace=False)
        except Exception as error:
            warnings.warn(
                f"TensorBoard could not trace the graph of model {getattr(model, 'name', type(model).__name__)!r} "
                f"({type(error).__name__}: {error}); no graph is written. Pass write_graph=False to "
                "silence this warning.",
                stacklevel=2,
            )
        finally:
            model.train(was_training)

    # ------------------------------------------------------------------ embeddings
    def _embedding_modules(self) -> dict[str, torch.nn.Embedding]:
        return {path: m for path, m in self.model.named_modules() if isinstance(m, torch.nn.Embedding)}

    def _check_embeddings_metadata(self) -> None:
        if not self.embeddings_freq or not isinstance(self.embeddings_metadata, dict):
            return
        known = sorted(self._embedding_modules())
        unknown = sorted(set(self.embeddings_metadata) - set(known))
        if unknown:
            raise ValueError(
                "Expected the keys of `embeddings_metadata` to name embedding modules of the model "
                f"{known}. Received: unknown names {unknown}. Use the names listed, or pass a single "
                "path to use it for every embedding."
            )

    def _metadata_for(self, name: str) -> str | None:
        if isinstance(self.embeddings_metadata, dict):
            return self.embeddings_metadata.get(name)
        return self.embeddings_metadata

    def _log_embeddings(self, epoch: int) -> None:
        writer = None
        for name, module in self._embedding_modules().items():
            weights = conversion.to_host(module.weight)
            metadata, header = None, None
            path = self._metadata_for(name)
            if path is not None:
                metadata, header = _read_metadata(path, rows=weights.shape[0])
            writer = writer or self._writer("train")
            writer.add_embedding(
                weights, metadata=metadata, metadata_header=header, tag=name.replace("/", "_"),
                global_step=epoch,
            )

    # ------------------------------------------------------------------ profiling
    def _start_profiler(self) -> None:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        stamp = datetime.datetime.now().strftime("%Y_%m_%d_%H_%M_%S")
        folder = os.path.join(self._train_dir, "plugins", "profile", stamp)
        self._profiler = torch.profiler.profile(
            activities=activities,
            schedule=_record_every_step,
            on_trace_ready=torch.profiler.tensorboard_trace_handler(folder),
        )
        self._profiler.start()

    def _stop_profiler(self) -> None:
        # Stopping writes the trace file (through on_trace_ready).
        if self._profiler is not None:
            profiler, self._profiler = self._profiler, None
            profiler.stop()


def _record_every_step(step: int) -> torch.profiler.ProfilerAction:
    # Passing a schedule makes the profiler mark each `step()` as "ProfilerStep#N", which the
    # profiler plugin uses to split the trace into batches; the callback decides when to stop.
    return torch.profiler.ProfilerAction.RECORD


def _read_metadata(path: str, rows: int) -> tuple[list[Any], list[str] | None]:
    """Reads a projector metadata TSV: one label per line, or a header line then columns."""
    with open(path, encoding="utf-8") as f:
        lines = [line.split("\t") for line in f.read().splitlines()]
    header = None
    if lines and len(lines[0]) > 1:
        header, lines = lines[0], lines[1:]
    labels: list[Any] = lines if header else [line[0] for line in lines]
    if len(labels) != rows:
        raise ValueError(
            f"Expected the embedding metadata file {path!r} to hold one row per embedding "
            f"({rows} rows{' after its header' if header else ''}). Received: {len(labels)} rows. "
            "Write one label per line (with a header line only for several columns)."
        )
    return labels, header
