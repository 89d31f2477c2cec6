"""BatchNormalization against Keras 3: weights, outputs, gradients and moving statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.embedding import Embedding
from kfit.layers.normalization.batch_normalization import BatchNormalization

# The base Layer's keys, which differ between the two base classes; the rest must agree.
_BASE_KEYS = {"name", "trainable", "dtype", "activity_regularizer", "autocast"}


def _keras():
    return pytest.importorskip("keras")


def _pair(x_shape, **kwargs):
    """A kfit and a Keras layer, built for `x_shape`, holding the same (random) weights."""
    keras = _keras()
    ours, theirs = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    ours(torch.zeros(x_shape), training=False)
    theirs.build(x_shape)
    rs = np.random.RandomState(1)
    weights = [rs.rand(*w.shape).astype("float32") + 0.5 for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs


def _run(layer, x, upstream, training, mask=None):
    """Output, input gradient and trainable-weight gradients of `sum(layer(x) * upstream)`."""
    xt = torch.tensor(x, requires_grad=True)
    kwargs = {"training": training} if mask is None else {"training": training, "mask": torch.tensor(mask)}
    out = layer(xt, **kwargs)
    (out * torch.tensor(upstream)).sum().backward()
    weights = [getattr(w, "value", w) for w in layer.trainable_weights]
    return out.detach().numpy(), xt.grad.numpy(), [w.grad.numpy() for w in weights]


def _assert_same_run(ours, theirs, x, training, mask=None):
    upstream = np.random.RandomState(2).randn(*x.shape).astype("float32")
    got = _run(ours, x, upstream, training, mask)
    want = _run(theirs, x, upstream, training, mask)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-5)
    assert len(got[2]) == len(want[2])
    for g, w in zip(got[2], want[2]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def _assert_same_weights(ours, theirs):
    for g, w in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_weights_names_order_trainability_and_init_match_keras():
    keras = _keras()
    ours, theirs = BatchNormalization(), keras.layers.BatchNormalization()
    ours(torch.zeros(2, 3), training=False)
    theirs.build((2, 3))
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert [w.requires_grad for w in ours.weights] == [w.trainable for w in theirs.weights]
    _assert_same_weights(ours, theirs)
    assert [w.name for w in ours.trainable_weights] == ["gamma", "beta"]


@pytest.mark.parametrize(
    ("shape", "axis"),
    [((6, 4), -1), ((3, 5, 4), -1), ((2, 3, 3, 4), -1), ((2, 4, 3, 3), 1), ((2, 3, 4, 5), 2)],
)
def test_training_and_inference_match_keras_with_moving_statistics(shape, axis):
    ours, theirs = _pair(shape, axis=axis)
    rs = np.random.RandomState(0)
    for step in range(3):
        x = (rs.randn(*shape) * (step + 1) + step).astype("float32")
        _assert_same_run(ours, theirs, x, training=True)
        _assert_same_weights(ours, theirs)
    x = rs.randn(*shape).astype("float32")
    _assert_same_run(ours, theirs, x, training=False)
    _assert_same_weights(ours, theirs)


def test_moving_variance_moves_toward_the_biased_batch_variance():
    layer = BatchNormalization(momentum=0.9)
    x = torch.tensor([[0.0], [2.0], [4.0], [6.0]])
    layer(x, training=True)
    # mean 3, biased variance 5 (the unbiased one would be 6.67)
    assert layer.moving_mean.tolist() == pytest.approx([0.3])
    assert layer.moving_variance.tolist() == pytest.approx([0.9 + 0.1 * 5.0])


def test_frozen_layer_normalizes_with_moving_statistics_even_in_training():
    keras = _keras()
    ours, theirs = _pair((4, 3))
    ours.trainable = False
    theirs.trainable = False
    before = ours.get_weights()
    x = np.random.RandomState(3).randn(4, 3).astype("float32")
    out = ours(torch.tensor(x), training=True).detach().numpy()
    np.testing.assert_allclose(out, theirs(x, training=True).detach().numpy(), rtol=1e-5, atol=1e-6)
    for b, a in zip(before, ours.get_weights()):
        np.testing.assert_array_equal(b, a)
    assert ours.trainable_weights == []
    assert keras.ops.convert_to_numpy(theirs.moving_mean).tolist() == before[2].tolist()


def test_masked_steps_are_left_out_of_the_batch_statistics_as_in_keras():
    ours, theirs = _pair((3, 5, 4))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)
    rs = np.random.RandomState(4)
    for _ in range(2):
        x = rs.randn(3, 5, 4).astype("float32")
        x[~mask] = 100.0  # padding that must not leak into the statistics
        _assert_same_run(ours, theirs, x, training=True, mask=mask)
        _assert_same_weights(ours, theirs)


def test_a_mask_of_the_wrong_rank_is_refused():
    layer = BatchNormalization()
    for training in (True, False):
        with pytest.raises(ValueError, match="one dimension less"):
            layer(torch.ones(2, 3, 4), training=training, mask=torch.ones(2, 3, 4, dtype=torch.bool))


def test_one_value_per_channel_gives_keras_zero_variance():
    ours, theirs = _pair((1, 3))
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    _assert_same_run(ours, theirs, x, training=True)
    _assert_same_weights(ours, theirs)


def test_without_center_and_scale_only_the_moving_statistics_remain():
    ours, theirs = _pair((4, 3), center=False, scale=False)
    assert [w.name for w in ours.weights] == ["moving_mean", "moving_variance"]
    x = np.random.RandomState(5).randn(4, 3).astype("float32")
    _assert_same_run(ours, theirs, x, training=True)
    _assert_same_weights(ours, theirs)


def test_integer_inputs_are_cast_to_float():
    layer = BatchNormalization()
    out = layer(torch.tensor([[0, 10], [20, 30]], dtype=torch.uint8), training=True)
    assert out.dtype == torch.float32
    assert out[:, 0].tolist() == pytest.approx([-1.0, 1.0], abs=1e-4)


def test_incoming_mask_passes_through():
    embedded = Embedding(5, 4, mask_zero=True)(torch.tensor([[1, 2, 0]]))
    out = BatchNormalization()(embedded, training=True)
    assert out._keras_mask.tolist() == [[True, True, False]]


def test_config_keys_match_keras_and_round_trip():
    keras = _keras()
    ours = BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False, gamma_regularizer="l2")
    theirs = keras.layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False, gamma_regularizer="l2")
    config, keras_config = ours.get_config(), theirs.get_config()
    assert set(config) - _BASE_KEYS == set(keras_config) - _BASE_KEYS
    for key in ("axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
                "moving_mean_initializer", "moving_variance_initializer", "gamma_regularizer", "synchronized",
                "renorm", "renorm_clipping", "renorm_momentum"):
        assert config[key] == keras_config[key], key
    rebuilt = BatchNormalization.from_config(config)
    assert rebuilt.get_config() | {"name": config["name"]} == config
    rebuilt(torch.ones(2, 3, 4), training=True)
    assert len(rebuilt.losses) == 1


def test_compute_output_shape_and_bad_arguments():
    assert BatchNormalization().compute_output_shape((None, 5, 3)) == (None, 5, 3)
    with pytest.raises(ValueError, match="axis"):
        BatchNormalization(axis=3).compute_output_shape((None, 5, 3))
    with pytest.raises(ValueError, match="axis"):
        BatchNormalization(axis=-4)(torch.ones(2, 3))
    with pytest.raises(NotImplementedError, match="renorm"):
        BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match="synchronized"):
        BatchNormalization(synchronized=True)
    with pytest.raises(TypeError, match="axis"):
        BatchNormalization(axis=[1, 2])  # type: ignore[arg-type]
    layer = BatchNormalization()
    layer(torch.ones(2, 3))
    with pytest.raises(ValueError, match="rank 2"):
        layer(torch.ones(2, 3, 3))


def test_symbolic_shape_inference_needs_no_data():
    layer = BatchNormalization(axis=1)
    assert layer.compute_output_shape((None, 8, None, None)) == (None, 8, None, None)
    assert not layer.built


def test_fit_and_predict_match_keras():
    keras = _keras()
    import kfit

    x = np.random.RandomState(0).randn(64, 4).astype("float32")
    y = np.random.RandomState(1).randn(64, 1).astype("float32")
    theirs = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8), keras.layers.BatchNormalization(), keras.layers.Dense(1)]
    )
    ours = kfit.Sequential([kfit.layers.Dense(8, input_dim=4), BatchNormalization(), kfit.layers.Dense(1)])
    ours.set_weights(theirs.get_weights())
    histories = []
    for model in (theirs, ours):
        model.compile(optimizer="sgd", loss="mse")
        histories.append(model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False).history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5)
    for got, want in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
