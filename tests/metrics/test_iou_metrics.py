"""The IoU metrics against Keras 3: confusion matrices over several batches, configs, names."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import re
import warnings

import numpy as np
import pytest
import torch

import kfit
from kfit import metrics
from kfit.metrics import iou_metrics

keras = pytest.importorskip("keras")

C = 4
SHAPE = (6, 5)  # e.g. a batch of 6 rows of 5 pixels


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def base_name(name: str) -> str:
    # Default IoU names are made unique per process (`mean_io_u_2`): compare the stem.
    return re.sub(r"_\d+$", "", name)


def sparse_batch(r: np.random.Generator):
    # -1 and C are outside [0, C): both frameworks must drop those entries.
    return r.integers(-1, C + 1, size=SHAPE), r.integers(0, C, size=SHAPE)


def one_hot_batch(r: np.random.Generator):
    y_true = np.eye(C, dtype="float32")[r.integers(0, C, size=SHAPE)]
    return y_true, r.uniform(size=(*SHAPE, C)).astype("float32")


CASES = [
    ("MeanIoU", {"num_classes": C}, sparse_batch),
    ("MeanIoU", {"num_classes": C, "ignore_class": 0}, sparse_batch),
    ("IoU", {"num_classes": C, "target_class_ids": [0, 2]}, sparse_batch),
    ("IoU", {"num_classes": C, "target_class_ids": [3], "ignore_class": 1}, sparse_batch),
    ("MeanIoU", {"num_classes": C, "sparse_y_true": False, "sparse_y_pred": False}, one_hot_batch),
    ("IoU", {"num_classes": C, "target_class_ids": [1, 2], "sparse_y_pred": False},
     lambda r: (sparse_batch(r)[0], one_hot_batch(r)[1])),
    ("OneHotIoU", {"num_classes": C, "target_class_ids": [0, 3]}, one_hot_batch),
    ("OneHotIoU", {"num_classes": C, "target_class_ids": [1], "ignore_class": 2}, one_hot_batch),
    ("OneHotMeanIoU", {"num_classes": C}, one_hot_batch),
    ("OneHotMeanIoU", {"num_classes": C, "dtype": "float32"}, one_hot_batch),
    ("BinaryIoU", {}, lambda r: (r.integers(0, 2, SHAPE), r.uniform(size=SHAPE).astype("float32"))),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3},
     lambda r: (r.integers(0, 2, SHAPE), r.uniform(size=SHAPE).astype("float32"))),
]


@pytest.mark.parametrize(("cls_name", "kwargs", "data"), CASES)
def test_matches_keras_over_several_batches(cls_name, kwargs, data):
    r = np.random.default_rng(0)
    ours = getattr(iou_metrics, cls_name)(**kwargs)
    theirs = getattr(keras.metrics, cls_name)(**kwargs)
    assert base_name(ours.name) == base_name(theirs.name)
    assert ours.dtype == theirs.dtype
    for step in range(3):
        y_true, y_pred = data(r)
        # Integer weights: the confusion matrix counts in int32 by default.
        weight = None if step == 1 else r.integers(0, 3, size=SHAPE)
        ours.update_state(torch.tensor(y_true), torch.tensor(y_pred),
                          sample_weight=None if weight is None else torch.tensor(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        assert_close(ours.result(), theirs.result())
    np.testing.assert_array_equal(ours.total_cm.numpy(), keras.ops.convert_to_numpy(theirs.total_cm))
    ours.reset_state()
    theirs.reset_state()
    assert_close(ours.result(), theirs.result())


def test_float_weights_with_a_float_state_match_keras():
    r = np.random.default_rng(1)
    ours = iou_metrics.MeanIoU(num_classes=C, dtype="float32")
    theirs = keras.metrics.MeanIoU(num_classes=C, dtype="float32")
    for _ in range(2):
        y_true, y_pred = sparse_batch(r)
        weight = r.uniform(size=SHAPE[0]).astype("float32")[:, None] * np.ones(SHAPE, "float32")
        ours.update_state(torch.tensor(y_true), torch.tensor(y_pred), torch.tensor(weight))
        theirs.update_state(y_true, y_pred, weight)
    assert_close(ours.result(), theirs.result())


def test_float_weights_on_an_integer_state_warn_and_truncate_like_keras():
    y = np.array([0, 1, 1, 0])
    weight = np.array([1.7, 0.4, 1.2, 2.9], dtype="float32")
    ours = iou_metrics.MeanIoU(num_classes=2)
    theirs = keras.metrics.MeanIoU(num_classes=2)
    with pytest.warns(UserWarning, match="truncated"):
        ours.update_state(torch.tensor(y), torch.tensor(y[::-1].copy()), torch.tensor(weight))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.update_state(y, y[::-1].copy(), weight)
    np.testing.assert_array_equal(ours.total_cm.numpy(), keras.ops.convert_to_numpy(theirs.total_cm))


@pytest.mark.parametrize(("cls_name", "kwargs", "data"), CASES)
def test_configs_equal_keras_and_round_trip(cls_name, kwargs, data):
    ours = getattr(iou_metrics, cls_name)(name="m", **kwargs)
    theirs = getattr(keras.metrics, cls_name)(name="m", **kwargs)
    assert ours.get_config() == theirs.get_config()
    rebuilt = metrics.deserialize(metrics.serialize(ours))
    assert type(rebuilt) is type(ours)
    assert rebuilt.get_config() == ours.get_config()


def test_out_of_range_target_class_ids_raise():
    with pytest.raises(ValueError):
        keras.metrics.IoU(num_classes=2, target_class_ids=[2])
    with pytest.raises(ValueError, match="target_class_ids"):
        iou_metrics.IoU(num_classes=2, target_class_ids=[2])


def test_update_runs_without_host_sync():
    # Meta tensors have no data: any read back to the host (item, bool, numpy) fails.
    labels = torch.empty(SHAPE, dtype=torch.long, device="meta")
    scores = torch.empty(*SHAPE, C, device="meta")
    weight = torch.empty(SHAPE, dtype=torch.int32, device="meta")
    for m, y_pred in [
        (iou_metrics.MeanIoU(num_classes=C, ignore_class=0), labels),
        (iou_metrics.IoU(num_classes=C, target_class_ids=[1], sparse_y_pred=False), scores),
        (iou_metrics.BinaryIoU(), torch.empty(SHAPE, device="meta")),
    ]:
        m.update_state(labels, y_pred, sample_weight=weight)
        assert m.total_cm.device.type == "meta"
        assert m.result().device.type == "meta"


def test_state_round_trip_is_exact():
    r = np.random.default_rng(2)
    first = iou_metrics.MeanIoU(num_classes=C)
    first.update_state(*map(torch.tensor, sparse_batch(r)))
    second = iou_metrics.MeanIoU(num_classes=C)
    second.set_state(first.get_state())
    assert second.get_state_names() == ["total_confusion_matrix"]
    assert torch.equal(first.result(), second.result())


@pytest.mark.parametrize("name", ["BinaryIoU", "binary_io_u"])
def test_names_without_required_arguments_resolve_like_keras(name):
    ours, theirs = metrics.get(name), keras.metrics.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert base_name(ours.name) == base_name(theirs.name)
    assert ours.direction == theirs._direction == "up"


@pytest.mark.parametrize("name", ["MeanIoU", "mean_io_u", "IoU", "io_u", "OneHotIoU", "one_hot_mean_io_u"])
def test_names_needing_num_classes_fail_like_keras(name):
    with pytest.raises(TypeError):
        keras.metrics.get(name)
    with pytest.raises(TypeError):
        metrics.get(name)


def _fit_history(k, metric_list, callbacks=()):
    rs = np.random.RandomState(0)
    x = rs.rand(48, 6).astype("float32")
    y = rs.randint(0, 3, 48)
    model = k.Sequential([k.Input(shape=(6,)), k.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=metric_list)
    return model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(x, y),
                     callbacks=list(callbacks)).history


def test_fit_logs_the_keras_keys_and_auto_mode_maximises():
    def metric_list(k):
        return [k.metrics.MeanIoU(num_classes=3, sparse_y_pred=False, name="miou"),
                k.metrics.IoU(num_classes=3, target_class_ids=[0], sparse_y_pred=False, name="iou0")]

    ours_stop = kfit.callbacks.EarlyStopping(monitor="val_miou")
    theirs_stop = keras.callbacks.EarlyStopping(monitor="val_miou")
    ours = _fit_history(kfit, metric_list(kfit), [ours_stop])
    theirs = _fit_history(keras, metric_list(keras), [theirs_stop])
    assert sorted(ours) == sorted(theirs)
    assert ours_stop._is_improvement(0.9, 0.1)
    assert theirs_stop._is_improvement(0.9, 0.1)
