"""Shared fixtures: small deterministic data and the guide's model."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def guide_data() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped synthetic data, like the guide's 1000 samples of 784 features."""
    rs = np.random.RandomState(0)
    x = rs.rand(1000, 784).astype("float32")
    y = rs.randint(0, 10, 1000).astype("float32")
    return x, y


@pytest.fixture
def host_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts device-to-host conversions through kfit's single conversion point."""
    import kfit.backend.conversion as conversion

    count = {"n": 0}
    original = conversion.to_host

    def counting(value):  # type: ignore[no-untyped-def]
        count["n"] += 1
        return original(value)

    monkeypatch.setattr(conversion, "to_host", counting)
    return count


def guide_model(learning_rate: float = 0.1):  # type: ignore[no-untyped-def]
    import kfit as keras

    model = keras.Sequential()
    model.add(keras.layers.Dense(1, input_dim=784))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


@pytest.fixture
def fresh_policies(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """No global dtype policy during the test, and the one before it afterwards (Keras's too).

    kfit's process-wide "a mixed policy is in use" switch goes back as well, so the rest of the
    suite runs on the float32 fast path whatever the test sets.
    """
    import keras

    from kfit.layers import layer as layer_module
    from kfit.mixed_precision import policy as policy_module

    monkeypatch.setattr(policy_module, "_global_policy", None)
    monkeypatch.setattr(layer_module._CallState, "mixed", False)
    yield
    keras.mixed_precision.set_global_policy("float32")
