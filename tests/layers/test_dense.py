"""Dense keeps Keras's kernel layout and initialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kfit
from kfit import regularizers as kfit_regularizers
from kfit.constraints import MaxNorm, NonNeg
from kfit.regularizers import L1, L1L2, L2


def test_kernel_layout_and_glorot_uniform_zeros_init():
    layer = kfit.layers.Dense(300, input_dim=784)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (784, 300) and kernel.dtype == np.float32 and bias.shape == (300,)
    limit = np.sqrt(6 / (784 + 300))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert abs(kernel.std() - limit / np.sqrt(3)) < 0.01 * limit
    assert not bias.any()


def test_kernel_is_column_major_like_linear_weight_and_keeps_that_layout_through_training():
    model = kfit.Sequential([kfit.Input((5,)), kfit.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    kernel = model.layers[0].kernel
    assert kernel.shape == (5, 3) and kernel.stride() == (1, 5)
    model.fit(np.random.rand(8, 5).astype("float32"), np.random.rand(8, 3).astype("float32"), verbose=0)
    assert kernel.grad is None or kernel.grad.stride() == (1, 5)
    assert all(t.stride() == (1, 5) for t in model.optimizer.state[kernel].values())
    weights = np.arange(15, dtype="float32").reshape(5, 3)
    model.layers[0].set_weights([weights, np.zeros(3, "float32")])
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], weights)
    assert kernel.stride() == (1, 5)


def test_forward_matches_numpy_and_casts_integer_inputs():
    layer = kfit.layers.Dense(3, activation="relu", input_dim=4)
    kernel, bias = layer.get_weights()
    x = np.arange(8, dtype=np.uint8).reshape(2, 4)
    out = layer(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, np.maximum(x @ kernel + bias, 0), rtol=1e-6)


def test_lazy_build_on_first_call_and_3d_inputs():
    layer = kfit.layers.Dense(2, use_bias=False)
    assert not layer.built
    out = layer(torch.ones(5, 3, 4))
    assert layer.built and out.shape == (5, 3, 2) and len(layer.get_weights()) == 1


def test_weights_match_keras_layout():
    keras = pytest.importorskip("keras")
    ours = kfit.layers.Dense(3, input_dim=4)
    theirs = keras.layers.Dense(3)
    theirs.build((None, 4))
    theirs.set_weights(ours.get_weights())
    x = np.random.rand(2, 4).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(theirs(x)), ours(torch.from_numpy(x)).detach().numpy(), rtol=1e-6
    )


@pytest.mark.parametrize("units", [0, -1, 1.5])
def test_bad_units(units):
    with pytest.raises(ValueError, match="Received: units="):
        kfit.layers.Dense(units)


def test_none_initializers_default_to_glorot_uniform_as_in_keras():
    layer = kfit.layers.Dense(3, kernel_initializer=None, bias_initializer=None, input_dim=4)
    kernel, bias = layer.get_weights()
    limit = np.sqrt(6 / (4 + 3))
    assert kernel.shape == (4, 3) and np.abs(kernel).max() <= limit
    assert bias.shape == (3,) and bias.any()
    config = layer.get_config()
    assert config["kernel_initializer"] is None and config["bias_initializer"] is None
    assert kfit.layers.Dense.from_config(config).kernel.shape == (4, 3)


def test_unknown_last_input_dimension():
    with pytest.raises(ValueError, match="last dimension of the input shape"):
        kfit.layers.Dense(3, input_shape=(None,))


# ---------------------------------------------------------------- regularizers and constraints
def _regularized_pair(keras, **kwargs):
    """A kfit and a Keras Dense(3) on 4 features with the same weights and arguments."""

    def convert(namespace, value):
        if value is None or isinstance(value, str):
            return value
        return getattr(namespace, type(value).__name__)(**value.get_config())

    ours = kfit.layers.Dense(3, input_dim=4, **kwargs)
    theirs = keras.layers.Dense(
        3,
        **{k: convert(keras.constraints if "constraint" in k else keras.regularizers, v) for k, v in kwargs.items()},
    )
    theirs.build((None, 4))
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def test_weight_regularizer_losses_exist_before_any_call_and_match_keras():
    keras = pytest.importorskip("keras")

    ours, theirs = _regularized_pair(keras, kernel_regularizer=L2(0.5), bias_regularizer=L1(0.25))
    kernel, bias = ours.get_weights()
    assert len(ours.losses) == 2
    got = [float(v.detach()) for v in ours.losses]
    np.testing.assert_allclose(got, [0.5 * (kernel**2).sum(), 0.25 * np.abs(bias).sum()], rtol=1e-6)
    want = [float(keras.ops.convert_to_numpy(v)) for v in theirs.losses]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_losses_after_a_call_match_keras_activity_first():
    keras = pytest.importorskip("keras")

    ours, theirs = _regularized_pair(
        keras,
        kernel_regularizer=L2(0.1),
        bias_regularizer=L1(0.2),
        activity_regularizer=L1L2(l1=0.01, l2=0.02),
    )
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    ours(torch.from_numpy(x))
    theirs(x)
    want = [float(keras.ops.convert_to_numpy(v)) for v in theirs.losses]
    assert len(want) == 3
    np.testing.assert_allclose([float(v.detach()) for v in ours.losses], want, rtol=1e-6)


def test_activity_regularizer_is_divided_by_the_batch_size():

    # Measured in Keras: ones(4, 3) through a ones kernel gives 4 x 2 outputs of 3: 24 / 4.
    layer = kfit.layers.Dense(2, kernel_initializer="ones", activity_regularizer=L1(1.0), input_dim=3)
    layer(torch.ones(4, 3))
    assert [float(v.detach()) for v in layer.losses] == [6.0]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_with_regularizers_matches_keras(optimizer):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.normal(size=(16, 3)).astype("float32")
    weights = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")]
    models = []
    for lib, regularizers in ((kfit, kfit_regularizers), (keras, keras.regularizers)):
        model = lib.Sequential(
            [
                lib.Input((4,)),
                lib.layers.Dense(
                    3,
                    kernel_regularizer=regularizers.L2(0.05),
                    bias_regularizer="l1",
                    activity_regularizer=regularizers.L1(0.01),
                ),
            ]
        )
        model.layers[0].set_weights(weights)
        model.compile(optimizer=optimizer, loss="mse")
        history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        models.append((model, history.history["loss"]))
    (ours, our_loss), (theirs, their_loss) = models
    np.testing.assert_allclose(our_loss, their_loss, rtol=1e-4)
    for got, want in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # The regularizer's gradient path keeps Dense's column-major kernel.
    assert ours.layers[0].kernel.stride() == (1, 4)


def test_regularized_and_constrained_weights_carry_them():

    layer = kfit.layers.Dense(
        3, kernel_regularizer="l2", kernel_constraint=MaxNorm(2.0), bias_constraint="non_neg", input_dim=5
    )
    assert isinstance(layer.kernel.regularizer, L2) and layer.kernel.regularizer.l2 == 0.01
    assert isinstance(layer.kernel.constraint, MaxNorm) and isinstance(layer.bias.constraint, NonNeg)
    assert layer.bias.regularizer is None
    assert layer.kernel.shape == (5, 3) and layer.kernel.stride() == (1, 5)
    assert list(layer.state_dict()) == ["kernel", "bias"]
    assert layer.kernel.path.endswith("/kernel")


def test_config_has_keras_keys_and_forms():
    keras = pytest.importorskip("keras")

    kwargs = {
        "kernel_regularizer": L2(0.5),
        "bias_regularizer": L1(0.25),
        "activity_regularizer": L2(0.5),
        "kernel_constraint": MaxNorm(3, axis=0),
        "bias_constraint": NonNeg(),
    }
    ours, theirs = _regularized_pair(keras, **kwargs)
    got, want = ours.get_config(), theirs.get_config()
    for key in [*kwargs, "quantization_config"]:
        assert got[key] == want[key], key
    plain_keys = set(kfit.layers.Dense(2).get_config())
    assert set(keras.layers.Dense(2).get_config()) - {"dtype"} <= plain_keys
    plain = kfit.layers.Dense(2).get_config()
    for key in ("kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint"):
        assert plain[key] is None
    assert "activity_regularizer" not in plain  # as in Keras, only when set


def test_from_config_round_trips_and_reads_keras_configs():
    keras = pytest.importorskip("keras")

    layer = kfit.layers.Dense(
        2, kernel_regularizer=L1L2(0.25, 0.5), activity_regularizer="l2", kernel_constraint=MaxNorm(1.5)
    )
    rebuilt = kfit.layers.Dense.from_config(layer.get_config())
    assert rebuilt.kernel_regularizer.get_config() == {"l1": 0.25, "l2": 0.5}
    assert rebuilt.activity_regularizer.get_config() == {"l2": 0.01}
    assert rebuilt.kernel_constraint.get_config() == {"max_value": 1.5, "axis": 0}
    config = keras.layers.Dense(
        2,
        kernel_regularizer=keras.regularizers.L2(0.5),
        bias_constraint=keras.constraints.NonNeg(),
        activity_regularizer=keras.regularizers.L1(0.5),
    ).get_config()
    config.pop("dtype")
    from_keras = kfit.layers.Dense.from_config(config)
    assert from_keras.kernel_regularizer.get_config() == {"l2": 0.5}
    assert type(from_keras.bias_constraint).__name__ == "NonNeg"
    assert from_keras.activity_regularizer.get_config() == {"l1": 0.5}


@pytest.mark.parametrize("argument", ["lora_rank", "lora_alpha", "quantization_config"])
def test_lora_and_quantization_are_refused(argument):
    kfit.layers.Dense(2, **{argument: None})
    with pytest.raises(NotImplementedError, match=f"Received: {argument}=4"):
        kfit.layers.Dense(2, **{argument: 4})


def test_saved_model_keeps_regularizers_and_constraints(tmp_path):
    model = kfit.Sequential(
        [
            kfit.Input((4,)),
            kfit.layers.Dense(3, kernel_regularizer=L2(0.5), activity_regularizer="l1", kernel_constraint=MaxNorm(1.0)),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "model.keras")
    layer = kfit.saving.load_model(tmp_path / "model.keras").layers[0]
    assert layer.kernel_regularizer.get_config() == {"l2": 0.5}
    assert layer.activity_regularizer.get_config() == {"l1": 0.01}
    assert layer.kernel.constraint.get_config() == {"max_value": 1.0, "axis": 0}
    assert layer.kernel.stride() == (1, 4)


def test_dense_passes_the_padding_mask_through_as_keras_does():
    # Keras's Dense supports masking: Embedding(mask_zero=True) -> Dense keeps the mask over
    # the time axis, so a later layer (an LSTM, a masked softmax) still sees the padding.
    layer = kfit.layers.Dense(2)
    assert layer.supports_masking
    embedded = kfit.layers.Embedding(10, 4, mask_zero=True)(torch.tensor([[3, 1, 0]]))
    assert layer(embedded)._keras_mask.tolist() == [[True, True, False]]
