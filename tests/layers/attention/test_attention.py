"""Attention and AdditiveAttention against Keras 3: weights, outputs, scores, masks, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.attention.additive_attention import AdditiveAttention
from kfit.layers.attention.attention import Attention

B, TQ, TV, DIM = 2, 4, 6, 5

LAYERS = {
    "dot": (Attention, {}),
    "dot_scale": (Attention, {"use_scale": True}),
    "concat": (Attention, {"score_mode": "concat"}),
    "concat_scale": (Attention, {"score_mode": "concat", "use_scale": True}),
    "additive": (AdditiveAttention, {}),
    "additive_no_scale": (AdditiveAttention, {"use_scale": False}),
}
CALLS = {
    "plain": {},
    "key": {"key": True},
    "masks": {"masks": True},
    "causal": {"use_causal_mask": True},
    "causal_masks_key": {"use_causal_mask": True, "masks": True, "key": True},
    "keras_masks": {"keras_masks": True},
}


def _close(got, expected, atol=1e-5):
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=atol)


def _inputs(call):
    g = torch.Generator().manual_seed(0)
    query, value = torch.randn(B, TQ, DIM, generator=g), torch.randn(B, TV, DIM, generator=g)
    inputs = [query, value] + ([torch.randn(B, TV, DIM, generator=g)] if call.get("key") else [])
    query_mask = torch.rand(B, TQ, generator=g) > 0.3
    value_mask = torch.rand(B, TV, generator=g) > 0.3
    value_mask[1] = False  # a batch entry whose keys are all masked
    return inputs, [query_mask, value_mask]


def _run(layer, inputs, masks, call, scores):
    """(output, scores or None, inputs that collect gradients)"""
    kwargs = {"return_attention_scores": scores, "use_causal_mask": call.get("use_causal_mask", False)}
    if call.get("masks"):
        kwargs["mask"] = masks
    inputs = [x.clone().requires_grad_() for x in inputs]
    if call.get("keras_masks"):
        for x, m in zip(inputs, masks):
            x._keras_mask = m
    out = layer(inputs, training=False, **kwargs)
    return (*(out if scores else (out, None)), inputs)


@pytest.mark.parametrize("call_name", list(CALLS))
@pytest.mark.parametrize("layer_name", list(LAYERS))
@pytest.mark.parametrize("scores", [False, True])
def test_outputs_scores_and_gradients_match_keras(layer_name, call_name, scores):
    keras = pytest.importorskip("keras")
    cls, kwargs = LAYERS[layer_name]
    call = CALLS[call_name]
    inputs, masks = _inputs(call)
    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    theirs(inputs)
    ours = cls(**kwargs)
    ours(inputs)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    # Different values than the initial ones, so that a missing scale would show.
    weights = [np.asarray(w) * 1.5 for w in theirs.get_weights()]
    theirs.set_weights(weights)
    for weight, value in zip(ours.weights, weights):
        weight.assign(value)
    expected, expected_scores, their_inputs = _run(theirs, inputs, masks, call, scores)
    got, got_scores, our_inputs = _run(ours, inputs, masks, call, scores)
    _close(got, expected)
    if scores:
        _close(got_scores, expected_scores)
    if call.get("masks") or call.get("keras_masks"):
        assert torch.equal(ours.compute_mask(inputs, masks), masks[0])
    upstream = torch.randn(expected.shape)
    (expected * upstream).sum().backward()
    (got * upstream).sum().backward()
    for mine, reference in zip(ours.weights, theirs.weights):
        _close(mine.grad, reference.value.grad, atol=1e-4)
    for mine, reference in zip(our_inputs, their_inputs):
        _close(mine.grad, reference.grad, atol=1e-4)


def test_scalar_weights_round_trip_through_set_weights():
    layer = Attention(use_scale=True, score_mode="concat")
    layer([torch.ones(1, 2, 3), torch.ones(1, 2, 3)])
    layer.set_weights([np.float32(2.0), np.array(3.0, "float32")])
    assert [float(w) for w in layer.get_weights()] == [2.0, 3.0]


def test_inputs_are_computed_in_the_layer_dtype():
    query = torch.randn(B, TQ, DIM, dtype=torch.float64)
    out = AdditiveAttention()([query, np.ones((B, TV, DIM))])
    assert out.dtype == torch.float32
    assert Attention()([query, query]).dtype == torch.float32


def test_unscaled_dot_product_and_weightless_default():
    layer = Attention()
    query, value = torch.randn(B, TQ, DIM), torch.randn(B, TV, DIM)
    expected = torch.softmax(query @ value.transpose(1, 2), -1) @ value
    torch.testing.assert_close(layer([query, value]), expected)
    assert layer.weights == [] and layer.compute_output_shape([(None, TQ, DIM), (None, TV, 3)]) == (None, TQ, 3)


def test_config_matches_keras_and_round_trips():
    keras = pytest.importorskip("keras")
    for cls, kwargs in [(Attention, {"use_scale": True, "score_mode": "concat", "dropout": 0.1, "seed": 2}),
                        (AdditiveAttention, {"use_scale": False, "dropout": 0.2})]:
        config = cls(**kwargs).get_config()
        expected = getattr(keras.layers, cls.__name__)(**kwargs).get_config()
        # `dtype` belongs to the base Layer's config.
        assert set(config) - {"dtype"} == set(expected) - {"dtype"}
        assert {k: config[k] for k in kwargs} == {k: expected[k] for k in kwargs}
        clone = cls.from_config(config)
        assert clone.get_config() == config


def test_dropout_while_training_only():
    layer = Attention(dropout=0.5, seed=0)
    query, value = torch.randn(B, TQ, DIM), torch.randn(B, TV, DIM)
    _, scores = layer([query, value], training=True, return_attention_scores=True)
    _, clean = layer([query, value], training=False, return_attention_scores=True)
    dropped = scores == 0
    assert dropped.any() and not dropped.all()
    torch.testing.assert_close(scores[~dropped], 2 * clean[~dropped])
    torch.testing.assert_close(layer([query, value], training=False), clean @ value)


def test_fused_kernel_runs_when_scores_are_not_needed(monkeypatch):
    calls = []
    fused = torch.nn.functional.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls.append(1)
        return fused(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counting)
    query, value = torch.randn(B, TQ, DIM), torch.randn(B, TV, DIM)
    Attention(use_scale=True)([query, value], training=False)
    Attention()([query, value], return_attention_scores=True)
    Attention(score_mode="concat")([query, value])
    AdditiveAttention()([query, value])
    assert calls == [1]


def test_invalid_arguments_and_inputs():
    with pytest.raises(ValueError, match="score_mode='sum'"):
        Attention(score_mode="sum")
    with pytest.raises(ValueError, match=r"dropout=1\.5"):
        AdditiveAttention(dropout=1.5)
    x = torch.ones(1, 2, 3)
    with pytest.raises(ValueError, match="list of 2 or 3"):
        Attention()(x)
    with pytest.raises(ValueError, match="list of 2 or 3"):
        Attention()([x])
    with pytest.raises(ValueError, match="Received: mask="):
        Attention()([x, x], mask=x > 0)
