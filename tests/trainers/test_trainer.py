"""The callback protocol of fit/evaluate/predict, as Keras 3 measures it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import guide_model

import kfit


class Recorder(kfit.callbacks.Callback):
    """Records every hook call with a copy of its logs and the params it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def _rec(self, name, *args):  # type: ignore[no-untyped-def]
        *idx, logs = args
        self.calls.append((name, *idx, dict(logs) if isinstance(logs, dict) else logs))

    def on_train_begin(self, logs=None): self._rec("train_begin", logs)
    def on_train_end(self, logs=None): self._rec("train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._rec("epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._rec("epoch_end", epoch, logs)
    def on_train_batch_begin(self, batch, logs=None): self._rec("train_batch_begin", batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._rec("train_batch_end", batch, logs)
    def on_test_begin(self, logs=None): self._rec("test_begin", logs)
    def on_test_end(self, logs=None): self._rec("test_end", logs)
    def on_test_batch_begin(self, batch, logs=None): self._rec("test_batch_begin", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._rec("test_batch_end", batch, logs)
    def on_predict_begin(self, logs=None): self._rec("predict_begin", logs)
    def on_predict_end(self, logs=None): self._rec("predict_end", logs)
    def on_predict_batch_begin(self, batch, logs=None): self._rec("predict_batch_begin", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._rec("predict_batch_end", batch, logs)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def logs_of(self, name: str) -> list[dict]:
        return [c[-1] for c in self.calls if c[0] == name]


def test_hook_order_and_log_keys_for_fit_with_validation(guide_data):
    x, y = guide_data
    rec = Recorder()
    guide_model().fit(x, y, batch_size=128, epochs=1, verbose=0, validation_split=0.5, callbacks=[rec])
    expected = (
        ["train_begin", "epoch_begin"]
        + ["train_batch_begin", "train_batch_end"] * 4
        + ["test_begin"] + ["test_batch_begin", "test_batch_end"] * 4 + ["test_end"]
        + ["epoch_end", "train_end"]
    )
    assert rec.names() == expected
    for name in ("train_begin", "epoch_begin", "train_batch_begin", "test_begin", "test_batch_begin"):
        assert all(logs == {} for logs in rec.logs_of(name)), name
    for name in ("train_batch_end", "test_batch_end", "test_end"):
        assert all(list(logs) == ["loss", "mean_absolute_error"] for logs in rec.logs_of(name))
    val_keys = ["loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"]
    assert list(rec.logs_of("epoch_end")[0]) == val_keys
    assert list(rec.logs_of("train_end")[0]) == val_keys
    assert all(type(v) is float for v in rec.logs_of("epoch_end")[0].values())


def test_evaluate_and_predict_hooks(guide_data):
    x, y = guide_data
    model = guide_model()
    rec = Recorder()
    model.evaluate(x, y, batch_size=128, verbose=0, callbacks=[rec])
    assert rec.names() == ["test_begin"] + ["test_batch_begin", "test_batch_end"] * 8 + ["test_end"]
    rec = Recorder()
    out = model.predict(x, batch_size=128, callbacks=[rec], verbose=0)
    assert rec.names() == ["predict_begin"] + ["predict_batch_begin", "predict_batch_end"] * 8 + ["predict_end"]
    outputs = rec.logs_of("predict_batch_end")
    assert all(list(o) == ["outputs"] and isinstance(o["outputs"], np.ndarray) for o in outputs)
    assert [o["outputs"].shape for o in outputs] == [(128, 1)] * 7 + [(104, 1)]
    assert rec.logs_of("predict_end") == [{}]
    np.testing.assert_allclose(np.concatenate([o["outputs"] for o in outputs]), out)


def test_batch_logs_are_sample_weighted_running_means(guide_data):
    """With lr=0 the weights never change, so each running mean can be recomputed by hand."""
    x, y = guide_data
    model = guide_model(learning_rate=0.0)
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    rec = Recorder()
    model.fit(x, y, batch_size=128, epochs=2, shuffle=False, verbose=0, callbacks=[rec])
    pred = (x.astype(np.float64) @ kernel + bias)[:, 0]
    sq, ab = (pred - y) ** 2, np.abs(pred - y)
    ends = rec.logs_of("train_batch_end")
    assert len(ends) == 16
    for i, logs in enumerate(ends):
        seen = min((i % 8 + 1) * 128, 1000)  # metrics reset each epoch
        np.testing.assert_allclose(logs["loss"], sq[:seen].mean(), rtol=1e-5)
        np.testing.assert_allclose(logs["mean_absolute_error"], ab[:seen].mean(), rtol=1e-5)
    epoch_end = rec.logs_of("epoch_end")
    assert epoch_end[0] == ends[7] and epoch_end[1] == ends[15]


def test_params_and_history(guide_data):
    x, y = guide_data
    seen = []

    class Params(kfit.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(dict(self.params))

        def on_test_begin(self, logs=None):
            seen.append(dict(self.params))

        def on_predict_begin(self, logs=None):
            seen.append(dict(self.params))

    model = guide_model()
    history = model.fit(x, y, batch_size=128, epochs=3, verbose=0, validation_split=0.5, callbacks=[Params()])
    assert seen[0] == {"verbose": 0, "epochs": 3, "steps": 4}
    assert seen[1] == seen[0]  # validation inside fit sees fit's params
    assert history is model.history
    assert isinstance(history, kfit.callbacks.History)
    assert history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 4}
    assert history.model is model
    assert list(history.history) == ["loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"]
    assert all(len(v) == 3 for v in history.history.values())
    model.evaluate(x, y, batch_size=128, verbose=0, callbacks=[Params()])
    assert seen[-1] == {"verbose": 0, "epochs": 1, "steps": 8}
    model.predict(x, batch_size=128, callbacks=[Params()])
    assert seen[-1] == {"verbose": "auto", "epochs": 1, "steps": 8}
    model.fit(x, y, epochs=1, verbose=0, callbacks=[Params()])
    assert seen[-1]["steps"] == 32  # default batch size 32
    second = model.fit(x, y, epochs=1, verbose=0)
    assert second is not history and second.epoch == [0]


def test_shared_logs_dict_reaches_later_callbacks_and_history(guide_data):
    x, y = guide_data
    got = []

    class Adder(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = epoch * 10.0

    class Reader(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            got.append(logs["extra"])

    history = guide_model().fit(x, y, epochs=2, verbose=0, callbacks=[Adder(), Reader()])
    assert got == [0.0, 10.0]
    assert history.history["extra"] == [0.0, 10.0]


def test_history_and_progbar_come_after_user_callbacks():
    user = kfit.callbacks.Callback()
    cbs = kfit.callbacks.CallbackList([user], add_history=True, add_progbar=True)
    assert cbs.callbacks[0] is user
    assert [type(c).__name__ for c in cbs.callbacks[1:]] == ["History", "ProgbarLogger"]


@pytest.mark.parametrize(
    "where, epochs_ran, batches_in_first",
    [("train_batch_end", 1, 3), ("train_batch_begin", 1, 2), ("epoch_begin", 1, 1), ("epoch_end", 1, 4)],
)
def test_stop_training(guide_data, where, epochs_ran, batches_in_first):
    x, y = guide_data
    rec = Recorder()

    class Stopper(kfit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if where == "train_batch_end" and batch == 2:
                self.model.stop_training = True

        def on_train_batch_begin(self, batch, logs=None):
            if where == "train_batch_begin" and batch == 1:
                self.model.stop_training = True

        def on_epoch_begin(self, epoch, logs=None):
            if where == "epoch_begin":
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if where == "epoch_end":
                self.model.stop_training = True

    history = guide_model().fit(
        x, y, batch_size=128, epochs=3, verbose=0, validation_split=0.5, callbacks=[Stopper(), rec]
    )
    assert history.epoch == list(range(epochs_ran))
    assert rec.names().count("train_batch_end") == batches_in_first
    # Validation and on_epoch_end still run after a stop inside the epoch.
    names = rec.names()
    assert names[-4:] == ["test_batch_end", "test_end", "epoch_end", "train_end"]
    assert set(history.history) == {"loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"}


def test_stop_evaluating_and_predicting(guide_data):
    x, y = guide_data
    model = guide_model()

    class Stop(kfit.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_evaluating = True

        def on_predict_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_predicting = True

    rec = Recorder()
    model.evaluate(x, y, batch_size=128, verbose=0, callbacks=[Stop(), rec])
    assert rec.names().count("test_batch_end") == 2
    assert model.predict(x, batch_size=128, verbose=0, callbacks=[Stop()]).shape == (256, 1)


def test_epochs_zero_and_initial_epoch(guide_data):
    x, y = guide_data
    rec = Recorder()
    guide_model().fit(x, y, epochs=0, verbose=0, callbacks=[rec])
    assert rec.calls == [("train_begin", {}), ("train_end", {})]
    rec = Recorder()
    history = guide_model().fit(x, y, epochs=4, initial_epoch=2, verbose=0, callbacks=[rec])
    assert [c[1] for c in rec.calls if c[0] == "epoch_begin"] == [2, 3]
    assert history.epoch == [2, 3] and history.params["epochs"] == 4


def test_steps_per_epoch_runs_exact_batches_and_continues(guide_data):
    """The guide's output: every epoch runs exactly steps_per_epoch batches (not Keras 3's 5,5,5,1)."""
    x, y = guide_data
    seen_rows = []
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=784)])
    model.compile(optimizer=kfit.optimizers.SGD(0.0), loss="mse")
    original = model._step_function("train")

    def spy(batch):
        seen_rows.append(batch[0][:, 0].clone())
        return original(batch)

    model._step_functions["train"] = spy
    rec = Recorder()
    model.fit(x, y, batch_size=64, steps_per_epoch=5, epochs=5, shuffle=False, verbose=0, callbacks=[rec])
    counts = []
    for c in rec.calls:
        if c[0] == "epoch_begin":
            counts.append(0)
        elif c[0] == "train_batch_end":
            counts[-1] += 1
    assert counts == [5, 5, 5, 5, 5]
    rows = torch.cat(seen_rows).numpy()
    # Epochs 0-3 cover the data once in order (16 batches, the 16th partial), then wrap.
    np.testing.assert_array_equal(rows[:1000], x[:, 0])
    np.testing.assert_array_equal(rows[1000:1000 + 64], x[:64, 0])
    assert [len(r) for r in seen_rows][15:17] == [40, 64]


def test_validation_split_takes_last_rows_and_shuffles_only_training():
    x = np.arange(10, dtype="float32").reshape(10, 1)
    y = np.arange(10, dtype="float32")
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=1)])
    model.compile(optimizer=kfit.optimizers.SGD(0.0), loss="mse")
    seen = {"train": [], "test": []}
    for kind in ("train", "test"):
        original = model._step_function(kind)

        def spy(batch, kind=kind, original=original):
            seen[kind].append(batch[0][:, 0].tolist())
            return original(batch)

        model._step_functions[kind] = spy
    model.fit(x, y, batch_size=2, epochs=3, validation_split=0.25, shuffle=True, verbose=0)
    train_epochs = [[row for batch in seen["train"][i:i + 4] for row in batch] for i in range(0, 12, 4)]
    assert all(sorted(e) == [0, 1, 2, 3, 4, 5, 6] for e in train_epochs)
    assert len({tuple(e) for e in train_epochs}) > 1  # reshuffled
    assert seen["test"] == [[7, 8], [9]] * 3  # always in order


def test_validation_freq(guide_data):
    x, y = guide_data
    history = guide_model().fit(x, y, epochs=3, verbose=0, validation_split=0.5, validation_freq=2)
    assert len(history.history["val_loss"]) == 1 and len(history.history["loss"]) == 3


def test_validation_data_tuple_and_evaluate_return_forms(guide_data):
    x, y = guide_data
    model = guide_model()
    history = model.fit(x[:500], y[:500], epochs=1, verbose=0, validation_data=(x[500:], y[500:]))
    val = model.evaluate(x[500:], y[500:], verbose=0, return_dict=True)
    assert list(val) == ["loss", "mean_absolute_error"]
    as_list = model.evaluate(x[500:], y[500:], verbose=0)
    assert as_list == [val["loss"], val["mean_absolute_error"]]
    assert "val_loss" in history.history


def test_legacy_batch_hooks_fire_for_training_only(guide_data):
    x, y = guide_data
    calls = []

    class Legacy(kfit.callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("end", batch, sorted(logs)))

    guide_model().fit(x, y, batch_size=500, epochs=1, verbose=0, validation_split=0.5, callbacks=[Legacy()])
    assert calls == [("begin", 0), ("end", 0, ["loss", "mean_absolute_error"])]


def test_train_test_predict_on_batch(guide_data):
    x, y = guide_data
    model = guide_model(learning_rate=0.0)
    kernel, bias = model.get_weights()
    loss, _ = model.test_on_batch(x[:10], y[:10])
    pred = x[:10] @ kernel + bias
    np.testing.assert_allclose(loss, ((pred[:, 0] - y[:10]) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x[:10]), pred, rtol=1e-5)
    logs = model.train_on_batch(x[:10], y[:10], return_dict=True)
    assert list(logs) == ["loss", "mean_absolute_error"]


def test_verbose_2_prints_one_line_per_epoch(guide_data, capsys):
    x, y = guide_data
    guide_model().fit(x, y, batch_size=128, epochs=2, verbose=2, validation_split=0.5)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("4/4 - ") and " - val_loss: " in lines[1]
    assert len(lines) == 4
    assert "\r" not in out and "\x08" not in out and "\x1b" not in out


def test_verbose_1_on_a_pipe_writes_whole_lines(guide_data, capsys):
    x, y = guide_data
    model = guide_model()
    model.fit(x, y, batch_size=128, epochs=1, verbose="auto", validation_split=0.5)
    model.evaluate(x, y, batch_size=128)
    model.predict(x, batch_size=128)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3, out  # validation inside fit draws no bar of its own
    assert lines[0].startswith("4/4 [==============================] - ")
    assert "ms/step - loss: " in lines[0] or "us/step - loss: " in lines[0] or "s/step - loss: " in lines[0]
    assert " - val_loss: " in lines[0] and " - val_mean_absolute_error: " in lines[0]
    assert lines[1].startswith("8/8 [==============================] - ") and "val_" not in lines[1]
    assert lines[2].startswith("8/8 [==============================] - ") and "loss" not in lines[2]
    assert not any(c in out for c in "\r\x08\x1b")


def test_jit_compile_trains_through_torch_compile_like_a_plain_loop():
    x = np.random.RandomState(0).rand(16, 3).astype("float32")
    y = x.sum(axis=1)
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=3)])
    model.compile(optimizer=kfit.optimizers.SGD(0.1), loss="mse", jit_compile=True)
    kernel, bias = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert type(model._compiled_forward).__name__ == "OptimizedModule"
    losses = []
    for _ in range(3):
        loss = ((torch.from_numpy(x) @ kernel + bias)[:, 0] - torch.from_numpy(y)).pow(2).mean()
        losses.append(loss.item())
        kernel.grad = bias.grad = None
        loss.backward()
        with torch.no_grad():
            kernel -= 0.1 * kernel.grad
            bias -= 0.1 * bias.grad
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)


def test_steps_per_execution_fires_batch_hooks_once_per_execution(guide_data):
    x, y = guide_data
    rec = Recorder()
    model = guide_model(learning_rate=0.0)
    model.compile(optimizer=kfit.optimizers.RMSprop(0.0), loss="mean_squared_error",
                  metrics=["mean_absolute_error"], steps_per_execution=3)
    history = model.fit(x, y, batch_size=128, epochs=1, shuffle=False, verbose=0, callbacks=[rec])
    begins = [c[1] for c in rec.calls if c[0] == "train_batch_begin"]
    ends = [c[1] for c in rec.calls if c[0] == "train_batch_end"]
    assert begins == [0, 3, 6] and ends == [2, 5, 7]  # ceil(8 / 3) executions
    reference = guide_model(learning_rate=0.0)
    reference.set_weights(model.get_weights())
    assert history.history["loss"][0] == pytest.approx(reference.evaluate(x, y, batch_size=128, verbose=0)[0], rel=1e-6)
    rec = Recorder()
    out = model.predict(x, batch_size=128, verbose=0, callbacks=[rec])
    shapes = [c[-1]["outputs"].shape for c in rec.calls if c[0] == "predict_batch_end"]
    assert shapes == [(384, 1), (384, 1), (232, 1)] and out.shape == (1000, 1)


def test_validation_freq_as_a_list_of_epochs(guide_data):
    x, y = guide_data
    rec = Recorder()
    guide_model().fit(x, y, epochs=4, verbose=0, validation_split=0.5, validation_freq=[1, 4], callbacks=[rec])
    validated = ["val_loss" in logs for logs in rec.logs_of("epoch_end")]
    assert validated == [True, False, False, True]
    with pytest.raises(ValueError, match=r"validation_freq=\[0\]"):
        guide_model().fit(x, y, verbose=0, validation_split=0.5, validation_freq=[0])


def test_train_and_test_on_batch_report_the_batch_alone(guide_data):
    x, y = guide_data
    model = guide_model(learning_rate=0.0)
    model.test_on_batch(x[:10], y[:10])
    second = model.test_on_batch(x[10:20], y[10:20], return_dict=True)
    kernel, bias = model.get_weights()
    expected = (((x[10:20] @ kernel + bias)[:, 0] - y[10:20]) ** 2).mean()
    assert second["loss"] == pytest.approx(expected, rel=1e-5)
    model.train_on_batch(x[:10], y[:10])
    assert model.train_on_batch(x[10:20], y[10:20], return_dict=True)["loss"] == pytest.approx(expected, rel=1e-5)
