"""Adam matches Keras 3 (epsilon added to sqrt(v) before bias correction)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from optimizer_parity import gradient_sequence, parity, run_kfit

from kfit.optimizers import Adam

keras = pytest.importorskip("keras")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"learning_rate": 0.01, "amsgrad": True},
        {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-2},
        {"learning_rate": 0.01, "weight_decay": 0.05},
    ],
    ids=["default", "amsgrad", "custom_betas", "weight_decay"],
)
def test_matches_keras(kwargs):
    parity(Adam(**kwargs), keras.optimizers.Adam(**kwargs))


def test_many_steps_keep_bias_correction_in_step():
    parity(Adam(learning_rate=0.01), keras.optimizers.Adam(learning_rate=0.01), steps=30)


def test_differs_from_torch_adam_epsilon_placement():
    grads = gradient_sequence(3, scale=0.01)
    ours = run_kfit(Adam(learning_rate=0.1, epsilon=1e-2), grads)
    torch_params = [torch.nn.Parameter(p.detach().clone()) for p in run_kfit(Adam(), [])]
    torch_opt = torch.optim.Adam(torch_params, lr=0.1, eps=1e-2)
    for step_grads in grads:
        for p, g in zip(torch_params, step_grads):
            p.grad = torch.tensor(g)
        torch_opt.step()
    assert not np.allclose(ours[0].detach().numpy(), torch_params[0].detach().numpy(), rtol=1e-3)


def test_config_matches_keras_defaults():
    ours, theirs = Adam().get_config(), keras.optimizers.Adam().get_config()
    assert list(ours) == list(theirs)
    for key in ours:
        if key != "name":
            assert ours[key] == pytest.approx(theirs[key]), key


def test_amsgrad_slot_and_hyperparameters_before_build():
    opt = Adam(amsgrad=True)
    opt.beta_1 = 0.8
    assert opt.beta_1 == 0.8 and not opt.built
    opt.build([torch.nn.Parameter(torch.zeros(2))])
    assert opt.param_groups[0]["beta_1"] == 0.8
    assert sorted(opt.state_dict()["state"][0]) == ["momentum", "velocity", "velocity_hat"]


@pytest.mark.parametrize("name,value", [("beta_1", 1.5), ("beta_2", -0.1), ("epsilon", -1.0)])
def test_invalid_hyperparameters(name, value):
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}="):
        Adam(**{name: value})


def test_fused_update_is_at_least_as_accurate_as_the_per_op_update():
    """The fused kernel reorders Keras's maths; measured against float64, it loses nothing."""
    import kfit.optimizers.adam as adam_module

    torch.manual_seed(0)
    start = torch.randn(50, 20)
    grads = [torch.randn(50, 20) for _ in range(5)]

    def run(dtype, fused):
        w = torch.nn.Parameter(start.clone().to(dtype))
        opt = Adam(learning_rate=0.01)
        opt.build([w])
        original = adam_module._fused_adam_layouts
        if not fused:
            adam_module._fused_adam_layouts = lambda params: None
        try:
            for g in grads:
                w.grad = g.to(dtype)
                opt.step()
        finally:
            adam_module._fused_adam_layouts = original
        return w.detach().double()

    reference = run(torch.float64, fused=False)
    fused_error = (run(torch.float32, fused=True) - reference).abs().max()
    per_op_error = (run(torch.float32, fused=False) - reference).abs().max()
    assert fused_error <= per_op_error
    assert fused_error < 1e-6


def _hand_adam(start, grads, lr=0.01, b1=0.9, b2=0.999, eps=1e-7):
    """Keras's Adam in float64, written out."""
    w, m, v = start.double(), torch.zeros_like(start, dtype=torch.float64), torch.zeros_like(start, dtype=torch.float64)
    for t, g in enumerate(grads, start=1):
        g = g.double()
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        w = w - lr * (1 - b2**t) ** 0.5 / (1 - b1**t) * m / (v.sqrt() + eps)
    return w


def _column_major(values):
    """A (6, 4) copy of `values` laid out as a Dense kernel is: strides (1, 6)."""
    return torch.empty(4, 6).t().copy_(values)


def _column_major_adam(seed):
    torch.manual_seed(seed)
    start = torch.randn(6, 4)
    grads = [torch.randn(6, 4) for _ in range(3)]
    w = torch.nn.Parameter(_column_major(start))
    opt = Adam(learning_rate=0.01)
    opt.build([w])
    return start, grads, w, opt


@pytest.mark.parametrize("grad_layout", ["like the parameter", "row-major"])
def test_column_major_parameters_update_correctly_whatever_the_gradient_layout(grad_layout):
    # A Dense kernel is column-major; a gradient assigned by hand may not be.
    start, grads, w, opt = _column_major_adam(seed=1)
    for g in grads:
        w.grad = _column_major(g) if grad_layout == "like the parameter" else g.clone()
        opt.step()
    np.testing.assert_allclose(w.detach().numpy(), _hand_adam(start, grads).numpy(), rtol=1e-5, atol=1e-6)


def test_restored_slots_take_the_parameters_layout():
    torch.manual_seed(2)
    start = torch.randn(6, 4)
    grads = [torch.randn(6, 4) for _ in range(4)]

    def column_major():
        return torch.nn.Parameter(torch.empty(4, 6).t().copy_(start))

    w = column_major()
    opt = Adam(learning_rate=0.01)
    opt.build([w])
    for g in grads[:2]:
        w.grad = torch.empty(4, 6).t().copy_(g)
        opt.step()
    # What a checkpoint gives back: row-major copies of every slot.
    state = opt.state_dict()
    state["state"] = {k: {n: t.contiguous() for n, t in s.items()} for k, s in state["state"].items()}
    restored = torch.nn.Parameter(torch.empty(4, 6).t().copy_(w.detach()))
    opt2 = Adam(learning_rate=0.01)
    opt2.build([restored])
    opt2.load_state_dict(state)
    for g in grads[2:]:
        restored.grad = torch.empty(4, 6).t().copy_(g)
        opt2.step()
    np.testing.assert_allclose(restored.detach().numpy(), _hand_adam(start, grads).numpy(), rtol=1e-5, atol=1e-6)
    assert all(t.stride() == restored.stride() for t in opt2.state[restored].values() if t.dim() == 2)


def test_fused_kernel_is_handed_row_major_views_so_it_copies_nothing(monkeypatch):
    # torch's CPU kernel copies a tensor that is not row-major to a temporary and back, which
    # cost more than the update itself for a Dense kernel; the optimizer hands it views.
    from kfit.backend import torch_compat

    seen = []
    original = torch_compat.fused_adam_

    def recording(params, grads, *rest, **kwargs):
        seen.append([(t.is_contiguous(), t.data_ptr()) for group in (params, grads, *rest[:2]) for t in group])
        return original(params, grads, *rest, **kwargs)

    monkeypatch.setattr(torch_compat, "fused_adam_", recording)
    torch.manual_seed(3)
    dense_kernel = torch.nn.Parameter(torch.empty(4, 6).t().copy_(torch.randn(6, 4)))
    # A convolution kernel of Keras's shape (kh, kw, in, out) stored in torch's (out, in, kh, kw) order.
    conv_kernel = torch.nn.Parameter(torch.randn(5, 3, 2, 2).permute(2, 3, 1, 0))
    bias = torch.nn.Parameter(torch.randn(4))
    params = [dense_kernel, conv_kernel, bias]
    starts = [p.detach().clone() for p in params]
    grads = [[torch.randn_like(p) for p in params] for _ in range(3)]
    opt = Adam(learning_rate=0.01)
    opt.build(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g
        opt.step()
    if not torch_compat.fused_adam_available(torch.device("cpu")):
        pytest.skip("this torch has no fused Adam kernel")
    assert len(seen) == 3 and all(contiguous for call in seen for contiguous, _ in call)
    # Views, not copies: the kernel writes into the parameters' own memory.
    assert [ptr for _, ptr in seen[0][:3]] == [p.data_ptr() for p in params]
    for i, p in enumerate(params):
        expected = _hand_adam(starts[i], [step_grads[i] for step_grads in grads])
        np.testing.assert_allclose(p.detach().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_a_parameter_whose_data_is_replaced_between_steps_keeps_being_updated():
    # The fused path keeps row-major views of the parameters; new `.data` must be seen.
    start, grads, w, opt = _column_major_adam(seed=4)
    w.grad = _column_major(grads[0])
    opt.step()
    w.data = _column_major(w.detach())  # same values and layout, new memory
    for g in grads[1:]:
        w.grad = _column_major(g)
        opt.step()
    np.testing.assert_allclose(w.detach().numpy(), _hand_adam(start, grads).numpy(), rtol=1e-5, atol=1e-6)
