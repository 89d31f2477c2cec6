"""`clear_session` against Keras 3's: what it resets and what it keeps."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import pytest
import torch

import kfit

pytestmark = pytest.mark.usefixtures("fresh_policies")


@pytest.fixture(autouse=True)
def _interactive_logging_on():  # type: ignore[no-untyped-def]
    yield
    for lib in (kfit, keras):
        lib.utils.enable_interactive_logging()


def _names_around_clear(lib) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    before = [lib.layers.Dense(1).name for _ in range(3)]
    lib.backend.clear_session()
    after = [lib.layers.Dense(1).name, lib.layers.Conv2D(1, 1).name, lib.layers.Dense(1).name]
    return before[1:], after


def test_names_start_over_as_in_keras() -> None:
    ours, theirs = _names_around_clear(kfit), _names_around_clear(keras)
    assert ours[1] == theirs[1] == ["dense", "conv2d", "dense_1"]
    # Before the reset both were past the first name.
    assert all(name != "dense" for name in ours[0])


def test_global_state_is_reset_and_settings_are_kept_as_in_keras() -> None:
    for lib in (kfit, keras):
        lib.mixed_precision.set_global_policy("mixed_bfloat16")
        lib.utils.disable_interactive_logging()
        lib.utils.clear_session(free_memory=False)
    assert kfit.mixed_precision.global_policy().name == keras.mixed_precision.global_policy().name == "float32"
    assert kfit.layers.Dense(2).dtype_policy.name == "float32"
    assert kfit.utils.is_interactive_logging_enabled() is keras.utils.is_interactive_logging_enabled() is True
    assert kfit.backend.floatx() == keras.config.floatx() == "float32"


def test_custom_objects_survive_as_in_keras() -> None:
    class Thing:
        def get_config(self) -> dict[str, object]:
            return {}

    for lib in (kfit, keras):
        lib.saving.get_custom_objects()["SessionThing"] = Thing
        try:
            lib.backend.clear_session()
            assert lib.saving.get_registered_object("SessionThing") is Thing
        finally:
            del lib.saving.get_custom_objects()["SessionThing"]


def test_existing_models_keep_working_and_their_names() -> None:
    model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(2)])
    name = model.layers[0].name
    kfit.backend.clear_session()
    assert model.layers[0].name == name
    assert model(torch.ones(1, 3)).shape == (1, 2)
    # A compiled function made before the reset is compiled afresh, and still right.
    compiled = torch.compile(lambda t: t * 2, backend="eager")
    assert compiled(torch.ones(2)).tolist() == [2.0, 2.0]
    kfit.backend.clear_session()
    assert compiled(torch.ones(2)).tolist() == [2.0, 2.0]


def test_utils_and_backend_hold_the_same_function() -> None:
    assert kfit.utils.clear_session is kfit.backend.clear_session
