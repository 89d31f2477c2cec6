"""Merge layers (Add ... Dot) against Keras 3: values, gradients, shapes, masks, configs, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.merging.add import Add, add
from kfit.layers.merging.average import Average, average
from kfit.layers.merging.base_merge import elementwise_shape
from kfit.layers.merging.concatenate import Concatenate, concatenate
from kfit.layers.merging.dot import Dot, dot
from kfit.layers.merging.maximum import Maximum, maximum
from kfit.layers.merging.minimum import Minimum, minimum
from kfit.layers.merging.multiply import Multiply, multiply
from kfit.layers.merging.subtract import Subtract, subtract

keras = pytest.importorskip("keras")

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]
OURS = {
    "Add": Add,
    "Subtract": Subtract,
    "Multiply": Multiply,
    "Average": Average,
    "Maximum": Maximum,
    "Minimum": Minimum,
    "Concatenate": Concatenate,
}

M1 = [[True, True, False], [True, False, False]]
M2 = [[True, False, True], [False, False, True]]


def _arrays(*shapes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


def _run(layer, arrays, masks=None, keras_side=False, **kwargs):
    """Output, output mask and input gradients of `layer` on copies of `arrays`."""
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    if keras_side and masks is not None:
        for x, m in zip(inputs, masks):
            if m is not None:
                x._keras_mask = torch.tensor(m)
    if masks is not None and not keras_side:
        kwargs["mask"] = [None if m is None else torch.tensor(m) for m in masks]
    out = layer(inputs, **kwargs)
    weights = torch.linspace(-1.0, 2.0, out.numel()).reshape(out.shape)
    (out * weights).sum().backward()
    grads = [np.zeros(a.shape, "float32") if x.grad is None else x.grad.numpy() for x, a in zip(inputs, arrays)]
    mask = getattr(out, "_keras_mask", None)
    return out.detach().numpy(), None if mask is None else mask.numpy(), grads


def _assert_same(ours, theirs):
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    if theirs[1] is None:
        assert ours[1] is None
    else:
        np.testing.assert_array_equal(ours[1], theirs[1])
    for g_ours, g_theirs in zip(ours[2], theirs[2]):
        np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shapes", [[(2, 3, 4), (2, 3, 4)], [(2, 3), (2, 1)], [(2, 3), (2, 5, 3)]])
def test_elementwise_values_gradients_and_broadcasting_match_keras(name, shapes):
    arrays = _arrays(*shapes)
    _assert_same(_run(OURS[name](), arrays), _run(getattr(keras.layers, name)(), arrays, keras_side=True))


@pytest.mark.parametrize("name", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_three_inputs_match_keras(name):
    arrays = _arrays((2, 4), (2, 4), (2, 1), seed=1)
    _assert_same(_run(OURS[name](), arrays), _run(getattr(keras.layers, name)(), arrays, keras_side=True))


@pytest.mark.parametrize("name", [*ELEMENTWISE, "Concatenate"])
@pytest.mark.parametrize("masks", [(M1, None), (None, M2), (M1, M2)], ids=["first", "second", "both"])
def test_masked_values_and_output_masks_match_keras(name, masks):
    arrays = _arrays((2, 3, 2), (2, 3, 2), seed=2)
    ours = _run(OURS[name](), arrays, masks)
    theirs = _run(getattr(keras.layers, name)(), arrays, masks, keras_side=True)
    _assert_same(ours, theirs)


def test_merge_mask_is_none_unless_every_input_has_one_and_concatenate_fills_missing_with_true():
    a, b = torch.ones(2, 3, 4), torch.ones(2, 3, 4)
    m = torch.tensor(M1)
    assert Add().compute_mask([a, b], [m, None]) is None
    assert Add().compute_mask([a, b], None) is None
    assert Add().compute_mask([a, b], [m, ~m]).all()
    assert Concatenate().compute_mask([a, b], [m, None]).all()
    along_time = Concatenate(axis=1).compute_mask([a, b], [m, None])
    assert along_time.tolist() == [row + [True] * 3 for row in M1]
    assert Dot(axes=2).compute_mask([a, b], [m, m]) is None


@pytest.mark.parametrize(
    "axis, shapes",
    [(-1, [(2, 3), (2, 4)]), (1, [(2, 3, 2), (2, 4, 2)]), (2, [(2, 3, 1), (2, 3, 2), (2, 3, 3)])],
)
def test_concatenate_matches_keras(axis, shapes):
    arrays = _arrays(*shapes, seed=3)
    ours = _run(Concatenate(axis=axis), arrays)
    _assert_same(ours, _run(keras.layers.Concatenate(axis=axis), arrays, keras_side=True))
    assert Concatenate(axis=axis).compute_output_shape(shapes) == ours[0].shape


@pytest.mark.parametrize(
    "axes, shapes",
    [
        (1, [(2, 4), (2, 4)]),
        (-1, [(2, 3, 4), (2, 5, 4)]),
        (2, [(2, 3, 4), (2, 5, 4)]),
        ((1, 2), [(2, 3, 4), (2, 5, 3)]),
        ((1, 1), [(2, 3), (2, 3, 5)]),
        ((2, 1), [(2, 3, 4), (2, 4)]),
        ((3, 1), [(2, 2, 3, 4), (2, 4, 5, 2)]),
        ([-2, -1], [(2, 3, 4), (2, 5, 3)]),
    ],
)
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras(axes, shapes, normalize):
    arrays = _arrays(*shapes, seed=4)
    ours = _run(Dot(axes=axes, normalize=normalize), arrays)
    _assert_same(ours, _run(keras.layers.Dot(axes=axes, normalize=normalize), arrays, keras_side=True))
    symbolic = [(None, *s[1:]) for s in shapes]
    expected = keras.layers.Dot(axes=axes).compute_output_shape(symbolic)
    assert Dot(axes=axes).compute_output_shape(symbolic) == expected
    assert expected[1:] == ours[0].shape[1:]


SAME_RANK = [[(2, 3), (2, 1)], [(None, 3), (None, 1)], [(None, 3), (4, 3)], [(None, None, 3), (None, 5, 1)]]


@pytest.mark.parametrize(
    "name, shapes",
    [(n, s) for n in ["Add", "Maximum", "Concatenate"] for s in SAME_RANK]
    + [("Add", [(None, 3), (None, 5, 3)]), ("Minimum", [(2, 3), (None, 5, 1)])],
)
def test_compute_output_shape_matches_keras(name, shapes):
    assert OURS[name]().compute_output_shape(shapes) == getattr(keras.layers, name)().compute_output_shape(shapes)


def test_concatenate_output_shape_with_unknown_axis():
    shapes = [(None, 3), (None, None)]
    assert Concatenate().compute_output_shape(shapes) == keras.layers.Concatenate().compute_output_shape(shapes)


def test_elementwise_shape_rules():
    assert elementwise_shape((5, 3), (3,)) == (5, 3)
    assert elementwise_shape((1, 3), (4, None)) == (4, None)
    assert elementwise_shape(None, (3,)) is None
    with pytest.raises(ValueError, match=r"Inputs have incompatible shapes. Received shapes \(3,\) and \(4,\)"):
        elementwise_shape((3,), (4,))


@pytest.mark.parametrize("name", [*ELEMENTWISE, "Concatenate", "Dot"])
def test_config_keys_match_keras_and_round_trip(name):
    kwargs = {"axes": (1, 2), "normalize": True} if name == "Dot" else {}
    if name == "Concatenate":
        kwargs = {"axis": 1}
    ours_cls = Dot if name == "Dot" else OURS[name]
    ours = ours_cls(name="merge_me", **kwargs)
    theirs = getattr(keras.layers, name)(**kwargs).get_config()
    config = ours.get_config()
    # `dtype` is the base Layer's key, whatever it writes.
    assert set(config) - {"dtype"} == set(theirs) - {"dtype"}
    rebuilt = ours_cls.from_config(config)
    assert type(rebuilt) is ours_cls and rebuilt.get_config() == config
    assert ours.supports_masking


def test_functional_forms_build_the_layer_and_call_it():
    a, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 5.0]])
    assert add([a, b]).tolist() == [[4.0, 7.0]]
    assert subtract([a, b]).tolist() == [[-2.0, -3.0]]
    assert multiply([a, b]).tolist() == [[3.0, 10.0]]
    assert average([a, b]).tolist() == [[2.0, 3.5]]
    assert maximum([a, b]).tolist() == [[3.0, 5.0]]
    assert minimum([a, b]).tolist() == [[1.0, 2.0]]
    assert concatenate([a, b]).tolist() == [[1.0, 2.0, 3.0, 5.0]]
    assert concatenate([a, b], axis=0).shape == (2, 2)
    assert dot([a, b], axes=1).tolist() == [[13.0]]
    assert dot([a, a], axes=1, normalize=True).item() == pytest.approx(1.0)
    assert dot([a, b]).tolist() == [[13.0]]  # Keras's default: the last axis


def test_add_takes_one_input_and_more_than_two():
    a = torch.ones(2, 3)
    assert Add()([a]).equal(a)
    assert Add()([a, a, a, a]).eq(4).all()


@pytest.mark.parametrize("count", [1, 3])
def test_subtract_needs_exactly_two_inputs(count):
    with pytest.raises(ValueError, match=r"A `Subtract` layer should be called on exactly 2 inputs. Received"):
        Subtract()([torch.ones(2, 3)] * count)


def test_merge_errors_say_what_was_expected():
    with pytest.raises(ValueError, match="A merge layer should be called on a list of inputs"):
        Add()(torch.ones(2, 3))
    with pytest.raises(ValueError, match="Inputs have incompatible shapes"):
        Add()([torch.ones(2, 3), torch.ones(2, 4)])
    with pytest.raises(ValueError, match="Cannot merge tensors with different batch sizes"):
        Multiply()([torch.ones(2, 3), torch.ones(3, 3)])
    with pytest.raises(ValueError, match="requires inputs with matching shapes except for the concatenation axis"):
        Concatenate()([torch.ones(2, 3), torch.ones(3, 4)])
    with pytest.raises(ValueError, match="requires inputs with matching shapes"):
        Concatenate()([torch.ones(2, 3), torch.ones(2, 3, 1)])
    with pytest.raises(ValueError, match="Expected `axis` to be an axis of the inputs"):
        Concatenate(axis=3)([torch.ones(2, 3), torch.ones(2, 3)])
    with pytest.raises(ValueError, match=r"Incompatible input shapes: axis values 3 \(at axis 1\) != 4"):
        Dot(axes=1)([torch.ones(2, 3), torch.ones(2, 4)])
    with pytest.raises(ValueError, match="A `Dot` layer should be called on a list of 2 inputs"):
        Dot(axes=1)([torch.ones(2, 3)] * 3)
    with pytest.raises(ValueError, match="leave out the batch axis"):
        Dot(axes=0)([torch.ones(2, 3), torch.ones(2, 3)])
    with pytest.raises(TypeError, match="Received: axes='1'"):
        Dot(axes="1")
    with pytest.raises(ValueError, match=r"Received: axes=\(1, 2, 3\)"):
        Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="same length"):
        Add().compute_mask([torch.ones(1)], [None, None])


def test_functional_forms_on_symbolic_inputs_build_a_model():
    import kfit

    a, b = kfit.Input((3,)), kfit.Input((3,))
    merged = concatenate([add([a, b]), subtract([a, b]), dot([a, b], axes=1)])
    assert merged.shape == (None, 7)
    model = kfit.Model([a, b], merged)
    x, y = (torch.tensor(v) for v in _arrays((4, 3), (4, 3), seed=5))
    expected = torch.cat([x + y, x - y, (x * y).sum(1, keepdim=True)], dim=1)
    torch.testing.assert_close(model([x, y]), expected)
