"""Issue 10's bad-input sweep: each class of mistake is caught before any step, callback or file.

Every test asserts the error type, that the message names the argument and a fix, and that no
optimizer step ran (weights and `optimizer.iterations` unchanged) when the mistake is visible
before the first batch.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import kfit
from kfit.trainers.data_adapters.batch_checks import BatchChecker

N, FEATURES, CLASSES = 12, 4, 3


def _classifier(loss="sparse_categorical_crossentropy", metrics=None, input_dim=FEATURES):
    model = kfit.Sequential([kfit.layers.Dense(CLASSES, input_dim=input_dim)])
    model.compile(optimizer="sgd", loss=loss, metrics=metrics)
    return model


def _data(n=N):
    rng = np.random.default_rng(0)
    return rng.random((n, FEATURES), dtype=np.float32), np.arange(n) % CLASSES


class _Untouched:
    """Asserts that no step ran and no callback fired."""

    def __init__(self, model):
        self.model = model
        self.weights = model.get_weights() if model.built else None
        self.events = []
        recorder = self.events

        class Record(kfit.callbacks.Callback):
            def on_train_begin(self, logs=None):
                recorder.append("train_begin")

            def on_test_begin(self, logs=None):
                recorder.append("test_begin")

        self.callback = Record()

    def check(self):
        assert self.events == []
        if self.weights is not None:
            assert all(np.array_equal(a, b) for a, b in zip(self.model.get_weights(), self.weights))
        optimizer = self.model.optimizer
        if isinstance(optimizer, kfit.optimizers.Optimizer) and optimizer.built:
            assert int(optimizer.iterations) == 0


def _generator(batches):
    yield from batches


def _loader(items, batch_size=4):
    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return len(items)

        def __getitem__(self, i):
            return items[i]

    return torch.utils.data.DataLoader(Items(), batch_size=batch_size)


# ---------------------------------------------------------------- non-numeric arrays
@pytest.mark.parametrize(
    "arg, value, dtype",
    [("x", np.array([["a"] * FEATURES] * N), "<U1"),
     ("y", np.array(list("abcabcabcabc")), "<U1"),
     ("y", np.array([0, 1, None] * 4, dtype=object), "object"),
     ("sample_weight", np.array([b"w"] * N), "|S1")],
)
def test_non_numeric_arrays_name_the_argument_and_dtype(arg, value, dtype):
    x, y = _data()
    kwargs = {"x": x, "y": y, arg: value}
    model = _classifier()
    guard = _Untouched(model)
    message = rf"`{arg}` to hold numbers.*Received: {arg} with dtype {dtype}.*(Encode|Convert)"
    with pytest.raises(TypeError, match=message):
        model.fit(**kwargs, verbose=0, callbacks=[guard.callback])
    guard.check()


def test_non_numeric_batches_from_a_generator():
    x, _ = _data()
    model = _classifier()
    guard = _Untouched(model)
    with pytest.raises(TypeError, match=r"`y` to hold numbers.*dtype <U"):
        model.fit(_generator([(x[:4], np.array(["cat"] * 4))]), verbose=0, callbacks=[guard.callback])
    guard.check()


# ---------------------------------------------------------------- sparse labels out of range
@pytest.mark.parametrize("bad, shown", [(CLASSES, r"label 3 in y.*4 units"), (-1, r"label -1 in y.*ignore_class")])
@pytest.mark.parametrize("compiled", ["loss", "loss_object", "metric"])
def test_sparse_labels_out_of_range_checked_before_the_first_step(bad, shown, compiled):
    x, y = _data()
    y = y.copy()
    y[5] = bad
    if compiled == "loss":
        model = _classifier()
    elif compiled == "loss_object":
        model = _classifier(loss=kfit.losses.SparseCategoricalCrossentropy(from_logits=True))
    else:
        model = _classifier(loss=lambda y_true, y_pred: (y_pred**2).mean(), metrics=["sparse_categorical_accuracy"])
    guard = _Untouched(model)
    with pytest.raises(ValueError, match=r"labels in `y` to be class indices in \[0, 3\).*" + shown):
        model.fit(x, y, verbose=0, callbacks=[guard.callback])
    guard.check()
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        model.evaluate(x, y, verbose=0)


def test_ignore_class_label_is_allowed():
    x, y = _data()
    y = y.copy()
    y[0] = -1
    model = _classifier(loss=kfit.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1))
    model.fit(x, y, verbose=0)


@pytest.mark.parametrize("source", ["generator", "DataLoader"])
def test_sparse_labels_out_of_range_in_a_later_batch_name_the_batch(source):
    x, y = _data()
    bad = y.copy()
    bad[9] = 7  # batch 2 of batches of 4
    model = _classifier()
    if source == "generator":
        data = _generator([(x[i:i + 4], bad[i:i + 4]) for i in range(0, N, 4)])
    else:
        data = _loader([(torch.from_numpy(x[i]), int(bad[i])) for i in range(N)])
    with pytest.raises(ValueError, match=rf"class indices in \[0, 3\).*label 7 in batch 2 of the {source}"):
        model.fit(data, verbose=0)
    # The first batch is checked before any step.
    model = _classifier()
    guard = _Untouched(model)
    with pytest.raises(ValueError, match=r"label 7 in batch 0 of the data"):
        model.fit(_generator([(x[:4], np.full(4, 7))]), verbose=0, callbacks=[guard.callback])
    guard.check()


# ---------------------------------------------------------------- a supervised loss without y
def test_missing_y_for_a_supervised_loss():
    x, _ = _data()
    model = _classifier()
    guard = _Untouched(model)
    with pytest.raises(ValueError, match=r"Expected `y` for `fit\(\)`.*Received: no y.*Pass `y=\.\.\.`"):
        model.fit(x, verbose=0, callbacks=[guard.callback])
    with pytest.raises(ValueError, match=r"Expected `y` for `evaluate\(\)`"):
        model.evaluate(x, verbose=0, callbacks=[guard.callback])
    with pytest.raises(ValueError, match=r"targets in the data.*\(x, y\[, sample_weight\]\)"):
        model.fit(_generator([x[:4], x[4:8]]), verbose=0, callbacks=[guard.callback])
    guard.check()


def test_model_with_its_own_loss_needs_no_y():
    class Unsupervised(kfit.Sequential):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return (y_pred**2).mean()

    model = Unsupervised([kfit.layers.Dense(2, input_dim=FEATURES)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(_data()[0], verbose=0)


# ---------------------------------------------------------------- validation data shape
@pytest.mark.parametrize("declared", [True, False])
def test_validation_data_with_wrong_feature_count(declared):
    x, y = _data()
    if declared:
        model = _classifier()
    else:
        model = kfit.Sequential([kfit.layers.Dense(CLASSES)])  # built from the first batch
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    guard = _Untouched(model)
    bad_val = (np.zeros((4, FEATURES + 1), "float32"), y[:4])
    with pytest.raises(ValueError, match=r"validation_data.*\(5,\)"):
        model.fit(x, y, validation_data=bad_val, verbose=0, callbacks=[guard.callback])
    guard.check()
    gen = _generator([bad_val])
    with pytest.raises(ValueError, match=r"validation_data"):
        model.fit(x, y, validation_data=gen, verbose=0, callbacks=[guard.callback])
    guard.check()


# ---------------------------------------------------------------- later batch changes shape
@pytest.mark.parametrize("source", ["generator", "DataLoader"])
@pytest.mark.parametrize("change", ["features", "rank"])
def test_a_later_batch_that_changes_shape_names_the_batch_and_shapes(source, change):
    x, y = _data()
    odd = np.zeros((4, FEATURES + 2), "float32") if change == "features" else np.zeros((4, FEATURES, 1), "float32")
    batches = [(x[:4], y[:4]), (x[4:8], y[4:8]), (odd, y[8:])]
    if source == "generator":
        data = _generator(batches)
    else:
        data = _loader([(torch.from_numpy(bx), torch.from_numpy(by)) for bx, by in batches], batch_size=None)
    odd_shape = re.escape(str(odd.shape))
    message = rf"every batch of the {source}.*x shapes \[\(4, 4\)\].*Received: batch 2.*x shapes \[{odd_shape}\].*pad"
    with pytest.raises(ValueError, match=message):
        _classifier().fit(data, verbose=0)


def test_varying_sequence_length_of_integer_inputs_is_allowed():
    checker = BatchChecker("DataLoader")
    checker.check(0, torch.zeros(2, 7, dtype=torch.long), torch.zeros(2))
    checker.check(1, torch.zeros(2, 9, dtype=torch.long), torch.zeros(2))  # token ids: padded per batch
    float_checker = BatchChecker("generator")
    float_checker.check(0, torch.zeros(2, 7, 5), torch.zeros(2))
    float_checker.check(1, torch.zeros(2, 11, 5), torch.zeros(2))  # time varies, features do not
    with pytest.raises(ValueError, match=r"batch 2"):
        float_checker.check(2, torch.zeros(2, 11, 6), torch.zeros(2))


# ---------------------------------------------------------------- class_weight keys
@pytest.mark.parametrize("class_weight", [{"cat": 1.0}, {0.5: 2.0}, {-1: 1.0}, {True: 1.0}, {0: "heavy"}])
@pytest.mark.parametrize("source", ["arrays", "generator"])
def test_class_weight_must_map_class_indices_to_numbers(class_weight, source):
    x, y = _data()
    model = _classifier()
    guard = _Untouched(model)
    data = {"x": x, "y": y} if source == "arrays" else {"x": _generator([(x, y)])}
    with pytest.raises(TypeError, match=r"`class_weight`.*Received: class_weight=.*(Map names to indices|Pass e\.g\.)"):
        model.fit(**data, class_weight=class_weight, verbose=0, callbacks=[guard.callback])
    guard.check()


# ---------------------------------------------------------------- dict items
@pytest.mark.parametrize("source", ["DataLoader", "generator"])
def test_data_yielding_dicts_shows_the_keys_and_the_expected_structure(source):
    x, y = _data()
    items = [{"features": torch.from_numpy(x[i]), "label": int(y[i])} for i in range(N)]
    data = _loader(items) if source == "DataLoader" else _generator(
        [{"features": torch.from_numpy(x[:4]), "label": torch.from_numpy(y[:4])}]
    )
    model = _classifier()
    guard = _Untouched(model)
    with pytest.raises(ValueError, match=r"\(x, y\[, sample_weight\]\).*keys \['features', 'label'\].*Yield tuples"):
        model.fit(data, verbose=0, callbacks=[guard.callback])
    guard.check()


def test_dict_items_for_a_named_input_model_say_y_is_missing():
    inp = kfit.Input((FEATURES,), name="features")
    model = kfit.Model({"features": inp}, kfit.layers.Dense(CLASSES)(inp))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, _ = _data()
    with pytest.raises(ValueError, match=r"no y.*dicts \(keys \['features'\]\).*\(x, y\[, sample_weight\]\)"):
        model.fit(_generator([{"features": x[:4]}]), verbose=0)


# ---------------------------------------------------------------- compile-time structure checks
def _two_outputs():
    inp = kfit.Input((FEATURES,))
    return kfit.Model(inp, [kfit.layers.Dense(CLASSES, name="cls")(inp), kfit.layers.Dense(1, name="reg")(inp)])


@pytest.mark.parametrize(
    "kwargs, message",
    [({"loss": ["mse", "mse"], "metrics": {"nope": ["mae"]}},
      r"keys of `metrics`.*\['cls', 'reg'\].*unknown keys \['nope'\].*Key the dict"),
     ({"loss": ["mse", "mse"], "metrics": ["mae"]},
      r"Invalid `metrics`.*1 entries for 2 outputs.*Pass one list per output"),
     ({"loss": ["mse", "mse"], "weighted_metrics": {"cls": ["mae"], "x": ["mae"]}}, r"keys of `weighted_metrics`"),
     ({"loss": ["mse", "mse"], "loss_weights": [1.0, 2.0, 3.0]},
      r"`loss_weights` to have one entry per output \(2.*loss_weights=\[1\.0, 2\.0, 3\.0\].*Pass one per output"),
     ({"loss": ["mse", "mse", "mse"]}, r"`loss` to have one entry per output"),
     ({"loss": {"cls": "mse", "zz": "mse"}}, r"keys of `loss`.*unknown keys \['zz'\]")],
)
def test_per_output_arguments_that_do_not_match_the_outputs_raise_at_compile(kwargs, message):
    model = _two_outputs()
    with pytest.raises(ValueError, match=message):
        model.compile(optimizer="sgd", **kwargs)
    assert not model.compiled


def test_per_output_mismatch_in_a_subclassed_model_raises_before_the_first_step():
    class TwoHeads(kfit.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = kfit.layers.Dense(CLASSES), kfit.layers.Dense(1)

        def call(self, x):
            return [self.a(x), self.b(x)]

    model = TwoHeads()
    model.compile(optimizer="sgd", loss=["mse", "mse"], loss_weights=[1.0, 2.0, 3.0])
    x, _ = _data()
    guard = _Untouched(model)
    with pytest.raises(ValueError, match=r"`loss_weights` to have one entry per output"):
        model.fit(x, [np.zeros((N, CLASSES)), np.zeros((N, 1))], verbose=0, callbacks=[guard.callback])
    guard.check()
    assert int(model.optimizer.iterations) == 0


@pytest.mark.parametrize("arg", ["loss", "metrics"])
def test_a_function_with_the_wrong_signature_raises_at_compile(arg):
    def one_argument(y_pred):
        return y_pred.mean()

    model = kfit.Sequential([kfit.layers.Dense(CLASSES, input_dim=FEATURES)])
    kwargs = {"loss": one_argument} if arg == "loss" else {"loss": "mse", "metrics": [one_argument]}
    message = rf"function in `{arg}` to take `\(y_true, y_pred\)`.*one_argument\(y_pred\)" + (
        r".*def one_argument\(y_true, y_pred\)")
    with pytest.raises(TypeError, match=message):
        model.compile(optimizer="sgd", **kwargs)
    assert not model.compiled
    with pytest.raises(TypeError, match=r"def my_loss\(y_true, y_pred\)"):
        model.compile(optimizer="sgd", loss=lambda y: y)


def test_functions_with_extra_defaults_are_accepted():
    def loss(y_true, y_pred, scale=1.0):
        return scale * ((y_true - y_pred) ** 2).mean()

    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=FEATURES)])
    model.compile(optimizer="sgd", loss=loss, metrics=[loss, "mae", "acc"])
    model.fit(_data()[0], np.zeros(N, "float32"), verbose=0)


# ---------------------------------------------------------------- unknown metric names
@pytest.mark.parametrize(
    "kwargs",
    [{"metrics": ["accuracyy"]}, {"weighted_metrics": ["mean_absolute_eror"]}, {"metrics": [["mae"], ["acuracy"]]}],
)
def test_unknown_metric_name_raises_at_compile(kwargs):
    per_output = isinstance(kwargs.get("metrics", [None])[0], list)
    model = _two_outputs() if per_output else kfit.Sequential([kfit.layers.Dense(CLASSES, input_dim=FEATURES)])
    loss = ["mse", "mse"] if per_output else "mse"
    with pytest.raises(ValueError, match=r"metric identifier.*Received: identifier=.*Did you mean"):
        model.compile(optimizer="sgd", loss=loss, **kwargs)
    assert not model.compiled


# ---------------------------------------------------------------- empty arrays
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict", "train_on_batch", "test_on_batch"])
def test_empty_arrays_raise(method):
    model = _classifier()
    guard = _Untouched(model)
    x, y = np.zeros((0, FEATURES), "float32"), np.zeros(0)
    args = (x,) if method == "predict" else (x, y)
    kwargs = {} if method.endswith("on_batch") else {"verbose": 0, "callbacks": [guard.callback]}
    with pytest.raises(ValueError, match=r"`x` to hold at least one sample.*Received: x with 0 samples.*non-empty"):
        getattr(model, method)(*args, **kwargs)
    guard.check()


@pytest.mark.parametrize("as_dict", [False, True])
def test_out_of_range_labels_of_one_output_among_several_are_named_before_any_step(as_dict):
    inputs = kfit.Input(shape=(4,))
    cls = kfit.layers.Dense(3, name="cls")(inputs)
    reg = kfit.layers.Dense(1, name="reg")(inputs)
    model = kfit.Model(inputs, [cls, reg])
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"], metrics=[["accuracy"], []])
    before = [w.copy() for w in model.get_weights()]
    x = np.ones((8, 4), "float32")
    labels, targets = np.array([0, 1, 2, 3, 0, 1, 2, 0]), np.zeros((8, 1), "float32")
    y = {"cls": labels, "reg": targets} if as_dict else [labels, targets]
    with pytest.raises(ValueError, match=r"y\['cls'\].*\[0, 3\).*label 3.*output 'cls'"):
        model.fit(x, y, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
