"""`get_custom_objects`: the live registry dict, used as Keras 3's is."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest
import torch

import kfit
from kfit.saving import get_custom_objects, get_registered_name, get_registered_object, register_keras_serializable


@pytest.fixture(autouse=True)
def _restore_registry():  # type: ignore[no-untyped-def]
    ours, theirs = dict(get_custom_objects()), dict(keras.saving.get_custom_objects())
    try:
        yield
    finally:
        for registry, saved in ((get_custom_objects(), ours), (keras.saving.get_custom_objects(), theirs)):
            registry.clear()
            registry.update(saved)


def test_it_is_the_live_registry_as_in_keras() -> None:
    for lib in (kfit, keras):
        assert lib.saving.get_custom_objects() is lib.saving.get_custom_objects()
        assert lib.utils.get_custom_objects is lib.saving.get_custom_objects

        @lib.saving.register_keras_serializable(package="live_test")
        def triple(x):  # type: ignore[no-untyped-def]
            return 3 * x

        assert lib.saving.get_custom_objects()["live_test>triple"] is triple


def test_an_entry_added_by_hand_is_found_as_in_keras() -> None:
    class Widget:
        def get_config(self) -> dict[str, object]:
            return {}

    for lib in (kfit, keras):
        assert lib.saving.get_registered_object("Widget") is None
        lib.saving.get_custom_objects()["Widget"] = Widget
        assert lib.saving.get_registered_object("Widget") is Widget
        # Added by hand, it has no registered name of its own.
        assert lib.saving.get_registered_name(Widget) == "Widget"
        del lib.saving.get_custom_objects()["Widget"]
        assert lib.saving.get_registered_object("Widget") is None


def test_builtins_are_not_in_it_and_survive_clearing_it() -> None:
    assert not any(key.startswith("keras>") for key in get_custom_objects())
    get_custom_objects().clear()
    assert get_registered_object("keras>Dense") is kfit.layers.Dense
    model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(2)])
    config = kfit.saving.serialize_keras_object(model)
    assert isinstance(kfit.saving.deserialize_keras_object(config), kfit.Sequential)


def test_builtin_names_still_cannot_be_taken_over() -> None:
    class Dense(kfit.layers.Layer):
        pass

    with pytest.raises(ValueError, match="no kfit built-in uses"):
        register_keras_serializable(package="keras")(Dense)
    assert get_registered_object("keras>Dense") is kfit.layers.Dense


def test_a_layer_added_by_hand_loads_from_a_saved_model(tmp_path: Path) -> None:
    class Scale(kfit.layers.Layer):
        def __init__(self, factor: float = 2.0, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs: torch.Tensor) -> torch.Tensor:
            return inputs * self.factor

        def get_config(self) -> dict[str, object]:
            return {**super().get_config(), "factor": self.factor}

    inputs = kfit.Input((2,))
    model = kfit.Model(inputs, Scale(3.0)(inputs))
    path = tmp_path / "scaled.keras"
    model.save(path)
    assert get_registered_name(Scale) == "Scale"
    with pytest.raises(Exception, match="Scale"):
        kfit.saving.load_model(path)
    get_custom_objects()["Scale"] = Scale
    loaded = kfit.saving.load_model(path)
    x = np.array([[1.0, -2.0]], "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), x * 3.0)
