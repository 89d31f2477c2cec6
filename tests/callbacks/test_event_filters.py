"""Event filters: `Every(n)` counts batches as Keras counts `save_freq`; `Never()` drops a hook."""

from __future__ import annotations

import numpy as np
import pytest

import kfit
from kfit.callbacks import Callback, CallbackList, EventFilter, Every, Never


class Recorder(Callback):
    """Records the batch hooks `CallbackList` calls, filtered as the test says."""

    def __init__(self, filters):
        super().__init__()
        self.filters = filters
        self.epoch = -1
        self.calls = []

    def hook_filters(self):
        return self.filters

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append((self.epoch, batch))


def _fit(callbacks, epochs=3, steps_per_execution=1, samples=10, model=None):
    if model is None:
        model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        model.compile(optimizer="sgd", loss="mse", steps_per_execution=steps_per_execution)
    model.fit(np.ones((samples, 2)), np.ones(samples), batch_size=2, epochs=epochs, verbose=0,
              callbacks=callbacks)
    return model


def _calls(every, batches):
    calls = []
    call = Every(every).bind("on_train_batch_end", lambda batch, logs: calls.append(batch))
    for batch in batches:
        call(batch, {})
    return calls


# ------------------------------------------------------------------ Every
def test_every_counts_batches_across_epochs():
    recorder = Recorder({"on_train_batch_end": Every(3)})
    _fit([recorder])  # 5 batches per epoch, 15 in all: the 3rd, 6th, 9th, 12th and 15th
    assert recorder.calls == [(0, 2), (1, 0), (1, 3), (2, 1), (2, 4)]


def test_every_counts_each_batch_of_an_execution():
    # steps_per_execution=2 with 5 batches: hook calls at indices 1, 3 and 4 of each epoch,
    # standing for 2, 2 and 1 batches.
    recorder = Recorder({"on_train_batch_end": Every(2)})
    _fit([recorder], steps_per_execution=2)
    assert recorder.calls == [(e, b) for e in range(3) for b in (1, 3)]
    # Keras's rule: due once at least n batches are seen, so Every(3) waits 4 batches here.
    recorder = Recorder({"on_train_batch_end": Every(3)})
    _fit([recorder], steps_per_execution=2)
    assert recorder.calls == [(0, 3), (1, 1), (1, 4), (2, 3)]


def test_every_recognises_an_epoch_of_one_execution():
    # Each epoch is one call with the same index: each must count as a fresh 2 batches.
    assert _calls(4, [1, 1, 1, 1]) == [1, 1]


def test_every_1_calls_the_method_itself():
    def method(batch, logs):
        pass

    assert Every(1).bind("on_test_batch_end", method) is method


def test_every_starts_afresh_with_each_fit():
    recorder = Recorder({"on_train_batch_end": Every(3)})
    model = _fit([recorder], epochs=1)  # 5 batches: called after the 3rd, 2 left counted
    _fit([recorder], epochs=1, model=model)
    assert recorder.calls == [(0, 2), (0, 2)]
    # The same CallbackList for both fits: the count restarts at on_train_begin too.
    recorder = Recorder({"on_train_batch_end": Every(3)})
    callbacks = CallbackList([recorder])
    _fit(callbacks, epochs=1, model=model)
    _fit(callbacks, epochs=1, model=model)
    assert recorder.calls == [(0, 2), (0, 2)]


def test_one_filter_instance_can_serve_several_callbacks():
    shared = Every(2)
    a, b = Recorder({"on_train_batch_end": shared}), Recorder({"on_train_batch_end": shared})
    _fit([a, b], epochs=1)
    assert a.calls == b.calls == [(0, 1), (0, 3)]


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "2", None])
def test_every_needs_a_positive_integer(n):
    with pytest.raises(ValueError, match=rf"integer >= 1.*Received: n={n!r} \(of type {type(n).__name__}\)"):
        Every(n)


def test_every_accepts_numpy_integers_and_compares_by_value():
    assert Every(np.int64(5)) == Every(5) and type(Every(np.int64(5)).n) is int
    assert repr(Every(5)) == "Every(n=5)" and Never() == Never()


def test_every_refuses_hooks_that_are_not_batch_hooks():
    with pytest.raises(ValueError, match="Expected `Every\\(n\\)` on a batch hook"):
        Every(2).bind("on_epoch_end", lambda epoch, logs: None)


# ------------------------------------------------------------------ Never
def test_never_leaves_the_hook_undispatched_and_the_logs_unbuilt(host_reads):
    recorder = Recorder({"on_train_batch_end": Never()})
    callbacks = CallbackList([recorder], add_history=True)
    assert not callbacks.dispatches("on_train_batch_end")
    _fit(callbacks, epochs=2)
    assert recorder.calls == [] and host_reads["n"] == 2  # only the two epoch-end reads


# ------------------------------------------------------------------ custom filters
def test_a_custom_filter_binds_afresh_for_each_run():
    binds = []

    class FirstOnly(EventFilter):
        def bind(self, hook, method):
            binds.append(hook)
            done = []

            def call(batch, logs):
                if not done:
                    done.append(batch)
                    method(batch, logs)

            return call

    recorder = Recorder({"on_train_batch_end": FirstOnly()})
    callbacks = CallbackList([recorder])
    _fit(callbacks, epochs=2)
    _fit(callbacks, epochs=1)
    assert recorder.calls == [(0, 0), (0, 0)]
    assert binds == ["on_train_batch_end"] * 3  # on indexing, then at each on_train_begin
