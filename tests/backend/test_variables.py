"""`Variable` built as Keras builds one, compared with `keras.Variable`."""

from __future__ import annotations

import copy
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest
import torch

import kfit
from kfit.backend import Variable

CASES = [
    ((np.array([1, 2]),), {"trainable": False}),
    ((np.ones((2, 2), "float64"),), {}),
    ((3.0,), {}),
    (([1.5, 2.5],), {"dtype": "float16"}),
    ((np.ones(2, "float64"),), {"dtype": "float32"}),
    (("zeros",), {"shape": (2, 3)}),
    (("ones",), {"shape": (2,), "dtype": "int32", "trainable": False}),
    ((torch.arange(4.0).reshape(2, 2),), {"name": "w"}),
]


def _keras_init(lib, args):
    # The initializer objects of each library, so both sides get "the same" argument.
    return tuple(lib.initializers.get(a) if isinstance(a, str) else a for a in args)


@pytest.mark.parametrize(("args", "kwargs"), CASES)
def test_constructor_matches_keras(args, kwargs):
    theirs = keras.Variable(*_keras_init(keras, args), **kwargs)
    ours = kfit.Variable(*_keras_init(kfit, args), **kwargs)
    assert str(ours.dtype).removeprefix("torch.") == theirs.dtype
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.trainable == theirs.trainable
    assert ours.requires_grad == theirs.value.requires_grad
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    if "name" in kwargs:
        assert ours.name == theirs.name == kwargs["name"]


def test_unnamed_variables_are_numbered_like_keras():
    kfit.utils.clear_session()
    names = [Variable(1.0).name for _ in range(2)]
    assert names == ["variable", "variable_1"]


def test_callable_initializer_gets_shape_and_dtype():
    seen = {}

    def init(shape, dtype=None):
        seen["args"] = (shape, dtype)
        return np.full(shape, 2.0)

    v = Variable(init, shape=(2, 3))
    assert seen["args"][0] == (2, 3)
    assert v.shape == (2, 3) and float(v.sum()) == 12.0


def test_value_is_copied_from_numpy():
    source = np.zeros(3, "float32")
    v = Variable(source)
    source[0] = 5.0
    assert float(v[0]) == 0.0


def test_torch_parameter_form_still_works():
    data = torch.ones(2, 2)
    v = Variable(data, False)
    assert not v.requires_grad and v.data_ptr() == data.data_ptr() and v.name is None
    clone = copy.deepcopy(Variable(torch.zeros(3), requires_grad=True))
    assert clone.requires_grad and clone.shape == (3,)


def test_variable_trains_inside_a_layer():
    class Scale(kfit.layers.Layer):
        def __init__(self):
            super().__init__()
            self.scale = kfit.Variable(np.array([2.0], "float32"), name="scale")

        def call(self, x):
            return x * self.scale

    layer = Scale()
    assert [w.name for w in layer.trainable_weights] == ["scale"]
    model = kfit.Sequential([kfit.Input((1,)), layer])
    model.compile(optimizer=kfit.optimizers.SGD(0.1), loss="mse")
    model.fit(np.ones((4, 1)), np.full((4, 1), 3.0), epochs=1, batch_size=4, verbose=0)
    # One SGD step on mean((2x - 3)^2) at x = 1: the gradient is 2 * (2 - 3) = -2.
    np.testing.assert_allclose(layer.scale.numpy(), [2.2], rtol=1e-6)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("zeros",), {}, ValueError, "Expected a `shape`"),
        ((np.ones(2),), {"shape": (3,)}, ValueError, r"Expected a value of shape \(3,\)"),
        ((np.array([1, 2]),), {}, ValueError, "Expected `trainable=False`"),
        ((1.0,), {"name": "a/b"}, ValueError, "without '/'"),
        ((1.0,), {"aggregation": "max"}, ValueError, "aggregation"),
        ((1.0,), {"colour": "red"}, TypeError, "colour"),
    ],
)
def test_bad_arguments_are_named(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        Variable(*args, **kwargs)
