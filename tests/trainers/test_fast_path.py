"""The built-in step's fast path: taken when it applies, and only then, with the same numbers.

Numbers are checked against a hand-written torch loop (plain SGD, Keras's running means), so
both of the step's paths are held to an outside reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import kfit
from kfit.trainers.compile_utils import CompileLoss
from kfit.trainers.fast_path import FastPath, Pairing, loss_kernel, metric_kernel

ROWS, BATCH, LR = 10, 4, 0.05  # batches of 4, 4 and 2: the last one is short


@pytest.fixture
def general_loss_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the batches whose loss went through `CompileLoss`, the general path."""
    count = {"n": 0}
    original = CompileLoss.__call__

    def counting(self: CompileLoss, *args: Any, **kwargs: Any) -> torch.Tensor:
        count["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CompileLoss, "__call__", counting)
    return count


def dense_model(units: int, loss: Any, metrics: list[Any], activation: str | None = None) -> kfit.Sequential:
    model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(units, activation=activation)])
    model.compile(optimizer=kfit.optimizers.SGD(learning_rate=LR), loss=loss, metrics=metrics)
    return model


def _bce_logits(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (p.clamp(min=0) - p * y + torch.log1p(torch.exp(-p.abs()))).mean()


def _huber_half(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    e = (p - y).abs()
    return torch.where(e <= 0.5, 0.5 * e**2, 0.5 * (e - 0.25)).mean()


def _sparse_ce(p: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return -torch.log_softmax(p, dim=-1).gather(1, labels.reshape(-1, 1)).mean()


# Per-sample metric values, written out.
ABS = ("mae", lambda p, y: (p - y).abs().mean(-1))
SQUARED = ("mse", lambda p, y: ((p - y) ** 2).mean(-1))
HITS = ("accuracy", lambda p, labels: (p.argmax(-1) == labels.reshape(-1)).double())
ONE_HOT_HITS = ("accuracy", lambda p, y: (p.argmax(-1) == y.argmax(-1)).double())
ACCURACY = ("accuracy", lambda p, y: ((p > 0.5).double() == y).double().mean(-1))


def _bce_probabilities(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-7, 1 - 1e-7)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


@dataclass
class Case:
    units: int
    loss: Any
    hand_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    make_y: Callable[[np.random.RandomState], np.ndarray]
    metrics: tuple[tuple[str, Callable[..., torch.Tensor]], ...] = (ABS, SQUARED)
    activation: str | None = None

    @property
    def sparse(self) -> bool:
        return self.metrics == (HITS,)


CASES = {
    "mse, (batch,) target": Case(1, "mse", lambda p, y: ((p - y) ** 2).mean(),
                                 lambda r: r.randn(ROWS).astype("float32")),
    "mae, float64 (batch, 1) target": Case(1, "mae", lambda p, y: (p - y).abs().mean(), lambda r: r.randn(ROWS, 1)),
    "huber delta 0.5": Case(2, kfit.losses.Huber(delta=0.5), _huber_half,
                            lambda r: r.randn(ROWS, 2).astype("float32")),
    "binary crossentropy from logits": Case(2, kfit.losses.BinaryCrossentropy(from_logits=True), _bce_logits,
                                            lambda r: r.randint(0, 2, (ROWS, 2)).astype("float32")),
    "binary crossentropy on sigmoid probabilities, with accuracy": Case(
        1, "binary_crossentropy", lambda p, y: _bce_probabilities(p, y),
        lambda r: r.randint(0, 2, ROWS).astype("float32"), (ACCURACY,), activation="sigmoid"),
    "categorical crossentropy from logits": Case(
        3, kfit.losses.CategoricalCrossentropy(from_logits=True),
        lambda p, y: -(y * torch.log_softmax(p, dim=-1)).sum(-1).mean(),
        lambda r: np.eye(3, dtype="float32")[r.randint(0, 3, ROWS)]),
    "categorical crossentropy on softmax probabilities, with accuracy": Case(
        3, "categorical_crossentropy",
        lambda p, y: -(y * torch.log(p.clamp(1e-7, 1 - 1e-7))).sum(-1).mean(),
        lambda r: np.eye(3, dtype="float32")[r.randint(0, 3, ROWS)], (ONE_HOT_HITS,), activation="softmax"),
    "categorical crossentropy from logits, with accuracy": Case(
        3, kfit.losses.CategoricalCrossentropy(from_logits=True),
        lambda p, y: -(y * torch.log_softmax(p, dim=-1)).sum(-1).mean(),
        lambda r: np.eye(3, dtype="float32")[r.randint(0, 3, ROWS)], (ONE_HOT_HITS,)),
    "sparse crossentropy, int64 labels": Case(4, kfit.losses.SparseCategoricalCrossentropy(from_logits=True),
                                              _sparse_ce, lambda r: r.randint(0, 4, ROWS), (HITS,)),
    "sparse crossentropy on softmax probabilities": Case(
        4, "sparse_categorical_crossentropy",
        lambda p, labels: -torch.log(p.clamp(1e-7, 1 - 1e-7)).gather(1, labels.reshape(-1, 1)).mean(),
        lambda r: r.randint(0, 4, ROWS), (HITS,), activation="softmax"),
    "sparse crossentropy, uint8 (batch, 1) labels": Case(
        4, kfit.losses.SparseCategoricalCrossentropy(from_logits=True), _sparse_ce,
        lambda r: r.randint(0, 4, (ROWS, 1)).astype("uint8"), (HITS,)),
}


def _hand_target(case: Case, y: np.ndarray, units: int) -> torch.Tensor:
    if case.sparse:
        return torch.tensor(y.astype("int64")).reshape(-1)
    return torch.tensor(y, dtype=torch.float64).reshape(-1, units)


def _activate(case: Case, z: torch.Tensor) -> torch.Tensor:
    if case.activation == "softmax":
        return torch.softmax(z, dim=-1)
    return torch.sigmoid(z) if case.activation == "sigmoid" else z


def hand_loop(case: Case, weights: list[np.ndarray], x: np.ndarray, y: np.ndarray,
              epochs: int) -> tuple[list[dict[str, float]], list[np.ndarray]]:
    """SGD on `x @ kernel + bias` with Keras's epoch means (weighted by batch size), in float64."""
    kernel, bias = (torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights)
    xt, yt = torch.tensor(x, dtype=torch.float64), _hand_target(case, y, case.units)
    history = []
    for _ in range(epochs):
        sums = dict.fromkeys(["loss", *(name for name, _ in case.metrics)], 0.0)
        for start in range(0, ROWS, BATCH):
            xb, yb = xt[start:start + BATCH], yt[start:start + BATCH]
            pred = _activate(case, xb @ kernel + bias)
            loss = case.hand_loss(pred, yb)
            kernel.grad = bias.grad = None
            loss.backward()
            with torch.no_grad():
                kernel -= LR * kernel.grad
                bias -= LR * bias.grad
                sums["loss"] += float(loss) * xb.shape[0]
                for name, fn in case.metrics:
                    sums[name] += float(fn(pred, yb).sum())
        history.append({k: v / ROWS for k, v in sums.items()})
    return history, [kernel.detach().numpy(), bias.detach().numpy()]


@pytest.mark.parametrize("name", list(CASES))
def test_fit_and_evaluate_match_a_hand_written_loop(name: str, general_loss_calls: dict[str, int]) -> None:
    case = CASES[name]
    r = np.random.RandomState(1)
    x, y = r.randn(ROWS, 3).astype("float32"), case.make_y(r)
    model = dense_model(case.units, case.loss, [metric for metric, _ in case.metrics], case.activation)
    model(torch.zeros(1, 3))
    start = model.get_weights()

    history = model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0).history
    expected, weights = hand_loop(case, start, x, y, epochs=2)

    assert general_loss_calls["n"] == 0  # every batch took the fused path, the first one too
    for key in expected[0]:
        np.testing.assert_allclose(history[key], [e[key] for e in expected], rtol=1e-5, atol=1e-6)
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    logs = model.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    with torch.no_grad():
        z = torch.tensor(x, dtype=torch.float64) @ torch.tensor(weights[0]) + torch.tensor(weights[1])
        pred = _activate(case, z)
        yt = _hand_target(case, y, case.units)
        batch_losses = [float(case.hand_loss(pred[s:s + BATCH], yt[s:s + BATCH])) * len(pred[s:s + BATCH])
                        for s in range(0, ROWS, BATCH)]
    np.testing.assert_allclose(logs["loss"], sum(batch_losses) / ROWS, rtol=1e-5, atol=1e-6)
    for metric, fn in case.metrics:
        np.testing.assert_allclose(logs[metric], float(fn(pred, yt).mean()), rtol=1e-5, atol=1e-6)
    assert general_loss_calls["n"] == 0


def _multi_output_model() -> kfit.Model:
    class TwoHeads(kfit.Model):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = kfit.layers.Dense(1), kfit.layers.Dense(1)

        def call(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [self.a(x), self.b(x)]

    model = TwoHeads()
    model.compile(optimizer="sgd", loss=["mse", "mse"])
    return model


def _custom_metric(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return (y_true - y_pred).abs().amax(dim=-1)


# name -> (model, fit keyword arguments)
GENERAL: dict[str, Callable[[np.ndarray], tuple[Any, dict[str, Any]]]] = {
    "sample weights": lambda y: (dense_model(1, "mse", ["mae"]), {"sample_weight": np.ones(ROWS, "float32")}),
    "a loss without a fused form": lambda y: (dense_model(1, "msle", ["mae"]), {}),
    "bce with label smoothing": lambda y: (
        dense_model(1, kfit.losses.BinaryCrossentropy(label_smoothing=0.1), []), {}),
    "loss weights": lambda y: (_weighted(dense_model(1, "mse", [])), {}),
    "two outputs": lambda y: (_multi_output_model(), {"y": [y, y]}),
    "sparse crossentropy with float labels": lambda y: (
        dense_model(3, kfit.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"]),
        {"y": np.floor(y * 3)}),
}


# Metrics without a fused form: the loss still takes the fused path, and they update themselves.
OWN_UPDATES: dict[str, Callable[[], tuple[Any, str, Callable[[np.ndarray, np.ndarray], float]]]] = {
    "a custom metric function": lambda: (
        dense_model(1, "mse", [_custom_metric]), "_custom_metric",
        lambda y, p: float(np.abs(y.reshape(-1, 1) - p).max(axis=-1).mean())),
    "mape beside mse": lambda: (
        dense_model(1, "mse", ["mape"]), "mape",
        lambda y, p: float((100 * np.abs((y.reshape(-1, 1) - p) / np.maximum(np.abs(y.reshape(-1, 1)), 1e-7))).mean())),
    "top-2 accuracy beside sparse crossentropy": lambda: (
        dense_model(3, kfit.losses.SparseCategoricalCrossentropy(from_logits=True),
                    ["accuracy", kfit.metrics.SparseTopKCategoricalAccuracy(k=2)]),
        "sparse_top_k_categorical_accuracy",
        lambda y, p: float((np.argsort(-p, axis=-1)[:, :2] == y.reshape(-1, 1)).any(axis=-1).mean())),
}


@pytest.mark.parametrize("case", list(OWN_UPDATES))
def test_a_metric_without_a_fused_form_rides_along_the_fused_loss(
    case: str, general_loss_calls: dict[str, int]
) -> None:
    # W12's case (AUC, Precision, Recall beside a fused crossentropy): one metric without a
    # kernel no longer sends the whole batch, loss included, down the general path.
    r = np.random.RandomState(4)
    model, name, expected = OWN_UPDATES[case]()
    x = r.rand(ROWS, 3).astype("float32")
    labels = model.output_shape[-1] == 3
    # Targets shaped like the outputs: a custom function sees them as the batch gives them.
    y = r.randint(0, 3, ROWS) if labels else (r.rand(ROWS, 1).astype("float32") + 0.5)
    logs = model.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    assert general_loss_calls["n"] == 0
    # The metric without a fused form, checked against numpy on the predictions.
    predictions = model.predict(x, verbose=0).astype("float64")
    assert logs[name] == pytest.approx(expected(y.astype("float64"), predictions), rel=1e-5)


def _weighted(model: kfit.Sequential) -> kfit.Sequential:
    model.compile(optimizer="sgd", loss="mse", loss_weights=2.0)
    return model


@pytest.mark.parametrize("case", list(GENERAL))
def test_every_batch_takes_the_general_path_when_the_fused_one_does_not_apply(
    case: str, general_loss_calls: dict[str, int]
) -> None:
    r = np.random.RandomState(2)
    x, y = r.rand(ROWS, 3).astype("float32"), r.rand(ROWS).astype("float32")
    model, kwargs = GENERAL[case](y)
    model.fit(x, kwargs.pop("y", y), batch_size=BATCH, epochs=2, shuffle=False, verbose=0, **kwargs)
    assert general_loss_calls["n"] == 6  # 3 batches x 2 epochs


def test_a_batch_that_does_not_fit_falls_back_and_the_next_one_goes_fast(general_loss_calls: dict[str, int]) -> None:
    model = dense_model(1, "mse", ["mae"])
    x, y = torch.rand(8, 3), torch.rand(8)
    model.train_on_batch(x, y)  # the first batch plans the fast path
    model.train_on_batch(x, y, sample_weight=torch.ones(8))
    model.train_on_batch(x, y)
    assert general_loss_calls["n"] == 1


def _plan(model: kfit.Model) -> FastPath | None:
    return FastPath.plan(model._compile_loss, model._compile_metrics, model.metrics[0])


@pytest.fixture
def planned() -> FastPath:
    model = dense_model(2, "mse", ["mae"])
    model.train_on_batch(torch.ones(4, 3), torch.zeros(4, 2))
    path = _plan(model)
    assert path is not None
    return path


def test_target_is_cast_and_given_the_prediction_rank(planned: FastPath) -> None:
    pred = torch.zeros(4, 1)
    target = planned.target(torch.arange(4, dtype=torch.float64), pred, None)
    assert target is not None and target.dtype == torch.float32 and target.shape == (4, 1)
    assert target.reshape(-1).tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "y, y_pred, sample_weight",
    [
        (torch.zeros(4, 2), torch.zeros(4, 2), torch.ones(4)),  # weighted
        (torch.zeros(4, 3), torch.zeros(4, 2), None),  # shapes differ
        (torch.zeros(4, 2, 1), torch.zeros(4, 2, 1), None),  # 3-D: per-sample means differ from the fused sum
        (torch.zeros(4, 2), torch.zeros(4, 2, dtype=torch.float64), None),  # not the loss dtype
        (torch.zeros(4, 2, device="meta"), torch.zeros(4, 2), None),  # another device
        ([torch.zeros(4, 2)], torch.zeros(4, 2), None),  # a structure
    ],
)
def test_target_refuses_batches_the_fused_ops_do_not_cover(
    planned: FastPath, y: Any, y_pred: Any, sample_weight: Any
) -> None:
    assert planned.target(y, y_pred, sample_weight) is None


def test_no_plan_before_the_first_batch_and_a_metric_of_another_dtype_updates_itself() -> None:
    metric = kfit.metrics.MeanAbsoluteError(dtype="float64")
    model = dense_model(1, "mse", [metric])
    assert _plan(model) is None
    model.train_on_batch(torch.ones(4, 3), torch.zeros(4))
    path = _plan(model)
    assert path is not None and path.metric_updates == [] and path.own_updates == [metric]


@pytest.fixture
def planned_sparse() -> FastPath:
    model = dense_model(3, kfit.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    model.train_on_batch(torch.ones(4, 3), torch.zeros(4, dtype=torch.int64))
    path = _plan(model)
    assert path is not None and path.pairing is Pairing.LABELS
    return path


def test_sparse_target_is_an_int64_vector_of_the_labels(planned_sparse: FastPath) -> None:
    target = planned_sparse.target(torch.tensor([[2], [0], [1], [1]], dtype=torch.uint8), torch.zeros(4, 3), None)
    assert target is not None and target.dtype == torch.int64 and target.tolist() == [2, 0, 1, 1]


@pytest.mark.parametrize(
    "labels",
    [
        torch.tensor([2.0, 0.0, 1.0, 1.0]),  # float labels: the general path casts them as Keras does
        torch.tensor([True, False, True, True]),
        torch.tensor([2, 0, 1]),  # not one per row
        torch.zeros(4, 3, dtype=torch.int64),  # not labels
    ],
)
def test_sparse_target_refuses_anything_but_integer_labels(planned_sparse: FastPath, labels: torch.Tensor) -> None:
    assert planned_sparse.target(labels, torch.zeros(4, 3), None) is None


def test_subclasses_that_change_the_loss_or_the_metric_update_are_called_on_every_batch() -> None:
    class DoubledMSE(kfit.losses.MeanSquaredError):
        def call(self, y_true: Any, y_pred: Any) -> torch.Tensor:
            return 2.0 * super().call(y_true, y_pred)

    class CountingMAE(kfit.metrics.MeanAbsoluteError):
        updates = 0

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
            CountingMAE.updates += 1
            super().update_state(y_true, y_pred, sample_weight)

    r = np.random.RandomState(3)
    x, y = r.rand(ROWS, 3).astype("float32"), r.rand(ROWS).astype("float32")
    model = dense_model(1, DoubledMSE(), [CountingMAE()])
    model(torch.zeros(1, 3))
    start = model.get_weights()
    history = model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0).history
    case = Case(1, None, lambda p, t: 2.0 * ((p - t) ** 2).mean(), lambda r: y, (ABS,))
    expected, weights = hand_loop(case, start, x, y, epochs=2)
    np.testing.assert_allclose(history["loss"], [e["loss"] for e in expected], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[0], weights[0], rtol=1e-5, atol=1e-6)
    assert CountingMAE.updates == 6


def test_repeated_evaluations_agree_to_the_last_bit() -> None:
    # The first batch builds the metrics and takes the fused path too, so every evaluation of the
    # same data runs the same kernels.
    model = dense_model(2, "mse", ["mae", "mse"])
    x, y = torch.rand(10, 3), torch.rand(10, 2)
    first = model.evaluate(x, y, batch_size=4, verbose=0)
    assert model.evaluate(x, y, batch_size=4, verbose=0) == first
    assert model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True) == dict(
        zip(["loss", "mae", "mse"], first)
    )


def test_kernel_registries_are_keyed_by_the_public_loss_functions_and_metric_classes() -> None:
    assert loss_kernel(kfit.losses.Huber(delta=2.0)).pairing is Pairing.SAME_SHAPE
    assert loss_kernel(kfit.losses.SparseCategoricalCrossentropy(from_logits=True)).pairing is Pairing.LABELS
    assert loss_kernel(kfit.losses.SparseCategoricalCrossentropy(ignore_class=0)) is None
    assert loss_kernel(kfit.losses.LossFunctionWrapper(kfit.losses.mean_squared_error)) is not None
    assert loss_kernel(kfit.losses.LossFunctionWrapper(lambda t, p: (t - p).abs())) is None
    assert metric_kernel(kfit.metrics.SparseCategoricalAccuracy()).pairing is Pairing.LABELS
    assert metric_kernel(kfit.metrics.BinaryAccuracy(threshold=0.7)).per_element

    class Sub(kfit.metrics.MeanAbsoluteError):
        pass

    assert metric_kernel(Sub()) is None  # exact classes only: a subclass's code must run
