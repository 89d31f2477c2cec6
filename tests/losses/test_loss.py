"""The `Loss` base class and the shared helpers of `kfit.losses.loss`, against Keras 3's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_parity import keras

from kfit import losses
from kfit.losses import loss as loss_module


def test_invalid_reduction_is_rejected():
    with pytest.raises(ValueError, match=r"reduction='average'"):
        losses.MeanSquaredError(reduction="average")


def test_standardize_reduction_accepts_every_keras_reduction():
    from keras.src.losses.loss import standardize_reduction as keras_standardize

    for reduction in loss_module.REDUCTIONS:
        assert loss_module.standardize_reduction(reduction) == keras_standardize(reduction)


SHAPE_PAIRS = [
    ((4,), (4, 1)),
    ((4, 1), (4,)),
    ((4, 3), (4, 3, 1)),
    ((4, 3, 1), (4, 3)),
    ((4, 3), (4,)),
]


@pytest.mark.parametrize(("shape1", "shape2"), SHAPE_PAIRS)
@pytest.mark.parametrize("expand_rank_1", [True, False])
def test_squeeze_or_expand_to_same_rank_matches_keras(shape1, shape2, expand_rank_1):
    from keras.src.losses.loss import squeeze_or_expand_to_same_rank as keras_align

    x1, x2 = torch.zeros(shape1), torch.zeros(shape2)
    ours = loss_module.squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1)
    theirs = keras_align(x1, x2, expand_rank_1)
    assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs]


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_apply_mask_matches_keras(reduction, weighted):
    from keras.src.losses.loss import apply_mask as keras_apply_mask

    mask = torch.tensor([True, False, True, True])
    weight = torch.tensor([0.5, 1.0, 2.0, 0.0]) if weighted else None
    ours = loss_module.apply_mask(weight, mask, torch.float32, reduction)
    theirs = keras_apply_mask(weight, mask, "float32", reduction)
    np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(theirs))


def test_apply_mask_without_mask_returns_the_weights_unchanged():
    weight = torch.ones(3)
    assert loss_module.apply_mask(weight, None, torch.float32, "sum") is weight


@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight", "none"]
)
@pytest.mark.parametrize("weight_shape", [None, (4, 1), (4, 3)])
@pytest.mark.parametrize("masked", [False, True])
def test_reduce_weighted_values_matches_keras(reduction, weight_shape, masked):
    from keras.src.losses.loss import reduce_weighted_values as keras_reduce

    if masked and weight_shape == (4, 1):
        pytest.skip("Keras folds the mask into the weights in place, which cannot broadcast them")
    r = np.random.default_rng(0)
    values = torch.as_tensor(r.uniform(size=(4, 3)).astype("float32"))
    weight = None
    if weight_shape is not None:
        weight = torch.as_tensor(r.uniform(size=weight_shape).astype("float32"))
    mask = torch.tensor([[True, False, True]] * 4) if masked else None
    ours = loss_module.reduce_weighted_values(values, weight, mask, reduction)
    theirs = keras_reduce(values, weight, mask, reduction)
    np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(theirs), rtol=1e-6)


def test_reduce_values_passes_scalars_and_empty_values_through():
    scalar, empty = torch.tensor(2.0), torch.zeros(0)
    assert loss_module.reduce_values(scalar) is scalar
    assert loss_module.reduce_values(empty) is empty
    assert float(loss_module.reduce_values(torch.tensor([1.0, 3.0]), reduction="sum")) == 4.0


def test_divide_no_nan_gives_zero_where_the_divisor_is_zero():
    result = loss_module.divide_no_nan(torch.tensor([1.0, 0.0, 3.0]), torch.tensor([0.0, 0.0, 2.0]))
    assert result.tolist() == [0.0, 0.0, 1.5]


def test_cast_and_align_follows_the_prediction_dtype_and_rank():
    y_true, y_pred = loss_module.cast_and_align(np.array([1, 2], dtype="int64"), torch.zeros(2, 1))
    assert y_true.dtype == torch.float32 and y_true.shape == y_pred.shape == (2, 1)


def test_l2_normalize_matches_keras_normalize():
    x = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    theirs = keras.ops.normalize(x, axis=-1, order=2)
    ours = loss_module.l2_normalize(x, -1)
    np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(theirs), atol=1e-6)


def test_custom_loss_gets_a_keras_style_auto_name_and_dtype():
    class MyCustomLossForNames(losses.Loss):
        def call(self, y_true, y_pred):
            return (y_true - y_pred).abs()

    first, second = MyCustomLossForNames(), MyCustomLossForNames(dtype=torch.float64)
    assert (first.name, second.name) == ("my_custom_loss_for_names", "my_custom_loss_for_names_1")
    assert (first.dtype, second.dtype) == ("float32", "float64")
    assert second(torch.ones(2), torch.zeros(2)).dtype == torch.float64


def test_loss_without_call_says_what_to_implement():
    with pytest.raises(NotImplementedError, match=r"call\(y_true, y_pred\)"):
        losses.Loss()(torch.zeros(2), torch.zeros(2))
