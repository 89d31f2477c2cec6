"""SGD matches Keras 3's update rule, including momentum and Nesterov."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from optimizer_parity import assert_close, gradient_sequence, parity, run_keras, run_kfit

from kfit.optimizers import SGD

keras = pytest.importorskip("keras")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"learning_rate": 0.1, "momentum": 0.9},
        {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
        {"learning_rate": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1},
    ],
    ids=["plain", "momentum", "nesterov", "nesterov_decay"],
)
def test_matches_keras(kwargs):
    parity(SGD(**kwargs), keras.optimizers.SGD(**kwargs))


def test_momentum_follows_keras_when_learning_rate_changes():
    # Keras's velocity carries the learning rate (v = mu*v - lr*g), torch's does not, so a
    # mid-run change separates the two conventions.
    grads = gradient_sequence(5)
    ours = SGD(learning_rate=0.1, momentum=0.9)
    theirs = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    params = run_kfit(ours, grads[:2])
    variables = run_keras(theirs, grads[:2])
    ours.learning_rate = 0.01
    theirs.learning_rate = 0.01
    run_kfit(ours, grads[2:], params)
    for step_grads in grads[2:]:
        theirs.apply_gradients(zip([torch.tensor(g) for g in step_grads], variables))
    assert_close(params, [v.value for v in variables])

    torch_params = [torch.nn.Parameter(p.detach().clone()) for p in run_kfit(SGD(), [])]
    torch_opt = torch.optim.SGD(torch_params, lr=0.1, momentum=0.9)
    for i, step_grads in enumerate(grads):
        if i == 2:
            torch_opt.param_groups[0]["lr"] = 0.01
        for p, g in zip(torch_params, step_grads):
            p.grad = torch.tensor(g)
        torch_opt.step()
    assert not np.allclose(torch_params[0].detach().numpy(), params[0].detach().numpy(), rtol=1e-3)


def test_config_matches_keras_defaults():
    ours, theirs = SGD().get_config(), keras.optimizers.SGD().get_config()
    assert list(ours) == list(theirs)
    for key in ours:
        if key != "name":
            assert ours[key] == pytest.approx(theirs[key]), key
    restored = SGD.from_config(SGD(learning_rate=0.2, momentum=0.3, nesterov=True).get_config())
    assert (float(restored.learning_rate), restored.momentum, restored.nesterov) == (0.2, 0.3, True)


def test_momentum_slot_only_when_needed():
    plain, heavy = SGD(), SGD(momentum=0.9)
    plain.build([torch.nn.Parameter(torch.zeros(2))])
    heavy.build([torch.nn.Parameter(torch.zeros(2))])
    assert not plain.state_dict()["state"].get(0)
    assert list(heavy.state_dict()["state"][0]) == ["momentum"]


@pytest.mark.parametrize("momentum", [-0.1, 1.5, "0.9", None])
def test_invalid_momentum(momentum):
    with pytest.raises(ValueError, match=r"`momentum`.*Received: momentum="):
        SGD(momentum=momentum)


def test_invalid_nesterov():
    with pytest.raises(ValueError, match="`nesterov` to be a bool"):
        SGD(nesterov="yes")
