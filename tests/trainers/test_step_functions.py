"""The train step as Keras's extension point: the guide "Customizing what happens in fit() with
PyTorch", run unchanged on kfit and on Keras 3 (torch backend), from the same weights.

Each guide model is written once, as a function of the module (`kfit` or `keras`), so that both
libraries run the very same code; the histories, evaluations and final weights must agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import kfit
from kfit.trainers.step_functions import uses_builtin_step

keras = pytest.importorskip("keras")

ROWS, BATCH = 40, 8


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r = np.random.RandomState(seed)
    return r.rand(ROWS, 4).astype("float32"), r.rand(ROWS, 1).astype("float32")


def _start_weights() -> list[np.ndarray]:
    r = np.random.RandomState(7)
    return [r.randn(4, 3).astype("float32") * 0.5, np.zeros(3, "float32"),
            r.randn(3, 1).astype("float32") * 0.5, np.zeros(1, "float32")]


def guide_model(k: Any, kind: str) -> Any:
    """The guide's models, as written there, for `k` = kfit or keras."""

    class Body(k.Model):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = k.layers.Dense(3, activation="relu")
            self.out = k.layers.Dense(1)

        def call(self, x: Any) -> Any:
            return self.out(self.hidden(x))

    class ComputeLoss(Body):
        # "A first simple example": compute_loss, then every metric in self.metrics.
        def train_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]  # noqa: C416 (the guide's line)
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    class OwnTrackers(Body):
        # "Going lower-level": hand-made trackers, no compile(loss=...).
        def __init__(self) -> None:
            super().__init__()
            self.loss_tracker = k.metrics.Mean(name="loss")
            self.mae_metric = k.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = k.losses.MeanSquaredError()

        def train_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]  # noqa: C416 (the guide's line)
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self) -> list[Any]:
            return [self.loss_tracker, self.mae_metric]

    class Weighted(Body):
        # "Supporting sample_weight & class_weight".
        def train_step(self, data: Any) -> dict[str, Any]:
            if len(data) == 3:
                x, y, sample_weight = data
            else:
                sample_weight = None
                x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]  # noqa: C416 (the guide's line)
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

    class OwnTestStep(Body):
        # "Providing your own evaluation step".
        def test_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    model = {"compute_loss": ComputeLoss, "own_trackers": OwnTrackers, "weighted": Weighted,
             "own_test_step": OwnTestStep}[kind]()
    model(torch.zeros(1, 4))
    model.set_weights(_start_weights())
    if kind == "own_trackers":
        model.compile(optimizer=k.optimizers.Adam(0.05))
    else:
        model.compile(optimizer=k.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    return model


def _fit_both(kind: str, **fit_kwargs: Any) -> tuple[dict[str, list[float]], dict[str, list[float]], Any, Any]:
    x, y = _data()
    got = guide_model(kfit, kind)
    want = guide_model(keras, kind)
    got_history = got.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0, **fit_kwargs).history
    want_history = want.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0, **fit_kwargs).history
    return got_history, want_history, got, want


def _assert_same_training(got_history: dict, want_history: dict, got: Any, want: Any) -> None:
    assert sorted(got_history) == sorted(want_history)
    for key in want_history:
        np.testing.assert_allclose(got_history[key], want_history[key], rtol=2e-5, atol=1e-6, err_msg=key)
    for a, b in zip(got.get_weights(), want.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["compute_loss", "own_trackers"])
def test_guide_train_steps_match_keras(kind: str) -> None:
    got_history, want_history, got, want = _fit_both(kind)
    _assert_same_training(got_history, want_history, got, want)
    x, y = _data(1)
    if kind == "own_trackers":
        # The built-in test step needs a compiled loss, in Keras as in kfit.
        for model in (got, want):
            with pytest.raises(ValueError, match="loss"):
                model.evaluate(x, y, verbose=0)
        return
    got_eval = got.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    want_eval = want.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    assert sorted(got_eval) == sorted(want_eval)
    for key in want_eval:
        np.testing.assert_allclose(got_eval[key], want_eval[key], rtol=2e-5, atol=1e-6)


def test_guide_sample_weight_step_matches_keras() -> None:
    weights = np.random.RandomState(3).rand(ROWS).astype("float32")
    got_history, want_history, got, want = _fit_both("weighted", sample_weight=weights)
    _assert_same_training(got_history, want_history, got, want)


def test_guide_test_step_matches_keras() -> None:
    x, y = _data(2)
    got, want = guide_model(kfit, "own_test_step"), guide_model(keras, "own_test_step")
    got_logs = got.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    want_logs = want.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    assert sorted(got_logs) == sorted(want_logs) == ["loss", "mae"]
    for key in want_logs:
        np.testing.assert_allclose(got_logs[key], want_logs[key], rtol=2e-5, atol=1e-6)


class _Steps(kfit.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.batch_logs: list[dict[str, float]] = []
        self.epoch_logs: list[dict[str, float]] = []

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batch_logs.append(dict(logs))

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.epoch_logs.append(dict(logs))


def test_an_overridden_train_step_is_called_for_every_batch_and_its_dict_becomes_the_logs() -> None:
    calls = []

    class Custom(kfit.Sequential):
        def train_step(self, data: Any) -> dict[str, Any]:
            calls.append(data)
            x, _ = data
            return {"rows": torch.tensor(float(len(x))), "nested": {"twice": torch.tensor(2.0 * len(x))}}

    model = Custom([kfit.Input((4,)), kfit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    steps = _Steps()
    x, y = _data()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[steps]).history
    assert len(calls) == 6 and all(isinstance(d, tuple) and len(d) == 2 for d in calls)
    # Batch logs: the step's dict, flattened and read as floats; epoch logs: the last batch's,
    # since `model.metrics` (the untouched loss tracker) does not hold these keys.
    assert steps.batch_logs[:3] == [{"rows": 16.0, "twice": 32.0}, {"rows": 16.0, "twice": 32.0},
                                    {"rows": 8.0, "twice": 16.0}]
    assert history == {"rows": [8.0, 8.0], "twice": [16.0, 16.0]}


def test_data_reaches_the_step_packed_as_keras_packs_it() -> None:
    seen: list[Any] = []

    class Custom(kfit.Sequential):
        def train_step(self, data: Any) -> dict[str, Any]:
            seen.append(data)
            return {}

    model = Custom([kfit.Input((4,)), kfit.layers.Dense(1)])
    model.compile(optimizer="sgd")
    x, y = _data()
    model.fit(x, batch_size=ROWS, verbose=0)
    model.fit(x, y, sample_weight=np.ones(ROWS), batch_size=ROWS, verbose=0)
    model.fit((x, x), y, batch_size=ROWS, verbose=0)
    assert isinstance(seen[0], torch.Tensor)
    assert isinstance(seen[1], tuple) and len(seen[1]) == 3
    assert isinstance(seen[2], tuple) and isinstance(seen[2][0], tuple) and len(seen[2]) == 2


def test_builtin_step_is_kept_unless_a_step_method_is_overridden() -> None:
    class OwnLoss(kfit.Sequential):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return super().compute_loss(x, y, y_pred, sample_weight, training)

    class OwnPredict(kfit.Sequential):
        def predict_step(self, data):
            return super().predict_step(data)

    plain = kfit.Sequential()
    assert all(uses_builtin_step(plain, kind) for kind in ("train", "test", "predict"))
    assert [uses_builtin_step(OwnLoss(), kind) for kind in ("train", "test", "predict")] == [False, False, True]
    assert [uses_builtin_step(OwnPredict(), kind) for kind in ("train", "test", "predict")] == [True, True, False]


def test_compute_loss_override_changes_training_through_the_default_train_step() -> None:
    class Doubled(kfit.Sequential):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):  # pre-3.3 signature
            return 2.0 * super().compute_loss(x, y, y_pred, sample_weight)

    x, y = _data()
    plain = kfit.Sequential([kfit.Input((4,)), kfit.layers.Dense(1, kernel_initializer="zeros")])
    doubled = Doubled([kfit.Input((4,)), kfit.layers.Dense(1, kernel_initializer="zeros")])
    for model in (plain, doubled):
        model.compile(optimizer=kfit.optimizers.SGD(0.1), loss="mse")
    plain_loss = plain.fit(x, y, batch_size=ROWS, verbose=0).history["loss"][0]
    doubled_loss = doubled.fit(x, y, batch_size=ROWS, verbose=0).history["loss"][0]
    np.testing.assert_allclose(doubled_loss, 2 * plain_loss, rtol=1e-6)
    # SGD on twice the loss takes twice the step.
    np.testing.assert_allclose(doubled.get_weights()[0], 2 * plain.get_weights()[0], rtol=1e-5)


def test_user_metrics_held_as_attributes_are_listed_and_reset_each_epoch() -> None:
    class Counting(kfit.Sequential):
        def __init__(self, layers: list[Any]) -> None:
            super().__init__(layers)
            self.seen = kfit.metrics.Sum(name="seen")

        def train_step(self, data: Any) -> dict[str, Any]:
            x, _ = data
            self.seen.update_state(float(len(x)))
            return {"seen": self.seen.result()}

    model = Counting([kfit.Input((4,)), kfit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    assert model.metrics_names == ["loss", "compile_metrics", "seen"]
    x, y = _data()
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    assert history["seen"] == [40.0, 40.0, 40.0]  # reset at every epoch start


def test_a_model_without_a_loss_gets_a_clear_error_only_when_the_builtin_step_needs_one() -> None:
    model = kfit.Sequential([kfit.Input((4,)), kfit.layers.Dense(1)])
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match=r"Received: compile\(loss=None\).*override `compute_loss` or `train_step`"):
        model.fit(*_data(), verbose=0)


def test_gan_with_two_optimizers() -> None:
    """The guide's GAN pattern: two sub-models, two optimizers, own trackers, no compiled loss."""

    class GAN(kfit.Model):
        def __init__(self, discriminator: Any, generator: Any, latent_dim: int) -> None:
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.d_loss_tracker = kfit.metrics.Mean(name="d_loss")
            self.g_loss_tracker = kfit.metrics.Mean(name="g_loss")
            self.built = True

        @property
        def metrics(self) -> list[Any]:
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer: Any, g_optimizer: Any, loss_fn: Any) -> None:  # type: ignore[override]
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        def train_step(self, real_images: Any) -> dict[str, Any]:
            if isinstance(real_images, (tuple, list)):
                real_images = real_images[0]
            batch_size = real_images.shape[0]
            generated = self.generator(torch.randn(batch_size, self.latent_dim))
            combined = torch.concat([generated, real_images], axis=0)
            labels = torch.concat([torch.ones((batch_size, 1)), torch.zeros((batch_size, 1))], axis=0)
            labels += 0.05 * torch.rand(labels.shape)
            self.zero_grad()
            d_loss = self.loss_fn(labels, self.discriminator(combined))
            d_loss.backward()
            grads = [v.value.grad for v in self.discriminator.trainable_weights]
            with torch.no_grad():
                self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

            misleading_labels = torch.zeros((batch_size, 1))
            self.zero_grad()
            fakes = self.generator(torch.randn(batch_size, self.latent_dim))
            g_loss = self.loss_fn(misleading_labels, self.discriminator(fakes))
            g_loss.backward()
            grads = [v.value.grad for v in self.generator.trainable_weights]
            with torch.no_grad():
                self.g_optimizer.apply(grads, self.generator.trainable_weights)
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    torch.manual_seed(0)
    discriminator = kfit.Sequential([kfit.Input((6,)), kfit.layers.Dense(4, activation="relu"), kfit.layers.Dense(1)])
    generator = kfit.Sequential([kfit.Input((2,)), kfit.layers.Dense(6)])
    gan = GAN(discriminator, generator, latent_dim=2)
    gan.compile(
        d_optimizer=kfit.optimizers.Adam(learning_rate=0.0003),
        g_optimizer=kfit.optimizers.Adam(learning_rate=0.0003),
        loss_fn=kfit.losses.BinaryCrossentropy(from_logits=True),
    )
    d_before, g_before = discriminator.get_weights(), generator.get_weights()
    steps = _Steps()
    images = np.random.RandomState(4).rand(48, 6).astype("float32")
    history = gan.fit(images, batch_size=16, epochs=2, verbose=0, callbacks=[steps]).history
    assert sorted(history) == ["d_loss", "g_loss"]
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 6
    assert all(not np.allclose(a, b) for a, b in zip(discriminator.get_weights(), d_before))
    assert all(not np.allclose(a, b) for a, b in zip(generator.get_weights(), g_before))
    # The trackers restart each epoch: an epoch's value is the mean of its own batches' losses.
    per_batch = [steps.batch_logs[i]["d_loss"] * (i % 3 + 1) for i in range(6)]
    batch_losses = [per_batch[0], per_batch[1] - per_batch[0], per_batch[2] - per_batch[1],
                    per_batch[3], per_batch[4] - per_batch[3], per_batch[5] - per_batch[4]]
    np.testing.assert_allclose(history["d_loss"], [np.mean(batch_losses[:3]), np.mean(batch_losses[3:])], rtol=1e-5)


def test_a_metric_attribute_replaced_or_deleted_is_no_longer_listed() -> None:
    model = kfit.Sequential([kfit.Input((4,)), kfit.layers.Dense(1)])
    model.a, model.b = kfit.metrics.Mean(name="a"), kfit.metrics.Mean(name="b")
    assert [m.name for m in model.metrics] == ["a", "b"]
    model.a = None
    del model.b
    assert model.metrics == []
