"""AdamW matches Keras 3: Adam plus decoupled weight decay, 0.004 by default."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from optimizer_parity import assert_close, gradient_sequence, initial_values, parity, rtol_for

from kfit.optimizers import AdamW

keras = pytest.importorskip("keras")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"learning_rate": 0.05, "weight_decay": 0.1},
        {"learning_rate": 0.05, "weight_decay": 0.1, "amsgrad": True},
    ],
    ids=["default", "strong_decay", "amsgrad"],
)
def test_matches_keras(kwargs):
    parity(AdamW(**kwargs), keras.optimizers.AdamW(**kwargs))


def test_config_matches_keras_defaults():
    ours, theirs = AdamW().get_config(), keras.optimizers.AdamW().get_config()
    assert list(ours) == list(theirs)
    for key in ours:
        if key != "name":
            assert ours[key] == pytest.approx(theirs[key]), key
    assert ours["name"] == "adam_w" or ours["name"].startswith("adam_w_")


def test_weight_decay_none_is_rejected():
    with pytest.raises(ValueError, match="`weight_decay` to be a float"):
        AdamW(weight_decay=None)


def test_exclude_from_weight_decay_by_name_matches_keras():
    grads = gradient_sequence(4)
    names = ["kernel", "bias", "scale"]
    values = initial_values()

    module = torch.nn.Module()
    for name, value in zip(names, values):
        module.register_parameter(name, torch.nn.Parameter(torch.tensor(value)))
    ours = AdamW(learning_rate=0.1, weight_decay=0.5)
    ours.exclude_from_weight_decay(var_names=["bias"])
    ours.build(module.named_parameters())
    params = [getattr(module, n) for n in names]
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g)
        ours.step()

    theirs = keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
    theirs.exclude_from_weight_decay(var_names=["bias"])
    variables = [keras.Variable(v, name=n) for v, n in zip(values, names)]
    for step_grads in grads:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.apply_gradients(zip([torch.tensor(g) for g in step_grads], variables))
    assert_close(params, [v.value for v in variables], rtol=rtol_for(ours))


def test_exclude_from_weight_decay_by_parameter():
    kept, exempt = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = AdamW(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[exempt])
    opt.build([kept, exempt])
    kept.grad, exempt.grad = torch.zeros(2), torch.zeros(2)
    opt.step()
    np.testing.assert_allclose(kept.detach().numpy(), [0.95, 0.95], rtol=1e-6)
    np.testing.assert_array_equal(exempt.detach().numpy(), [1.0, 1.0])
