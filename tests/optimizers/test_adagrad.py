"""Adagrad matches Keras 3 (accumulator starts at 0.1, epsilon inside the square root)."""

from __future__ import annotations

import pytest
import torch
from optimizer_parity import parity

from kfit.optimizers import Adagrad

keras = pytest.importorskip("keras")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-3},
        {"learning_rate": 0.1, "initial_accumulator_value": 0.0},
    ],
    ids=["default", "custom", "zero_accumulator"],
)
def test_matches_keras(kwargs):
    parity(Adagrad(**kwargs), keras.optimizers.Adagrad(**kwargs))


def test_config_matches_keras_defaults():
    ours, theirs = Adagrad().get_config(), keras.optimizers.Adagrad().get_config()
    assert list(ours) == list(theirs)
    for key in ours:
        if key != "name":
            assert ours[key] == pytest.approx(theirs[key]), key


def test_accumulator_starts_at_initial_value():
    opt = Adagrad(initial_accumulator_value=0.25)
    opt.build([torch.nn.Parameter(torch.zeros(3))])
    assert opt.state_dict()["state"][0]["accumulator"].tolist() == [0.25, 0.25, 0.25]


def test_negative_initial_accumulator_is_rejected():
    with pytest.raises(ValueError, match=r"`initial_accumulator_value` to be a number >= 0\.0"):
        Adagrad(initial_accumulator_value=-1.0)
