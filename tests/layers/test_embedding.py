"""Embedding against Keras 3: the table, lookups of any integer dtype, gradients, masks, LoRA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.embedding import Embedding
from kfit.layers.normalization.layer_normalization import LayerNormalization

# The base Layer's keys, which differ between the two base classes; the rest must agree.
_BASE_KEYS = {"name", "trainable", "dtype", "activity_regularizer", "autocast"}


def _keras():
    return pytest.importorskip("keras")


def _numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


IDS = np.array([[1, 4, 0, 9], [0, 0, 3, 3]])


def test_table_name_shape_and_uniform_init():
    keras = _keras()
    ours, theirs = Embedding(1000, 8), keras.layers.Embedding(1000, 8)
    ours.build()
    theirs.build()
    assert [(w.name, tuple(w.shape)) for w in ours.weights] == [(w.name, tuple(w.shape)) for w in theirs.weights]
    assert [w.path for w in ours.weights] == [ours.name + "/embeddings"]
    table = ours.get_weights()[0]
    assert table.dtype == np.float32 and np.abs(table).max() <= 0.05 and np.abs(table).max() > 0.049
    assert abs(table.std() - 0.1 / np.sqrt(12)) < 2e-3


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.uint8, torch.float32])
def test_lookup_and_gradient_match_keras_for_any_id_dtype(dtype):
    keras = _keras()
    ours, theirs = Embedding(10, 3), keras.layers.Embedding(10, 3)
    theirs.build()
    ours.build()
    ours.set_weights(theirs.get_weights())
    upstream = torch.tensor(np.random.RandomState(0).randn(2, 4, 3).astype("float32"))
    ids = torch.tensor(IDS).to(dtype)
    out, keras_out = ours(ids), theirs(ids)
    assert out.dtype == torch.float32 and tuple(out.shape) == (2, 4, 3)
    np.testing.assert_array_equal(_numpy(out), _numpy(keras_out))
    (out * upstream).sum().backward()
    (keras_out * upstream).sum().backward()
    np.testing.assert_allclose(_numpy(ours.embeddings.grad), _numpy(theirs.embeddings.value.grad), rtol=1e-6)


def test_float_ids_are_truncated_as_keras_casts_them():
    keras = _keras()
    ours = Embedding(10, 2, weights=np.arange(20, dtype="float32").reshape(10, 2))
    theirs = keras.layers.Embedding(10, 2, weights=np.arange(20, dtype="float32").reshape(10, 2))
    ids = np.array([[1.0, 2.7]], dtype="float32")
    np.testing.assert_array_equal(_numpy(ours(torch.tensor(ids))), _numpy(theirs(ids)))


def test_mask_zero_mask_equals_keras_compute_mask_and_reaches_the_next_layer():
    keras = _keras()
    ours, theirs = Embedding(10, 3, mask_zero=True), keras.layers.Embedding(10, 3, mask_zero=True)
    ids = torch.tensor(IDS)
    np.testing.assert_array_equal(_numpy(ours.compute_mask(ids)), _numpy(theirs.compute_mask(ids)))
    out = ours(ids)
    np.testing.assert_array_equal(_numpy(out._keras_mask), IDS != 0)
    assert ours.supports_masking and not Embedding(10, 3).supports_masking
    assert LayerNormalization()(out)._keras_mask.tolist() == (IDS != 0).tolist()
    assert Embedding(10, 3).compute_mask(ids) is None


def test_a_layer_built_at_construction_still_masks_its_first_call():
    layer = Embedding(10, 2, mask_zero=True, weights=[np.zeros((10, 2), "float32")])
    assert layer.built
    assert layer(torch.tensor([[2, 0]]))._keras_mask.tolist() == [[True, False]]


def test_lora_weights_order_and_output_match_keras():
    keras = _keras()
    ours, theirs = Embedding(10, 4, lora_rank=2), keras.layers.Embedding(10, 4, lora_rank=2)
    ours.build()
    theirs.build()
    assert [(w.name, w.requires_grad) for w in ours.weights] == [(w.name, w.trainable) for w in theirs.weights]
    rs = np.random.RandomState(0)
    weights = [rs.randn(*w.shape).astype("float32") for w in theirs.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    ids = torch.tensor(IDS)
    np.testing.assert_allclose(_numpy(ours(ids)), _numpy(theirs(ids)), rtol=1e-5, atol=1e-6)
    config, keras_config = ours.get_config(), theirs.get_config()
    assert config["lora_rank"] == keras_config["lora_rank"] == 2 and config["lora_alpha"] == keras_config["lora_alpha"]
    with pytest.raises(ValueError, match="already on"):
        ours.enable_lora(2)
    with pytest.raises(ValueError, match="built"):
        Embedding(10, 4).enable_lora(2)
    with pytest.raises(ValueError, match="constraint"):
        Embedding(10, 4, embeddings_constraint="non_neg").enable_lora(2)


def test_config_keys_match_keras_and_round_trip():
    keras = _keras()
    kwargs = {"mask_zero": True, "embeddings_regularizer": "l2", "embeddings_initializer": "he_normal"}
    ours, theirs = Embedding(7, 3, **kwargs), keras.layers.Embedding(7, 3, **kwargs)
    config, keras_config = ours.get_config(), theirs.get_config()
    assert set(config) - _BASE_KEYS == set(keras_config) - _BASE_KEYS
    for key in ("input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer", "mask_zero"):
        assert config[key] == keras_config[key], key
    rebuilt = Embedding.from_config(config)
    rebuilt(torch.tensor([[1, 2]]))
    assert rebuilt.mask_zero and tuple(rebuilt.embeddings.shape) == (7, 3) and len(rebuilt.losses) == 1
    # A Keras config (with Keras's extra keys) loads too.
    assert Embedding.from_config(keras_config).output_dim == 3


def test_shapes_and_bad_arguments():
    layer = Embedding(10, 3)
    assert layer.compute_output_shape((None, 5)) == (None, 5, 3)
    assert layer(torch.tensor([1, 2])).shape == (2, 3)
    for bad in (
        {"input_dim": 0, "output_dim": 2},
        {"input_dim": 2, "output_dim": 2.5},
        {"input_dim": True, "output_dim": 2},
    ):
        with pytest.raises(ValueError, match="positive integer"):
            Embedding(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        Embedding(10, 3, weights=np.zeros((3, 10)))
    Embedding(10, 3, input_length=5)  # Keras 2's argument, ignored
    with pytest.raises(NotImplementedError, match="quantization_config"):
        Embedding(10, 3, quantization_config={"mode": "int8"})
