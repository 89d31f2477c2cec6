"""A verbose=0 fit whose callbacks read no batch logs never converts device values per step."""

from __future__ import annotations

from conftest import guide_model

import kfit


class EpochOnly(kfit.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.last = logs


def _fit(model, x, y, callbacks, epochs=2, batch_size=10):
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=callbacks)


def test_conversions_do_not_grow_with_steps(guide_data, host_reads):
    x, y = guide_data
    model = guide_model()
    _fit(model, x[:100], y[:100], [EpochOnly()])
    few = host_reads["n"]
    host_reads["n"] = 0
    _fit(model, x, y, [EpochOnly()])  # ten times the steps
    assert host_reads["n"] == few == 2  # one batched read per epoch, for the epoch logs


def test_batch_hook_reader_costs_one_conversion_per_batch(guide_data, host_reads):
    x, y = guide_data

    class Reader(kfit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            assert logs["loss"] >= 0

    class Second(kfit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            assert "mean_absolute_error" in logs

    _fit(guide_model(), x[:100], y[:100], [Reader(), Second()])
    # 10 batches x 2 epochs, one shared conversion each, plus one per epoch end.
    assert host_reads["n"] == 20 + 2


def test_non_overridden_hooks_are_never_dispatched(guide_data, monkeypatch):
    x, y = guide_data
    called = []
    for hook in ("on_train_batch_begin", "on_train_batch_end", "on_batch_end"):
        original = getattr(kfit.callbacks.Callback, hook)

        def spy(self, *args, hook=hook, original=original, **kwargs):
            called.append(hook)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(kfit.callbacks.Callback, hook, spy)
    # The spies replace the base methods, so EpochOnly still overrides none of them.
    cbs = kfit.callbacks.CallbackList([EpochOnly()], add_history=True)
    assert not cbs.dispatches("on_train_batch_end")
    guide_model().fit(x[:100], y[:100], batch_size=10, epochs=2, verbose=0, callbacks=cbs)
    assert called == []
