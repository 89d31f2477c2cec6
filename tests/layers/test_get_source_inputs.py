"""`get_source_inputs`: the Input tensors behind a symbolic tensor, in Keras 3's order."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import pytest
import torch

import kfit
from kfit.layers.symbolic import get_source_inputs


def _positions(found: list[Any], inputs: list[Any]) -> list[int]:
    return [next(i for i, t in enumerate(inputs) if t is f) for f in found]


def _graphs(lib):  # type: ignore[no-untyped-def]
    a, b, c = lib.Input((4,), name="a"), lib.Input((4,), name="b"), lib.Input((4,), name="c")
    inputs = [a, b, c]
    shared = lib.layers.Dense(4)
    left = shared(b)
    right = shared(a)
    diamond = lib.layers.Add()([lib.layers.Dense(4)(left), lib.layers.Dense(4)(left)])
    merged = lib.layers.Concatenate()([diamond, right, lib.layers.Multiply()([a, left])])
    return inputs, {
        "input": a,
        "one_layer": lib.layers.Dense(2)(c),
        "shared_layer_second_call": right,
        "diamond": diamond,
        "merged": merged,
        "op": lib.layers.Dense(4)(merged) * 2.0 + c,
    }


def test_sources_and_their_order_match_keras() -> None:
    our_inputs, ours = _graphs(kfit)
    their_inputs, theirs = _graphs(keras)
    for name in ours:
        got = _positions(kfit.utils.get_source_inputs(ours[name]), our_inputs)
        expected = _positions(keras.utils.get_source_inputs(theirs[name]), their_inputs)
        assert got == expected, name
    assert _positions(get_source_inputs(ours["op"]), our_inputs) == [1, 0, 2]


def test_a_functional_model_output_leads_to_its_inputs() -> None:
    inputs, tensors = _graphs(kfit)
    model = kfit.Model(inputs, tensors["op"])
    assert get_source_inputs(model.outputs[0]) == [inputs[1], inputs[0], inputs[2]]


def test_a_deep_chain_does_not_hit_the_recursion_limit() -> None:
    inputs = kfit.Input((2,))
    x = inputs
    for _ in range(1200):
        x = x + 1.0
    assert get_source_inputs(x) == [inputs]


def test_a_list_of_tensors_gives_their_sources_together() -> None:
    a, b = kfit.Input((2,)), kfit.Input((2,))
    assert get_source_inputs([kfit.layers.Dense(2)(b), a]) == [b, a]


def test_a_real_tensor_is_refused() -> None:
    with pytest.raises(TypeError, match="Expected a KerasTensor"):
        get_source_inputs(torch.ones(2))
