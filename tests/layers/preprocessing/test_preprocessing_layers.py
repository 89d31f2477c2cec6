"""Normalization (with adapt) and Rescaling against Keras 3."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from kfit.layers.embedding import Embedding
from kfit.layers.preprocessing.normalization import Normalization
from kfit.layers.preprocessing.rescaling import Rescaling

# The base Layer's keys, which differ between the two base classes; the rest must agree.
_BASE_KEYS = {"name", "trainable", "dtype", "activity_regularizer", "autocast"}


def _keras():
    return pytest.importorskip("keras")


def _numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _assert_same_weights(ours, theirs):
    got, want = ours.get_weights(), theirs.get_weights()
    assert [w.dtype for w in got] == [w.dtype for w in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _data(shape=(40, 3), seed=0):
    rs = np.random.RandomState(seed)
    return (rs.randn(*shape) * np.arange(1, shape[-1] + 1) + 5).astype("float32")


@pytest.mark.parametrize(
    ("axis", "shape"),
    [(-1, (40, 3)), (None, (40, 3)), ((1, 2), (10, 4, 3)), (1, (10, 4, 3)), (-1, (10, 4, 3))],
)
def test_adapt_on_an_array_matches_keras_weights_and_outputs(axis, shape):
    keras = _keras()
    x = _data(shape)
    ours, theirs = Normalization(axis=axis), keras.layers.Normalization(axis=axis)
    ours.adapt(x)
    theirs.adapt(x)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights] == ["mean", "variance", "count"]
    _assert_same_weights(ours, theirs)
    probe = _data(shape, seed=1)[:5]
    np.testing.assert_allclose(_numpy(ours(probe)), _numpy(theirs(probe)), rtol=1e-5, atol=1e-5)
    assert ours.trainable_weights == []


def test_adapt_on_a_tensor_and_on_batches_matches_keras():
    # Keras 3.15 on torch cannot adapt on an iterable without TensorFlow installed (it checks
    # for a tf.data.Dataset), so batches are compared with Keras's statistics of the whole array.
    keras = _keras()
    x = _data((50, 3))
    theirs = keras.layers.Normalization()
    theirs.adapt(x)
    batches = [x[i : i + 16] for i in range(0, 50, 16)]  # uneven last batch
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.zeros(50)), batch_size=16)
    for data in (batches, iter(batches), loader, torch.tensor(x)):
        ours = Normalization()
        ours.adapt(data)
        _assert_same_weights(ours, theirs)
    ours, theirs = Normalization(axis=None), keras.layers.Normalization(axis=None)
    ours.adapt(torch.tensor(x))
    theirs.adapt(torch.tensor(x))
    _assert_same_weights(ours, theirs)


def test_adapt_on_integer_data():
    keras = _keras()
    x = np.arange(12).reshape(6, 2)
    ours, theirs = Normalization(), keras.layers.Normalization()
    ours.adapt(torch.tensor(x))
    theirs.adapt(torch.tensor(x))
    _assert_same_weights(ours, theirs)
    assert ours(torch.tensor([[5, 6]])).dtype == torch.float32


def test_invert_and_given_statistics_match_keras_and_create_no_weights():
    keras = _keras()
    x = _data((6, 3))
    for kwargs in (
        {"mean": 2.0, "variance": 4.0},
        {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 4.0, 0.0], "invert": True},
        {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 4.0, 9.0]},
    ):
        ours, theirs = Normalization(**kwargs), keras.layers.Normalization(**kwargs)
        np.testing.assert_allclose(_numpy(ours(x)), _numpy(theirs(x)), rtol=1e-6, atol=1e-6)
        assert ours.weights == [] and theirs.weights == []
    adapted, keras_adapted = Normalization(invert=True), keras.layers.Normalization(invert=True)
    adapted.adapt(x)
    keras_adapted.adapt(x)
    np.testing.assert_allclose(_numpy(adapted(x)), _numpy(keras_adapted(x)), rtol=1e-5, atol=1e-5)


def test_zero_variance_divides_by_1e_7_as_keras_does():
    layer = Normalization(mean=0.0, variance=0.0)
    assert layer(torch.tensor([[1e-4]])).tolist() == [[pytest.approx(1000.0)]]


def test_given_statistics_line_up_with_the_last_kept_axes():
    keras = _keras()
    x = _data((2, 4, 3))
    kwargs = {"axis": (1, 2), "mean": [1.0, 2.0, 3.0], "variance": [1.0, 4.0, 9.0]}
    ours, theirs = Normalization(**kwargs), keras.layers.Normalization(**kwargs)
    np.testing.assert_allclose(_numpy(ours(x)), _numpy(theirs(x)), rtol=1e-6, atol=1e-6)


def test_normalization_config_and_errors():
    keras = _keras()
    for kwargs in (
        {},
        {"axis": None, "mean": 1.0, "variance": 2.0, "invert": True},
        {"mean": np.ones(3), "variance": np.ones(3)},
    ):
        ours, theirs = Normalization(**kwargs), keras.layers.Normalization(**kwargs)
        config, keras_config = ours.get_config(), theirs.get_config()
        assert set(config) - _BASE_KEYS == set(keras_config) - _BASE_KEYS
        for key in ("axis", "invert", "mean", "variance"):
            assert config[key] == keras_config[key]
        assert Normalization.from_config(config).get_config()["mean"] == config["mean"]
    with pytest.raises(ValueError, match="both"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="rank"):
        Normalization(axis=-1, mean=np.ones((2, 2)), variance=np.ones((2, 2)))
    with pytest.raises(ValueError, match="adapt"):
        Normalization(mean=1.0, variance=1.0).adapt(np.ones((2, 1)))
    with pytest.raises(ValueError, match="at least one batch"):
        Normalization().adapt([])
    with pytest.raises(TypeError, match="iterable"):
        Normalization().adapt(3.0)
    with pytest.raises(TypeError, match="shape"):
        Normalization().adapt([1.0, 2.0])
    layer = Normalization()
    layer.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="shape"):
        layer.adapt(np.ones((4, 2)))
    with pytest.raises(ValueError, match="axis"):
        Normalization(axis=2)(torch.ones(2, 2))
    assert Normalization().compute_output_shape((None, 3)) == (None, 3)


def test_normalization_passes_masks_and_count_stays_int32():
    layer = Normalization(mean=0.0, variance=1.0)
    embedded = Embedding(5, 2, mask_zero=True)(torch.tensor([[3, 0]]))
    assert layer(embedded)._keras_mask.tolist() == [[True, False]]
    adapted = Normalization()
    adapted.adapt(np.ones((3, 2)))
    assert adapted.count.dtype == torch.int32 and int(adapted.count) == 0


def test_rescaling_matches_keras_exactly():
    keras = _keras()
    pixels = np.random.RandomState(0).randint(0, 256, size=(2, 4, 4, 3)).astype("uint8")
    for kwargs in (
        {"scale": 1 / 255},
        {"scale": 1 / 127.5, "offset": -1.0},
        {"scale": np.array([0.5, 1.0, 2.0]), "offset": np.array([1.0, 0.0, -1.0])},
    ):
        ours, theirs = Rescaling(**kwargs), keras.layers.Rescaling(**kwargs)
        got = ours(torch.tensor(pixels))
        assert got.dtype == torch.float32
        np.testing.assert_array_equal(_numpy(got), _numpy(theirs(pixels)))
        assert ours.weights == []


def test_rescaling_config_round_trips_arrays_and_passes_masks():
    keras = _keras()
    ours = Rescaling(scale=np.array([0.5, 2.0]), offset=1.0)
    theirs = keras.layers.Rescaling(scale=np.array([0.5, 2.0]), offset=1.0)
    config, keras_config = ours.get_config(), theirs.get_config()
    assert set(config) - _BASE_KEYS == set(keras_config) - _BASE_KEYS
    assert config["offset"] == keras_config["offset"] == 1.0
    rebuilt = Rescaling.from_config(config)
    assert rebuilt(torch.ones(1, 2)).tolist() == [[1.5, 3.0]]
    assert keras.layers.Rescaling.from_config(config)(np.ones((1, 2))).tolist() == [[1.5, 3.0]]
    embedded = Embedding(5, 2, mask_zero=True)(torch.tensor([[3, 0]]))
    assert Rescaling(2.0)(embedded)._keras_mask.tolist() == [[True, False]]
    assert Rescaling(2.0).compute_output_shape((None, 3)) == (None, 3)
