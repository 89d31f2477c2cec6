"""Confusion-matrix metrics against Keras 3: state, results, configs, names in fit, no syncs."""

from __future__ import annotations

import operator
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest
import torch

import kfit
from kfit import metrics
from kfit.metrics import metrics_utils

COUNTS = ["TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives"]
THRESHOLD_CASES = [None, 0.3, [0.1, 0.5, 0.9], [0.0, 0.5, 1.0], [0.0, 0.25, 0.5, 0.75, 1.0]]


def _scores(rs: np.random.RandomState, shape: tuple[int, ...]) -> np.ndarray:
    """Probabilities with exact 0s, 1s and values on common thresholds mixed in."""
    p = rs.rand(*shape).astype("float32")
    flat = p.reshape(-1)
    specials = np.array([0.0, 1.0, 0.5, 0.25, 0.75, 0.3], dtype="float32")
    picks = rs.rand(flat.size) < 0.15
    flat[picks] = rs.choice(specials, picks.sum())
    return p


def _batches(shape: tuple[int, ...], weighted: bool, n: int = 3, seed: int = 0) -> list[tuple]:
    rs = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        y_true = (rs.rand(*shape) > 0.6).astype("float32")
        y_pred = _scores(rs, shape)
        sw = rs.rand(shape[0]).astype("float32") * 2 if weighted else None
        out.append((y_true, y_pred, sw))
    return out


def _keras_state(m) -> dict[str, np.ndarray]:
    return {v.name: keras.ops.convert_to_numpy(v.value) for v in m.variables}


def _compare(ours, theirs, batches, rtol=1e-5, atol=1e-4) -> None:
    for y_true, y_pred, sw in batches:
        ours.update_state(torch.as_tensor(y_true), torch.as_tensor(y_pred),
                          None if sw is None else torch.as_tensor(sw))
        theirs.update_state(y_true, y_pred, sample_weight=sw)
    expected_state = _keras_state(theirs)
    state = {k: v.numpy() for k, v in ours.get_state().items()}
    assert set(state) == set(expected_state)
    for key, value in expected_state.items():
        np.testing.assert_allclose(state[key], value, rtol=rtol, atol=atol, err_msg=key)
    expected = keras.ops.convert_to_numpy(theirs.result())
    result = ours.result()
    assert isinstance(result, torch.Tensor)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result.numpy(), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("cls", COUNTS)
@pytest.mark.parametrize("thresholds", THRESHOLD_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_counts_match_keras(cls, thresholds, weighted):
    batches = _batches((16, 3), weighted)
    _compare(getattr(metrics, cls)(thresholds=thresholds), getattr(keras.metrics, cls)(thresholds=thresholds),
             batches)


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"thresholds": [0.2, 0.5, 0.8]},
        {"thresholds": [0.0, 0.5, 1.0]},
        {"top_k": 2},
        {"class_id": 1},
        {"top_k": 2, "class_id": 2},
        {"thresholds": 0.4, "top_k": 3},
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_precision_recall_match_keras(cls, kwargs, weighted):
    batches = _batches((20, 5), weighted, seed=1)
    _compare(getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs), batches)


@pytest.mark.parametrize("shape", [(32,), (32, 1)])
def test_binary_shapes_match_keras(shape):
    batches = _batches(shape, True, seed=2)
    _compare(metrics.Precision(), keras.metrics.Precision(), batches)
    _compare(metrics.AUC(), keras.metrics.AUC(), batches)


@pytest.mark.parametrize("curve", ["ROC", "PR", "PRGAIN"])
@pytest.mark.parametrize("method", ["interpolation", "minoring", "majoring"])
@pytest.mark.parametrize("weighted", [False, True])
def test_auc_curves_and_summations_match_keras(curve, method, weighted):
    batches = _batches((40, 4), weighted, seed=3)
    _compare(metrics.AUC(curve=curve, summation_method=method),
             keras.metrics.AUC(curve=curve, summation_method=method), batches, rtol=1e-4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_thresholds": 7},
        {"num_thresholds": 2},
        {"thresholds": [0.7, 0.1, 0.4]},
        {"thresholds": [0.25, 0.5, 0.75], "curve": "PR"},
        {"label_weights": [0.5, 1.0, 2.0, 0.0]},
        {"from_logits": True},
        {"multi_label": True},
        {"multi_label": True, "num_labels": 4, "label_weights": [1.0, 2.0, 0.5, 3.0]},
        {"multi_label": True, "curve": "PR", "thresholds": [0.3, 0.6]},
        {"multi_label": True, "curve": "PR", "summation_method": "majoring", "num_thresholds": 11},
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_auc_options_match_keras(kwargs, weighted):
    batches = _batches((40, 4), weighted, seed=4)
    if kwargs.get("from_logits"):
        batches = [(t, (p - 0.5) * 8, w) for t, p, w in batches]
    _compare(metrics.AUC(**kwargs), keras.metrics.AUC(**kwargs), batches, rtol=1e-4)


@pytest.mark.parametrize(
    ("cls", "arg"),
    [("PrecisionAtRecall", "recall"), ("RecallAtPrecision", "precision"),
     ("SensitivityAtSpecificity", "specificity"), ("SpecificityAtSensitivity", "sensitivity")],
)
@pytest.mark.parametrize("kwargs", [{}, {"num_thresholds": 1}, {"num_thresholds": 50, "class_id": 2}])
@pytest.mark.parametrize("weighted", [False, True])
def test_operating_point_metrics_match_keras(cls, arg, kwargs, weighted):
    batches = _batches((30, 3), weighted, seed=5)
    for value in (0.3, 0.8):
        _compare(getattr(metrics, cls)(**{arg: value}, **kwargs),
                 getattr(keras.metrics, cls)(**{arg: value}, **kwargs), batches)


CONFIG_CASES = [
    ("TruePositives", {"thresholds": [0.2, 0.6]}),
    ("FalseNegatives", {}),
    ("Precision", {"top_k": 3, "class_id": 1, "name": "p"}),
    ("Recall", {"thresholds": 0.7}),
    ("AUC", {"curve": "PR", "summation_method": "minoring", "num_thresholds": 9, "from_logits": True}),
    ("AUC", {"thresholds": [0.8, 0.2], "multi_label": True, "num_labels": 2}),
    ("PrecisionAtRecall", {"recall": 0.6, "num_thresholds": 10, "class_id": 0}),
    ("SpecificityAtSensitivity", {"sensitivity": 0.4}),
]


@pytest.mark.parametrize(("cls", "kwargs"), CONFIG_CASES)
def test_config_matches_keras_and_round_trips(cls, kwargs):
    ours = getattr(metrics, cls)(**kwargs)
    theirs = getattr(keras.metrics, cls)(**kwargs)
    config = ours.get_config()
    expected = theirs.get_config()
    for key in ("name",):  # Keras numbers repeated default names per process
        config.pop(key), expected.pop(key)
    assert config == expected
    rebuilt = type(ours).from_config(ours.get_config())
    assert rebuilt.get_config() == ours.get_config()
    assert metrics.deserialize(metrics.serialize(ours)).get_config() == ours.get_config()


def test_auc_label_weights_config_is_a_list():
    config = metrics.AUC(label_weights=[1.0, 0.5]).get_config()
    assert config["label_weights"] == [1.0, 0.5]
    assert metrics.AUC.from_config(config).label_weights.tolist() == [1.0, 0.5]


@pytest.mark.parametrize(
    "metric",
    [metrics.TruePositives(), metrics.Precision(thresholds=[0.3, 0.6]), metrics.Recall(top_k=2),
     metrics.AUC(), metrics.AUC(multi_label=True, num_labels=3), metrics.RecallAtPrecision(0.5)],
    ids=lambda m: type(m).__name__,
)
def test_reset_state_and_resume(metric):
    batches = _batches((10, 3), True, n=4, seed=6)

    def feed(m, part):
        for t, p, w in part:
            m.update_state(torch.as_tensor(t), torch.as_tensor(p), torch.as_tensor(w))

    feed(metric, batches)
    full = metric.result().clone()
    metric.reset_state()
    assert all(float(v.abs().sum()) == 0 for v in metric.variables)
    feed(metric, batches[:2])
    saved = metric.get_state()
    resumed = type(metric).from_config(metric.get_config())
    resumed.set_state(saved)
    feed(resumed, batches[2:])
    torch.testing.assert_close(resumed.result(), full)


def test_multi_label_auc_builds_from_restored_state():
    source = metrics.AUC(multi_label=True)
    source.update_state(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([[0.2, 0.9], [0.7, 0.4]]))
    target = metrics.AUC(multi_label=True)
    target.set_state(source.get_state())
    torch.testing.assert_close(target.result(), source.result())


def test_invalid_arguments_are_explained():
    with pytest.raises(ValueError, match=r"thresholds=\[0.5, 1.5\]"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XYZ")
    with pytest.raises(ValueError, match="summation_method"):
        metrics.AUC(summation_method="middle")
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="num_labels"):
        metrics.AUC(num_labels=3)
    with pytest.raises(ValueError, match="recall"):
        metrics.PrecisionAtRecall(1.5)
    with pytest.raises(ValueError, match="class_id"):
        metrics.Precision(class_id=1).update_state(torch.ones(4), torch.ones(4))
    with pytest.raises(ValueError, match="one-hot"):
        metrics.AUC().update_state(torch.zeros(4), torch.rand(4, 3))


def test_bucketing_agrees_with_direct_comparison():
    # The bucketed counts must equal counting `p > t` at every threshold, in float64.
    rs = np.random.RandomState(7)
    y_true, y_pred = rs.rand(500) > 0.5, _scores(rs, (500,))
    thresholds = [0.0, *[(i + 1) / 9 for i in range(8)], 1.0]
    counts = metrics_utils.confusion_counts(y_true, y_pred, thresholds, evenly_distributed=True)
    t = np.asarray(thresholds, dtype="float32")[:, None]
    above = y_pred[None, :] > t
    expected = {"tp": (above & y_true).sum(1), "fp": (above & ~y_true).sum(1),
                "tn": (~above & ~y_true).sum(1), "fn": (~above & y_true).sum(1)}
    for key, value in expected.items():
        np.testing.assert_array_equal(counts[key].numpy(), value, err_msg=key)


@pytest.mark.parametrize(
    "name",
    ["AUC", "auc", "Precision", "precision", "Recall", "recall", "TruePositives", "true_positives",
     "FalsePositives", "false_positives", "TrueNegatives", "true_negatives", "FalseNegatives",
     "false_negatives"],
)
def test_names_resolve_like_keras(name):
    ours, theirs = metrics.get(name), keras.metrics.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name.rstrip("_0123456789") == theirs.name.rstrip("_0123456789")


def test_directions_match_keras():
    for cls, args in [("Precision", ()), ("Recall", ()), ("AUC", ()), ("PrecisionAtRecall", (0.5,)),
                      ("SensitivityAtSpecificity", (0.5,)), ("TruePositives", ())]:
        theirs = getattr(getattr(keras.metrics, cls)(*args), "_direction", None)
        assert getattr(metrics, cls)(*args).direction == theirs, cls


def _one_hot_data(rows: int = 64, classes: int = 4):
    rs = np.random.RandomState(0)
    x = rs.rand(rows, 8).astype("float32")
    y = np.eye(classes, dtype="float32")[rs.randint(0, classes, rows)]
    return x, y


def _fit_history(k, metric_names, callbacks=()):
    x, y = _one_hot_data()
    model = k.Sequential([k.Input(shape=(8,)), k.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=metric_names)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y),
                        callbacks=list(callbacks))
    return model, history.history


def test_fit_logs_the_names_keras_logs():
    names = ["accuracy", "AUC", "auc", "Precision", "recall", "TruePositives", "false_negatives",
             metrics.AUC(curve="PR", name="pr_auc")]
    _, ours = _fit_history(kfit, names)
    keras_names = [*names[:-1], keras.metrics.AUC(curve="PR", name="pr_auc")]
    _, theirs = _fit_history(keras, keras_names)
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        assert all(np.isfinite(ours[key])) and all(v >= 0 for v in ours[key]), key


@pytest.mark.parametrize("callback_cls", ["EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint"])
@pytest.mark.parametrize("monitor", ["val_auc", "val_Precision", "recall"])
def test_monitor_auto_maximizes_like_keras(callback_cls, monitor, tmp_path):
    names = ["auc", "Precision", "recall"]
    extra = {"filepath": str(tmp_path / "best.weights.h5"), "save_best_only": True,
             "save_weights_only": True} if callback_cls == "ModelCheckpoint" else {}
    ours = getattr(kfit.callbacks, callback_cls)(monitor=monitor, mode="auto", **extra)
    _fit_history(kfit, names, [ours])
    theirs = getattr(keras.callbacks, callback_cls)(monitor=monitor, mode="auto", **extra)
    _fit_history(keras, names, [theirs])
    assert theirs.monitor_op.__name__ == "greater"  # keras.ops.greater: maximize
    assert ours.monitor_op is operator.gt


def _reads_per_fit(host_reads, monkeypatch) -> list[tuple[int, int]]:
    """(tensor reads, kfit host conversions) of a 4-step fit and of a 40-step fit."""
    # Every way a tensor can be read on the host is counted: a per-step read would make the
    # count grow with the number of steps.
    calls = {"n": 0}
    for attr in ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__"):
        original = getattr(torch.Tensor, attr)

        def spy(self, *args, original=original, **kwargs):
            calls["n"] += 1
            return original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, attr, spy)
    rs = np.random.RandomState(0)
    x = rs.rand(400, 8).astype("float32")
    y = np.eye(4, dtype="float32")[rs.randint(0, 4, 400)]
    model = kfit.Sequential([kfit.Input(shape=(8,)), kfit.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  metrics=["accuracy", "AUC", "Precision", "Recall"])
    model.fit(x[:40], y[:40], batch_size=10, epochs=1, verbose=0)  # builds everything
    counts = []
    for rows in (40, 400):
        calls["n"] = host_reads["n"] = 0
        model.fit(x[:rows], y[:rows], batch_size=10, epochs=1, verbose=0)
        counts.append((calls["n"], host_reads["n"]))
    return counts


def test_fit_with_confusion_metrics_reads_nothing_per_step(host_reads, monkeypatch):
    few, many = _reads_per_fit(host_reads, monkeypatch)
    assert few == many
    assert few[1] == 1  # the one batched read of the epoch logs


def test_the_read_counter_sees_a_per_step_read(host_reads, monkeypatch):
    original = metrics.AUC.update_state

    def reading(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.true_positives.sum().item()

    monkeypatch.setattr(metrics.AUC, "update_state", reading)
    few, many = _reads_per_fit(host_reads, monkeypatch)
    assert many[0] - few[0] == 36


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_updates_on_cuda_never_synchronize():
    made = [metrics.AUC(), metrics.AUC(multi_label=True, num_labels=3, curve="PR"), metrics.Precision(),
            metrics.Recall(top_k=2), metrics.TruePositives(thresholds=[0.2, 0.7]),
            metrics.SpecificityAtSensitivity(0.5), metrics.AUC(thresholds=[0.3, 0.9], from_logits=True)]
    batches = [tuple(None if a is None else torch.as_tensor(a, device="cuda") for a in b)
               for b in _batches((64, 3), True, n=2, seed=8)]
    for m in made:  # the first update moves the state to the device
        m.update_state(*batches[0])
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for m in made:
            m.update_state(*batches[1])
            m.update_state(batches[1][0], batches[1][1])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for m in made:
        assert m.result().device.type == "cuda"
