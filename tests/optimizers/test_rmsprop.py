"""RMSprop matches Keras 3 (epsilon inside the square root), unlike torch.optim.RMSprop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from optimizer_parity import gradient_sequence, parity, run_kfit

from kfit.optimizers import RMSprop

keras = pytest.importorskip("keras")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"learning_rate": 0.01, "momentum": 0.9},
        {"learning_rate": 0.01, "centered": True},
        {"learning_rate": 0.01, "centered": True, "momentum": 0.5, "rho": 0.8, "epsilon": 1e-3},
    ],
    ids=["default", "momentum", "centered", "centered_momentum"],
)
def test_matches_keras(kwargs):
    parity(RMSprop(**kwargs), keras.optimizers.RMSprop(**kwargs))


def test_differs_from_torch_rmsprop():
    # Torch puts eps outside the square root; with a large eps the two rules diverge.
    grads = gradient_sequence(3, scale=0.01)
    ours = run_kfit(RMSprop(learning_rate=0.1, epsilon=1e-3), grads)
    torch_params = [torch.nn.Parameter(p.detach().clone()) for p in run_kfit(RMSprop(), [])]
    torch_opt = torch.optim.RMSprop(torch_params, lr=0.1, alpha=0.9, eps=1e-3)
    for step_grads in grads:
        for p, g in zip(torch_params, step_grads):
            p.grad = torch.tensor(g)
        torch_opt.step()
    assert not np.allclose(ours[0].detach().numpy(), torch_params[0].detach().numpy(), rtol=1e-3)


def test_config_matches_keras_defaults():
    ours, theirs = RMSprop().get_config(), keras.optimizers.RMSprop().get_config()
    assert list(ours) == list(theirs)
    for key in ours:
        if key != "name":
            assert ours[key] == pytest.approx(theirs[key]), key


def test_slots_follow_options():
    opt = RMSprop(momentum=0.9, centered=True)
    opt.build([torch.nn.Parameter(torch.zeros(2))])
    assert sorted(opt.state_dict()["state"][0]) == ["average_gradient", "momentum", "velocity"]


def test_changing_momentum_after_build_creates_its_slot():
    w = torch.nn.Parameter(torch.ones(2))
    opt = RMSprop(learning_rate=0.1)
    opt.build([w])
    opt.momentum = 0.5
    w.grad = torch.ones(2)
    opt.step()
    assert "momentum" in opt.state_dict()["state"][0]
