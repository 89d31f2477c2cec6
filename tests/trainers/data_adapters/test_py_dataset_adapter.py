"""PyDataset: fit/evaluate/predict on batches by index, loaded in threads or processes, like Keras."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

import kfit
from kfit.trainers.data_adapters import PyDatasetAdapter, get_data_adapter
from kfit.trainers.epoch_iterator import EpochIterator
from kfit.utils import PyDataset

os.environ.setdefault("KERAS_BACKEND", "torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(22, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.1).astype("float32")
SW = RNG.uniform(0.5, 2.0, size=22).astype("float32")


class Batches(PyDataset):
    """Slices of X, Y (and SW); checks where it runs and counts the epoch hooks."""

    def __init__(self, batch_size=4, parts=2, expect=None, **kwargs):
        super().__init__(**kwargs)
        self.batch_size, self.parts, self.expect = batch_size, parts, expect
        self.begins = self.ends = 0
        self.served: list[int] = []

    def __len__(self):
        return (len(X) + self.batch_size - 1) // self.batch_size

    def __getitem__(self, index):
        if self.expect == "thread":
            assert threading.current_thread() is not threading.main_thread()
        if self.expect == "process":
            assert torch.utils.data.get_worker_info() is not None
        self.served.append(index)
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return (X[rows], Y[rows], SW[rows])[: self.parts] if self.parts > 1 else X[rows]

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


def _model(seed=1):
    torch.manual_seed(seed)
    model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(4, activation="tanh"), kfit.layers.Dense(1)])
    model.compile(optimizer=kfit.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return model


def _fit_arrays(sample_weight=None):
    model = _model()
    history = model.fit(X, Y, sample_weight=sample_weight, batch_size=4, epochs=3, shuffle=False, verbose=0)
    return model, history


@pytest.mark.parametrize("parts", [2, 3], ids=["x_y", "x_y_sample_weight"])
def test_fit_equals_the_same_fit_on_arrays(parts):
    reference, expected = _fit_arrays(SW if parts == 3 else None)
    model = _model()
    data = Batches(parts=parts)
    history = model.fit(data, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-6)
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert data.begins == data.ends == 3
    assert model.evaluate(Batches(), verbose=0) == pytest.approx(reference.evaluate(X, Y, batch_size=4, verbose=0))
    np.testing.assert_allclose(model.predict(Batches(parts=1), verbose=0), reference.predict(X, verbose=0))


@pytest.mark.parametrize(
    "settings",
    [{"workers": 3, "expect": "thread"}, {"workers": 2, "use_multiprocessing": True, "expect": "process"}],
    ids=["threads", "processes"],
)
def test_parallel_workers_give_the_same_training(settings):
    reference, expected = _fit_arrays()
    model = _model()
    data = Batches(max_queue_size=3, **settings)
    history = model.fit(data, epochs=3, shuffle=False, verbose=0, validation_data=Batches(**settings))
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-6)
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    # The hooks run in the main process (the dataset there is the one that counts).
    assert data.ends == 3


def test_on_epoch_end_is_called_each_epoch_and_validation_has_its_own():
    model = _model()
    train, val = Batches(), Batches()
    model.fit(train, epochs=4, verbose=0, validation_data=val)
    assert (train.begins, train.ends) == (4, 4)
    assert (val.begins, val.ends) == (4, 4)


def test_shuffle_permutes_batch_order_each_epoch_as_keras_does():
    data = Batches()
    _model().fit(data, epochs=3, verbose=0)  # fit shuffles by default, as in Keras
    epochs = [data.served[i * 6:(i + 1) * 6] for i in range(3)]
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert any(e != list(range(6)) for e in epochs)
    data = Batches()
    _model().fit(data, epochs=2, shuffle=False, verbose=0)
    assert data.served == list(range(6)) * 2


def test_keras_parity_on_the_same_py_dataset():
    keras = pytest.importorskip("keras")

    class KerasBatches(keras.utils.PyDataset):
        def __len__(self):
            return 6

        def __getitem__(self, index):
            rows = slice(index * 4, (index + 1) * 4)
            return X[rows], Y[rows]

    reference = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    reference.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    model = _model()
    model.set_weights(reference.get_weights())
    expected = reference.fit(KerasBatches(), epochs=2, shuffle=False, verbose=0).history["loss"]
    history = model.fit(Batches(), epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(history, expected, rtol=1e-5)


def test_endless_dataset_runs_steps_per_epoch_and_ignores_shuffle():
    class Endless(PyDataset):
        @property
        def num_batches(self):
            return None

        def __getitem__(self, index):
            rows = slice((index % 5) * 4, (index % 5) * 4 + 4)
            return X[rows], Y[rows]

    with pytest.warns(UserWarning, match="endless PyDataset"):
        adapter = get_data_adapter(Endless(), shuffle=True)
    assert adapter.num_batches is None and not adapter.shuffle
    history = _model().fit(Endless(), epochs=2, steps_per_epoch=7, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 2


def test_exact_resume_replays_the_shuffled_order():
    torch.manual_seed(3)
    iterator = EpochIterator(PyDatasetAdapter(Batches(), shuffle=True))
    epoch = iterator.epoch()
    taken = [float(next(epoch)[1][0][0, 0]) for _ in range(2)]
    state = iterator.state()
    rest = [float(b[0][0, 0]) for _, b in epoch]
    resumed = EpochIterator(PyDatasetAdapter(Batches(), shuffle=True))  # another seed
    resumed.resume(state)
    assert [float(b[0][0, 0]) for _, b in resumed.epoch(start=2)] == rest
    assert sorted(taken + rest) == sorted(float(X[i * 4, 0]) for i in range(6))


def test_wrong_arguments_and_batches_are_reported():
    with pytest.raises(ValueError, match="`y` to be None when `x` is a PyDataset"):
        _model().fit(Batches(), Y, verbose=0)

    class Bad(PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return (X, Y, SW, SW)

    with pytest.raises(ValueError, match="tuple of length 4"):
        _model().fit(Bad(), verbose=0)
    with pytest.raises(ValueError, match="workers"):
        Batches(workers=-1)

    class NoSuper(PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

        def __getitem__(self, index):
            return X[:2], Y[:2]

    with pytest.warns(UserWarning, match="super"):
        assert NoSuper().workers == 1
    with pytest.raises(NotImplementedError, match="__getitem__"):
        type("Empty", (PyDataset,), {"__len__": lambda self: 1})()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        _ = PyDataset().num_batches
