"""Parity of kfit.losses with Keras 3 (torch backend) on random inputs."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np
import pytest
import torch

from kfit import losses

keras = pytest.importorskip("keras")

N = 8
RTOL = 1e-5
ATOL = 1e-6
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def to_torch(x):
    return None if x is None else torch.as_tensor(x)


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def regression_data(seed: int = 0):
    r = rng(seed)
    y_true = r.normal(size=(N, 3)).astype("float32")
    y_pred = r.normal(size=(N, 3)).astype("float32")
    return y_true, y_pred


def positive_regression_data(seed: int = 0):
    y_true, y_pred = regression_data(seed)
    y_true[0, 0] = 0.0  # exercises the epsilon guards (MAPE, MSLE)
    return np.abs(y_true), y_pred


def probability_data(seed: int = 0):
    r = rng(seed)
    y_true = r.uniform(size=(N, 3)).astype("float32")
    y_pred = r.uniform(size=(N, 3)).astype("float32")
    y_pred[0, 0] = 0.0
    return y_true / y_true.sum(-1, keepdims=True), y_pred / y_pred.sum(-1, keepdims=True)


def hinge_data(seed: int = 0):
    r = rng(seed)
    return r.integers(0, 2, size=(N, 3)).astype("float32"), r.normal(size=(N, 3)).astype("float32")


def signed_hinge_data(seed: int = 0):
    y_true, y_pred = hinge_data(seed)
    return 2.0 * y_true - 1.0, y_pred


def one_hot_data(seed: int = 0):
    r = rng(seed)
    y_true = np.eye(3, dtype="float32")[r.integers(0, 3, N)]
    return y_true, r.normal(size=(N, 3)).astype("float32")


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


def test_categorical_crossentropy_on_class_axis_0_matches_keras():
    r = rng(5)
    y_true = np.eye(4, dtype="float32")[r.integers(0, 4, N)].T.copy()
    y_pred = r.uniform(size=(4, N)).astype("float32")
    ours = losses.categorical_crossentropy(to_torch(y_true), to_torch(y_pred), axis=0)
    assert_close(ours, keras.losses.categorical_crossentropy(y_true, y_pred, axis=0))


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


@pytest.mark.parametrize(
    "name",
    [
        "mean_squared_error",
        "mean_absolute_error",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "huber",
        "log_cosh",
        "kl_divergence",
        "poisson",
        "hinge",
        "squared_hinge",
        "categorical_hinge",
        "cosine_similarity",
        "binary_crossentropy",
        "categorical_crossentropy",
    ],
)
def test_loss_functions_return_keras_per_sample_values(name):
    r = rng(9)
    y_true = r.uniform(size=(N, 4)).astype("float32")
    y_pred = r.uniform(size=(N, 4)).astype("float32")
    assert_close(
        getattr(losses, name)(to_torch(y_true), to_torch(y_pred)),
        getattr(keras.losses, name)(y_true, y_pred),
    )


def test_sparse_function_with_logits_matches_keras():
    r = rng(10)
    labels = r.integers(0, 4, size=(N, 1))
    logits = r.normal(size=(N, 4)).astype("float32")
    ours = losses.sparse_categorical_crossentropy(
        to_torch(labels), to_torch(logits), from_logits=True
    )
    assert_close(
        ours, keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
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


def test_invalid_reduction_is_rejected():
    with pytest.raises(ValueError, match=r"reduction='average'"):
        losses.MeanSquaredError(reduction="average")


def test_mismatched_crossentropy_shapes_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        losses.binary_crossentropy(torch.zeros(4, 2), torch.zeros(4, 3))


GET_IDENTIFIERS = [
    "mse",
    "MSE",
    "mae",
    "mape",
    "msle",
    "bce",
    "kld",
    "mean_squared_error",
    "mean_absolute_error",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "huber",
    "log_cosh",
    "kl_divergence",
    "hinge",
    "poisson",
    "MeanSquaredError",
    "Huber",
    "LogCosh",
    "BinaryCrossentropy",
    "SparseCategoricalCrossentropy",
]


@pytest.mark.parametrize("identifier", GET_IDENTIFIERS)
def test_get_resolves_like_keras(identifier):
    ours = losses.get(identifier)
    theirs = keras.losses.get(identifier)
    if isinstance(theirs, keras.losses.Loss):
        assert type(ours).__name__ == type(theirs).__name__
        assert ours.name == theirs.name
    else:
        assert ours.__name__ == theirs.__name__


def test_get_passes_objects_through():
    loss = losses.Huber()
    assert losses.get(loss) is loss
    assert losses.get(len) is len
    assert losses.get(None) is None
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    assert losses.get("logcosh") is losses.log_cosh


def test_get_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match="mean_squared_error") as info:
        losses.get("mean_sqared_error")
    assert "identifier='mean_sqared_error'" in str(info.value)
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        keras.losses.get("mean_sqared_error")


def test_get_rejects_non_callables():
    with pytest.raises(ValueError, match="of type int"):
        losses.get(3)


@pytest.mark.parametrize(
    "loss",
    [
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        losses.CategoricalCrossentropy(axis=1, reduction="sum"),
        losses.SparseCategoricalCrossentropy(ignore_class=0, name="scce"),
        losses.Huber(delta=2.5),
        losses.MeanSquaredError(reduction=None),
    ],
)
def test_config_round_trip_and_keras_keys(loss):
    config = loss.get_config()
    rebuilt = losses.deserialize(losses.serialize(loss))
    assert type(rebuilt) is type(loss)
    assert rebuilt.get_config() == config
    keras_config = getattr(keras.losses, type(loss).__name__)(**config).get_config()
    for key, value in keras_config.items():
        assert config[key] == value


def test_wrapper_config_round_trip():
    wrapper = losses.LossFunctionWrapper(losses.huber, name="h", delta=0.5)
    rebuilt = losses.LossFunctionWrapper.from_config(wrapper.get_config())
    assert rebuilt.fn is losses.huber
    assert rebuilt.get_config() == wrapper.get_config()
    assert losses.deserialize(losses.serialize(losses.huber)) is losses.huber


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


FUSED_CASES = [
    ("mean_squared_error", {}, "MeanSquaredError", regression_data),
    ("mean_absolute_error", {}, "MeanAbsoluteError", regression_data),
    ("huber", {"delta": 0.3}, "Huber", regression_data),
    ("binary_crossentropy", {"from_logits": True}, "BinaryCrossentropy", probability_data),
    ("binary_crossentropy", {}, "BinaryCrossentropy", probability_data),  # clipped probabilities
    ("categorical_crossentropy", {"from_logits": True}, "CategoricalCrossentropy", probability_data),
    ("categorical_crossentropy", {}, "CategoricalCrossentropy", probability_data),  # clipped probabilities
]


@pytest.mark.parametrize(
    "name, kwargs, class_name, data, extra_axis",
    [(*case, extra) for case in FUSED_CASES for extra in (False, True)
     # torch's cross_entropy takes class scores on axis 1, so that kernel is for 2-D inputs only.
     if not (extra and case[0] == "categorical_crossentropy" and case[1].get("from_logits"))],
)
def test_fused_kernels_equal_keras_mean_loss(name, kwargs, class_name, data, extra_axis):
    y_true, y_pred = data()
    if extra_axis:
        y_true, y_pred = y_true[:, :, None].repeat(2, -1), y_pred[:, :, None].repeat(2, -1)
    op = losses._same_shape_kernel(getattr(losses, name), kwargs)
    assert op is not None
    ours = op(to_torch(y_pred), to_torch(y_true))
    assert_close(ours, getattr(keras.losses, class_name)(**kwargs)(y_true, y_pred))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.1}),
        ("categorical_crossentropy", {"from_logits": True, "axis": 0}),
        ("mean_squared_error", {"unexpected": 1}),
        ("huber", {"delta": 1.0, "other": 2}),
        ("mean_squared_logarithmic_error", {}),
    ],
)
def test_no_fused_kernel_where_one_op_would_change_the_result(name, kwargs):
    assert losses._same_shape_kernel(getattr(losses, name), kwargs) is None


@pytest.mark.parametrize("from_logits", [True, False])
def test_fused_sparse_kernels_equal_keras_mean_loss(from_logits):
    r = rng(3)
    labels = r.integers(0, 4, N)
    scores = r.uniform(size=(N, 4)).astype("float32")
    if not from_logits:
        scores[0] = [0.0, 1.0, 0.0, 0.0]  # a zero probability: the clip guards the log
    op, pairing = losses._fused_kernel(losses.sparse_categorical_crossentropy, {"from_logits": from_logits})
    assert pairing == "sparse"
    ours = op(to_torch(scores), torch.as_tensor(labels))
    assert_close(ours, keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)(labels, scores))
