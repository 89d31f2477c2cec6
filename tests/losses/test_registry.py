"""The registry in `kfit/losses/__init__.py`: `get`, `serialize` and `deserialize`, as Keras 3's."""

from __future__ import annotations

import pytest
from loss_parity import keras

from kfit import losses

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


@pytest.mark.parametrize(
    "identifier",
    ["binary_focal_crossentropy", "BinaryFocalCrossentropy", "categorical_focal_crossentropy",
     "CategoricalFocalCrossentropy", "dice", "Dice", "tversky", "Tversky", "circle", "Circle", "ctc", "CTC",
     "squared_hinge", "categorical_hinge", "KLD", "cosine_similarity"],
)
def test_new_names_resolve_like_keras(identifier):
    test_get_resolves_like_keras(identifier)


def test_every_keras_loss_name_is_understood():
    from keras.src.losses import ALL_OBJECTS_DICT

    assert set(ALL_OBJECTS_DICT) <= set(losses.ALL_OBJECTS_DICT)
    public = {name for name in dir(keras.losses) if not name.startswith("_")}
    assert public <= set(losses.__all__)
