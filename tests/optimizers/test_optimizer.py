"""The shared optimizer base: Keras options, the lr handle, state dicts, torch integration."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from optimizer_parity import (
    assert_close,
    gradient_sequence,
    initial_values,
    parity,
    rtol_for,
    run_keras,
    run_kfit,
)

import kfit.backend.conversion as conversion
from kfit import backend, optimizers
from kfit.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, OptimizerVariable, RMSprop

keras = pytest.importorskip("keras")


# ---------------------------------------------------------------- Keras options, vs Keras
@pytest.mark.parametrize(
    "name,kwargs,scale",
    [
        ("SGD", {"learning_rate": 0.1, "weight_decay": 0.05}, 1.0),
        ("RMSprop", {"learning_rate": 0.01, "weight_decay": 0.2}, 1.0),
        ("SGD", {"learning_rate": 0.1, "clipnorm": 1.0}, 5.0),
        ("Adam", {"learning_rate": 0.01, "clipnorm": 0.5}, 5.0),
        ("SGD", {"learning_rate": 0.1, "clipvalue": 0.5}, 2.0),
        ("Adagrad", {"learning_rate": 0.1, "clipvalue": 0.3}, 2.0),
        ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "global_clipnorm": 1.0}, 5.0),
        ("Adam", {"learning_rate": 0.01, "global_clipnorm": 2.0}, 5.0),
        ("SGD", {"learning_rate": 0.1, "loss_scale_factor": 128.0}, 64.0),
    ],
    ids=[
        "sgd_decay",
        "rmsprop_decay",
        "sgd_clipnorm",
        "adam_clipnorm",
        "sgd_clipvalue",
        "adagrad_clipvalue",
        "sgd_global_clipnorm",
        "adam_global_clipnorm",
        "loss_scale",
    ],
)
def test_shared_options_match_keras(name, kwargs, scale):
    grads = gradient_sequence(5, scale=scale)
    ours, theirs = getattr(optimizers, name)(**kwargs), getattr(keras.optimizers, name)(**kwargs)
    parity(ours, theirs, grads=grads)


@pytest.mark.parametrize("frequency", [None, 2])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_ema_matches_keras(name, frequency):
    kwargs = {"learning_rate": 0.1, "use_ema": True, "ema_momentum": 0.9}
    kwargs["ema_overwrite_frequency"] = frequency
    ours, theirs = getattr(optimizers, name)(**kwargs), getattr(keras.optimizers, name)(**kwargs)
    parity(ours, theirs)
    assert_close(ours.ema_weights, [v.value for v in theirs._model_variables_moving_average], rtol=rtol_for(ours))


def test_gradient_accumulation_matches_keras():
    kwargs = {"learning_rate": 0.1, "gradient_accumulation_steps": 3, "use_ema": True}
    ours, theirs = Adam(**kwargs), keras.optimizers.Adam(**kwargs)
    parity(ours, theirs, steps=7)
    assert int(ours.iterations) == int(theirs.iterations.numpy()) == 2
    assert_close(ours.ema_weights, [v.value for v in theirs._model_variables_moving_average], rtol=rtol_for(ours))


def test_missing_gradients_are_skipped_like_keras():
    grads = gradient_sequence(5)
    grads[1][1] = None
    grads[3][0] = None
    kwargs = {"learning_rate": 0.1, "weight_decay": 0.1}
    parity(Adam(**kwargs), keras.optimizers.Adam(**kwargs), grads=grads)


def test_step_without_any_gradient_raises():
    opt = SGD()
    opt.build([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.step()


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_schedule_matches_keras(name):
    ours = getattr(optimizers, name)(
        learning_rate=optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    )
    keras_schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    theirs = getattr(keras.optimizers, name)(learning_rate=keras_schedule)
    parity(ours, theirs)
    assert float(ours.learning_rate) == pytest.approx(float(theirs.learning_rate), rel=1e-6)
    assert ours.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** (4 / 2))  # value used last


def test_keras_apply_api_matches_keras_and_keeps_grads():
    grads = gradient_sequence(3)
    params = [torch.nn.Parameter(torch.tensor(v)) for v in initial_values()]
    sentinel = torch.full((4,), 7.0)
    params[1].grad = sentinel
    ours = RMSprop(learning_rate=0.1)
    for step_grads in grads:
        ours.apply([torch.tensor(g) for g in step_grads], params)
    assert params[1].grad is sentinel
    assert params[0].grad is None
    variables = run_keras(keras.optimizers.RMSprop(learning_rate=0.1), grads)
    assert_close(params, [v.value for v in variables])
    assert int(ours.apply_gradients(zip([torch.ones(4)], [params[1]]))) == 4


def test_apply_rejects_unknown_variables():
    opt = SGD()
    opt.build([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ValueError, match="not part of the parameters"):
        opt.apply([torch.zeros(3)], [torch.nn.Parameter(torch.zeros(3))])


# ---------------------------------------------------------------- EMA helpers
def test_swap_ema_weights_round_trips_and_finalize_copies():
    opt = SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.5)
    params = run_kfit(opt, gradient_sequence(3))
    raw = [p.detach().clone() for p in params]
    averages = [a.clone() for a in opt.ema_weights]
    assert not torch.equal(raw[0], averages[0])
    opt.swap_ema_weights()
    assert_close(params, averages)
    assert_close(opt.ema_weights, raw)
    opt.swap_ema_weights()
    assert_close(params, raw)
    opt.finalize_variable_values()
    assert_close(params, averages)


def test_ema_helpers_need_use_ema_and_build():
    with pytest.raises(ValueError, match="use_ema=True"):
        SGD().swap_ema_weights()
    with pytest.raises(ValueError, match="must be built"):
        SGD(use_ema=True).swap_ema_weights()
    SGD().finalize_variable_values()  # a no-op without EMA, as in Keras


# ---------------------------------------------------------------- learning rate handle
def test_learning_rate_handle_behaves_like_a_variable():
    opt = SGD(learning_rate=0.1)
    lr = opt.learning_rate
    assert isinstance(lr, OptimizerVariable) and opt.lr is lr
    assert float(lr) == 0.1
    assert repr(lr) == "<OptimizerVariable path=learning_rate value=0.1>"
    assert f"{lr:.4f}" == "0.1000"
    array = np.array(lr)
    assert array.dtype == np.float32 and array.shape == () and np.asarray(lr) == np.float32(0.1)
    assert np.asarray(lr, dtype="float64").dtype == np.float64
    assert lr * 2 == 0.2 and 2 * lr == 0.2 and lr / 2 == 0.05 and 1 - lr == 0.9
    assert lr + lr == 0.2 and -lr == -0.1 and lr**2 == pytest.approx(0.01)
    assert lr > 0.05 and lr >= 0.1 and lr < 1 and lr <= 0.1 and lr == 0.1 and lr != 0.2
    assert isinstance(lr * 2, float) and isinstance(lr > 0, bool)
    lr.assign(0.3)
    assert float(opt.learning_rate) == 0.3
    assert lr.numpy().dtype == np.float32


@pytest.mark.parametrize(
    "value", [0.25, np.float32(0.25), np.float64(0.25), torch.tensor(0.25), np.array(0.25), 1]
)
def test_learning_rate_setter_accepts_scalars(value):
    opt = Adam()
    opt.learning_rate = value
    assert float(opt.learning_rate) == pytest.approx(float(value))
    other = Adam()
    other.lr = opt.learning_rate  # a handle reads its value
    assert float(other.lr) == pytest.approx(float(value))


def test_backend_get_and_set_value():
    opt = SGD()
    backend.set_value(opt.lr, 0.25)
    result = opt.learning_rate.numpy()
    assert result.dtype == np.float32 and result == np.float32(0.25)
    assert backend.get_value(opt.learning_rate) == np.float32(0.25)
    opt.build([torch.nn.Parameter(torch.zeros(1))])
    backend.set_value(opt.learning_rate, 0.05)
    assert opt.param_groups[0]["lr"] == 0.05


def test_learning_rate_lives_in_param_groups_after_build():
    opt = RMSprop(learning_rate=0.1)
    opt.build([torch.nn.Parameter(torch.zeros(1))])
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))]})
    opt.learning_rate = 0.02
    assert [g["lr"] for g in opt.param_groups] == [0.02, 0.02]
    opt.param_groups[0]["lr"] = 0.5  # as a torch LR scheduler would
    assert float(opt.learning_rate) == 0.5


def test_invalid_learning_rates():
    with pytest.raises(ValueError, match=r"non-negative.*Received: learning_rate=-0.1"):
        SGD(learning_rate=-0.1)
    with pytest.raises(ValueError, match=r"`learning_rate` to be a number.*of type str"):
        SGD(learning_rate="fast")
    opt = SGD()
    with pytest.raises(ValueError, match="non-negative"):
        opt.learning_rate = -1.0


def test_schedule_learning_rate_cannot_be_set_to_a_number():
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = SGD(learning_rate=schedule)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.1
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        backend.set_value(opt.lr, 0.1)
    opt.iterations.assign(2)
    assert float(opt.learning_rate) == pytest.approx(0.025)
    opt.learning_rate = optimizers.schedules.PiecewiseConstantDecay([1], [1.0, 0.5])
    assert float(opt.learning_rate) == 0.5


def test_callable_learning_rate():
    calls = []
    opt = SGD(learning_rate=lambda: calls.append(1) or 0.5)
    w = torch.nn.Parameter(torch.zeros(1))
    opt.build([w])
    w.grad = torch.ones(1)
    opt.step()
    assert w.item() == -0.5 and len(calls) >= 1


# ---------------------------------------------------------------- iterations and state
def test_iterations_counter():
    opt = SGD()
    assert int(opt.iterations) == 0 and opt.iterations.numpy().dtype == np.int64
    run_kfit(opt, gradient_sequence(3))
    assert int(opt.iterations) == 3 and opt.iterations == 3
    assert list(range(opt.iterations)) == [0, 1, 2]
    with pytest.raises(TypeError, match="cannot be used as an index"):
        [0, 1][opt.learning_rate]


def _plain(value):
    """Checks a state dict holds only tensors and JSON-friendly Python values."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, (torch.Tensor, bool, int, float, str, type(None)))


@pytest.mark.parametrize(
    "factory",
    [
        lambda: Adam(learning_rate=0.05, amsgrad=True, use_ema=True, ema_momentum=0.8),
        lambda: SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        lambda: RMSprop(learning_rate=0.05, centered=True, momentum=0.5),
        lambda: Adagrad(learning_rate=0.1),
        lambda: AdamW(learning_rate=0.05, gradient_accumulation_steps=2),
    ],
    ids=["adam_ema", "sgd", "rmsprop", "adagrad", "adamw_accumulation"],
)
def test_state_dict_resume_continues_exactly(factory):
    grads = gradient_sequence(7)
    reference = run_kfit(factory(), grads)

    first = factory()
    params = run_kfit(first, grads[:3])
    saved = first.state_dict()
    assert _plain(saved)
    # Simulate a save/load cycle: tensors copied, ids stringified as JSON would.
    saved = {
        "state": {str(k): {n: t.clone() for n, t in v.items()} for k, v in saved["state"].items()},
        "param_groups": json.loads(json.dumps(saved["param_groups"])),
        "iterations": saved["iterations"],
    }
    resumed_params = [torch.nn.Parameter(p.detach().clone()) for p in params]
    second = factory()
    second.build(resumed_params)
    second.load_state_dict(saved)
    run_kfit(second, grads[3:], resumed_params)
    for a, b in zip(resumed_params, reference):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert second.state_dict()["iterations"] == 7


def test_state_dict_restores_hyperparameters_and_defers_before_build():
    source = Adam(learning_rate=0.05)
    source.build([torch.nn.Parameter(torch.zeros(2))])
    source.learning_rate = 0.0125
    source.beta_1 = 0.7
    source.iterations.assign(4)
    target = Adam()
    target.load_state_dict(source.state_dict())
    assert int(target.iterations) == 4 and not target.built
    target.build([torch.nn.Parameter(torch.zeros(2))])
    assert float(target.learning_rate) == 0.0125 and target.beta_1 == 0.7


def test_unbuilt_state_dict_round_trips_iterations():
    source = SGD()
    source.iterations.assign(9)
    target = SGD()
    target.load_state_dict(source.state_dict())
    assert int(target.iterations) == 9


def test_deepcopy_and_pickle_keep_keras_settings():
    opt = SGD(learning_rate=0.1, momentum=0.9, clipnorm=1.0)
    run_kfit(opt, gradient_sequence(2))
    clone = copy.deepcopy(opt)
    assert clone.clipnorm == 1.0 and int(clone.iterations) == 2 and float(clone.lr) == 0.1
    clone.learning_rate = 0.5
    assert float(opt.learning_rate) == 0.1


# ---------------------------------------------------------------- torch integration
def test_torch_lr_scheduler_drives_the_learning_rate():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = SGD(learning_rate=1.0)
    opt.build([w])
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(2):
        w.grad = torch.ones(1)
        opt.step()
        scheduler.step()
    assert float(opt.learning_rate) == 0.25
    assert w.item() == pytest.approx(-1.5)


def test_param_groups_use_their_own_hyperparameters():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = SGD(learning_rate=1.0)
    opt.build([{"params": [a]}, {"params": [b], "lr": 0.1}])
    a.grad, b.grad = torch.ones(1), torch.ones(1)
    opt.step()
    assert (a.item(), b.item()) == (-1.0, pytest.approx(-0.1))


def test_hooks_registered_before_build_survive():
    seen = []
    opt = Adam()
    opt.register_step_post_hook(lambda *args: seen.append("post"))
    run_kfit(opt, gradient_sequence(1))
    assert seen == ["post"]


def test_zero_grad_and_closure():
    w = torch.nn.Parameter(torch.ones(2))
    opt = SGD(learning_rate=0.5)
    opt.zero_grad()  # harmless before build
    opt.build([w])

    def closure():
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 2.0
    assert w.detach().tolist() == [0.0, 0.0]


def test_step_makes_no_host_reads(monkeypatch):
    reads = []
    original = conversion.to_host
    monkeypatch.setattr(conversion, "to_host", lambda v: reads.append(1) or original(v))
    for method in ("item", "tolist", "cpu", "numpy", "__bool__", "__float__"):
        monkeypatch.setattr(torch.Tensor, method, _forbidden(method), raising=True)
    opt = Adam(learning_rate=0.01, global_clipnorm=1.0, use_ema=True, weight_decay=0.1)
    params = [torch.nn.Parameter(torch.zeros(3, 2)), torch.nn.Parameter(torch.zeros(2))]
    opt.build(params)
    for _ in range(3):
        for p in params:
            p.grad = torch.ones_like(p)
        opt.step()
    assert reads == []


def _forbidden(method):
    def fail(self, *args, **kwargs):
        raise AssertionError(f"Tensor.{method} called during step()")

    return fail


# ---------------------------------------------------------------- construction errors
@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"clipnorm": 1.0, "global_clipnorm": 1.0}, "Only one of `clipnorm`"),
        ({"clipvalue": 1.0, "clipnorm": 1.0}, "Only one of `clipnorm`"),
        ({"gradient_accumulation_steps": 1}, "gradient_accumulation_steps` to be an int >= 2"),
        ({"use_ema": True, "ema_momentum": 1.5}, "`ema_momentum`"),
        ({"use_ema": True, "ema_overwrite_frequency": 0}, "`ema_overwrite_frequency`"),
        ({"loss_scale_factor": 0}, "`loss_scale_factor`"),
        ({"weight_decay": -1.0}, "`weight_decay`"),
        ({"clipnorm": -1.0}, "`clipnorm`"),
        ({"bogus": 1}, r"not recognized: \['bogus'\]"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD(**kwargs)


def test_decay_argument_warns_and_is_ignored():
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):
        SGD(decay=0.1)


def test_step_before_build_raises():
    with pytest.raises(ValueError, match=r"must be built before calling `step\(\)`"):
        SGD().step()
    with pytest.raises(ValueError, match="must be built"):
        SGD().apply([torch.zeros(1)])


def test_build_rejects_a_single_tensor_and_is_idempotent():
    with pytest.raises(TypeError, match="Wrap it in a list"):
        SGD().build(torch.nn.Parameter(torch.zeros(1)))
    w = torch.nn.Parameter(torch.zeros(1))
    opt = SGD()
    opt.build([w])
    opt.build([torch.nn.Parameter(torch.zeros(2))])
    assert opt.param_groups[0]["params"] == [w]


def test_build_on_no_parameters():
    opt = Adam()
    opt.build([])
    assert opt.built and opt.state_dict()["param_groups"][0]["params"] == []


def test_names_are_unique_snake_case():
    first, second = RMSprop(), RMSprop()
    assert first.name.startswith("rm_sprop") and first.name != second.name
    assert SGD(name="mine").name == "mine"


# ---------------------------------------------------------------- get / serialize
@pytest.mark.parametrize(
    "name", ["sgd", "SGD", "rmsprop", "RMSprop", "adam", "ADAM", "adamw", "Adagrad"]
)
def test_get_by_name(name):
    opt = optimizers.get(name)
    assert type(opt).__name__.lower() == name.lower() and not opt.built


def test_get_passes_instances_and_resolves_dicts():
    opt = Adam()
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    assert isinstance(optimizers.get(Adagrad), Adagrad)
    config = {"class_name": "adam", "config": {"learning_rate": 0.5, "beta_1": 0.8}}
    restored = optimizers.get(config)
    assert isinstance(restored, Adam) and float(restored.lr) == 0.5 and restored.beta_1 == 0.8


def test_get_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"identifier='adamm'.*Did you mean 'adam'") as info:
        optimizers.get("adamm")
    assert "'rmsprop'" in str(info.value)


@pytest.mark.parametrize("bad", [3, torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)])
def test_get_rejects_other_types(bad):
    with pytest.raises(TypeError, match=r"(?s)Received: identifier=.*\(of type"):
        optimizers.get(bad)


def test_serialize_round_trip_with_schedule_and_keras_configs():
    schedule = optimizers.schedules.CosineDecay(
        0.1, decay_steps=100, warmup_target=0.2, warmup_steps=10
    )
    opt = SGD(learning_rate=schedule, momentum=0.5, clipvalue=2.0)
    config = optimizers.serialize(opt)
    json.dumps(config)
    restored = optimizers.deserialize(config)
    assert restored.get_config() == {**opt.get_config(), "name": restored.name}
    assert isinstance(restored._learning_rate_schedule, optimizers.schedules.CosineDecay)

    keras_config = keras.optimizers.serialize(
        keras.optimizers.Adam(
            learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9), amsgrad=True
        )
    )
    from_keras = optimizers.deserialize(keras_config)
    assert isinstance(from_keras, Adam) and from_keras.amsgrad
    assert float(from_keras.learning_rate) == pytest.approx(0.1)


def test_exports():
    assert set(optimizers.__all__) >= {
        "Optimizer",
        "SGD",
        "RMSprop",
        "Adam",
        "AdamW",
        "Adagrad",
        "get",
        "OptimizerVariable",
        "schedules",
    }
    assert issubclass(Optimizer, torch.optim.Optimizer)
    assert isinstance(SGD(), torch.optim.Optimizer)


@pytest.mark.parametrize("grad_enabled", [True, False])
def test_step_restores_the_callers_grad_mode_even_when_it_raises(grad_enabled: bool) -> None:
    w = torch.nn.Parameter(torch.ones(2))
    opt = SGD(learning_rate=0.5)
    opt.build([w])
    w.grad = torch.ones(2)
    with torch.set_grad_enabled(grad_enabled):
        opt.step()
        assert torch.is_grad_enabled() is grad_enabled
        w.grad = None
        with pytest.raises(ValueError, match="No gradients"):
            opt.step()
        assert torch.is_grad_enabled() is grad_enabled
    assert w.detach().tolist() == [0.5, 0.5]
    assert not w.grad_fn and w.is_leaf  # the update itself recorded no graph


def test_closure_runs_with_gradients_inside_step() -> None:
    w = torch.nn.Parameter(torch.tensor([2.0]))
    opt = SGD(learning_rate=0.25)
    opt.build([w])

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0 and w.item() == 1.0  # 2 - 0.25 * (2 * 2)
