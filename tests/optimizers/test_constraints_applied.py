"""Optimizers apply weight constraints after each update, where and when Keras 3 does."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from optimizer_parity import FUSED_ADAM_RTOL, assert_close, gradient_sequence, initial_values

import kfit
from kfit.backend.variables import Variable
from kfit.constraints import MaxNorm, NonNeg, UnitNorm
from kfit.layers.dense import Dense
from kfit.optimizers import SGD, Adam, RMSprop

keras = pytest.importorskip("keras")

# One constraint per weight of optimizer_parity.SHAPES: (3, 4), (4,), (1,).
CONSTRAINTS = [("MaxNorm", {"max_value": 0.5}), ("NonNeg", {}), (None, {})]


def _kfit_params() -> list[Variable]:
    params = [Variable(torch.tensor(v)) for v in initial_values()]
    for p, (name, kwargs) in zip(params, CONSTRAINTS):
        if name is not None:
            p.constraint = getattr(kfit.constraints, name)(**kwargs)
    return params


def _keras_variables() -> list:
    variables = [keras.Variable(v) for v in initial_values()]
    for v, (name, kwargs) in zip(variables, CONSTRAINTS):
        # Set after creation: keras.Variable(..., constraint=...) silently drops the argument.
        v.constraint = None if name is None else getattr(keras.constraints, name)(**kwargs)
    return variables


def _run_both(ours, theirs, grads):
    params = _kfit_params()
    ours.build(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g)
        ours.step()
    variables = _keras_variables()
    for step_grads in grads:
        pairs = [(None if g is None else torch.tensor(g), v) for g, v in zip(step_grads, variables)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns about None gradients
            theirs.apply_gradients(pairs)
    return params, [v.value for v in variables]


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [
        ("SGD", {"learning_rate": 0.1}),
        ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
        ("Adam", {"learning_rate": 0.05}),
        ("RMSprop", {"learning_rate": 0.01}),
        ("SGD", {"learning_rate": 0.1, "use_ema": True, "ema_overwrite_frequency": 2}),
        ("Adam", {"learning_rate": 0.05, "gradient_accumulation_steps": 2}),
    ],
    ids=["sgd", "momentum", "adam", "rmsprop", "ema_overwrite", "accumulation"],
)
def test_constrained_weights_match_keras(make, kwargs):
    ours = getattr(kfit.optimizers, make)(**kwargs)
    theirs = getattr(keras.optimizers, make)(**kwargs)
    params, variables = _run_both(ours, theirs, gradient_sequence(6, scale=3.0))
    assert_close(params, variables, rtol=FUSED_ADAM_RTOL)
    # The constraints did bind: without them the kernel's columns outgrow 0.5 (seen below).
    assert torch.linalg.vector_norm(params[0].detach(), dim=0).max() <= 0.5 + 1e-6
    assert (params[1].detach() >= 0).all()


def test_the_unconstrained_run_differs_so_the_parity_above_means_something():
    params = [torch.nn.Parameter(torch.tensor(v)) for v in initial_values()]
    opt = SGD(learning_rate=0.1)
    opt.build(params)
    for step_grads in gradient_sequence(6, scale=3.0):
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g)
        opt.step()
    assert torch.linalg.vector_norm(params[0].detach(), dim=0).max() > 0.5
    assert (params[1].detach() < 0).any()


def test_weights_without_a_gradient_are_left_unconstrained_as_in_keras():
    grads = gradient_sequence(3)
    grads = [[g if i != 1 else None for i, g in enumerate(step)] for step in grads]
    params, variables = _run_both(SGD(learning_rate=0.1), keras.optimizers.SGD(learning_rate=0.1), grads)
    assert_close(params, variables)
    np.testing.assert_array_equal(params[1].detach().numpy(), initial_values()[1])
    assert (params[1].detach() < 0).any()  # NonNeg never ran on it


def test_apply_and_apply_gradients_constrain_too():
    w = Variable(torch.tensor([-1.0, 2.0]))
    w.constraint = NonNeg()
    opt = SGD(learning_rate=1.0)
    opt.apply([torch.tensor([1.0, -1.0])], [w])
    assert w.detach().tolist() == [0.0, 3.0]
    opt.apply_gradients([(torch.tensor([-0.5, 0.0]), w)])
    assert w.detach().tolist() == [0.5, 3.0]


def test_constraint_runs_once_per_step_only_for_constrained_weights():
    calls = []

    def record(w):
        calls.append(tuple(w.shape))
        return w

    constrained = Variable(torch.ones(2, 3))
    constrained.constraint = record
    plain = torch.nn.Parameter(torch.ones(4))  # a torch Parameter has no `constraint`
    opt = Adam()
    opt.build([constrained, plain])
    for _ in range(3):
        constrained.grad = torch.ones(2, 3)
        plain.grad = torch.ones(4)
        opt.step()
    assert calls == [(2, 3)] * 3
    # Grad mode is off: the constrained weight stays a leaf without history.
    assert constrained.grad_fn is None and constrained.is_leaf


def _fit_pair(kernel_constraint, bias_constraint, make_optimizer, epochs=2):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = (3.0 * rng.normal(size=(16, 3))).astype("float32")
    ours = kfit.Sequential([
        kfit.Input((4,)),
        Dense(3, kernel_constraint=kernel_constraint[0](**kernel_constraint[1]),
              bias_constraint=None if bias_constraint is None else bias_constraint()),
    ])
    theirs = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(
            3,
            kernel_constraint=getattr(keras.constraints, kernel_constraint[0].__name__)(**kernel_constraint[1]),
            bias_constraint=None if bias_constraint is None else getattr(keras.constraints, bias_constraint.__name__)(),
        ),
    ])
    # Start from weights that the constraints do not hold, so the first update's projection shows.
    weights = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    ours.compile(optimizer=make_optimizer(kfit), loss="mse")
    theirs.compile(optimizer=make_optimizer(keras), loss="mse")
    ours.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0)
    return ours, theirs


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda k: k.optimizers.SGD(learning_rate=0.1),
        lambda k: k.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        lambda k: k.optimizers.Adam(learning_rate=0.05),
    ],
    ids=["sgd", "momentum", "adam"],
)
@pytest.mark.parametrize(
    ("kernel_constraint", "bias_constraint"),
    [((MaxNorm, {"max_value": 0.7}), NonNeg), ((NonNeg, {}), None), ((UnitNorm, {}), NonNeg)],
    ids=["max_norm", "non_neg", "unit_norm"],
)
def test_dense_trained_with_constraints_matches_keras(make_optimizer, kernel_constraint, bias_constraint):
    ours, theirs = _fit_pair(kernel_constraint, bias_constraint, make_optimizer)
    # Fused Adam rounds differently from Keras (see optimizer_parity): after 8 steps its
    # weights differ by ~2e-6 absolute with or without a constraint.
    for got, want in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=FUSED_ADAM_RTOL, atol=1e-5)
    kernel = ours.layers[0].kernel
    # The projection is written into the weight in place: the column-major layout stays.
    assert kernel.stride() == (1, 4)
    if bias_constraint is not None:
        assert (ours.layers[0].bias.detach() >= 0).all()


def test_constraints_on_a_frozen_weight_are_not_applied():
    # Keras applies constraints to the variables it updates; a frozen weight is not among them.
    layer = Dense(2, kernel_constraint=NonNeg(), bias_constraint=NonNeg(), input_dim=2)
    layer.set_weights([np.array([[-1.0, 1.0], [1.0, -1.0]], "float32"), np.array([-1.0, 1.0], "float32")])
    layer.bias.requires_grad_(False)
    opt = RMSprop()
    opt.build([p for p in layer.parameters() if p.requires_grad])
    layer(torch.ones(1, 2)).sum().backward()
    opt.step()
    assert (layer.kernel.detach() >= 0).all()
    assert layer.bias.detach().tolist() == [-1.0, 1.0]
