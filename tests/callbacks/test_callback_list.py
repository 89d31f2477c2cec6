"""CallbackList: dispatch only to overriders, shared logs, lazy batch logs."""

from __future__ import annotations

import pytest

import kfit
from kfit.callbacks import Callback, CallbackList, History, ProgbarLogger


class EpochEnd(Callback):
    def __init__(self, out):
        super().__init__()
        self.out = out

    def on_epoch_end(self, epoch, logs=None):
        self.out.append((self, epoch, logs))


def test_only_overriders_are_called_and_logs_dict_is_shared():
    out = []
    a, b = EpochEnd(out), EpochEnd(out)
    cbs = CallbackList([a, Callback(), [b]])
    assert len(cbs) == 3  # nested lists are flattened
    logs = {"loss": 1.0}
    cbs.on_epoch_end(0, logs)
    assert [(cb, e) for cb, e, _ in out] == [(a, 0), (b, 0)]
    assert out[0][2] is logs and out[1][2] is logs
    assert cbs.dispatches("on_epoch_end") and not cbs.dispatches("on_epoch_begin")


def test_none_logs_become_empty_dict():
    seen = []

    class Begin(Callback):
        def on_train_begin(self, logs=None):
            seen.append(logs)

        def on_train_batch_begin(self, batch, logs=None):
            seen.append(logs)

    cbs = CallbackList([Begin()])
    cbs.on_train_begin(None)
    cbs.on_train_batch_begin(0)
    assert seen == [{}, {}]


def test_legacy_alias_counts_as_override_and_instance_attributes_count():
    class Legacy(Callback):
        def on_batch_end(self, batch, logs=None):
            self.got = (batch, logs)

    legacy = Legacy()
    plain = Callback()
    plain.on_test_end = lambda logs=None: setattr(plain, "ended", logs)
    cbs = CallbackList([legacy, plain])
    assert cbs.dispatches("on_train_batch_end") and not cbs.dispatches("on_test_batch_end")
    cbs.on_train_batch_end(3, {"loss": 2.0})
    assert legacy.got == (3, {"loss": 2.0})
    cbs.on_test_end({"loss": 1.0})
    assert plain.ended == {"loss": 1.0}


def test_logs_factory_is_called_once_for_all_eager_callbacks():
    calls = []

    def factory():
        calls.append(1)
        return {"loss": 0.5}

    got = []

    class Reader(Callback):
        def on_train_batch_end(self, batch, logs=None):
            got.append(logs)

    cbs = CallbackList([Reader(), Reader()])
    cbs.on_train_batch_end(0, factory)
    assert calls == [1] and got[0] is got[1] and got[0] == {"loss": 0.5}


def test_lazy_callbacks_alone_do_not_build_logs():
    calls = []

    class Lazy(Callback):
        lazy_batch_logs = True

        def on_train_batch_end(self, batch, logs=None):
            self.logs = logs

    lazy = Lazy()
    cbs = CallbackList([lazy])
    cbs.on_train_batch_end(0, lambda: calls.append(1) or {"loss": 1.0})
    assert calls == []  # nothing read until the callback asks
    assert lazy.logs() == {"loss": 1.0} and lazy.logs() == {"loss": 1.0}
    assert calls == [1]


def test_add_history_and_progbar_respect_given_instances():
    history = History()
    cbs = CallbackList([history], add_history=True, add_progbar=True)
    assert cbs.callbacks[0] is history and len(cbs) == 2
    assert isinstance(cbs.callbacks[1], ProgbarLogger)


def test_params_and_model_reach_every_callback_and_history_becomes_model_history():
    class Model:
        history = None

    model = Model()
    user = Callback()
    cbs = CallbackList([user], add_history=True, model=model, verbose=0, epochs=2, steps=3)
    assert user.model is model and user.params == {"verbose": 0, "epochs": 2, "steps": 3}
    assert isinstance(model.history, History)
    late = EpochEnd([])
    cbs.append(late)
    assert late.model is model and late.params["epochs"] == 2 and cbs.dispatches("on_epoch_end")


def test_model_property_unwraps_a_ddp_wrapper():
    class DistributedDataParallel:
        def __init__(self, module):
            self.module = module

    inner = object()
    cb = Callback()
    cb.set_model(DistributedDataParallel(inner))
    assert cb.model is inner


def test_non_callback_raises_type_error_with_position():
    with pytest.raises(TypeError, match=r"callbacks\[0\]='nope' \(of type str\)"):
        CallbackList(["nope"])


def test_callback_list_passed_to_fit_is_used():
    import numpy as np

    out = []
    cbs = CallbackList([EpochEnd(out)], add_history=True)
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=0, callbacks=cbs)
    assert [e for _, e, _ in out] == [0, 1] and history.epoch == [0, 1]
    assert out[0][0].params == {"verbose": 0, "epochs": 2, "steps": 1}
