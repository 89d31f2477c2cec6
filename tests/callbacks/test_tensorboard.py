"""TensorBoard writes real event files (read back with tensorboard's EventAccumulator)."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("tensorboard")

from conftest import guide_model
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import kfit
from kfit.callbacks import Callback, CallbackList, TensorBoard


def _data(n: int = 64):
    rs = np.random.RandomState(0)
    return rs.rand(n, 4).astype("float32"), rs.rand(n).astype("float32")


def _model():
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
    model.compile(optimizer=kfit.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    return model


def _run(log_dir, run: str) -> EventAccumulator:
    ea = EventAccumulator(str(log_dir / run), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    ea.Reload()
    return ea


def _scalars(ea: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in ea.Scalars(tag)]


def _event_files(folder) -> list[str]:
    return glob.glob(os.path.join(str(folder), "events.out.tfevents.*"))


class _BatchRecorder(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.logs: list[dict[str, float]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(dict(logs))


def test_basic_tags_values_and_steps(tmp_path):
    x, y = _data()
    model = _model()
    history = model.fit(
        x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0,
        callbacks=[TensorBoard(tmp_path, write_graph=False)],
    )
    train, val = _run(tmp_path, "train"), _run(tmp_path, "validation")
    assert sorted(train.Tags()["scalars"]) == ["epoch_learning_rate", "epoch_loss", "epoch_mae"]
    assert sorted(val.Tags()["scalars"]) == [
        "epoch_loss", "epoch_mae", "evaluation_loss_vs_iterations", "evaluation_mae_vs_iterations",
    ]
    steps = [0, 1, 2]
    np.testing.assert_allclose(_scalars(train, "epoch_loss"), list(zip(steps, history.history["loss"])), rtol=1e-6)
    np.testing.assert_allclose(_scalars(val, "epoch_loss"), list(zip(steps, history.history["val_loss"])), rtol=1e-6)
    np.testing.assert_allclose(_scalars(train, "epoch_learning_rate"), [(s, 0.05) for s in steps], rtol=1e-6)
    # 48 training rows in batches of 16: 3 optimizer steps per epoch.
    np.testing.assert_allclose(
        _scalars(val, "evaluation_loss_vs_iterations"), list(zip([3, 6, 9], history.history["val_loss"])), rtol=1e-6
    )


def test_learning_rate_schedule_is_logged_at_its_current_value(tmp_path):
    x, y = _data()
    schedule = kfit.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
    model.compile(optimizer=kfit.optimizers.SGD(learning_rate=schedule), loss="mse")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[TensorBoard(tmp_path, write_graph=False)])
    # Two steps per epoch: the rate after epoch e is 0.1 * 0.5 ** (2 * (e + 1)).
    expected = [(0, 0.1 * 0.5**2), (1, 0.1 * 0.5**4)]
    np.testing.assert_allclose(_scalars(_run(tmp_path, "train"), "epoch_learning_rate"), expected, rtol=1e-6)


def test_torch_optimizer_logs_its_learning_rate_and_no_iteration_scalars(tmp_path):
    x, y = _data()
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=4)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.03), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0,
              callbacks=[TensorBoard(tmp_path, write_graph=False)])
    rates = _scalars(_run(tmp_path, "train"), "epoch_learning_rate")
    np.testing.assert_allclose(rates, [(0, 0.03), (1, 0.03)], rtol=1e-6)
    assert _run(tmp_path, "validation").Tags()["scalars"] == ["epoch_loss"]


def test_no_validation_writes_no_validation_event_file(tmp_path):
    x, y = _data()
    _model().fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[TensorBoard(tmp_path, write_graph=False)])
    assert _event_files(tmp_path / "train")
    assert not os.path.exists(tmp_path / "validation")


def test_validation_freq_writes_validation_only_on_validated_epochs(tmp_path):
    x, y = _data()
    _model().fit(x, y, batch_size=16, epochs=4, validation_split=0.25, validation_freq=2, verbose=0,
                 callbacks=[TensorBoard(tmp_path, write_graph=False)])
    val = _run(tmp_path, "validation")
    assert [s for s, _ in _scalars(val, "epoch_loss")] == [1, 3]
    assert [s for s, _ in _scalars(val, "evaluation_loss_vs_iterations")] == [6, 12]


@pytest.mark.parametrize(
    "update_freq, written", [("batch", [1, 2, 3, 4, 5, 6, 7, 8]), (1, [1, 2, 3, 4, 5, 6, 7, 8]), (3, [3, 6])]
)
def test_batch_metrics_every_update_freq_batches(tmp_path, update_freq, written):
    x, y = _data()
    recorder = _BatchRecorder()
    _model().fit(x, y, batch_size=16, epochs=2, verbose=0,
                 callbacks=[recorder, TensorBoard(tmp_path, update_freq=update_freq, write_graph=False)])
    train = _run(tmp_path, "train")
    assert {"batch_loss", "batch_mae"} <= set(train.Tags()["scalars"])
    # Steps count batches from 1 across epochs; values are the running means the batch hook saw.
    expected = [(step, recorder.logs[step - 1]["loss"]) for step in written]
    np.testing.assert_allclose(_scalars(train, "batch_loss"), expected, rtol=1e-6)
    assert len(_scalars(train, "epoch_loss")) == 2


def test_epoch_update_freq_writes_no_batch_tags_and_installs_no_batch_hooks(tmp_path):
    x, y = _data()
    tb = TensorBoard(tmp_path, write_graph=False)
    assert not CallbackList([tb]).dispatches("on_train_batch_end")
    assert not CallbackList([tb]).dispatches("on_train_batch_begin")
    assert CallbackList([TensorBoard(tmp_path, update_freq=2)]).dispatches("on_train_batch_end")
    _model().fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[tb])
    assert not [t for t in _run(tmp_path, "train").Tags()["scalars"] if t.startswith("batch_")]


def test_batch_logs_are_read_only_on_written_batches(tmp_path, host_reads):
    x, y = _data(160)  # 10 batches per epoch
    reads = host_reads
    _model().fit(x, y, batch_size=16, epochs=2, verbose=0,
                 callbacks=[TensorBoard(tmp_path, update_freq=5, write_graph=False)])
    # Batches 5, 10, 15 and 20 are written (one transfer each), plus one read per epoch end.
    assert reads["n"] == 4 + 2
    assert [s for s, _ in _scalars(_run(tmp_path, "train"), "batch_loss")] == [5, 10, 15, 20]


def test_steps_per_second(tmp_path):
    x, y = _data()
    _model().fit(x, y, batch_size=16, epochs=2, verbose=0,
                 callbacks=[TensorBoard(tmp_path, update_freq=1, write_steps_per_second=True, write_graph=False)])
    train = _run(tmp_path, "train")
    epoch = _scalars(train, "epoch_steps_per_second")
    batch = _scalars(train, "batch_steps_per_second")
    assert [s for s, _ in epoch] == [0, 1] and all(v > 0 for _, v in epoch)
    assert [s for s, _ in batch] == list(range(1, 9)) and all(v > 0 for _, v in batch)


def test_weight_histograms_every_histogram_freq_epochs(tmp_path):
    x, y = _data()
    model = _model()
    callback = TensorBoard(tmp_path, histogram_freq=2, write_graph=False)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[callback])
    train = _run(tmp_path, "train")
    assert sorted(train.Tags()["histograms"]) == ["dense/bias/histogram", "dense/kernel/histogram"]
    kernel = train.Histograms("dense/kernel/histogram")
    assert [e.step for e in kernel] == [0, 2]
    # The last one was written after the last epoch: it describes the final kernel.
    final = model.state_dict()["dense.kernel"].numpy()
    last = kernel[-1].histogram_value
    assert last.num == final.size
    np.testing.assert_allclose([last.min, last.max, last.sum], [final.min(), final.max(), final.sum()], rtol=1e-5)
    assert train.Tags()["images"] == []


def test_weight_images(tmp_path):
    x, y = _data()
    _model().fit(x, y, batch_size=16, epochs=2, verbose=0,
                 callbacks=[TensorBoard(tmp_path, histogram_freq=1, write_images=True, write_graph=False)])
    train = _run(tmp_path, "train")
    assert sorted(train.Tags()["images"]) == ["dense/bias/image", "dense/kernel/image"]
    kernel = train.Images("dense/kernel/image")
    # The (4, 1) kernel is laid out wide, as Keras does.
    assert [e.step for e in kernel] == [0, 1] and (kernel[0].height, kernel[0].width) == (1, 4)


def test_same_instance_across_two_fits(tmp_path):
    x, y = _data()
    model = _model()
    tb = TensorBoard(tmp_path, write_graph=False)
    model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0, callbacks=[tb])
    model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0, callbacks=[tb])
    assert len(_event_files(tmp_path / "train")) == 2
    assert [s for s, _ in _scalars(_run(tmp_path, "train"), "epoch_loss")] == [0, 1, 0, 1]
    assert [s for s, _ in _scalars(_run(tmp_path, "validation"), "evaluation_loss_vs_iterations")] == [3, 6, 9, 12]


def test_evaluate_outside_fit_writes_evaluation_scalars(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    loss = model.evaluate(x, y, verbose=0, callbacks=[TensorBoard(tmp_path, write_graph=False)])[0]
    val = _run(tmp_path, "validation")
    np.testing.assert_allclose(_scalars(val, "evaluation_loss_vs_iterations"), [(4, loss)], rtol=1e-6)
    assert not os.path.exists(tmp_path / "train")


def test_graph_is_written(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path)])
    assert _run(tmp_path, "train").Tags()["graph"] is True


def test_untraceable_model_warns_once_and_trains(tmp_path):
    class Untraceable(kfit.Model):
        def __init__(self):
            super().__init__()
            self.dense = kfit.layers.Dense(1, input_dim=4)

        def call(self, inputs):
            if torch.jit.is_tracing():
                raise RuntimeError("cannot trace me")
            return self.dense(inputs)

    x, y = _data()
    model = Untraceable()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="could not trace the graph") as record:
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[TensorBoard(tmp_path)])
    assert len([w for w in record if "trace" in str(w.message)]) == 1
    assert history.epoch == [0, 1]
    train = _run(tmp_path, "train")
    assert train.Tags()["graph"] is False and len(_scalars(train, "epoch_loss")) == 2


@pytest.mark.parametrize("profile_batch", [2, "2,3", (1, 2)])
def test_profile_batch_writes_a_trace(tmp_path, profile_batch):
    x, y = _data()
    _model().fit(x, y, batch_size=16, epochs=2, verbose=0,
                 callbacks=[TensorBoard(tmp_path, profile_batch=profile_batch, write_graph=False)])
    (trace,) = glob.glob(str(tmp_path / "train" / "plugins" / "profile" / "*" / "*.pt.trace.json"))
    with open(trace) as f:
        events = json.load(f)["traceEvents"]
    start, stop = (2, 2) if profile_batch == 2 else (2, 3) if profile_batch == "2,3" else (1, 2)
    steps = sorted(e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#"))
    assert len(steps) == stop - start + 1
    assert any(e.get("name") == "aten::addmm" for e in events)  # the Dense layer's work is in it


def test_profile_past_the_last_batch_is_saved_at_train_end(tmp_path):
    x, y = _data()
    _model().fit(x, y, batch_size=16, epochs=1, verbose=0,
                 callbacks=[TensorBoard(tmp_path, profile_batch=(3, 100), write_graph=False)])
    assert glob.glob(str(tmp_path / "train" / "plugins" / "profile" / "*" / "*.pt.trace.json"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"update_freq": "epochs"}, 'Did you mean update_freq="epoch"'),
        ({"update_freq": 0}, "update_freq"),
        ({"profile_batch": (5, 2)}, "profile_batch"),
        ({"profile_batch": "a,b"}, "profile_batch"),
        ({"profile_batch": (0, 3)}, "profile_batch"),
        ({"histogram_freq": -1}, "histogram_freq"),
        ({"embeddings_freq": 1.5}, "embeddings_freq"),
    ],
)
def test_invalid_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TensorBoard(tmp_path, **kwargs)


def test_embeddings_of_torch_embedding_modules(tmp_path):
    net = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Flatten(), torch.nn.Linear(6, 1))
    model = kfit.Model(net)
    model.compile(optimizer="sgd", loss="mse")
    metadata = tmp_path / "labels.tsv"
    metadata.write_text("a\nb\nc\nd\ne\n")
    x = np.random.RandomState(0).randint(0, 5, (16, 2))
    y = np.zeros(16, "float32")
    log_dir = tmp_path / "logs"
    model.fit(x, y, epochs=2, verbose=0, callbacks=[
        TensorBoard(log_dir, embeddings_freq=2, embeddings_metadata=str(metadata), write_graph=False)
    ])
    config = (log_dir / "train" / "projector_config.pbtxt").read_text()
    assert config.count("embeddings {") == 1  # epoch 0 only
    (labels,) = glob.glob(str(log_dir / "train" / "*" / "*" / "metadata.tsv"))
    with open(labels) as f:
        assert f.read().split() == ["a", "b", "c", "d", "e"]
    (tensors,) = glob.glob(str(log_dir / "train" / "*" / "*" / "tensors.tsv"))
    assert np.loadtxt(tensors).shape == (5, 3)


def test_embeddings_without_embedding_modules_write_nothing(tmp_path):
    x, y = _data()
    _model().fit(x, y, batch_size=16, epochs=1, verbose=0,
                 callbacks=[TensorBoard(tmp_path, embeddings_freq=1, write_graph=False)])
    assert not os.path.exists(tmp_path / "train" / "projector_config.pbtxt")


def test_embeddings_metadata_naming_unknown_layers_raises(tmp_path):
    x, y = _data()
    tb = TensorBoard(tmp_path, embeddings_freq=1, embeddings_metadata={"emb": "labels.tsv"}, write_graph=False)
    with pytest.raises(ValueError, match=r"Received: unknown names \['emb'\]"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[tb])


def test_missing_tensorboard_package_raises_import_error_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ImportError, match=r"pip install tensorboard.*pip install kfit\[tensorboard\]"):
        TensorBoard(tmp_path)


def test_import_kfit_does_not_import_tensorboard():
    code = (
        "import sys, kfit; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] == 'tensorboard' or m.startswith('torch.utils.tensorboard')))"
    )
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_guide_demo_run(tmp_path):
    """The run the issue's closing note describes (guide model, 3 epochs, half for validation)."""
    rs = np.random.RandomState(0)
    x, y = rs.rand(1000, 784).astype("float32"), rs.randint(0, 10, 1000).astype("float32")
    model = guide_model()
    model.fit(x, y, epochs=3, validation_split=0.5, verbose=0,
              callbacks=[TensorBoard(tmp_path, histogram_freq=1, update_freq=2)])
    train, val = _run(tmp_path, "train"), _run(tmp_path, "validation")
    counts = {t: len(train.Scalars(t)) for t in train.Tags()["scalars"]}
    # 500 training rows in batches of 32: 16 steps per epoch, 48 in all, every 2nd one written.
    assert counts == {
        "batch_loss": 24, "batch_mean_absolute_error": 24,
        "epoch_loss": 3, "epoch_mean_absolute_error": 3, "epoch_learning_rate": 3,
    }
    assert {t: len(train.Histograms(t)) for t in train.Tags()["histograms"]} == {
        "dense/kernel/histogram": 3, "dense/bias/histogram": 3,
    }
    assert train.Tags()["graph"] is True
    assert {t: [e.step for e in val.Scalars(t)] for t in val.Tags()["scalars"]} == {
        "epoch_loss": [0, 1, 2], "epoch_mean_absolute_error": [0, 1, 2],
        "evaluation_loss_vs_iterations": [16, 32, 48], "evaluation_mean_absolute_error_vs_iterations": [16, 32, 48],
    }
