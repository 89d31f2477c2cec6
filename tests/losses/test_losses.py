"""The `Loss` classes of `kfit.losses.losses` against Keras 3's, on random inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_parity import (
    ATOL,
    REDUCTIONS,
    RTOL,
    N,
    assert_close,
    hinge_data,
    keras,
    one_hot_data,
    positive_regression_data,
    probability_data,
    regression_data,
    rng,
    signed_hinge_data,
    to_torch,
)

import kfit
from kfit import losses

CLASS_CASES = [
    ("MeanSquaredError", {}, regression_data),
    ("MeanAbsoluteError", {}, regression_data),
    ("MeanAbsolutePercentageError", {}, positive_regression_data),
    ("MeanSquaredLogarithmicError", {}, positive_regression_data),
    ("Huber", {}, regression_data),
    ("Huber", {"delta": 0.3}, regression_data),
    ("LogCosh", {}, regression_data),
    ("KLDivergence", {}, probability_data),
    ("Poisson", {}, positive_regression_data),
    ("CosineSimilarity", {}, regression_data),
    ("Hinge", {}, hinge_data),
    ("Hinge", {}, signed_hinge_data),
    ("SquaredHinge", {}, hinge_data),
    ("CategoricalHinge", {}, one_hot_data),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (N,), (N, 1)])
@pytest.mark.parametrize(("class_name", "kwargs", "data"), CLASS_CASES)
def test_loss_classes_match_keras(class_name, kwargs, data, weight_shape, reduction):
    y_true, y_pred = data()
    if class_name == "MeanSquaredLogarithmicError":
        y_pred = np.abs(y_pred)
    weight = None if weight_shape is None else rng(1).uniform(size=weight_shape).astype("float32")
    ours = getattr(losses, class_name)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, class_name)(reduction=reduction, **kwargs)
    assert ours.name == theirs.name
    assert_close(
        ours(to_torch(y_true), to_torch(y_pred), sample_weight=to_torch(weight)),
        theirs(y_true, y_pred, sample_weight=weight),
    )


@pytest.mark.parametrize(
    "class_name", ["MeanSquaredError", "MeanAbsoluteError", "Huber", "LogCosh"]
)
@pytest.mark.parametrize(
    ("true_shape", "pred_shape", "weight_shape"),
    [((N,), (N, 1), None), ((N, 1), (N,), None), ((N,), (N, 1), (N,)), ((N,), (N, 1), (N, 1))],
)
def test_rank_alignment_matches_keras(class_name, true_shape, pred_shape, weight_shape):
    r = rng(2)
    y_true = r.normal(size=true_shape).astype("float32")
    y_pred = r.normal(size=pred_shape).astype("float32")
    weight = None if weight_shape is None else r.uniform(size=weight_shape).astype("float32")
    ours = getattr(losses, class_name)()(to_torch(y_true), to_torch(y_pred), to_torch(weight))
    assert_close(ours, getattr(keras.losses, class_name)()(y_true, y_pred, sample_weight=weight))


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize(
    ("true_shape", "pred_shape"), [((N,), (N, 1)), ((N, 1), (N, 1)), ((N, 4), (N, 4))]
)
@pytest.mark.parametrize("weight_shape", [None, (N,)])
def test_binary_crossentropy_matches_keras(
    from_logits, label_smoothing, true_shape, pred_shape, weight_shape
):
    r = rng(3)
    y_true = r.integers(0, 2, size=true_shape).astype("uint8")
    if from_logits:
        y_pred = r.normal(scale=4.0, size=pred_shape).astype("float32")
    else:
        y_pred = r.uniform(size=pred_shape).astype("float32")
        y_pred.reshape(-1)[:2] = [0.0, 1.0]  # clipping at epsilon
    weight = None if weight_shape is None else r.uniform(size=weight_shape).astype("float32")
    kwargs = {"from_logits": from_logits, "label_smoothing": label_smoothing}
    ours = losses.BinaryCrossentropy(**kwargs)(to_torch(y_true), to_torch(y_pred), to_torch(weight))
    theirs = keras.losses.BinaryCrossentropy(**kwargs)(y_true, y_pred, sample_weight=weight)
    assert_close(ours, theirs)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "none"])
@pytest.mark.parametrize("weight_shape", [None, (N,), (N, 1)])
def test_categorical_crossentropy_matches_keras(
    from_logits, label_smoothing, reduction, weight_shape
):
    r = rng(4)
    y_true = np.eye(5, dtype="float32")[r.integers(0, 5, N)]
    y_pred = r.uniform(size=(N, 5)).astype("float32")
    y_pred[0, 0] = 0.0
    weight = None if weight_shape is None else r.uniform(size=weight_shape).astype("float32")
    kwargs = {
        "from_logits": from_logits,
        "label_smoothing": label_smoothing,
        "reduction": reduction,
    }
    ours = losses.CategoricalCrossentropy(**kwargs)(
        to_torch(y_true), to_torch(y_pred), to_torch(weight)
    )
    theirs = keras.losses.CategoricalCrossentropy(**kwargs)(y_true, y_pred, sample_weight=weight)
    assert_close(ours, theirs)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ignore_class", [None, 2])
@pytest.mark.parametrize("label_shape", [(N,), (N, 1)])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_sparse_categorical_crossentropy_matches_keras(
    from_logits, ignore_class, label_shape, reduction
):
    r = rng(6)
    labels = r.integers(0, 5, size=label_shape)
    y_pred = r.uniform(size=(N, 5)).astype("float32")
    kwargs = {"from_logits": from_logits, "ignore_class": ignore_class, "reduction": reduction}
    ours = losses.SparseCategoricalCrossentropy(**kwargs)(to_torch(labels), to_torch(y_pred))
    theirs = keras.losses.SparseCategoricalCrossentropy(**kwargs)(labels, y_pred)
    assert_close(ours, theirs)


@pytest.mark.parametrize("ignore_class", [None, 1])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_categorical_crossentropy_on_sequences_matches_keras(ignore_class, weighted):
    r = rng(7)
    labels = r.integers(0, 4, size=(N, 6))
    y_pred = r.normal(size=(N, 6, 4)).astype("float32")
    weight = r.uniform(size=(N, 6)).astype("float32") if weighted else None
    ours = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore_class)(
        to_torch(labels), to_torch(y_pred), to_torch(weight)
    )
    theirs = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=ignore_class
    )(labels, y_pred, sample_weight=weight)
    assert_close(ours, theirs)


def test_ignore_class_gives_finite_gradients_equal_to_keras():
    r = rng(8)
    labels = r.integers(0, 3, size=(N,))
    labels[:3] = 2
    probs = r.uniform(size=(N, 3)).astype("float32")
    ours_pred = torch.tensor(probs, requires_grad=True)
    theirs_pred = torch.tensor(probs, requires_grad=True)
    losses.SparseCategoricalCrossentropy(ignore_class=2)(torch.tensor(labels), ours_pred).backward()
    keras.losses.SparseCategoricalCrossentropy(ignore_class=2)(labels, theirs_pred).backward()
    assert torch.isfinite(ours_pred.grad).all()
    np.testing.assert_allclose(
        ours_pred.grad.numpy(), theirs_pred.grad.numpy(), rtol=RTOL, atol=ATOL
    )


def test_integer_targets_are_cast_to_the_prediction_dtype():
    r = rng(11)
    y_true = r.integers(0, 3, size=(N, 1)).astype("uint8")
    y_pred = r.normal(size=(N, 1)).astype("float32")
    ours = losses.MeanSquaredError()(torch.tensor(y_true), torch.tensor(y_pred))
    assert ours.dtype == torch.float32
    assert_close(ours, keras.losses.MeanSquaredError()(y_true, y_pred))


def test_numpy_and_list_inputs_are_accepted():
    y_true = [[0.0, 1.0], [1.0, 1.0]]
    y_pred = np.array([[1.0, 1.0], [1.0, 0.0]], dtype="float32")
    ours = losses.MeanSquaredError()(y_true, y_pred)
    assert_close(ours, keras.losses.MeanSquaredError()(np.array(y_true, dtype="float32"), y_pred))


def test_loss_function_wrapper_handles_user_callables_like_keras():
    from keras.src.losses.losses import LossFunctionWrapper as KerasWrapper

    def per_sample(y_true, y_pred):
        return torch.mean(torch.abs(y_true - y_pred) ** 3, dim=-1)

    def scalar(y_true, y_pred):
        return torch.mean(torch.abs(y_true - y_pred))

    r = rng(12)
    y_true = r.normal(size=(N,)).astype("float32")
    y_pred = r.normal(size=(N, 1)).astype("float32")
    weight = r.uniform(size=(N,)).astype("float32")
    for fn in (per_sample, scalar):
        for w in (None, weight):
            ours = losses.LossFunctionWrapper(fn)(to_torch(y_true), to_torch(y_pred), to_torch(w))
            theirs = KerasWrapper(fn)(y_true, y_pred, sample_weight=w)
            assert_close(ours, theirs)
    assert losses.LossFunctionWrapper(per_sample, name="cube").name == "cube"


def test_loss_is_differentiable_and_matches_keras_gradients():
    r = rng(13)
    y_true = np.eye(4, dtype="float32")[r.integers(0, 4, N)]
    probs = r.uniform(size=(N, 4)).astype("float32")
    ours_pred = torch.tensor(probs, requires_grad=True)
    theirs_pred = torch.tensor(probs, requires_grad=True)
    losses.CategoricalCrossentropy()(torch.tensor(y_true), ours_pred).backward()
    keras.losses.CategoricalCrossentropy()(y_true, theirs_pred).backward()
    np.testing.assert_allclose(
        ours_pred.grad.numpy(), theirs_pred.grad.numpy(), rtol=RTOL, atol=ATOL
    )


def test_default_names_match_keras():
    for name in [
        "MeanSquaredError",
        "MeanAbsoluteError",
        "MeanAbsolutePercentageError",
        "MeanSquaredLogarithmicError",
        "Huber",
        "LogCosh",
        "KLDivergence",
        "Poisson",
        "CosineSimilarity",
        "Hinge",
        "SquaredHinge",
        "CategoricalHinge",
        "BinaryCrossentropy",
        "CategoricalCrossentropy",
        "SparseCategoricalCrossentropy",
    ]:
        assert getattr(losses, name)().name == getattr(keras.losses, name)().name


def test_losses_run_without_host_sync():
    # Tensors on the meta device have no data: any host read (item, bool, numpy) fails.
    y_pred = torch.empty(N, 5, device="meta")
    labels = torch.empty(N, dtype=torch.long, device="meta")
    weight = torch.empty(N, device="meta")
    for loss in (
        losses.SparseCategoricalCrossentropy(ignore_class=0),
        losses.SparseCategoricalCrossentropy(from_logits=True),
    ):
        assert loss(labels, y_pred, sample_weight=weight).shape == ()
    for loss in (
        losses.CategoricalCrossentropy(),
        losses.Hinge(),
        losses.Huber(),
        losses.MeanSquaredError(),
    ):
        assert (
            loss(torch.empty(N, 5, device="meta"), y_pred, sample_weight=weight).device.type
            == "meta"
        )


def focal_binary_data(seed: int = 0):
    r = rng(seed)
    return r.integers(0, 2, size=(N, 3)).astype("float32"), r.uniform(0.02, 0.98, size=(N, 3)).astype("float32")


def focal_logit_data(seed: int = 0):
    y_true, _ = focal_binary_data(seed)
    return y_true, rng(seed + 1).normal(size=(N, 3)).astype("float32")


def mask_data(seed: int = 0):
    r = rng(seed)
    return r.integers(0, 2, size=(N, 5)).astype("float32"), r.uniform(size=(N, 5)).astype("float32")


def integer_label_data(seed: int = 0):
    r = rng(seed)
    p = r.uniform(0.05, 1.0, size=(N, 4)).astype("float32")
    return r.integers(0, 4, size=(N,)).astype("float32"), p / p.sum(-1, keepdims=True)


def embedding_data(seed: int = 0):
    r = rng(seed)
    emb = r.normal(size=(N, 6)).astype("float32")
    return r.integers(0, 3, size=(N,)).astype("float32"), emb / np.linalg.norm(emb, axis=1, keepdims=True)


def ctc_data(seed: int = 0):
    r = rng(seed)
    labels = r.integers(1, 5, size=(N, 4))
    labels[:, 3] = 0  # padding
    labels[0, 2] = 0
    return labels.astype("float32"), r.normal(size=(N, 9, 5)).astype("float32")


NEW_CLASS_CASES = [
    ("BinaryFocalCrossentropy", {}, focal_binary_data),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5,
                                 "label_smoothing": 0.1}, focal_binary_data),
    ("BinaryFocalCrossentropy", {"from_logits": True}, focal_logit_data),
    ("CategoricalFocalCrossentropy", {}, one_hot_data),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 3.0, "label_smoothing": 0.2}, probability_data),
    ("CategoricalFocalCrossentropy", {"from_logits": True}, one_hot_data),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.3}, integer_label_data),
    ("Dice", {"axis": -1}, mask_data),
    ("Tversky", {"alpha": 0.3, "beta": 0.7, "axis": -1}, mask_data),
    ("Circle", {}, embedding_data),
    ("Circle", {"gamma": 10.0, "margin": 0.25, "remove_diagonal": False}, embedding_data),
    ("CTC", {}, ctc_data),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("class_name", "kwargs", "data"), NEW_CLASS_CASES)
def test_new_loss_classes_match_keras(class_name, kwargs, data, weighted, reduction):
    for seed in range(2):
        y_true, y_pred = data(seed)
        weight = rng(seed + 7).uniform(size=(N,)).astype("float32") if weighted else None
        ours = getattr(losses, class_name)(reduction=reduction, **kwargs)
        theirs = getattr(keras.losses, class_name)(reduction=reduction, **kwargs)
        assert ours.name == theirs.name
        assert_close(
            ours(to_torch(y_true), to_torch(y_pred), sample_weight=to_torch(weight)),
            theirs(y_true, y_pred, sample_weight=weight),
        )


@pytest.mark.parametrize("class_name", ["Dice", "Tversky"])
def test_overlap_losses_over_the_whole_batch_match_keras(class_name):
    y_true, y_pred = mask_data(3)
    ours = getattr(losses, class_name)()(to_torch(y_true), to_torch(y_pred))
    assert_close(ours, getattr(keras.losses, class_name)()(y_true, y_pred))
    y_true4 = y_true.reshape(N, 5, 1, 1) * np.ones((1, 1, 2, 3), "float32")
    y_pred4 = y_pred.reshape(N, 5, 1, 1) * np.ones((1, 1, 2, 3), "float32")
    ours = getattr(losses, class_name)(axis=(1, 2))(to_torch(y_true4), to_torch(y_pred4))
    assert_close(ours, getattr(keras.losses, class_name)(axis=(1, 2))(y_true4, y_pred4))


@pytest.mark.parametrize(("class_name", "kwargs", "data"), NEW_CLASS_CASES)
def test_new_loss_configs_equal_keras_and_round_trip(class_name, kwargs, data):
    ours = getattr(losses, class_name)(name="l", reduction="sum", **kwargs)
    theirs = getattr(keras.losses, class_name)(name="l", reduction="sum", **kwargs)
    assert ours.get_config() == theirs.get_config()
    rebuilt = losses.deserialize(losses.serialize(ours))
    assert type(rebuilt) is type(ours)
    assert rebuilt.get_config() == ours.get_config()


def test_new_default_names_match_keras():
    for name in ["BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "Dice", "Tversky", "Circle", "CTC",
                 "CategoricalGeneralizedCrossEntropy"]:
        assert getattr(losses, name)().name == getattr(keras.losses, name)().name


@pytest.mark.parametrize("q", [0.0, 1.0, 1.5])
def test_generalized_cross_entropy_rejects_q_outside_0_1(q):
    with pytest.raises(ValueError):
        keras.losses.CategoricalGeneralizedCrossEntropy(q=q)
    with pytest.raises(ValueError, match="Received: q="):
        losses.CategoricalGeneralizedCrossEntropy(q=q)


@pytest.mark.parametrize(("class_name", "kwargs", "data"),
                         [c for c in NEW_CLASS_CASES if c[0] not in ("CTC", "CategoricalGeneralizedCrossEntropy")])
def test_new_losses_give_keras_gradients(class_name, kwargs, data):
    y_true, y_pred = data(4)
    ours_pred = torch.tensor(y_pred, requires_grad=True)
    theirs_pred = torch.tensor(y_pred, requires_grad=True)
    getattr(losses, class_name)(**kwargs)(torch.tensor(y_true), ours_pred).backward()
    getattr(keras.losses, class_name)(**kwargs)(torch.tensor(y_true), theirs_pred).backward()
    np.testing.assert_allclose(ours_pred.grad.numpy(), theirs_pred.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_new_losses_run_without_host_sync():
    y = torch.empty(N, 5, device="meta")
    weight = torch.empty(N, device="meta")
    labels = torch.empty(N, device="meta")
    for loss, y_true in [
        (losses.BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=True), y),
        (losses.CategoricalFocalCrossentropy(label_smoothing=0.1), y),
        (losses.CategoricalGeneralizedCrossEntropy(), labels),
        (losses.Dice(axis=-1), y),
        (losses.Tversky(axis=-1), y),
        (losses.Circle(), labels),
    ]:
        assert loss(y_true, y, sample_weight=weight).device.type == "meta"


def _fit_loss_history(k, loss, y):
    rs = np.random.RandomState(0)
    x = rs.rand(len(y), 6).astype("float32")
    model = k.Sequential([k.Input(shape=(6,)), k.layers.Dense(y.shape[-1], activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss, metrics=[k.metrics.binary_focal_crossentropy])
    return model.fit(x, y, batch_size=8, epochs=1, verbose=0, validation_data=(x, y), shuffle=False).history


@pytest.mark.parametrize("loss", ["binary_focal_crossentropy", "dice", "tversky", "categorical_focal_crossentropy"])
def test_compile_by_name_logs_the_keras_keys(loss):
    y = np.random.RandomState(1).randint(0, 2, size=(32, 3)).astype("float32")
    assert sorted(_fit_loss_history(kfit, loss, y)) == sorted(_fit_loss_history(keras, loss, y))
