"""Mean, Sum and MeanMetricWrapper against Keras 3, plus their device-side cost."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from kfit import losses
from kfit.metrics import Mean, MeanMetricWrapper, Sum

keras = pytest.importorskip("keras")

N = 6


def assert_close(ours: torch.Tensor, theirs) -> None:
    expected = keras.ops.convert_to_numpy(theirs)
    got = ours.detach().cpu().numpy()
    assert got.shape == expected.shape == ()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def to_torch(x):
    return None if x is None else torch.as_tensor(x)


class OpRecorder(TorchDispatchMode):
    """Records the aten ops that reach the kernels (a proxy for kernel launches)."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


# (values shape, sample_weight shape) pairs covering Keras's broadcasting rules.
WEIGHTED_CASES = [
    ((N,), None),
    ((N, 3), None),
    ((N, 3, 2), None),
    ((), None),
    ((N,), (N,)),
    ((N,), (N, 1)),
    ((N, 1), (N,)),
    ((N, 3), (N,)),
    ((N, 3), (N, 1)),
    ((N, 3), (N, 3)),
    ((N, 3, 2), (N, 3)),
    ((N,), ()),
    ((N, 3), ()),
]


@pytest.mark.parametrize("cls_name", ["Mean", "Sum"])
@pytest.mark.parametrize(("values_shape", "weight_shape"), WEIGHTED_CASES)
def test_reductions_match_keras_over_several_updates(cls_name, values_shape, weight_shape):
    r = np.random.default_rng(0)
    ours = {"Mean": Mean, "Sum": Sum}[cls_name]()
    theirs = getattr(keras.metrics, cls_name)()
    for step in range(3):
        values = r.normal(size=values_shape).astype("float32")
        weight = None
        # Alternate weighted and unweighted updates to mix host and device counting.
        if weight_shape is not None and step != 1:
            weight = r.uniform(size=weight_shape).astype("float32")
        ours.update_state(to_torch(values), sample_weight=to_torch(weight))
        theirs.update_state(values, sample_weight=weight)
        assert_close(ours.result(), theirs.result())
    ours.reset_state()
    theirs.reset_state()
    assert_close(ours.result(), theirs.result())
    values = r.normal(size=values_shape).astype("float32")
    ours.update_state(to_torch(values))
    theirs.update_state(values)
    assert_close(ours.result(), theirs.result())


def test_mean_of_nothing_is_zero_like_keras():
    assert_close(Mean().result(), keras.metrics.Mean().result())
    ours, theirs = Mean(), keras.metrics.Mean()
    ours.update_state(torch.ones(3), sample_weight=torch.zeros(3))
    theirs.update_state(np.ones(3, "float32"), sample_weight=np.zeros(3, "float32"))
    assert_close(ours.result(), theirs.result())


def test_mean_call_updates_and_returns_result():
    m = Mean()
    assert_close(m(torch.tensor([1.0, 2.0])), keras.metrics.Mean()(np.array([1.0, 2.0], "float32")))
    assert m(torch.tensor([6.0])).item() == pytest.approx(3.0)


def test_mean_accepts_numpy_and_int_values():
    m = Mean()
    m.update_state(np.array([1, 2, 3, 4], dtype="int64"))
    m.update_state([5.0])
    assert m.result().dtype == torch.float32
    assert m.result().item() == pytest.approx(3.0)


def test_weighted_numpy_weights_are_accepted():
    ours, theirs = Mean(), keras.metrics.Mean()
    ours.update_state(torch.tensor([1.0, 3.0]), sample_weight=np.array([1.0, 3.0]))
    theirs.update_state(np.array([1.0, 3.0], "float32"), sample_weight=np.array([1.0, 3.0]))
    assert_close(ours.result(), theirs.result())


@pytest.mark.parametrize(
    "fn_name",
    ["mean_absolute_error", "mean_squared_error", "huber", "binary_crossentropy", "hinge"],
)
@pytest.mark.parametrize("weight_shape", [None, (N,), (N, 1)])
def test_mean_metric_wrapper_matches_keras(fn_name, weight_shape):
    r = np.random.default_rng(1)
    ours = MeanMetricWrapper(getattr(losses, fn_name), name="x")
    theirs = keras.metrics.MeanMetricWrapper(getattr(keras.losses, fn_name), name="x")
    for _ in range(3):
        y_true = r.integers(0, 2, size=(N, 1)).astype("float32")
        y_pred = r.uniform(size=(N, 1)).astype("float32")
        weight = None if weight_shape is None else r.uniform(size=weight_shape).astype("float32")
        ours.update_state(to_torch(y_true), to_torch(y_pred), sample_weight=to_torch(weight))
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        assert_close(ours.result(), theirs.result())
    assert ours.direction == theirs._direction == "down"


def test_mean_metric_wrapper_passes_kwargs_and_wraps_user_functions():
    r = np.random.default_rng(2)
    y_true = r.normal(size=(N, 2)).astype("float32")
    y_pred = r.normal(size=(N, 2)).astype("float32")
    ours = MeanMetricWrapper(losses.huber, delta=0.2)
    theirs = keras.metrics.MeanMetricWrapper(keras.losses.huber, delta=0.2)
    ours.update_state(torch.tensor(y_true), torch.tensor(y_pred))
    theirs.update_state(y_true, y_pred)
    assert_close(ours.result(), theirs.result())

    def user_fn(a, b):
        return (a - b).abs().amax(dim=-1)

    custom = MeanMetricWrapper(user_fn, name="max_err")
    assert custom.direction is None
    custom.update_state(torch.tensor(y_true), torch.tensor(y_pred))
    expected = np.abs(y_true - y_pred).max(-1).mean()
    np.testing.assert_allclose(custom.result().numpy(), expected, rtol=1e-6)


def test_mean_metric_wrapper_config_round_trip():
    m = MeanMetricWrapper(losses.huber, name="h", delta=0.5)
    config = m.get_config()
    assert config == {"name": "h", "dtype": "float32", "fn": "huber", "delta": 0.5}
    rebuilt = MeanMetricWrapper.from_config(config)
    assert rebuilt._fn is losses.huber
    assert rebuilt.get_config() == config


def test_mean_metric_wrapper_rejects_non_callables():
    with pytest.raises(TypeError, match="fn=3"):
        MeanMetricWrapper(3)


def test_state_is_created_on_the_device_of_the_first_update():
    m = MeanMetricWrapper(losses.mean_absolute_error)
    y = torch.empty(N, 1, device="meta")
    m.update_state(y, y)
    assert m.device.type == "meta"
    assert m.total.device.type == "meta" and m.count.device.type == "meta"
    assert m.result().device.type == "meta"
    # A metric used on the CPU first follows its inputs to another device, keeping its
    # state objects.
    m = MeanMetricWrapper(losses.mean_absolute_error)
    m.update_state(torch.zeros(N, 1), torch.ones(N, 1), sample_weight=torch.ones(N))
    total = m.total
    m.update_state(y, y)
    assert m.device.type == "meta" and m.total is total
    assert m.result().device.type == "meta"


def test_updates_and_results_never_read_device_values_on_the_host():
    # On the meta device there is no data, so any .item()/bool()/numpy() would raise.
    y_true = torch.empty(N, 3, device="meta")
    y_pred = torch.empty(N, 3, device="meta")
    weight = torch.empty(N, device="meta")
    for metric in (Mean(), Sum(), MeanMetricWrapper(losses.mean_squared_error)):
        args = (y_true,) if not isinstance(metric, MeanMetricWrapper) else (y_true, y_pred)
        metric.update_state(*args)
        metric.update_state(*args, sample_weight=weight)
        assert metric.result().shape == ()
        metric.reset_state()


def test_unweighted_update_launches_only_the_essential_kernels():
    values = torch.randn(128, 1)
    y_true, y_pred = torch.randn(128, 1), torch.randn(128, 1)
    mean, wrapper = Mean(), MeanMetricWrapper(losses.mean_absolute_error)
    mean.update_state(values)
    wrapper.update_state(y_true, y_pred)  # the first update places the state
    with OpRecorder() as rec:
        mean.update_state(values)
    # values (128, 1): per-sample mean over axis 1, then sum and in-place add.
    assert rec.ops == ["mean", "sum", "add_"]
    with OpRecorder() as rec:
        wrapper.update_state(y_true, y_pred)
    # Keras's per-sample values (the fused kernels live in kfit.trainers.fast_path), no host read.
    assert rec.ops == ["sub", "abs", "mean", "sum", "add_"]
    with OpRecorder() as rec:
        wrapper.update_state(y_true, y_pred, sample_weight=torch.ones(128))
    assert "_local_scalar_dense" not in rec.ops and "item" not in rec.ops


def test_result_does_not_alias_state():
    m = Sum()
    m.update_state(torch.tensor([2.0]))
    before = m.result()
    m.reset_state()
    assert before.item() == 2.0


def test_mean_with_a_host_number_weight_on_a_scalar_matches_keras():
    keras = pytest.importorskip("keras")
    from kfit.metrics import Mean

    ours, theirs = Mean(), keras.metrics.Mean()
    for value, weight in ((2.0, 128), (4.0, 104), (1.5, 3.0)):
        ours.update_state(torch.tensor(value), sample_weight=weight)
        theirs.update_state(np.float32(value), sample_weight=weight)
    np.testing.assert_allclose(float(ours.result()), float(theirs.result()), rtol=1e-6)
