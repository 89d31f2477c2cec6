"""The Keras developer guides' own patterns, run on kfit and on Keras 3 with the same code.

Each pattern is a function of the library module (``kfit`` or ``keras``), so both run literally
the same source. Weights are copied Keras -> kfit, then predictions, ``fit`` histories and final
weights are compared. The data is synthetic and small: nothing is downloaded.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch

import kfit

keras = pytest.importorskip("keras")

RTOL, ATOL = 1e-4, 1e-5
# The `kfit` or the `keras` module: the patterns below are written once against either.
Lib = Any


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _close(got: Any, expected: Any) -> None:
    np.testing.assert_allclose(_numpy(got), _numpy(expected), rtol=RTOL, atol=ATOL)


def _close_all(got: Any, expected: Any) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        _close(g, e)


def _close_history(got: dict[str, list[float]], expected: dict[str, list[float]]) -> None:
    assert sorted(got) == sorted(expected)
    for key in expected:
        _close(got[key], expected[key])


def _summary_table(text: list[str]) -> str:
    """A summary without the model's name and the layer names' counters (`conv2d_3`)."""
    table = "\n".join(text).split("\n", 1)[1]
    # "conv2d_3 (Conv2D)", "dropout_4[0][0]", and a name alone in a wrapped row ("dropout_14 │")
    table = re.sub(r"(\w)_\d+(?=\[|\s)", r"\1", table)
    return re.sub(r"[ ─━]+", " ", table)  # the padding shifts with the names' lengths


def _both(build: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Builds the pattern on both libraries and copies the Keras weights into kfit."""
    keras.utils.set_random_seed(0)
    keras_model = build(keras, *args, **kwargs)
    kfit_model = build(kfit, *args, **kwargs)
    kfit_model.set_weights(keras_model.get_weights())
    return keras_model, kfit_model


def _fit_both(models: tuple[Any, Any], compile_kwargs: Any, *fit_args: Any, **fit_kwargs: Any) -> None:
    """Compiles (``compile_kwargs(lib)``) and fits both, then compares histories and weights."""
    histories = []
    for model, lib in zip(models, (keras, kfit)):
        model.compile(**compile_kwargs(lib))
        fit_kwargs.setdefault("verbose", 0)
        fit_kwargs.setdefault("shuffle", False)
        histories.append(model.fit(*fit_args, **fit_kwargs).history)
    _close_history(histories[1], histories[0])
    _close_all(models[1].get_weights(), models[0].get_weights())


_RNG = np.random.default_rng(0)


def _normal(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# --- 1. "Simple MNIST convnet" (keras.io/examples/vision/mnist_convnet) ---------------------


def mnist_convnet(lib: Lib, rate: float = 0.5, functional: bool = False) -> Any:
    layers = lib.layers
    if functional:
        inputs = lib.Input(shape=(28, 28, 1))
        x = layers.Conv2D(8, kernel_size=(3, 3), activation="relu")(inputs)
        x = layers.MaxPooling2D(pool_size=(2, 2))(x)
        x = layers.Conv2D(16, kernel_size=(3, 3), activation="relu")(x)
        x = layers.MaxPooling2D(pool_size=(2, 2))(x)
        x = layers.Flatten()(x)
        x = layers.Dropout(rate)(x)
        return lib.Model(inputs, layers.Dense(10, activation="softmax")(x))
    return lib.Sequential(
        [
            lib.Input(shape=(28, 28, 1)),
            layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(rate),
            layers.Dense(10, activation="softmax"),
        ]
    )


def _mnist_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((40, 28, 28, 1)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 40)]
    return x, y


def _mnist_compile(lib: Lib) -> dict[str, Any]:
    return {"loss": "categorical_crossentropy", "optimizer": "adam", "metrics": ["accuracy"]}


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_mnist_convnet_inference_with_dropout_matches_keras(functional: bool) -> None:
    """Simple MNIST convnet: with Dropout(0.5), predict and evaluate run in inference mode."""
    x, y = _mnist_data()
    keras_model, kfit_model = _both(mnist_convnet, 0.5, functional)
    _close(kfit_model.predict(x, verbose=0), keras_model.predict(x, verbose=0))
    for model in (keras_model, kfit_model):
        model.compile(**_mnist_compile(None))
    _close(kfit_model.evaluate(x, y, verbose=0), keras_model.evaluate(x, y, verbose=0))
    _close(kfit_model(x[:4], training=False), keras_model(x[:4], training=False))


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_mnist_convnet_fit_with_validation_split_matches_keras(functional: bool) -> None:
    """Simple MNIST convnet: adam, categorical_crossentropy, accuracy, validation_split=0.1."""
    x, y = _mnist_data()
    models = _both(mnist_convnet, 0.0, functional)
    _fit_both(models, _mnist_compile, x, y, batch_size=8, epochs=2, validation_split=0.1)
    assert models[1].count_params() == models[0].count_params()


# --- 2. "Making new layers and models via subclassing" ----------------------------------------


def subclassing_layers(lib: Lib) -> dict[str, Any]:
    """The guide's layers, defined against ``lib.layers.Layer``."""
    layers, ops = lib.layers, lib.ops
    Layer: Any = layers.Layer

    class Linear(Layer):  # weights created in __init__
        def __init__(self, units: int = 32, input_dim: int = 32) -> None:
            super().__init__()
            self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

        def call(self, inputs: Any) -> Any:
            return ops.matmul(inputs, self.w) + self.b

    class LazyLinear(Layer):  # weights created in build
        def __init__(self, units: int = 32, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape: Any) -> None:
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal")

        def call(self, inputs: Any) -> Any:
            return ops.matmul(inputs, self.w) + self.b

        def get_config(self) -> dict[str, Any]:
            config = super().get_config()
            config.update({"units": self.units})
            return config

    class ComputeSum(Layer):
        def __init__(self, input_dim: int) -> None:
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs: Any) -> Any:
            self.total.assign_add(ops.sum(inputs, axis=0))
            return self.total

    class MLPBlock(Layer):
        def __init__(self) -> None:
            super().__init__()
            self.linear_1 = LazyLinear(32)
            self.linear_2 = LazyLinear(32)
            self.linear_3 = LazyLinear(1)

        def call(self, inputs: Any) -> Any:
            x = ops.relu(self.linear_1(inputs))
            x = ops.relu(self.linear_2(x))
            return self.linear_3(x)

    class ActivityRegularizationLayer(Layer):
        def __init__(self, rate: float = 1e-2) -> None:
            super().__init__()
            self.rate = rate

        def call(self, inputs: Any) -> Any:
            self.add_loss(self.rate * ops.mean(inputs))
            return inputs

    class OuterLayer(Layer):
        def __init__(self) -> None:
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs: Any) -> Any:
            return self.activity_reg(inputs)

    class OuterLayerWithKernelRegularizer(Layer):
        def __init__(self) -> None:
            super().__init__()
            self.dense = layers.Dense(32, kernel_regularizer=lib.regularizers.l2(1e-3))

        def call(self, inputs: Any) -> Any:
            return self.dense(inputs)

    class CustomDropout(Layer):
        def __init__(self, rate: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.rate = rate
            self.seed_generator = lib.random.SeedGenerator(1337)

        def call(self, inputs: Any, training: Any = None) -> Any:
            if training:
                return lib.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
            return inputs

    return {
        "Linear": Linear,
        "LazyLinear": LazyLinear,
        "ComputeSum": ComputeSum,
        "MLPBlock": MLPBlock,
        "ActivityRegularizationLayer": ActivityRegularizationLayer,
        "OuterLayer": OuterLayer,
        "OuterLayerWithKernelRegularizer": OuterLayerWithKernelRegularizer,
        "CustomDropout": CustomDropout,
    }


def test_linear_layer_weights_in_init_and_in_build_match_keras() -> None:
    """Subclassing guide: `Linear` with add_weight in __init__, then in build()."""
    x = _normal(2, 2)
    for name, kwargs in (("Linear", {"units": 4, "input_dim": 2}), ("LazyLinear", {"units": 4})):
        keras_layer = subclassing_layers(keras)[name](**kwargs)
        kfit_layer = subclassing_layers(kfit)[name](**kwargs)
        expected = keras_layer(x)
        kfit_layer(x)
        assert len(kfit_layer.weights) == len(keras_layer.weights) == 2
        assert len(kfit_layer.trainable_weights) == 2
        kfit_layer.set_weights(keras_layer.get_weights())
        _close(kfit_layer(x), expected)


def test_compute_sum_non_trainable_weight_matches_keras() -> None:
    """Subclassing guide: `ComputeSum` keeps a non-trainable total updated with assign_add."""
    x = np.ones((2, 2), dtype="float32")
    results = []
    for lib in (keras, kfit):
        layer = subclassing_layers(lib)["ComputeSum"](2)
        layer(x)
        results.append(layer(x))
        assert len(layer.weights) == 1
        assert len(layer.non_trainable_weights) == 1
        assert layer.trainable_weights == []
    _close(results[1], results[0])
    _close(results[1], [4.0, 4.0])


def test_mlp_block_tracks_nested_weights_like_keras() -> None:
    """Subclassing guide: `MLPBlock` nests three Linear layers; weights are tracked recursively."""
    x = _normal(3, 64)
    keras_block = subclassing_layers(keras)["MLPBlock"]()
    kfit_block = subclassing_layers(kfit)["MLPBlock"]()
    expected = keras_block(x)
    kfit_block(x)
    assert len(kfit_block.weights) == len(keras_block.weights) == 6
    assert len(kfit_block.trainable_weights) == 6
    kfit_block.set_weights(keras_block.get_weights())
    _close(kfit_block(x), expected)


def test_add_loss_activity_regularization_and_kernel_regularizer_losses() -> None:
    """Subclassing guide: add_loss() in call, `layer.losses` reset per call, regularizer losses."""
    x = _normal(1, 1) + 5.0
    outer = {lib: subclassing_layers(lib)["OuterLayer"]() for lib in (keras, kfit)}
    for layer in outer.values():
        assert len(layer.losses) == 0
        layer(np.zeros((1, 1), dtype="float32"))
        assert len(layer.losses) == 1
        layer(x)
        assert len(layer.losses) == 1  # recreated at every __call__
    _close(outer[kfit].losses[0], outer[keras].losses[0])

    regularized = {lib: subclassing_layers(lib)["OuterLayerWithKernelRegularizer"]() for lib in (keras, kfit)}
    regularized[keras](np.zeros((1, 1), dtype="float32"))
    regularized[kfit](np.zeros((1, 1), dtype="float32"))
    regularized[kfit].set_weights(regularized[keras].get_weights())
    for layer in regularized.values():
        assert len(layer.losses) == 1
    _close(regularized[kfit].losses[0], regularized[keras].losses[0])


def _activity_model(lib: Lib) -> Any:
    inputs = lib.Input(shape=(3,))
    x = subclassing_layers(lib)["ActivityRegularizationLayer"](0.1)(inputs)
    outputs = lib.layers.Dense(1)(x)
    return lib.Model(inputs, outputs)


def test_model_with_add_loss_layer_fits_like_keras() -> None:
    """Subclassing guide: losses from add_loss are added to the compiled loss during fit."""
    x, y = _normal(16, 3), _normal(16, 1, seed=1)
    models = _both(_activity_model)
    models[0](x)
    models[1](x)
    assert len(models[1].losses) == len(models[0].losses) == 1
    _close(models[1].losses[0], models[0].losses[0])
    _fit_both(models, lambda lib: {"optimizer": lib.optimizers.SGD(0.1), "loss": "mse"}, x, y, batch_size=4, epochs=2)


def test_training_argument_custom_dropout() -> None:
    """Subclassing guide: the `training` argument; inference is the identity, training drops."""
    x = np.ones((4, 64), dtype="float32")
    for lib in (keras, kfit):
        layer = subclassing_layers(lib)["CustomDropout"](0.5)
        _close(layer(x, training=False), x)
        _close(layer(x), x)
        dropped = _numpy(layer(x, training=True))
        assert set(np.unique(dropped)) <= {0.0, 2.0}
        assert 0 < (dropped == 0).sum() < dropped.size
    model = kfit.Sequential([kfit.Input((64,)), subclassing_layers(kfit)["CustomDropout"](0.5)])
    _close(model.predict(x, verbose=0), x)  # predict() runs with training=False


def test_custom_layer_get_config_from_config_round_trip() -> None:
    """Subclassing guide: get_config()/from_config() of a custom layer, as in Keras."""
    for lib in (keras, kfit):
        layer_class = subclassing_layers(lib)["LazyLinear"]
        layer = layer_class(64, name="custom")
        config = layer.get_config()
        assert config["units"] == 64 and config["name"] == "custom"
        new_layer = layer_class.from_config(config)
        assert new_layer.units == 64 and new_layer.name == "custom"
    kfit_config = subclassing_layers(kfit)["LazyLinear"](64, name="custom").get_config()
    keras_config = subclassing_layers(keras)["LazyLinear"](64, name="custom").get_config()
    assert sorted(kfit_config) == sorted(keras_config)


def variational_autoencoder(lib: Lib, original_dim: int = 12) -> Any:
    """The guide's VAE: Encoder with a Sampling layer, Decoder, KL divergence via add_loss."""
    layers, ops = lib.layers, lib.ops
    Layer: Any = layers.Layer
    Model: Any = lib.Model

    class Sampling(Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.seed_generator = lib.random.SeedGenerator(1337)

        def call(self, inputs: Any) -> Any:
            z_mean, z_log_var = inputs
            batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
            epsilon = lib.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    class Encoder(Layer):
        def __init__(self, latent_dim: int = 2, intermediate_dim: int = 8, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_mean = layers.Dense(latent_dim)
            self.dense_log_var = layers.Dense(latent_dim)
            self.sampling = Sampling()

        def call(self, inputs: Any) -> Any:
            x = self.dense_proj(inputs)
            z_mean = self.dense_mean(x)
            z_log_var = self.dense_log_var(x)
            z = self.sampling((z_mean, z_log_var))
            return z_mean, z_log_var, z

    class Decoder(Layer):
        def __init__(self, original_dim: int, intermediate_dim: int = 8, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_output = layers.Dense(original_dim, activation="sigmoid")

        def call(self, inputs: Any) -> Any:
            return self.dense_output(self.dense_proj(inputs))

    class VariationalAutoEncoder(Model):
        def __init__(self, original_dim: int, intermediate_dim: int = 8, latent_dim: int = 2, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.original_dim = original_dim
            self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
            self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

        def call(self, inputs: Any) -> Any:
            z_mean, z_log_var, z = self.encoder(inputs)
            reconstructed = self.decoder(z)
            kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
            self.add_loss(kl_loss)
            return reconstructed

    vae = VariationalAutoEncoder(original_dim)
    vae(np.zeros((1, original_dim), dtype="float32"))  # creates the weights
    return vae


def test_vae_deterministic_parts_match_keras_and_kfit_trains() -> None:
    """Subclassing guide, "Putting it all together": the VAE, its KL add_loss, then fit on kfit."""
    x = np.random.default_rng(0).random((32, 12)).astype("float32")
    keras_vae, kfit_vae = _both(variational_autoencoder)
    assert len(kfit_vae.weights) == len(keras_vae.weights) == 10
    # Sampling draws from different generators; z_mean, z_log_var and the KL loss do not.
    keras_out, kfit_out = keras_vae.encoder(x), kfit_vae.encoder(x)
    _close(kfit_out[0], keras_out[0])
    _close(kfit_out[1], keras_out[1])
    _close(kfit_vae.decoder(kfit_out[0]), keras_vae.decoder(keras_out[0]))
    keras_vae(x)
    kfit_vae(x)
    assert len(kfit_vae.losses) == len(keras_vae.losses) == 1
    _close(kfit_vae.losses[0], keras_vae.losses[0])

    kfit_vae.compile(kfit.optimizers.Adam(learning_rate=1e-2), loss=kfit.losses.MeanSquaredError())
    history = kfit_vae.fit(x, x, epochs=5, batch_size=8, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]


# --- 3. "Understanding masking & padding" ------------------------------------------------------

_RAW = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
# keras.utils.pad_sequences(_RAW, padding="post"):
_PADDED = np.array([row + [0] * (6 - len(row)) for row in _RAW], dtype="int32")


def _mask(x: Any) -> np.ndarray:
    return _numpy(x._keras_mask)


def test_embedding_mask_zero_and_masking_layer_masks_match_keras() -> None:
    """Masking guide: Embedding(mask_zero=True) and layers.Masking() attach the same masks."""
    masks = []
    for lib in (keras, kfit):
        embedding = lib.layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
        masked_output = embedding(_PADDED)
        _close(_mask(masked_output), embedding.compute_mask(_PADDED))
        unmasked = lib.ops.cast(lib.ops.tile(lib.ops.expand_dims(_PADDED, axis=-1), [1, 1, 10]), "float32")
        masked_embedding = lib.layers.Masking()(unmasked)
        masks.append((_mask(masked_output), _mask(masked_embedding)))
    _close(masks[1][0], masks[0][0])
    _close(masks[1][1], masks[0][1])
    _close(masks[1][0], _PADDED != 0)


def masked_lstm(lib: Lib, explicit: bool = False) -> Any:
    """Masking guide: Embedding(mask_zero=True) -> LSTM, in a functional model or a custom layer."""
    layers = lib.layers
    Layer: Any = layers.Layer

    class MyLayer(Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
            self.lstm = layers.LSTM(8)

        def call(self, inputs: Any) -> Any:
            x = self.embedding(inputs)
            # Note that you could also prepare a `mask` tensor manually.
            mask = self.embedding.compute_mask(inputs)
            return self.lstm(x, mask=mask)  # The layer will ignore the masked values

    inputs = lib.Input(shape=(None,), dtype="int32")
    if explicit:
        outputs = MyLayer()(inputs)
    else:
        x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
        outputs = layers.LSTM(8)(x)
    return lib.Model(inputs, outputs)


@pytest.mark.parametrize("explicit", [False, True], ids=["functional", "mask_argument"])
def test_lstm_ignores_padding_like_keras(explicit: bool) -> None:
    """Masking guide: the LSTM skips the padded steps, passed implicitly or as `mask=`."""
    keras_model, kfit_model = _both(masked_lstm, explicit)
    expected = keras_model.predict(_PADDED, verbose=0)
    _close(kfit_model.predict(_PADDED, verbose=0), expected)
    # Padding more zeros changes nothing when the mask is honoured.
    longer = np.concatenate([_PADDED, np.zeros((3, 2), dtype="int32")], axis=1)
    _close(kfit_model.predict(longer, verbose=0), expected)


def masking_layers(lib: Lib) -> dict[str, Any]:
    layers, ops = lib.layers, lib.ops
    Layer: Any = layers.Layer

    class TemporalSplit(Layer):
        """Split the input tensor into 2 tensors along the time dimension."""

        def call(self, inputs: Any) -> Any:
            return ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
            if mask is None:
                return None
            return ops.split(mask, 2, axis=1)

    class CustomEmbedding(Layer):
        def __init__(self, input_dim: int, output_dim: int, mask_zero: bool = False, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.input_dim = input_dim
            self.output_dim = output_dim
            self.mask_zero = mask_zero

        def build(self, input_shape: Any) -> None:
            self.embeddings = self.add_weight(
                shape=(self.input_dim, self.output_dim), initializer="random_normal", dtype="float32"
            )

        def call(self, inputs: Any) -> Any:
            inputs = ops.cast(inputs, "int32")
            return ops.take(self.embeddings, inputs)

        def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
            if not self.mask_zero:
                return None
            return ops.not_equal(inputs, 0)

    class MyActivation(Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            # Signal that the layer is safe for mask propagation
            self.supports_masking = True

        def call(self, inputs: Any) -> Any:
            return lib.activations.relu(inputs)

    class TemporalSoftmax(Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs: Any, mask: Any = None) -> Any:
            assert mask is not None
            return self.softmax(inputs, mask)

        def softmax(self, inputs: Any, mask: Any) -> Any:
            broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
            inputs_exp = ops.exp(inputs) * broadcast_float_mask
            inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
            return inputs_exp / inputs_sum

    class LenientTemporalSoftmax(TemporalSoftmax):
        """TemporalSoftmax without the guide's `assert mask is not None` (see the xfail below)."""

        def call(self, inputs: Any, mask: Any = None) -> Any:
            if mask is None:  # kfit's symbolic (functional-construction) call has no mask
                mask = ops.ones(ops.shape(inputs)[:-1], dtype="bool")
            return self.softmax(inputs, mask)

    return {
        "LenientTemporalSoftmax": LenientTemporalSoftmax,
        "TemporalSplit": TemporalSplit,
        "CustomEmbedding": CustomEmbedding,
        "MyActivation": MyActivation,
        "TemporalSoftmax": TemporalSoftmax,
    }


def test_custom_compute_mask_layers_match_keras() -> None:
    """Masking guide: TemporalSplit and CustomEmbedding define compute_mask()."""
    x = _normal(3, 6, 4)
    results = []
    for lib in (keras, kfit):
        custom = masking_layers(lib)
        first_half, second_half = custom["TemporalSplit"]()(lib.layers.Masking(mask_value=0.0)(x))
        embedding = custom["CustomEmbedding"](10, 32, mask_zero=True)
        ids = np.array([[3, 1, 0, 0], [5, 0, 0, 0]], dtype="int32")
        embedding(ids)
        results.append((_mask(first_half), _mask(second_half), embedding.compute_mask(ids)))
    for got, expected in zip(results[1], results[0]):
        _close(got, expected)


def masked_activation_model(lib: Lib) -> Any:
    custom = masking_layers(lib)
    inputs = lib.Input(shape=(None,), dtype="int32")
    x = lib.layers.Embedding(input_dim=50, output_dim=16, mask_zero=True)(inputs)
    x = custom["MyActivation"]()(x)  # Will pass the mask along
    outputs = lib.layers.LSTM(8)(x)  # Will receive the mask
    return lib.Model(inputs, outputs)


def temporal_softmax_model(lib: Lib, name: str = "LenientTemporalSoftmax") -> Any:
    inputs = lib.Input(shape=(None,), dtype="int32")
    x = lib.layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
    x = lib.layers.Dense(1)(x)
    outputs = masking_layers(lib)[name]()(x)
    return lib.Model(inputs, outputs)


def test_supports_masking_and_mask_argument_layers_match_keras() -> None:
    """Masking guide: MyActivation (supports_masking) and TemporalSoftmax (call takes `mask`)."""
    ids = np.array([[3, 1, 4, 0, 0], [5, 9, 0, 0, 0]], dtype="int32")
    for build in (masked_activation_model, temporal_softmax_model):
        keras_model, kfit_model = _both(build)
        _close(kfit_model.predict(ids, verbose=0), keras_model.predict(ids, verbose=0))
    for lib in (keras, kfit):
        embedded = lib.layers.Embedding(input_dim=50, output_dim=4, mask_zero=True)(ids)
        _close(_mask(masking_layers(lib)["MyActivation"]()(embedded)), ids != 0)


def test_symbolic_masks_during_functional_construction() -> None:
    """Masking guide: `print("Mask found:", x._keras_mask)` and TemporalSoftmax's assert."""
    masks = []
    for lib in (keras, kfit):
        inputs = lib.Input(shape=(None,), dtype="int32")
        x = lib.layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
        y = lib.layers.Dense(1)(x)
        masks.append([(tuple(t._keras_mask.shape), str(t._keras_mask.dtype)) for t in (x, y)])
    assert masks[1] == masks[0]
    # The guide's TemporalSoftmax asserts that its call gets a mask, while the model is built too.
    ids = np.array([[3, 1, 4, 0, 0], [5, 9, 0, 0, 0]], dtype="int32")
    keras_model, kfit_model = _both(lambda lib: temporal_softmax_model(lib, "TemporalSoftmax"))
    _close(kfit_model.predict(ids, verbose=0), keras_model.predict(ids, verbose=0))


# --- 4. "The Functional API" -------------------------------------------------------------------

NUM_TAGS, NUM_WORDS, NUM_DEPARTMENTS = 6, 50, 4


def ticket_model(lib: Lib) -> Any:
    """The guide's ticket classifier: title, body and tags in; priority and department out."""
    layers = lib.layers
    title_input = lib.Input(shape=(None,), name="title")  # Variable-length sequence of ints
    body_input = lib.Input(shape=(None,), name="body")  # Variable-length sequence of ints
    tags_input = lib.Input(shape=(NUM_TAGS,), name="tags")  # Binary vectors of size `num_tags`
    title_features = layers.Embedding(NUM_WORDS, 8)(title_input)
    body_features = layers.Embedding(NUM_WORDS, 8)(body_input)
    title_features = layers.LSTM(8)(title_features)
    body_features = layers.LSTM(4)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(NUM_DEPARTMENTS, name="department")(x)
    return lib.Model(
        inputs=[title_input, body_input, tags_input], outputs={"priority": priority_pred, "department": department_pred}
    )


def _ticket_data() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    inputs = {
        "title": rng.integers(NUM_WORDS, size=(24, 5)).astype("float32"),
        "body": rng.integers(NUM_WORDS, size=(24, 7)).astype("float32"),
        "tags": rng.integers(2, size=(24, NUM_TAGS)).astype("float32"),
    }
    targets = {
        "priority": rng.random(size=(24, 1)).astype("float32"),
        "department": rng.integers(2, size=(24, NUM_DEPARTMENTS)).astype("float32"),
    }
    return inputs, targets


def test_multi_input_multi_output_ticket_model_matches_keras() -> None:
    """Functional API guide: models with multiple inputs and outputs, dict losses, loss_weights."""
    inputs, targets = _ticket_data()
    models = _both(ticket_model)
    assert [type(layer).__name__ for layer in models[1].layers] == [type(layer).__name__ for layer in models[0].layers]
    expected = models[0].predict(inputs, verbose=0)
    got = models[1].predict(inputs, verbose=0)
    assert sorted(got) == sorted(expected)
    for key in expected:
        _close(got[key], expected[key])

    def compile_kwargs(lib: Lib) -> dict[str, Any]:
        return {
            "optimizer": lib.optimizers.RMSprop(1e-3),
            "loss": {
                "priority": lib.losses.BinaryCrossentropy(from_logits=True),
                "department": lib.losses.CategoricalCrossentropy(from_logits=True),
            },
            "loss_weights": {"priority": 1.0, "department": 0.2},
        }

    _fit_both(models, compile_kwargs, inputs, targets, epochs=1, batch_size=8)


@pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")  # Keras's, for lists
def test_ticket_model_with_lists_of_inputs_and_losses() -> None:
    """Functional API guide: the same model fit with lists (inputs, losses, loss_weights)."""
    inputs, targets = _ticket_data()
    models = _both(ticket_model)

    def compile_kwargs(lib: Lib) -> dict[str, Any]:
        return {
            "optimizer": lib.optimizers.SGD(0.05),
            "loss": {"priority": "mse", "department": lib.losses.CategoricalCrossentropy(from_logits=True)},
            "loss_weights": {"priority": 1.0, "department": 0.2},
            "metrics": {"department": ["accuracy"]},
        }

    x = [inputs["title"], inputs["body"], inputs["tags"]]
    _fit_both(models, compile_kwargs, x, targets, epochs=1, batch_size=8)


def toy_resnet(lib: Lib) -> Any:
    """The guide's toy ResNet for CIFAR10-shaped inputs, with fewer filters."""
    layers = lib.layers
    inputs = lib.Input(shape=(16, 16, 3), name="img")
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(8, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(16, activation="relu")(x)
    x = layers.Dropout(0.0)(x)
    outputs = layers.Dense(10)(x)
    return lib.Model(inputs, outputs, name="toy_resnet")


def test_toy_resnet_summary_predictions_and_fit_match_keras() -> None:
    """Functional API guide: a toy ResNet model (layers.add, GlobalAveragePooling2D)."""
    rng = np.random.default_rng(0)
    x = rng.random((16, 16, 16, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 16)]
    models = _both(toy_resnet)
    _close(models[1].predict(x, verbose=0), models[0].predict(x, verbose=0))
    texts: list[list[str]] = [[], []]
    for model, text in zip(models, texts):
        model.summary(print_fn=text.append)
    assert _summary_table(texts[1]) == _summary_table(texts[0])

    def compile_kwargs(lib: Lib) -> dict[str, Any]:
        return {
            "optimizer": lib.optimizers.RMSprop(1e-3),
            "loss": lib.losses.CategoricalCrossentropy(from_logits=True),
            "metrics": ["acc"],
        }

    _fit_both(models, compile_kwargs, x, y, batch_size=8, epochs=1, validation_split=0.25)


def shared_embedding_model(lib: Lib) -> Any:
    """Functional API guide: shared layers (one Embedding for two text inputs)."""
    shared_embedding = lib.layers.Embedding(20, 8)
    text_input_a = lib.Input(shape=(None,), dtype="int32")
    text_input_b = lib.Input(shape=(None,), dtype="int32")
    encoded_input_a = shared_embedding(text_input_a)
    encoded_input_b = shared_embedding(text_input_b)
    merged = lib.layers.concatenate([encoded_input_a, encoded_input_b], axis=1)
    return lib.Model([text_input_a, text_input_b], lib.layers.GlobalAveragePooling1D()(merged))


def test_shared_layers_match_keras() -> None:
    """Functional API guide: shared layers hold one set of weights for both inputs."""
    a = np.array([[1, 2, 3], [4, 5, 6]], dtype="int32")
    b = np.array([[7, 8], [9, 1]], dtype="int32")
    models = _both(shared_embedding_model)
    assert len(models[1].weights) == len(models[0].weights) == 1
    _close(models[1].predict([a, b], verbose=0), models[0].predict([a, b], verbose=0))


def _vgg_like(lib: Lib) -> Any:
    layers = lib.layers
    return lib.Sequential(
        [
            lib.Input((12, 12, 3)),
            layers.Conv2D(4, 3, activation="relu", name="conv_a"),
            layers.Conv2D(4, 3, activation="relu", name="conv_b"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Flatten(name="flatten"),
            layers.Dense(5, name="head"),
        ]
    )


@pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")  # Keras's
def test_feature_extraction_and_get_layer_output_match_keras() -> None:
    """Functional API guide: extract and reuse nodes in the graph of layers."""
    x = _normal(2, 12, 12, 3)
    models = _both(_vgg_like)
    extractors = []
    for model, lib in zip(models, (keras, kfit)):
        features_list = [layer.output for layer in model.layers]
        extractors.append(lib.Model(inputs=model.inputs, outputs=features_list))
    _close_all(extractors[1](x), extractors[0](x))
    for model, lib in zip(models, (keras, kfit)):
        extractors.append(lib.Model(inputs=model.inputs, outputs=model.get_layer(name="pool").output))
    _close(extractors[3](x), extractors[2](x))


def autoencoder(lib: Lib) -> Any:
    """Functional API guide: all models are callable, just like layers (nested models)."""
    layers = lib.layers
    encoder_input = lib.Input(shape=(8, 8, 1), name="original_img")
    x = layers.Conv2D(4, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(4, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = lib.Model(encoder_input, encoder_output, name="encoder")

    decoder_input = lib.Input(shape=(4,), name="encoded_img")
    x = layers.Reshape((2, 2, 1))(decoder_input)
    x = layers.Conv2DTranspose(4, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(1, 3, activation="relu")(x)
    decoder_output = layers.UpSampling2D(2)(x)
    decoder = lib.Model(decoder_input, decoder_output, name="decoder")

    autoencoder_input = lib.Input(shape=(8, 8, 1), name="img")
    encoded_img = encoder(autoencoder_input)
    decoded_img = decoder(encoded_img)
    return lib.Model(autoencoder_input, decoded_img, name="autoencoder")


def ensemble(lib: Lib) -> Any:
    """Functional API guide: an ensemble of nested models averaged together."""

    def get_model() -> Any:
        inputs = lib.Input(shape=(6,))
        outputs = lib.layers.Dense(1)(inputs)
        return lib.Model(inputs, outputs)

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = lib.Input(shape=(6,))
    outputs = lib.layers.average([model1(inputs), model2(inputs), model3(inputs)])
    return lib.Model(inputs=inputs, outputs=outputs)


def test_nested_models_match_keras() -> None:
    """Functional API guide: an autoencoder of two nested models, and an ensemble."""
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32")
    models = _both(autoencoder)
    assert [layer.name for layer in models[1].layers] == ["img", "encoder", "decoder"]
    _close(models[1].predict(x, verbose=0), models[0].predict(x, verbose=0))
    texts: list[list[str]] = [[], []]
    for model, text in zip(models, texts):
        model.summary(print_fn=text.append)
    assert _summary_table(texts[1]) == _summary_table(texts[0])
    models = _both(ensemble)
    _close(models[1].predict(_normal(4, 6), verbose=0), models[0].predict(_normal(4, 6), verbose=0))


# --- 5. Timeseries and sequence examples --------------------------------------------------------


def conv1d_classifier(lib: Lib) -> Any:
    """Timeseries classification from scratch: Conv1D blocks, then GlobalAveragePooling1D."""
    layers = lib.layers
    input_layer = lib.Input((20, 1))
    x = input_layer
    for _ in range(2):
        x = layers.Conv1D(filters=4, kernel_size=3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.GlobalMaxPooling1D()(x)
    return lib.Model(input_layer, layers.Dense(2, activation="softmax")(x))


def recurrent_regressor(lib: Lib, cell: str) -> Any:
    """Timeseries forecasting (weather): an LSTM/GRU over (steps, features), one value out."""
    inputs = lib.Input(shape=(12, 3))
    recurrent = getattr(lib.layers, cell)(8)(inputs)
    return lib.Model(inputs=inputs, outputs=lib.layers.Dense(1)(recurrent))


def test_conv1d_timeseries_classifier_matches_keras() -> None:
    """Timeseries classification from scratch: Conv1D + BatchNormalization classifier."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 20, 1)).astype("float32"), rng.integers(0, 2, 24)
    models = _both(conv1d_classifier)
    _close(models[1].predict(x, verbose=0), models[0].predict(x, verbose=0))

    def compile_kwargs(lib: Lib) -> dict[str, Any]:
        # The example uses Adam; but a conv bias feeding BatchNormalization has a gradient of
        # rounding noise only, which Adam scales up to +-lr steps, in either library. SGD keeps
        # that noise at its size, so the two libraries can be compared.
        return {
            "optimizer": lib.optimizers.SGD(0.05),
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["sparse_categorical_accuracy"],
        }

    _fit_both(models, compile_kwargs, x, y, batch_size=8, epochs=2, validation_split=0.25)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_recurrent_timeseries_regressor_matches_keras(cell: str) -> None:
    """Timeseries forecasting for weather prediction: LSTM (and GRU) regressor, mse, Adam."""
    x, y = _normal(16, 12, 3), _normal(16, 1, seed=1)
    models = _both(recurrent_regressor, cell)
    _close(models[1].predict(x, verbose=0), models[0].predict(x, verbose=0))

    def compile_kwargs(lib: Lib) -> dict[str, Any]:
        return {"optimizer": lib.optimizers.Adam(learning_rate=1e-3), "loss": "mse"}

    _fit_both(models, compile_kwargs, x, y, batch_size=8, epochs=2, validation_data=(x[:4], y[:4]))


# --- 6. "Training & evaluation with the built-in methods" -------------------------------------


def _mnist_mlp(lib: Lib, outputs: int = 1) -> Any:
    inputs = lib.Input(shape=(16,), name="digits")
    x = lib.layers.Dense(8, activation="relu", name="dense_1")(inputs)
    x = lib.layers.Dense(8, activation="relu", name="dense_2")(x)
    if outputs == 1:
        return lib.Model(inputs, lib.layers.Dense(10, activation="softmax", name="predictions")(x))
    score = lib.layers.Dense(1, name="score_output")(x)
    klass = lib.layers.Dense(5, name="class_output")(x)
    return lib.Model(inputs, [score, klass])


def guide_losses_and_metrics(lib: Lib) -> dict[str, Any]:
    """The guide's custom loss function, Loss subclass and Metric subclass."""
    ops = lib.ops
    Loss: Any = lib.losses.Loss
    Metric: Any = lib.metrics.Metric

    def custom_mean_squared_error(y_true: Any, y_pred: Any) -> Any:
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    class CustomMSE(Loss):
        def __init__(self, regularization_factor: float = 0.1, name: str = "custom_mse") -> None:
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true: Any, y_pred: Any) -> Any:
            mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
            reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    class CategoricalTruePositives(Metric):
        def __init__(self, name: str = "categorical_true_positives", **kwargs: Any) -> None:
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
            values = ops.cast(values, "float32")
            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, "float32")
                values = ops.multiply(values, sample_weight)
            self.true_positives.assign_add(ops.sum(values))

        def result(self) -> Any:
            return self.true_positives

        def reset_state(self) -> None:
            self.true_positives.assign(0.0)

    return {"mse_fn": custom_mean_squared_error, "CustomMSE": CustomMSE, "CTP": CategoricalTruePositives}


def _digits(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 16)).astype("float32"), rng.integers(0, 10, (n, 1)).astype("float32")


def test_compile_with_custom_metric_and_validation_data_matches_keras() -> None:
    """Training guide: the end-to-end example with validation_data and a custom Metric."""
    x, y = _digits()
    models = _both(_mnist_mlp)

    def compile_kwargs(lib: Lib) -> dict[str, Any]:
        return {
            "optimizer": lib.optimizers.RMSprop(),
            "loss": lib.losses.SparseCategoricalCrossentropy(),
            "metrics": [lib.metrics.SparseCategoricalAccuracy(), guide_losses_and_metrics(lib)["CTP"]()],
        }

    histories = []
    for model, lib in zip(models, (keras, kfit)):
        model.compile(**compile_kwargs(lib))
        history = model.fit(x, y, batch_size=8, epochs=2, validation_data=(x[:8], y[:8]), verbose=0, shuffle=False)
        histories.append(history.history)
    # The guide's `result()` returns the variable itself. Keras's train log keeps a reference to
    # it, which validation then resets and refills: its "categorical_true_positives" shows the
    # validation count. kfit logs the training count, which equals accuracy times samples.
    keras_history, kfit_history = histories
    _close(kfit_history.pop("categorical_true_positives"), np.array(kfit_history["sparse_categorical_accuracy"]) * 32)
    _close(keras_history.pop("categorical_true_positives"), keras_history["val_categorical_true_positives"])
    _close_history(kfit_history, keras_history)
    _close_all(models[1].get_weights(), models[0].get_weights())
    _close(models[1].evaluate(x, y, batch_size=8, verbose=0), models[0].evaluate(x, y, batch_size=8, verbose=0))


@pytest.mark.parametrize("loss", ["mse_fn", "CustomMSE"])
def test_custom_losses_match_keras(loss: str) -> None:
    """Training guide: custom losses, as a function and as a Loss subclass."""
    x, y = _digits()
    y_one_hot = np.eye(10, dtype="float32")[y[:, 0].astype(int)]
    models = _both(_mnist_mlp)

    def compile_kwargs(lib: Lib) -> dict[str, Any]:
        custom = guide_losses_and_metrics(lib)[loss]
        return {"optimizer": lib.optimizers.Adam(), "loss": custom if loss == "mse_fn" else custom()}

    _fit_both(models, compile_kwargs, x, y_one_hot, batch_size=8, epochs=1)


@pytest.mark.parametrize("weighting", ["class_weight", "sample_weight"])
def test_class_and_sample_weights_match_keras(weighting: str) -> None:
    """Training guide: class weights and sample weights (class 5 weighted 2.0)."""
    x, y = _digits()
    models = _both(_mnist_mlp)
    class_weight = dict.fromkeys(range(10), 1.0)
    class_weight[5] = 2.0
    sample_weight = np.ones(len(y), dtype="float32")
    sample_weight[y[:, 0] == 5] = 2.0
    weights = {"class_weight": class_weight} if weighting == "class_weight" else {"sample_weight": sample_weight}

    def compile_kwargs(lib: Lib) -> dict[str, Any]:
        return {
            "optimizer": lib.optimizers.SGD(0.1),
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["sparse_categorical_accuracy"],
        }

    _fit_both(models, compile_kwargs, x, y, batch_size=8, epochs=2, **weights)


def test_multi_output_with_loss_weights_matches_keras() -> None:
    """Training guide: passing data to multi-input, multi-output models, with loss_weights."""
    x, _ = _digits()
    rng = np.random.default_rng(2)
    score, klass = rng.random((32, 1)).astype("float32"), rng.random((32, 5)).astype("float32")
    models = _both(_mnist_mlp, 2)

    def compile_kwargs(lib: Lib) -> dict[str, Any]:
        return {
            "optimizer": lib.optimizers.RMSprop(1e-3),
            "loss": [lib.losses.MeanSquaredError(), lib.losses.CategoricalCrossentropy()],
            "metrics": [
                [lib.metrics.MeanAbsolutePercentageError(), lib.metrics.MeanAbsoluteError()],
                [lib.metrics.CategoricalAccuracy()],
            ],
            "loss_weights": [2.0, 1.0],
        }

    _fit_both(models, compile_kwargs, x, [score, klass], batch_size=8, epochs=1, validation_split=0.25)


# --- 7. "Writing a training loop from scratch in PyTorch" ---------------------------------------


def _guide_mlp(lib: Lib) -> Any:
    return lib.Sequential(
        [
            lib.Input(shape=(16,)),
            lib.layers.Dense(8, activation="relu"),
            lib.layers.Dense(8, activation="relu"),
            lib.layers.Dense(10, name="predictions"),
        ]
    )


def guide_training_loop(
    lib: Lib, model: Any, batches: list[tuple[np.ndarray, np.ndarray]], optimizer_name: str = "Adam"
) -> list[float]:
    """The guide's loop, line for line: forward, loss, zero_grad, backward, optimizer.apply."""
    optimizer = getattr(lib.optimizers, optimizer_name)(learning_rate=1e-2)
    loss_fn = lib.losses.CategoricalCrossentropy(from_logits=True)
    train_acc_metric = lib.metrics.CategoricalAccuracy()
    losses = []
    for batch_inputs, batch_targets in batches:
        inputs, targets = torch.as_tensor(batch_inputs), torch.as_tensor(batch_targets)
        # Forward pass
        logits = model(inputs, training=True)
        loss = loss_fn(targets, logits)
        # Backward pass
        model.zero_grad()
        loss.backward()
        # Optimizer variable updates
        trainable_weights = list(model.trainable_weights)
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            optimizer.apply(gradients, trainable_weights)
        train_acc_metric.update_state(targets, logits)
        losses.append(float(loss.detach().cpu()))
    losses.append(float(lib.ops.convert_to_numpy(train_acc_metric.result())))
    return losses


def _loop_batches() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.random((32, 16)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 32)]
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]


def test_training_loop_from_scratch_matches_keras() -> None:
    """Training loop from scratch in PyTorch: the guide's loop on kfit and on Keras."""
    batches = _loop_batches()
    keras_model, kfit_model = _both(_guide_mlp)
    expected = guide_training_loop(keras, keras_model, batches)
    got = guide_training_loop(kfit, kfit_model, batches)
    _close(got, expected)
    _close_all(kfit_model.get_weights(), keras_model.get_weights())


def test_training_loop_from_scratch_matches_hand_written_torch() -> None:
    """Training loop from scratch in PyTorch: kfit's loop against plain torch.nn and torch.optim."""
    batches = _loop_batches()
    keras.utils.set_random_seed(0)
    kfit_model = _guide_mlp(kfit)
    weights = kfit_model.get_weights()
    # SGD: Keras's Adam puts epsilon outside the bias correction and torch's inside, which
    # differ visibly on near-zero gradients (dead ReLUs); SGD is the same in both.
    got = guide_training_loop(kfit, kfit_model, batches, "SGD")

    torch_model = torch.nn.Sequential(
        torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 10)
    )
    with torch.no_grad():
        linears = [module for module in torch_model if isinstance(module, torch.nn.Linear)]
        for linear, kernel, bias in zip(linears, weights[::2], weights[1::2]):
            linear.weight.copy_(torch.as_tensor(kernel).T)  # Keras stores kernels (in, out)
            linear.bias.copy_(torch.as_tensor(bias))
    optimizer = torch.optim.SGD(torch_model.parameters(), lr=1e-2)
    losses, correct = [], 0
    for inputs, targets in batches:
        logits = torch_model(torch.as_tensor(inputs))
        loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        correct += int((logits.argmax(1) == torch.as_tensor(targets).argmax(1)).sum())
        losses.append(float(loss.detach()))
    _close(got, [*losses, correct / 32])
    expected_weights = [p.detach().numpy() for p in torch_model.parameters()]
    expected_weights = [w.T if w.ndim == 2 else w for w in expected_weights]
    _close_all(kfit_model.get_weights(), expected_weights)
