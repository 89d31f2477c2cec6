"""Model: three ways to build one, torch-native behaviour, weights API."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kfit


def test_model_is_a_torch_module_and_wraps_any_module():
    inner = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    model = kfit.Model(inner)
    assert isinstance(model, torch.nn.Module)
    assert len(list(model.parameters())) == 4
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 3), "float32"), np.ones(8, "float32"), epochs=1, verbose=0)
    # get_weights of a torch module follows its state_dict (torch layout).
    assert [w.shape for w in model.get_weights()] == [(4, 3), (4,), (1, 4), (1,)]


def test_subclass_call_receives_training_flag():
    seen = []

    class WithTraining(kfit.Model):
        def __init__(self):
            super().__init__()
            self.dense = kfit.layers.Dense(1)

        def call(self, x, training=False):
            seen.append(training)
            return self.dense(x)

    model = WithTraining()
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 2), "float32"), np.ones(4, "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.predict(x, verbose=0)
    # The first call builds the weights in eval mode, then one training step, then predict.
    assert seen[-2:] == [True, False]


def test_functional_arguments_that_are_not_keras_tensors_are_refused_clearly():
    with pytest.raises(ValueError, match=r"Expected `inputs` to be a KerasTensor.*Received: inputs='inputs'"):
        kfit.Model("inputs", "outputs")
    with pytest.raises(TypeError, match="Model\\(inputs, outputs\\)"):
        kfit.Model(torch.nn.Linear(2, 1), "extra", "args")


def test_to_device_is_remembered():
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)]).to("cpu")
    model.compile(optimizer="sgd", loss="mse")
    assert model._resolve_device() == torch.device("cpu")


@pytest.mark.parametrize(
    "move",
    [
        lambda m: m.to("meta"),
        lambda m: m.to(torch.device("meta")),
        lambda m: m.to(device="meta", dtype=torch.float64),
        lambda m: m.to("meta", torch.float64),
        lambda m: m.to(torch.empty(1, device="meta")),
        lambda m: m.to(tensor=torch.empty(1, device="meta")),
    ],
    ids=["str", "device", "device_keyword", "str_and_dtype", "tensor", "tensor_keyword"],
)
def test_to_remembers_the_device_in_every_form_module_to_accepts(move):
    # "meta" differs from the default device on every machine, so only `to` can have chosen it.
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
    assert move(model) is model
    assert model.layers[0].kernel.device.type == "meta"
    model.compile(optimizer="sgd", loss="mse")
    assert model._resolve_device() == torch.device("meta")


def test_to_a_dtype_changes_the_weights_but_not_the_device():
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)]).to("meta")
    model.to(torch.float64)
    model.to(dtype=torch.float64)
    assert model.layers[0].kernel.dtype == torch.float64
    model.compile(optimizer="sgd", loss="mse")
    assert model._resolve_device() == torch.device("meta")


def test_to_float64_model_still_trains():
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)]).to(torch.float64).to("cpu")
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 2), "float64"), np.ones((4, 1), "float64")
    history = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_save_and_load_weights_round_trip(tmp_path):
    model = kfit.Sequential([kfit.layers.Dense(3, input_dim=2), kfit.layers.Dense(1)])
    for ext in (".safetensors", ".weights.h5"):
        path = tmp_path / f"w{ext}"
        model.save_weights(path)
        other = kfit.Sequential([kfit.layers.Dense(3, input_dim=2), kfit.layers.Dense(1)])
        other.set_weights([np.zeros_like(w) for w in model.get_weights()])
        other.load_weights(path)
        for a, b in zip(model.get_weights(), other.get_weights()):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"\.weights\.h5.*\.safetensors|\.safetensors.*\.weights\.h5"):
        model.save_weights(tmp_path / "w.pt")


def test_summary_lists_layers_and_counts(capsys):
    model = kfit.Sequential([kfit.layers.Dense(4, input_dim=3), torch.nn.ReLU(), kfit.layers.Dense(1)])
    model.summary()
    out = capsys.readouterr().out
    assert "(None, 4)" in out and "(None, 1)" in out
    assert "Total params: 21" in out and "Trainable params: 21" in out


def test_sequential_from_config_rebuilds_the_stack_as_the_saving_guide_does():
    import keras

    model = kfit.Sequential([kfit.Input((32,)), kfit.layers.Dense(4, name="d"), kfit.layers.Dropout(0.1)], name="s")
    rebuilt = kfit.Sequential.from_config(model.get_config())
    assert rebuilt is not model and rebuilt.name == "s"
    assert [type(layer).__name__ for layer in rebuilt.layers] == ["Dense", "Dropout"]
    assert rebuilt.layers[0].name == "d" and rebuilt.layers[0].units == 4
    # Keras's config (InputLayer first, build_input_shape) builds the same stack, with its shape.
    keras_config = keras.Sequential([keras.Input((32,)), keras.layers.Dense(4, name="d")], name="k").get_config()
    from_keras = kfit.Sequential.from_config(keras_config)
    assert [type(layer).__name__ for layer in from_keras.layers] == ["Dense"]
    assert from_keras.output_shape == (None, 4) and from_keras.name == "k"
