"""torch_compat: each wrapper gives the same result on torch's private branch and the public one."""

from __future__ import annotations

import pytest
import torch
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from kfit.backend import torch_compat
from kfit.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop


def _both_branches(fn):  # type: ignore[no-untyped-def]
    """`fn()` run with the private kernels, then with the public fallback forced."""
    with torch_compat.use_private_kernels(True):
        private = fn()
    with torch_compat.use_private_kernels(False):
        public = fn()
    return private, public


def _assert_bitwise(a, b) -> None:  # type: ignore[no-untyped-def]
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_bitwise(x, y)
        return
    assert a.dtype == b.dtype and a.shape == b.shape
    if not torch.equal(a, b):  # NaN != NaN, so compare where the NaNs are, then the rest
        assert torch.equal(a.isnan(), b.isnan())
        assert torch.equal(a.nan_to_num(), b.nan_to_num())


def test_this_torch_serves_every_wrapper_from_its_private_kernels():
    # The branch the tests below compare against the fallback must really be the private one.
    available = torch_compat.private_kernels_available()
    assert all(available.values()), [name for name, ok in available.items() if not ok]


def test_use_private_kernels_rebinds_and_restores():
    native, native_loss = torch_compat.foreach_add_, torch_compat.mse_loss
    with torch_compat.use_private_kernels(False):
        assert torch_compat.foreach_add_ is not native
        assert torch_compat.mse_loss is not native_loss
        with torch_compat.use_private_kernels(True):
            assert torch_compat.foreach_add_ is native
        assert torch_compat.foreach_add_ is not native
    assert torch_compat.foreach_add_ is native
    assert torch_compat.mse_loss is native_loss


# ---------------------------------------------------------------- losses
def _regression_pair() -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = torch.randn(8, 3, requires_grad=True)
    return y_pred, torch.randn(8, 3)


@pytest.mark.parametrize(
    "name, inputs, extra",
    [
        ("mse_loss", _regression_pair, ()),
        ("l1_loss", _regression_pair, ()),
        ("huber_loss", _regression_pair, (0.5,)),
        (
            "binary_cross_entropy",
            lambda: (torch.rand(8, 3).clamp(0.001, 0.999).requires_grad_(), torch.rand(8, 3).round()),
            (),
        ),
        (
            "cross_entropy",
            lambda: (torch.randn(8, 5, requires_grad=True), torch.randint(0, 5, (8,))),
            (),
        ),
    ],
)
def test_loss_kernels_match_bitwise_with_gradients(name, inputs, extra):
    def run():  # type: ignore[no-untyped-def]
        torch.manual_seed(3)
        y_pred, y_true = inputs()
        loss = getattr(torch_compat, name)(y_pred, y_true, *extra)
        loss.backward()
        return loss.detach(), y_pred.grad

    (loss_a, grad_a), (loss_b, grad_b) = _both_branches(run)
    assert loss_a.dim() == 0
    _assert_bitwise(loss_a, loss_b)
    _assert_bitwise(grad_a, grad_b)


def test_loss_kernels_compute_the_mean():
    y_pred, y_true = torch.tensor([[1.0, -2.0], [0.5, 4.0]]), torch.zeros(2, 2)
    for private in (True, False):
        with torch_compat.use_private_kernels(private):
            assert float(torch_compat.mse_loss(y_pred, y_true)) == pytest.approx(21.25 / 4)
            assert float(torch_compat.l1_loss(y_pred, y_true)) == pytest.approx(7.5 / 4)
            # Quadratic up to delta=1, then linear: 0.5, 1.5, 0.125, 3.5.
            assert float(torch_compat.huber_loss(y_pred, y_true, 1.0)) == pytest.approx(5.625 / 4)
            ce = torch_compat.cross_entropy(torch.tensor([[0.0, 0.0]]), torch.tensor([0]))
            assert float(ce) == pytest.approx(0.6931472)


# ---------------------------------------------------------------- multi-tensor ops
_SHAPES = [(3, 4), (4,), (1,), (2, 3, 2)]


def _tensors(low: float = -1.0) -> list[torch.Tensor]:
    return [torch.empty(s).uniform_(low, 2.0) for s in _SHAPES]


# (op, builder of its arguments after the first list) -- every pattern kfit calls them with.
_FOREACH_CASES = [
    ("add_", lambda: (_tensors(),), {"alpha": -0.3}),
    ("add_", lambda: (_tensors(),), {}),
    ("add_", lambda: (1e-7,), {}),
    ("add", lambda: (0.25,), {}),
    ("sub_", lambda: (_tensors(),), {}),
    ("mul_", lambda: (0.9,), {}),
    ("mul_", lambda: (_tensors(),), {}),
    ("mul", lambda: (_tensors(),), {}),
    ("mul", lambda: (torch.tensor(0.7),), {}),
    ("div", lambda: (4.0,), {}),
    ("div_", lambda: (3.0,), {}),
    ("addcmul_", lambda: (_tensors(), _tensors()), {"value": 0.001}),
    ("addcmul_", lambda: (_tensors(), _tensors()), {}),
    ("addcdiv_", lambda: (_tensors(), _tensors(0.5)), {"value": -0.01}),
    ("lerp_", lambda: (_tensors(), 0.1), {}),
    ("maximum_", lambda: (_tensors(),), {}),
    ("maximum", lambda: (0.5,), {}),
    ("clamp_min", lambda: (-0.5,), {}),
    ("clamp_max_", lambda: (0.5,), {}),
    ("copy_", lambda: (_tensors(),), {}),
    ("norm", lambda: (), {}),
    ("reciprocal_", lambda: (), {}),
    ("sqrt", lambda: (), {}),
    ("sqrt_", lambda: (), {}),
    ("zero_", lambda: (), {}),
]


def test_the_cases_cover_every_foreach_wrapper():
    wrapped = {name.removeprefix("foreach_") for name in torch_compat.__all__ if "foreach_" in name}
    assert {op for op, _, _ in _FOREACH_CASES} == wrapped


@pytest.mark.parametrize("op, others, kwargs", _FOREACH_CASES, ids=[c[0] for c in _FOREACH_CASES])
def test_foreach_ops_match_bitwise(op, others, kwargs):
    def run():  # type: ignore[no-untyped-def]
        torch.manual_seed(5)
        low = 0.1 if op.startswith("sqrt") or op == "reciprocal_" else -1.0
        tensors = _tensors(low)
        result = getattr(torch_compat, f"foreach_{op}")(tensors, *others(), **kwargs)
        return tensors, result

    (tensors_a, result_a), (tensors_b, result_b) = _both_branches(run)
    _assert_bitwise(tensors_a, tensors_b)
    if op.endswith("_"):  # in place, returning the list given, as torch's ops do
        assert result_a is tensors_a and result_b is tensors_b
    else:
        _assert_bitwise(result_a, result_b)


def test_foreach_in_place_ops_change_the_given_tensors():
    for private in (True, False):
        with torch_compat.use_private_kernels(private):
            tensors = [torch.ones(2), torch.ones(3)]
            torch_compat.foreach_add_(tensors, [torch.ones(2), torch.full((3,), 2.0)], alpha=-0.5)
            assert [t.tolist() for t in tensors] == [[0.5, 0.5], [0.0, 0.0, 0.0]]


# ---------------------------------------------------------------- fused Adam
def test_fused_adam_matches_bitwise_and_handles_transposed_parameters():
    def run():  # type: ignore[no-untyped-def]
        torch.manual_seed(7)
        params = [torch.randn(4, 3).t(), torch.randn(3), torch.randn(1)]  # a Dense kernel's layout
        grads = [torch.randn(3, 4), torch.randn(3), torch.randn(1)]
        grads[0] = torch.randn(4, 3).t()  # laid out like its parameter, as autograd's are
        moments = [torch.zeros_like(p) for p in params]
        squares = [torch.zeros_like(p) for p in params]
        for step in (1, 2, 3):
            torch_compat.fused_adam_(
                params, grads, moments, squares, step, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-7
            )
        return params + moments + squares

    private, public = _both_branches(run)
    _assert_bitwise(private, public)


def test_fused_adam_computes_torch_adams_update():
    grad = torch.tensor([0.5, -0.25])
    reference = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    torch_adam = torch.optim.Adam([reference], lr=0.1, eps=1e-6, foreach=False)
    for private in (True, False):
        with torch_compat.use_private_kernels(private):
            w, m, v = torch.tensor([1.0, -2.0]), torch.zeros(2), torch.zeros(2)
            for step in (1, 2):
                torch_compat.fused_adam_(
                    [w], [grad], [m], [v], step, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-6
                )
            assert w.tolist() != [1.0, -2.0]
            if private:
                for _ in (1, 2):
                    reference.grad = grad.clone()
                    torch_adam.step()
            torch.testing.assert_close(w, reference.detach())


# ---------------------------------------------------------------- grad mode
def test_set_grad_enabled_switches_the_mode_on_both_branches():
    for private in (True, False):
        with torch_compat.use_private_kernels(private):
            torch_compat.set_grad_enabled(False)
            assert not torch.is_grad_enabled()
            assert not (torch.ones(1, requires_grad=True) * 2).requires_grad
            torch_compat.set_grad_enabled(True)
            assert torch.is_grad_enabled()


# ---------------------------------------------------------------- tensor subclasses
def test_disabled_torch_function_keeps_subclass_ops_plain_on_both_branches():
    def run():  # type: ignore[no-untyped-def]
        class Plain(torch.Tensor):
            __torch_function__ = torch_compat.disabled_torch_function

        value = torch.Tensor._make_subclass(Plain, torch.tensor([1.0, 2.0]), False)
        added = value + 1
        value.add_(torch.tensor([0.5, 0.5]))  # in place: the subclass object itself changes
        stacked = torch.stack([value, value])
        assert type(added) is torch.Tensor and type(stacked) is torch.Tensor
        assert type(value) is Plain and value.shape == (2,) and value.dtype == torch.float32
        return added, value.as_subclass(torch.Tensor).clone(), stacked

    private, public = _both_branches(run)
    _assert_bitwise(list(private), list(public))
    assert private[1].tolist() == [1.5, 2.5]


# ---------------------------------------------------------------- optimizers on both branches
_OPTIMIZERS = {
    "sgd_momentum": lambda: SGD(learning_rate=0.1, momentum=0.9),
    "sgd_nesterov": lambda: SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    "sgd_plain": lambda: SGD(learning_rate=0.1),
    "rmsprop": lambda: RMSprop(learning_rate=0.01),
    "rmsprop_centered_momentum": lambda: RMSprop(learning_rate=0.01, centered=True, momentum=0.5),
    "adam": lambda: Adam(learning_rate=0.01),
    "adam_amsgrad": lambda: Adam(learning_rate=0.01, amsgrad=True),
    "adamw": lambda: AdamW(learning_rate=0.01),
    "adagrad": lambda: Adagrad(learning_rate=0.1),
    "clipnorm": lambda: SGD(learning_rate=0.1, clipnorm=0.5),
    "global_clipnorm": lambda: SGD(learning_rate=0.1, global_clipnorm=0.5),
    "clipvalue": lambda: SGD(learning_rate=0.1, clipvalue=0.1),
    "accumulation_ema_loss_scale": lambda: Adam(
        gradient_accumulation_steps=2,
        use_ema=True,
        ema_overwrite_frequency=3,
        loss_scale_factor=4.0,
    ),
}


@pytest.mark.parametrize("name", list(_OPTIMIZERS))
def test_optimizer_steps_give_identical_weights_on_both_branches(name):
    def run():  # type: ignore[no-untyped-def]
        torch.manual_seed(11)
        model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
        opt = _OPTIMIZERS[name]()
        opt.build(model.parameters())
        x, y = torch.randn(16, 4), torch.randn(16, 1)
        for _ in range(6):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        slots = [t for state in opt.state.values() for t in state.values()]
        state = [t for t in slots if isinstance(t, torch.Tensor)]
        return [p.detach().clone() for p in model.parameters()] + state

    private, public = _both_branches(run)
    _assert_bitwise(private, public)


# ---------------------------------------------------------------- optimizer step hooks
@pytest.mark.parametrize("private", [True, False])
def test_step_hooks_and_global_hooks_fire_once_on_both_branches(private):
    w = torch.nn.Parameter(torch.ones(2))
    opt = SGD(learning_rate=1.0)
    seen: list[str] = []
    opt.register_step_pre_hook(lambda o, args, kwargs: seen.append("pre"))  # before build
    opt.build([w])
    opt.register_step_post_hook(lambda o, args, kwargs: seen.append("post"))
    global_pre = register_optimizer_step_pre_hook(
        lambda o, args, kwargs: seen.append("global pre")
    )
    global_post = register_optimizer_step_post_hook(
        lambda o, args, kwargs: seen.append("global post")
    )
    try:
        with torch_compat.use_private_kernels(private):
            w.grad = torch.ones(2)
            opt.step()
    finally:
        global_pre.remove()
        global_post.remove()
    assert seen == ["global pre", "pre", "post", "global post"]
    assert w.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("private", [True, False])
def test_a_pre_hook_can_replace_the_closure(private):
    w = torch.nn.Parameter(torch.ones(1))
    opt = SGD(learning_rate=1.0)
    opt.build([w])
    w.grad = torch.ones(1)
    opt.register_step_pre_hook(lambda o, args, kwargs: ((o,), {"closure": lambda: "from the hook"}))
    with torch_compat.use_private_kernels(private):
        assert opt.step() == "from the hook"


@pytest.mark.parametrize("private", [True, False])
def test_steps_without_hooks_still_update_and_keep_the_profiler_label(private):
    w = torch.nn.Parameter(torch.ones(1))
    opt = Adam(learning_rate=0.5)
    opt.build([w])
    with torch_compat.use_private_kernels(private):
        w.grad = torch.ones(1)
        opt.step()
        assert w.item() == pytest.approx(0.5, rel=1e-4)
        w.grad = torch.ones(1)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            opt.step()
    assert "Optimizer.step#Adam.step" in {event.name for event in prof.events()}
    assert int(opt.iterations) == 2
