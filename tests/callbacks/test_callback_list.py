"""CallbackList: dispatch only to overriders, shared logs, hook filters applied when indexing."""

from __future__ import annotations

import pytest

import kfit
from kfit.callbacks import Callback, CallbackList, Every, History, Never, ProgbarLogger
from kfit.callbacks.callback_list import HOOKS
from kfit.trainers import BatchLogs


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


def test_batch_logs_are_shared_and_read_once_by_the_callbacks_that_look():
    reads = []

    def read():
        reads.append(1)
        return {"loss": 0.5}

    got = []

    class Reader(Callback):
        def on_train_batch_end(self, batch, logs=None):
            got.append(logs["loss"])

    class Blind(Callback):
        def on_train_batch_end(self, batch, logs=None):
            got.append(batch)

    cbs = CallbackList([Blind()])
    cbs.on_train_batch_end(0, BatchLogs(read))
    assert reads == [] and got == [0]  # a hook that does not look reads nothing
    cbs = CallbackList([Reader(), Blind(), Reader()])
    cbs.on_train_batch_end(1, BatchLogs(read))
    assert reads == [1] and got == [0, 0.5, 1, 0.5]


def test_every_hook_is_one_class_method_and_nothing_shadows_it():
    class Batch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    cbs = CallbackList([Batch(), Batch()])
    assert not set(HOOKS) & set(vars(cbs))  # no per-instance dispatcher
    for hook in HOOKS:
        assert getattr(type(cbs), hook) is not getattr(Callback, hook)


# ------------------------------------------------------------------ hook filters
class Sparse(Callback):
    def __init__(self, filters):
        super().__init__()
        self.filters, self.calls = filters, []

    def hook_filters(self):
        return self.filters

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(batch)

    def on_test_batch_end(self, batch, logs=None):
        self.calls.append(("test", batch))


def test_a_hook_filtered_never_is_not_dispatched():
    never = Sparse({"on_train_batch_end": Never()})
    cbs = CallbackList([never])
    assert not cbs.dispatches("on_train_batch_end") and cbs.dispatches("on_test_batch_end")
    cbs.on_train_batch_end(0, {})
    assert never.calls == []
    # Another callback that overrides the hook is still called.
    other = Sparse({})
    cbs = CallbackList([never, other])
    cbs.on_train_batch_end(0, {})
    assert cbs.dispatches("on_train_batch_end") and never.calls == [] and other.calls == [0]


def test_every_counts_from_zero_again_when_each_run_begins():
    sparse = Sparse({"on_train_batch_end": Every(3), "on_test_batch_end": Every(2)})
    cbs = CallbackList([sparse])
    cbs.on_train_begin()
    for batch in range(4):
        cbs.on_train_batch_end(batch, {})
    cbs.on_test_begin()
    for batch in range(3):
        cbs.on_test_batch_end(batch, {})
    cbs.on_test_begin()  # validation runs again: its count restarts, the train count does not
    cbs.on_test_batch_end(0, {})
    cbs.on_train_batch_end(4, {})
    cbs.on_train_begin()  # a new fit with the same CallbackList
    for batch in range(3):
        cbs.on_train_batch_end(batch, {})
    assert sparse.calls == [2, ("test", 1), 2]


def test_filters_are_read_when_indexing_so_append_rereads_them():
    sparse = Sparse({"on_train_batch_end": Never()})
    cbs = CallbackList([sparse])
    sparse.filters = {}
    assert not cbs.dispatches("on_train_batch_end")
    cbs.append(Callback())
    assert cbs.dispatches("on_train_batch_end")


def test_filters_apply_only_to_hooks_the_callback_overrides():
    cbs = CallbackList([Sparse({"on_epoch_end": Never(), "on_predict_batch_end": Every(2)})])
    assert not cbs.dispatches("on_epoch_end") and not cbs.dispatches("on_predict_batch_end")


@pytest.mark.parametrize(
    "filters, error, match",
    [
        ([("on_train_batch_end", Never())], TypeError, r"Sparse.hook_filters\(\)` to return a dict.*of type list"),
        ({"on_batch_end": Never()}, ValueError, r"Received: 'on_batch_end' \(of type str\)\. Use 'on_train_batch_end'"),
        ({"on_train_batch_ends": Never()}, ValueError, r"hook names\. Received: 'on_train_batch_ends'.*one of"),
        ({"on_train_batch_end": 100}, TypeError,
         r"\['on_train_batch_end'\]` to be a `kfit.callbacks.EventFilter`. Received: 100 \(of type int\)\. "
         r"Use Every\(n\)"),
        ({"on_epoch_end": Every(2)}, ValueError, r"on a batch hook.*Received: hook='on_epoch_end'"),
    ],
)
def test_invalid_hook_filters_raise_when_indexing(filters, error, match):
    class Epoch(Sparse):
        def on_epoch_end(self, epoch, logs=None):
            pass

    with pytest.raises(error, match=match):
        CallbackList([Epoch(filters)] if "on_epoch_end" in filters else [Sparse(filters)])


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
