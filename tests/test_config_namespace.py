"""`kfit.config` against `keras.config`: the same settings under the same names."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import pytest

import kfit


def test_every_kfit_config_name_is_a_keras_config_name():
    assert set(kfit.config.__all__) <= set(dir(keras.config))


def test_backend_and_version():
    assert kfit.config.backend() == keras.config.backend() == "torch"
    assert kfit.version() == kfit.__version__


@pytest.mark.parametrize(
    ("getter", "setter", "value"),
    [("floatx", "set_floatx", "float64"), ("epsilon", "set_epsilon", 1e-5),
     ("image_data_format", "set_image_data_format", "channels_first")],
)
def test_settings_are_the_backend_ones_and_take_effect(getter, setter, value):
    # A policy set by an earlier test would pin new layers' dtype; Keras's is forgotten the same way.
    kfit.utils.clear_session()
    original = getattr(kfit.config, getter)()
    assert original == getattr(keras.config, getter)()
    try:
        getattr(kfit.config, setter)(value)
        assert getattr(kfit.backend, getter)() == value
        if getter == "floatx":
            assert kfit.layers.Dense(2, input_shape=(3,)).kernel.dtype == kfit.ops.dtypes.to_torch_dtype(value)
    finally:
        getattr(kfit.config, setter)(original)
    assert getattr(kfit.config, getter)() == original


def test_dtype_policy_set_through_config_reaches_new_layers():
    try:
        kfit.config.set_dtype_policy("mixed_bfloat16")
        assert kfit.config.dtype_policy().name == "mixed_bfloat16"
        assert kfit.layers.Dense(2).compute_dtype == "bfloat16"
    finally:
        kfit.config.set_dtype_policy("float32")
    assert kfit.layers.Dense(2).compute_dtype == "float32"


def test_interactive_logging_switch(capsys):
    try:
        kfit.config.disable_interactive_logging()
        assert not kfit.config.is_interactive_logging_enabled()
        kfit.utils.io_utils.print_msg("to the log")
        assert capsys.readouterr().out == ""
    finally:
        kfit.config.enable_interactive_logging()
    kfit.utils.io_utils.print_msg("to stdout")
    assert capsys.readouterr().out == "to stdout\n"


@pytest.mark.parametrize("name", ["Layer", "Loss", "Metric", "Optimizer", "Initializer", "Regularizer",
                                  "Variable", "DTypePolicy"])
def test_top_level_base_classes_are_the_namespaced_ones(name):
    # Keras 3 puts its base classes at the top level too (`keras.Layer is keras.layers.Layer`).
    assert getattr(keras, name) is not None
    homes = {"Layer": kfit.layers, "Loss": kfit.losses, "Metric": kfit.metrics, "Optimizer": kfit.optimizers,
             "Initializer": kfit.initializers, "Regularizer": kfit.regularizers, "Variable": kfit.backend,
             "DTypePolicy": kfit.mixed_precision}
    assert getattr(kfit, name) is getattr(homes[name], name)
