"""Numerical parity of kfit's fit/evaluate/predict with Keras 3 (torch backend).

Each scenario builds one architecture in both frameworks, copies Keras's initial weights into
kfit, trains both with `shuffle=False` and compares everything the callback protocol exposes:
per-batch train and test logs, `History`, `evaluate(return_dict=True)` on held-out data,
`predict` and the final weights, to rtol 2e-4. Keras is a test-only reference here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

import kfit
from kfit.callbacks.callback_list import HOOKS

keras = pytest.importorskip("keras")

RTOL = 2e-4



def _recorder_class(base: type) -> type:
    """A callback class on `base` that records every hook call: (hook, index, logs copy)."""

    def make_hook(hook: str) -> Callable[..., None]:
        takes_index = "batch" in hook or "epoch" in hook

        # Keras passes `logs` by keyword, kfit positionally: accept both.
        def record(self: Any, *args: Any, logs: Any = None) -> None:
            index = args[0] if takes_index else None
            if len(args) > int(takes_index):
                logs = args[int(takes_index)]
            self.calls.append((hook, index, None if logs is None else dict(logs)))
            if hook.endswith("_begin") and not takes_index:
                self.params_at[hook].append(dict(self.params))

        return record

    def __init__(self: Any) -> None:
        base.__init__(self)
        self.calls = []
        self.params_at = {h: [] for h in HOOKS}

    namespace: dict[str, Any] = {"__init__": __init__}
    namespace.update({hook: make_hook(hook) for hook in HOOKS})
    return type(f"Recorder_{base.__module__.split('.')[0]}", (base,), namespace)


KerasRecorder = _recorder_class(keras.callbacks.Callback)
KfitRecorder = _recorder_class(kfit.callbacks.Callback)


@dataclass
class Scenario:
    """One training set-up, described once and built in both frameworks."""

    name: str
    input_dim: int
    layers: list[tuple[int, str | None]]  # (units, activation) per Dense layer
    optimizer: Callable[[Any], Any]  # optimizers module -> optimizer instance
    loss: Callable[[Any], Any]  # losses module -> loss (instance or string)
    # -> x, y, x_test, y_test and optionally sample_weight, validation_data, test_sample_weight
    data: Callable[[], dict[str, Any]]
    metrics: list[str] = field(default_factory=list)
    weighted_metrics: list[str] | None = None
    fit_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    epochs: int = 2


def _guide_data() -> dict[str, Any]:
    rs = np.random.RandomState(0)
    x = rs.rand(1000, 784).astype("float32")
    y = rs.randint(0, 10, 1000).astype("float32")
    x_test = rs.rand(1000, 784).astype("float32")
    y_test = rs.randint(0, 10, 1000).astype("float32")
    return {"x": x, "y": y, "x_test": x_test, "y_test": y_test}


def _features(rs: np.random.RandomState, n: int, d: int) -> np.ndarray:
    return rs.normal(size=(n, d)).astype("float32")


def _classification_data() -> dict[str, Any]:
    rs = np.random.RandomState(1)
    x, x_test = _features(rs, 300, 8), _features(rs, 100, 8)
    w = rs.normal(size=(8, 3))
    return {"x": x, "y": np.argmax(x @ w, axis=1), "x_test": x_test, "y_test": np.argmax(x_test @ w, axis=1)}


def _weighted_regression_data() -> dict[str, Any]:
    rs = np.random.RandomState(2)
    x, x_val, x_test = _features(rs, 300, 6), _features(rs, 75, 6), _features(rs, 100, 6)
    w = rs.normal(size=(6, 1)).astype("float32")
    y = (x @ w + 0.1 * rs.normal(size=(300, 1))).astype("float32")
    val_weight = rs.uniform(0.1, 2.0, size=75).astype("float32")
    return {
        "x": x,
        "y": y,
        "sample_weight": rs.uniform(0.1, 2.0, size=300).astype("float32"),
        "validation_data": (x_val, (x_val @ w).astype("float32"), val_weight),
        "x_test": x_test,
        "y_test": (x_test @ w).astype("float32"),
        "test_sample_weight": rs.uniform(0.1, 2.0, size=100).astype("float32"),
    }


def _binary_data() -> dict[str, Any]:
    rs = np.random.RandomState(3)
    x, x_test = _features(rs, 300, 5), _features(rs, 100, 5)
    w = rs.normal(size=(5, 1))
    return {
        "x": x,
        "y": (x @ w > 0).astype("float32"),
        "x_test": x_test,
        "y_test": (x_test @ w > 0).astype("float32"),
    }


def _two_target_data() -> dict[str, Any]:
    rs = np.random.RandomState(4)
    x, x_test = _features(rs, 300, 4), _features(rs, 100, 4)
    w = 3.0 * rs.normal(size=(4, 2))
    return {
        "x": x,
        "y": (x @ w).astype("float32"),
        "x_test": x_test,
        "y_test": (x_test @ w).astype("float32"),
    }


SCENARIOS = [
    Scenario(
        name="guide_rmsprop_mse_mae",
        input_dim=784,
        layers=[(1, None)],
        optimizer=lambda o: o.RMSprop(learning_rate=0.1),
        loss=lambda losses: "mean_squared_error",
        metrics=["mean_absolute_error"],
        data=_guide_data,
        fit_kwargs={"validation_split": 0.5},
        batch_size=128,
        epochs=3,
    ),
    Scenario(
        name="mlp_adam_sparse_ce_logits",
        input_dim=8,
        layers=[(16, "relu"), (3, None)],
        optimizer=lambda o: o.Adam(learning_rate=0.01),
        loss=lambda losses: losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        data=_classification_data,
        fit_kwargs={"validation_split": 0.2},
        epochs=3,
    ),
    Scenario(
        name="sgd_nesterov_mae_sample_weight",
        input_dim=6,
        layers=[(8, "tanh"), (1, None)],
        optimizer=lambda o: o.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
        loss=lambda losses: "mae",
        metrics=["mse"],
        weighted_metrics=["mae"],
        data=_weighted_regression_data,
        batch_size=64,
        epochs=3,
    ),
    Scenario(
        name="rmsprop_defaults_binary_ce",
        input_dim=5,
        layers=[(4, "relu"), (1, "sigmoid")],
        optimizer=lambda o: o.RMSprop(),
        loss=lambda losses: "binary_crossentropy",
        metrics=["accuracy"],
        data=_binary_data,
        epochs=2,
    ),
    Scenario(
        name="adamw_huber",
        input_dim=4,
        layers=[(2, None)],
        optimizer=lambda o: o.AdamW(learning_rate=0.05, weight_decay=0.1),
        loss=lambda losses: losses.Huber(delta=1.0),
        metrics=["mae"],
        data=_two_target_data,
        batch_size=48,
        epochs=3,
    ),
]


def _build_pair(sc: Scenario) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    keras_model = keras.Sequential(
        [keras.Input(shape=(sc.input_dim,))]
        + [keras.layers.Dense(units, activation=act) for units, act in sc.layers]
    )
    kfit_layers = [
        kfit.layers.Dense(units, activation=act, input_dim=sc.input_dim if i == 0 else None)
        for i, (units, act) in enumerate(sc.layers)
    ]
    kfit_model = kfit.Sequential(kfit_layers)
    kfit_model.set_weights(keras_model.get_weights())
    for model, module in ((keras_model, keras), (kfit_model, kfit)):
        model.compile(
            optimizer=sc.optimizer(module.optimizers),
            loss=sc.loss(module.losses),
            metrics=list(sc.metrics),
            weighted_metrics=None if sc.weighted_metrics is None else list(sc.weighted_metrics),
        )
    return keras_model, kfit_model


@dataclass
class Run:
    recorder: Any
    history: dict[str, list[float]]
    epochs: list[int]
    evaluated: dict[str, float]
    predicted: np.ndarray
    weights: list[np.ndarray]


def _run(model: Any, recorder: Any, sc: Scenario, data: dict[str, Any]) -> Run:
    fit_kwargs = dict(sc.fit_kwargs)
    for key in ("sample_weight", "validation_data"):
        if key in data:
            fit_kwargs[key] = data[key]
    history = model.fit(
        data["x"], data["y"], batch_size=sc.batch_size, epochs=sc.epochs, shuffle=False,
        verbose=0, callbacks=[recorder], **fit_kwargs,
    )
    evaluated = model.evaluate(
        data["x_test"], data["y_test"], batch_size=sc.batch_size, verbose=0,
        sample_weight=data.get("test_sample_weight"), callbacks=[recorder], return_dict=True,
    )
    predicted = model.predict(data["x_test"], batch_size=sc.batch_size, verbose=0, callbacks=[recorder])
    return Run(recorder, dict(history.history), list(history.epoch), evaluated, np.asarray(predicted),
               [np.asarray(w) for w in model.get_weights()])


@pytest.fixture(scope="module", params=SCENARIOS, ids=[sc.name for sc in SCENARIOS])
def runs(request: pytest.FixtureRequest) -> tuple[Run, Run, Scenario]:
    sc: Scenario = request.param
    data = sc.data()
    keras_model, kfit_model = _build_pair(sc)
    for k_w, f_w in zip(keras_model.get_weights(), kfit_model.get_weights()):
        np.testing.assert_array_equal(k_w, f_w)
    return _run(keras_model, KerasRecorder(), sc, data), _run(kfit_model, KfitRecorder(), sc, data), sc


def _close(actual: Any, expected: Any, what: str) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype="float64"), np.asarray(expected, dtype="float64"),
                               rtol=RTOL, atol=0, err_msg=what)


def _close_array(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    # Entries of a weight or output array that pass near zero carry the float32 rounding of the
    # array's scale, not of their own value, so they get an absolute floor 1e-5 of that scale.
    atol = 1e-5 * float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual.astype("float64"), expected.astype("float64"), rtol=RTOL, atol=atol,
                               err_msg=what)


def _batch_logs(recorder: Any, hook: str) -> list[tuple[int, dict[str, Any]]]:
    return [(index, logs) for name, index, logs in recorder.calls if name == hook]


@pytest.mark.parametrize("hook", ["on_train_batch_end", "on_test_batch_end"])
def test_per_batch_logs_match_keras(runs: tuple[Run, Run, Scenario], hook: str) -> None:
    keras_run, kfit_run, _ = runs
    expected = _batch_logs(keras_run.recorder, hook)
    got = _batch_logs(kfit_run.recorder, hook)
    assert [i for i, _ in got] == [i for i, _ in expected]
    for n, ((index, k_logs), (_, f_logs)) in enumerate(zip(expected, got)):
        assert list(f_logs) == list(k_logs), f"{hook} call {n} (batch {index})"
        assert all(type(v) is float for v in f_logs.values())
        _close([f_logs[k] for k in k_logs], [k_logs[k] for k in k_logs], f"{hook} call {n} (batch {index})")


def test_epoch_logs_and_history_match_keras(runs: tuple[Run, Run, Scenario]) -> None:
    keras_run, kfit_run, _ = runs
    assert kfit_run.epochs == keras_run.epochs
    assert list(kfit_run.history) == list(keras_run.history)
    for key, values in keras_run.history.items():
        _close(kfit_run.history[key], values, f"history[{key!r}]")
    for hook in ("on_epoch_end", "on_test_end", "on_train_end"):
        expected = _batch_logs(keras_run.recorder, hook)
        got = _batch_logs(kfit_run.recorder, hook)
        assert len(got) == len(expected), hook
        for (_, k_logs), (_, f_logs) in zip(expected, got):
            assert list(f_logs) == list(k_logs), hook
            _close([f_logs[k] for k in k_logs], [k_logs[k] for k in k_logs], hook)


def test_evaluate_matches_keras(runs: tuple[Run, Run, Scenario]) -> None:
    keras_run, kfit_run, _ = runs
    assert list(kfit_run.evaluated) == list(keras_run.evaluated)
    for key, value in keras_run.evaluated.items():
        _close(kfit_run.evaluated[key], value, f"evaluate[{key!r}]")


def test_predict_matches_keras(runs: tuple[Run, Run, Scenario]) -> None:
    keras_run, kfit_run, _ = runs
    assert kfit_run.predicted.shape == keras_run.predicted.shape
    assert kfit_run.predicted.dtype == keras_run.predicted.dtype
    _close_array(kfit_run.predicted, keras_run.predicted, "predict")
    k_outputs = [logs["outputs"] for _, logs in _batch_logs(keras_run.recorder, "on_predict_batch_end")]
    f_outputs = [logs["outputs"] for _, logs in _batch_logs(kfit_run.recorder, "on_predict_batch_end")]
    assert [o.shape for o in f_outputs] == [o.shape for o in k_outputs]
    _close_array(np.concatenate(f_outputs), np.concatenate(k_outputs), "on_predict_batch_end outputs")


def test_final_weights_match_keras(runs: tuple[Run, Run, Scenario]) -> None:
    keras_run, kfit_run, _ = runs
    assert [w.shape for w in kfit_run.weights] == [w.shape for w in keras_run.weights]
    for i, (f_w, k_w) in enumerate(zip(kfit_run.weights, keras_run.weights)):
        _close_array(f_w, k_w, f"weight {i}")


# ---------------------------------------------------------------- the protocol, hook by hook
@pytest.fixture(scope="module")
def guide_protocol() -> tuple[Any, Any]:
    sc = SCENARIOS[0]
    data = _guide_data()
    recorders = KerasRecorder(), KfitRecorder()
    for model, recorder in zip(_build_pair(sc), recorders):
        model.fit(data["x"], data["y"], batch_size=128, epochs=2, shuffle=False, verbose=0,
                  validation_split=0.5, callbacks=[recorder])
        model.evaluate(data["x_test"], data["y_test"], batch_size=128, verbose=0, callbacks=[recorder])
        model.predict(data["x_test"], batch_size=128, callbacks=[recorder])
    return recorders


def test_hook_sequence_matches_keras(guide_protocol: tuple[Any, Any]) -> None:
    keras_rec, kfit_rec = guide_protocol
    assert [(h, i) for h, i, _ in kfit_rec.calls] == [(h, i) for h, i, _ in keras_rec.calls]


def test_log_keys_match_keras_at_every_hook(guide_protocol: tuple[Any, Any]) -> None:
    keras_rec, kfit_rec = guide_protocol
    assert len(kfit_rec.calls) == len(keras_rec.calls)
    for (hook, index, k_logs), (_, _, f_logs) in zip(keras_rec.calls, kfit_rec.calls):
        assert k_logs is not None and f_logs is not None
        assert list(f_logs) == list(k_logs), f"{hook}({index})"


def test_params_at_begin_hooks_match_keras(guide_protocol: tuple[Any, Any]) -> None:
    keras_rec, kfit_rec = guide_protocol
    for hook in ("on_train_begin", "on_test_begin", "on_predict_begin"):
        assert kfit_rec.params_at[hook] == keras_rec.params_at[hook], hook
        assert kfit_rec.params_at[hook], hook
