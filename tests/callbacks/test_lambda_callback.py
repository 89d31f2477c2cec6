"""LambdaCallback: hooks from functions, through kwargs, checked at construction, free when unused."""

from __future__ import annotations

import numpy as np
import pytest

import kfit
from kfit.callbacks import CallbackList, LambdaCallback

X = np.random.RandomState(0).randn(16, 2).astype("float32")
Y = np.random.RandomState(1).randn(16, 1).astype("float32")


def make_model():
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_train_and_epoch_hooks_fire_during_fit():
    events = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: events.append(("train_begin", logs)),
        on_epoch_begin=lambda epoch, logs: events.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: events.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: events.append(("train_end", sorted(logs))),
    )
    make_model().fit(X, Y, batch_size=4, validation_split=0.25, epochs=2, verbose=0, callbacks=[callback])
    assert events == [
        ("train_begin", {}),
        ("epoch_begin", 0),
        ("epoch_end", 0, ["loss", "val_loss"]),
        ("epoch_begin", 1),
        ("epoch_end", 1, ["loss", "val_loss"]),
        ("train_end", ["loss", "val_loss"]),
    ]


def test_batch_hooks_fire_with_logs():
    seen = []
    callback = LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append(("begin", batch)),
        on_train_batch_end=lambda batch, logs: seen.append(("end", batch, sorted(logs))),
    )
    make_model().fit(X, Y, batch_size=8, epochs=1, verbose=0, callbacks=[callback])
    assert seen == [("begin", 0), ("end", 0, ["loss"]), ("begin", 1), ("end", 1, ["loss"])]


def test_any_hook_through_kwargs():
    seen = []
    callback = LambdaCallback(
        on_test_begin=lambda logs: seen.append("test_begin"),
        on_test_batch_end=lambda batch, logs: seen.append(("test_batch_end", batch)),
        on_predict_begin=lambda logs: seen.append("predict_begin"),
        on_predict_batch_end=lambda batch, logs: seen.append(("predict_batch_end", logs["outputs"].shape)),
        on_batch_end=lambda batch, logs: seen.append(("legacy", batch)),
    )
    model = make_model()
    model.evaluate(X, Y, batch_size=16, verbose=0, callbacks=[callback])
    model.predict(X, batch_size=16, verbose=0, callbacks=[callback])
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    assert seen == ["test_begin", ("test_batch_end", 0), "predict_begin", ("predict_batch_end", (16, 1)),
                    ("legacy", 0)]


def test_no_arguments():
    callback = LambdaCallback()
    assert isinstance(callback, kfit.callbacks.Callback)
    assert not any(CallbackList([callback]).dispatches(hook) for hook in kfit.callbacks.callback_list.HOOKS)


def test_only_given_hooks_count_as_overridden():
    cbs = CallbackList([LambdaCallback(on_epoch_end=lambda epoch, logs: None)])
    assert cbs.dispatches("on_epoch_end")
    assert not cbs.dispatches("on_train_batch_end") and not cbs.dispatches("on_epoch_begin")


def test_unknown_kwarg_raises_listing_hook_names():
    expected = r"'on_epoch_ends' \(did you mean 'on_epoch_end'\?\).*Valid hook names:.*on_predict_batch_end"
    with pytest.raises(ValueError, match=expected):
        LambdaCallback(on_epoch_ends=lambda epoch, logs: None)
    with pytest.raises(ValueError, match="'custom_method'"):
        LambdaCallback(custom_method=lambda logs: None)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"on_epoch_end": lambda logs: None},
            r"`on_epoch_end` to accept 2 positional.*on_epoch_end\(epoch, logs\).*signature \(logs\)",
        ),
        (
            {"on_train_begin": lambda: None},
            r"`on_train_begin` to accept 1 positional.*on_train_begin\(logs\)",
        ),
        (
            {"on_train_batch_end": lambda batch, logs, extra: None},
            r"on_train_batch_end\(batch, logs\).*\(batch, logs, extra\)",
        ),
        ({"on_test_end": lambda *, logs: None}, r"on_test_end\(logs\)"),
        (
            {"on_epoch_begin": "print"},
            r"`on_epoch_begin` to be a function.*Received: on_epoch_begin='print' \(of type str\)",
        ),
    ],
)
def test_signatures_are_checked_at_construction(kwargs, match):
    with pytest.raises(TypeError, match=match):
        LambdaCallback(**kwargs)


def test_flexible_signatures_are_accepted():
    seen = []

    def logs_optional(epoch, logs=None):
        seen.append(epoch)

    class Recorder:
        def __call__(self, *args):
            seen.append(args)

    callback = LambdaCallback(on_epoch_end=logs_optional, on_train_end=Recorder(), on_train_begin=print)
    callback.on_epoch_end(0, {})
    callback.on_train_end({"loss": 1.0})
    assert seen == [0, ({"loss": 1.0},)]
