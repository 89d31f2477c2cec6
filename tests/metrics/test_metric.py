"""The Metric base class, and metric lookup (`get`, `resolve_metric`) against Keras 3."""

from __future__ import annotations

import copy
import os
import pickle

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np
import pytest
import torch

from kfit import losses, metrics
from kfit.metrics import Mean, MeanMetricWrapper, Metric

keras = pytest.importorskip("keras")


class TruePositives(Metric):
    """A custom metric written the Keras way (add_variable + assign_add)."""

    def __init__(self, name="tp", **kwargs):
        super().__init__(name=name, **kwargs)
        self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")
        self.seen = self.add_variable(shape=(2,), initializer="ones", name="seen")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = ((y_true > 0.5) & (y_pred > 0.5)).float()
        self.tp.assign_add(hits.sum())
        self.seen.assign_add(torch.ones(2))

    def result(self):
        return self.tp + 0.0


class Pair(Metric):
    """A metric built from two sub-metrics held as attributes."""

    def __init__(self):
        super().__init__(name="pair")
        self.a = Mean(name="a")
        self.b = Mean(name="b")

    def update_state(self, x):
        self.a.update_state(x)
        self.b.update_state(2 * x)

    def result(self):
        return self.a.result() + self.b.result()


def test_custom_metric_written_keras_style():
    m = TruePositives()
    out = m(torch.tensor([1.0, 1.0, 0.0]), torch.tensor([0.9, 0.2, 0.8]))
    assert out.item() == 1.0
    assert m.variables[1].tolist() == [2.0, 2.0]
    assert m.get_state_names() == ["tp", "seen"]
    assert m.get_config() == {"name": "tp", "dtype": "float32"}
    assert m.direction is None


def test_reset_state_zeroes_in_place_without_reallocating():
    m = TruePositives()
    m.update_state(torch.ones(3), torch.ones(3))
    pointers = [v.data_ptr() for v in m.variables]
    tp = m.tp
    m.reset_state()
    assert [v.data_ptr() for v in m.variables] == pointers
    assert m.tp is tp
    assert all(float(v.abs().sum()) == 0.0 for v in m.variables)


def test_to_moves_state_and_keeps_identity():
    m = Mean()
    total = m.total
    m.to("meta")
    assert m.total is total and total.device.type == "meta"
    assert m.device.type == "meta"
    assert isinstance(total, metrics.MetricVariable)


def test_get_state_and_set_state_resume_exactly():
    r = np.random.default_rng(0)
    first = Mean()
    first.update_state(torch.tensor(r.normal(size=5)))
    weights = r.uniform(size=5)
    first.update_state(torch.tensor(r.normal(size=5)), sample_weight=torch.tensor(weights))
    first.update_state(torch.tensor(r.normal(size=(5, 2))))
    state = first.get_state()
    assert set(state) == {"total", "count"}
    assert all(type(v) is torch.Tensor for v in state.values())
    second = Mean()
    second.set_state(state)
    assert torch.equal(first.result(), second.result())
    batch = torch.tensor(r.normal(size=4))
    first.update_state(batch)
    second.update_state(batch)
    assert torch.equal(first.result(), second.result())
    # The saved state is a copy, not a view of the live state.
    first.reset_state()
    assert float(state["count"]) == pytest.approx(10.0 + weights.sum())


def test_unweighted_count_survives_get_state():
    m = Mean()
    m.update_state(torch.ones(3))
    assert m.get_state()["count"].item() == 3.0
    assert m.result().item() == 1.0


def test_set_state_with_wrong_keys_explains_the_expected_keys():
    with pytest.raises(ValueError, match=r"\['count', 'total'\]"):
        Mean().set_state({"total": torch.tensor(1.0)})


def test_sub_metrics_share_state_management():
    m = Pair()
    m.update_state(torch.tensor([1.0, 3.0]))
    assert m.result().item() == 6.0
    state = m.get_state()
    assert set(state) == {"a/total", "a/count", "b/total", "b/count"}
    restored = Pair()
    restored.set_state(state)
    assert restored.result().item() == 6.0
    m.reset_state()
    assert m.result().item() == 0.0
    m.to("meta")
    assert m.a.total.device.type == "meta"


def test_metrics_can_be_copied_and_pickled():
    m = MeanMetricWrapper(losses.mean_absolute_error, name="mae")
    m.update_state(torch.tensor([[1.0]]), torch.tensor([[3.0]]))
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert clone.result().item() == 2.0
        clone.update_state(torch.tensor([[0.0]]), torch.tensor([[0.0]]))
        assert clone.result().item() == 1.0
        assert m.result().item() == 2.0


def test_missing_super_init_is_reported():
    class Broken(Metric):
        def __init__(self):
            self.v = self.add_variable(shape=())

    with pytest.raises(RuntimeError, match=r"super\(\)\.__init__\(\)"):
        Broken()


def test_auto_names_are_snake_case_and_unique():
    class MyFancyMetric(Metric):
        pass

    first, second = MyFancyMetric(), MyFancyMetric()
    assert first.name == "my_fancy_metric"
    assert second.name == "my_fancy_metric_1"


def test_dtype_is_a_string_and_controls_the_state():
    m = Mean(dtype="float64")
    m.update_state(torch.tensor([1.0, 2.0]))
    assert m.dtype == "float64"
    assert m.result().dtype == torch.float64
    assert Mean(dtype=torch.float16).dtype == "float16"


# ----------------------------------------------------------------------------------------
# Lookup: metrics.get and resolve_metric (Keras's compile-time resolution).
# ----------------------------------------------------------------------------------------

GET_IDENTIFIERS = [
    "mae",
    "mse",
    "MAE",
    "mape",
    "msle",
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "RootMeanSquaredError",
    "accuracy",
    "Accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "log_cosh_error",
    "cosine_similarity",
    "mean",
    "sum",
]


@pytest.mark.parametrize("identifier", GET_IDENTIFIERS)
def test_get_matches_keras(identifier):
    ours = metrics.get(identifier)
    theirs = keras.metrics.get(identifier)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name
    assert ours.direction == getattr(theirs, "_direction", None)


@pytest.mark.parametrize(
    "identifier",
    [
        "binary_crossentropy",
        "BinaryCrossentropy",
        "bce",
        "categorical_crossentropy",
        "kl_divergence",
        "hinge",
    ],
)
def test_get_loss_named_metrics_behave_like_keras(identifier):
    ours = metrics.get(identifier)
    theirs = keras.metrics.get(identifier)
    assert ours.name == theirs.name
    assert ours.direction == theirs._direction == "down"
    r = np.random.default_rng(1)
    y_true = np.eye(3, dtype="float32")[r.integers(0, 3, 6)]
    y_pred = r.uniform(size=(6, 3)).astype("float32")
    ours.update_state(torch.tensor(y_true), torch.tensor(y_pred))
    theirs.update_state(y_true, y_pred)
    np.testing.assert_allclose(
        ours.result().numpy(), keras.ops.convert_to_numpy(theirs.result()), rtol=1e-5
    )


def test_get_passes_metrics_and_callables_through():
    m = Mean()
    assert metrics.get(m) is m
    assert metrics.get(len) is len
    assert metrics.get(None) is None
    assert isinstance(metrics.get(metrics.MeanAbsoluteError), metrics.MeanAbsoluteError)


def test_get_unknown_name_suggests_close_matches_and_acc_is_compile_only():
    with pytest.raises(ValueError, match="binary_accuracy") as info:
        metrics.get("binary_acuracy")
    assert "identifier='binary_acuracy' (of type str)" in str(info.value)
    for identifier in ("acc", "binary_acuracy"):
        with pytest.raises(ValueError):
            keras.metrics.get(identifier)
        with pytest.raises(ValueError):
            metrics.get(identifier)


def test_serialize_round_trip():
    m = metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")
    rebuilt = metrics.deserialize(metrics.serialize(m))
    assert type(rebuilt) is type(m) and rebuilt.get_config() == m.get_config()
    assert isinstance(metrics.deserialize("mae"), metrics.MeanAbsoluteError)


def _user_metric(y_true, y_pred):
    return (y_true - y_pred) ** 2


SHAPES = [
    ((8, 1), (8, 1)),
    ((8,), (8, 1)),
    ((8,), (8, 5)),
    ((8, 1), (8, 5)),
    ((8, 5), (8, 5)),
    ((8, 3), (8, 3, 5)),
    ((8, 3), (8, 3)),
]
RESOLVE_IDENTIFIERS = [
    "accuracy",
    "acc",
    "Accuracy",
    "ACC",
    "mae",
    "mse",
    "mean_absolute_error",
    "MeanSquaredError",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "root_mean_squared_error",
]


@pytest.mark.parametrize(("true_shape", "pred_shape"), SHAPES)
@pytest.mark.parametrize("identifier", RESOLVE_IDENTIFIERS)
def test_resolve_metric_matches_keras_compile(identifier, true_shape, pred_shape):
    from keras.src.trainers.compile_utils import get_metric

    y_true, y_pred = np.zeros(true_shape, "float32"), np.zeros(pred_shape, "float32")
    ours = metrics.resolve_metric(identifier, torch.zeros(true_shape), torch.zeros(pred_shape))
    theirs = get_metric(identifier, y_true, y_pred)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name
    assert ours.direction == getattr(theirs, "_direction", None)


@pytest.mark.parametrize(("true_shape", "pred_shape"), SHAPES[:3])
def test_resolve_metric_objects_and_functions_like_keras(true_shape, pred_shape):
    from keras.src.trainers.compile_utils import get_metric

    y_true, y_pred = np.zeros(true_shape, "float32"), np.zeros(pred_shape, "float32")
    pairs = [
        (metrics.Mean(name="avg"), keras.metrics.Mean(name="avg")),
        (metrics.MeanAbsoluteError, keras.metrics.MeanAbsoluteError),
        (_user_metric, _user_metric),
        (losses.mean_absolute_error, keras.losses.mean_absolute_error),
    ]
    for ours_id, theirs_id in pairs:
        ours = metrics.resolve_metric(ours_id, torch.zeros(true_shape), torch.zeros(pred_shape))
        theirs = get_metric(theirs_id, y_true, y_pred)
        assert type(ours).__name__ == type(theirs).__name__
        assert ours.name == theirs.name
        assert ours.direction == getattr(theirs, "_direction", None)
    instance = metrics.Mean(name="kept")
    assert metrics.resolve_metric(instance, y_true, y_pred) is instance


def test_resolved_accuracy_computes_like_keras():
    from keras.src.trainers.compile_utils import get_metric

    r = np.random.default_rng(3)
    y_true = r.integers(0, 4, size=(10, 1))
    y_pred = r.uniform(size=(10, 4)).astype("float32")
    ours = metrics.resolve_metric("acc", torch.tensor(y_true), torch.tensor(y_pred))
    theirs = get_metric("acc", y_true, y_pred)
    ours.update_state(torch.tensor(y_true), torch.tensor(y_pred))
    theirs.update_state(y_true, y_pred)
    np.testing.assert_allclose(
        ours.result().numpy(), keras.ops.convert_to_numpy(theirs.result()), rtol=1e-6
    )


def test_resolve_metric_rejects_none():
    with pytest.raises(ValueError, match="identifier=None"):
        metrics.resolve_metric(None, torch.zeros(2), torch.zeros(2))
