"""MultiHeadAttention against Keras 3: weights, outputs, scores, masks, gradients and config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.layers.attention.multi_head_attention import MultiHeadAttention

B, T, S = 2, 5, 7


def _pair(keras, query, value, key=None, **kwargs):
    """A Keras layer and a kfit layer with the same arguments and the same weights."""
    theirs = keras.layers.MultiHeadAttention(**kwargs)
    theirs(query, value, key)
    ours = MultiHeadAttention(**kwargs)
    ours(query, value, key)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def _masked(x, mask):
    """A copy of `x` carrying `mask` as its Keras mask (Keras removes it from its inputs)."""
    x = x.clone()
    if mask is not None:
        x._keras_mask = mask
    return x


def _close(got, expected, atol=1e-5):
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=atol)


def _random_mask(*shape, generator=None):
    mask = torch.rand(*shape, generator=generator) > 0.3
    mask[..., 0] = True  # every row keeps one position, unless a test wants otherwise
    return mask


CASES = {
    "self": {"kv": "self"},
    "cross": {"kv": "cross"},
    "cross_key": {"kv": "cross_key", "value_dim": 3, "output_shape": (4,)},
    "value_mask": {"kv": "cross", "value_mask": True},
    "query_keras_mask": {"kv": "cross", "query_mask": True},
    "attention_mask": {"kv": "cross", "attention_mask": True},
    "causal": {"kv": "self", "use_causal_mask": True},
    "causal_cross": {"kv": "cross", "use_causal_mask": True},
    "causal_and_masks": {"kv": "self", "use_causal_mask": True, "value_mask": True, "attention_mask": True},
    "key_mask": {"kv": "cross_key", "key_mask": True},
    "gate_window_no_bias": {"kv": "self", "use_gate": True, "sliding_window": 2, "use_bias": False},
    "dropout_inference": {"kv": "cross", "dropout": 0.5, "query_mask": True, "value_mask": True},
}


def _inputs(case):
    g = torch.Generator().manual_seed(0)
    query = torch.randn(B, T, 6, generator=g)
    kv = case["kv"]
    if kv == "self":
        value, key = query, None
    else:
        value = torch.randn(B, S, 8, generator=g)
        key = torch.randn(B, S, 3, generator=g) if kv == "cross_key" else None
    tv = value.shape[1]
    call = {}
    if case.get("value_mask"):
        call["value_mask"] = _random_mask(B, tv, generator=g)
    if case.get("key_mask"):
        call["key_mask"] = _random_mask(B, tv, generator=g)
    if case.get("attention_mask"):
        call["attention_mask"] = _random_mask(B, T, tv, generator=g)
    if case.get("use_causal_mask"):
        call["use_causal_mask"] = True
    query_mask = None
    if case.get("query_mask"):
        query_mask = torch.ones(B, T, dtype=torch.bool)
        query_mask[:, 3:] = False  # padded queries: rows with every key masked
    return query, value, key, query_mask, call


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("scores", [False, True])
def test_outputs_scores_and_gradients_match_keras(name, scores):
    keras = pytest.importorskip("keras")
    case = CASES[name]
    layer_args = {k: case[k] for k in ("value_dim", "output_shape", "use_gate", "sliding_window", "use_bias",
                                       "dropout") if k in case}
    query, value, key, query_mask, call = _inputs(case)
    theirs, ours = _pair(keras, query, value, key, num_heads=2, key_dim=4, **layer_args)
    ours.eval()
    results = []
    for layer in (theirs, ours):
        q = _masked(query, query_mask)
        v = q if value is query else value
        out = layer(q, v, key, return_attention_scores=scores, training=False, **call)
        results.append(out if scores else (out, None))
    (expected, expected_scores), (got, got_scores) = results
    _close(got, expected)
    if scores:
        assert tuple(got_scores.shape) == tuple(expected_scores.shape)
        _close(got_scores, expected_scores)
    if query_mask is not None:
        assert torch.equal(got._keras_mask, query_mask)
    upstream = torch.randn(expected.shape)
    (expected * upstream).sum().backward()
    (got * upstream).sum().backward()
    for mine, reference in zip(ours.weights, theirs.weights):
        _close(mine.grad, reference.value.grad, atol=2e-5)


def test_fully_masked_query_rows_follow_keras_on_each_path():
    """Keras's fused path attends uniformly where every key is masked; its explicit path
    (scores asked for, or dropout > 0) gives zero probabilities there."""
    keras = pytest.importorskip("keras")
    query, value = torch.randn(B, T, 6), torch.randn(B, S, 8)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[:, -1] = False
    theirs, ours = _pair(keras, query, value, num_heads=2, key_dim=4)
    ours.eval()
    fused = ours(_masked(query, mask), value)
    explicit, scores = ours(_masked(query, mask), value, return_attention_scores=True)
    _close(fused, theirs(_masked(query, mask), value))
    _close(explicit, theirs(_masked(query, mask), value, return_attention_scores=True)[0])
    assert torch.all(scores[:, :, -1] == 0)
    assert not torch.allclose(fused[:, -1], explicit[:, -1])


@pytest.mark.parametrize("axes", [(1, 2), (2,), (-2,)])
def test_attention_axes_match_keras(axes):
    keras = pytest.importorskip("keras")
    query = torch.randn(2, 3, 4, 6)
    theirs, ours = _pair(keras, query, query, num_heads=2, key_dim=3, attention_axes=axes)
    ours.eval()
    assert ours.get_config()["attention_axes"] == theirs.get_config()["attention_axes"]
    _close(ours(query, query), theirs(query, query))
    if len(axes) == 2:
        # Keras's own masks only fit one attended axis; an explicit mask covers both.
        query_mask, call = None, {"attention_mask": torch.rand(2, 3, 4, 3, 4) > 0.2}
    else:
        query_mask, call = torch.rand(2, 3, 4) > 0.2, {}
    for scores in (False, True):
        got = ours(_masked(query, query_mask), query, return_attention_scores=scores, **call)
        expected = theirs(_masked(query, query_mask), query, return_attention_scores=scores, **call)
        for mine, reference in zip(got if scores else [got], expected if scores else [expected]):
            assert tuple(mine.shape) == tuple(reference.shape)
            _close(mine, reference)


def test_weights_and_sublayer_names_match_keras_and_its_h5_keys(tmp_path):
    keras = pytest.importorskip("keras")
    h5py = pytest.importorskip("h5py")
    query, value = torch.randn(B, T, 6), torch.randn(B, S, 8)
    theirs, ours = _pair(keras, query, value, num_heads=2, key_dim=4, use_gate=True)
    strip = [w.path.split("/", 1)[1] for w in theirs.weights]
    assert [w.path.split("/", 1)[1] for w in ours.weights] == strip
    assert strip[4:6] == ["gate/kernel", "gate/bias"]
    children = dict(ours.named_children())
    assert list(children) == [
        "query_dense", "key_dense", "_gate_dense", "value_dense", "_dropout_layer", "output_dense"
    ]
    assert {k: c.name for k, c in children.items() if k.endswith("dense")} == {
        "query_dense": "query", "key_dense": "key", "_gate_dense": "gate", "value_dense": "value",
        "output_dense": "attention_output",
    }
    # Keras stores each sublayer under its attribute key; kfit's attribute names are those keys.
    q_in, v_in = keras.Input((T, 6)), keras.Input((S, 8))
    model = keras.Model([q_in, v_in], keras.layers.MultiHeadAttention(2, 4, use_gate=True)(q_in, v_in))
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5") as f:
        groups = set(f["layers/multi_head_attention"]) - {"vars"}
        for key, child in children.items():
            stored = f[f"layers/multi_head_attention/{key}/vars"]
            assert [stored[str(i)].shape for i in range(len(stored))] == [tuple(w.shape) for w in child.weights]
    assert groups - set(children) == {"_softmax"}  # weightless: kfit's softmax is not a sublayer


def test_config_matches_keras_and_round_trips():
    keras = pytest.importorskip("keras")
    kwargs = {"num_heads": 3, "key_dim": 2, "output_shape": 5, "kernel_regularizer": "l2", "seed": 1}
    theirs, ours = keras.layers.MultiHeadAttention(**kwargs), MultiHeadAttention(**kwargs)
    config, expected = ours.get_config(), theirs.get_config()
    # `dtype` belongs to the base Layer's config.
    assert set(config) - {"dtype"} == set(expected) - {"dtype"}
    for key in ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "use_gate", "output_shape",
                "attention_axes", "sliding_window", "kernel_initializer", "bias_initializer", "seed"):
        assert config[key] == expected[key], key
    assert config["kernel_regularizer"]["class_name"] == "L2"
    clone = MultiHeadAttention.from_config(config)
    out = clone(torch.ones(2, 3, 4), torch.ones(2, 6, 4))
    assert out.shape == (2, 3, 5) and clone.compute_output_shape((None, 3, 4)) == (None, 3, 5)
    assert len(clone.losses) == 4  # one kernel regularizer per projection


def test_fused_kernel_runs_unless_scores_or_training_dropout_need_the_explicit_path(monkeypatch):
    calls = []
    fused = torch.nn.functional.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls.append(kwargs.get("is_causal"))
        return fused(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counting)
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.5)
    x = torch.randn(B, T, 6)
    layer(x, x, training=False, use_causal_mask=True)
    assert calls == [True]
    layer(x, x, training=False, return_attention_scores=True)
    layer(x, x, training=True)
    assert calls == [True]


def test_training_dropout_drops_probabilities_and_causal_mask_holds():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.5, seed=3)
    x = torch.randn(B, T, 6)
    _, scores = layer(x, x, return_attention_scores=True, training=True, use_causal_mask=True)
    assert torch.all(scores.triu(1) == 0)  # the returned scores are taken before dropout
    torch.testing.assert_close(scores.sum(-1), torch.ones(B, 2, T))
    outputs = {tuple(layer(x, x, training=True).flatten()[:5].tolist()) for _ in range(3)}
    assert len(outputs) > 1
    torch.testing.assert_close(layer(x, x, training=False), layer(x, x, training=False))


def test_explicit_build_and_numpy_inputs():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    layer.build((None, T, 6), (None, S, 8))
    assert layer.built and [tuple(w.shape) for w in layer.weights][:3] == [(6, 2, 4), (2, 4), (8, 2, 4)]
    out = layer(np.ones((B, T, 6), "float32"), np.ones((B, S, 8), "float32"))
    assert out.shape == (B, T, 6)


def test_functional_call_builds_from_every_input_shape():
    import kfit

    layer = MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3)
    out, scores = layer(kfit.Input((T, 6)), kfit.Input((S, 8)), kfit.Input((S, 5)), return_attention_scores=True)
    assert tuple(out.shape) == (None, T, 6) and tuple(scores.shape) == (None, 2, T, S)
    assert [tuple(w.shape) for w in layer.weights][::2] == [(6, 2, 4), (5, 2, 4), (8, 2, 3), (2, 3, 6)]
    assert all(w.device.type == "cpu" for w in layer.weights)


def test_frozen_layer_builds_frozen_weights():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, trainable=False)
    layer(torch.ones(1, 2, 3), torch.ones(1, 2, 3))
    assert len(layer.weights) == 8 and layer.trainable_weights == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_heads": 0, "key_dim": 2}, "num_heads=0"),
        ({"num_heads": 2, "key_dim": 2.5}, r"key_dim=2\.5"),
        ({"num_heads": 2, "key_dim": 2, "value_dim": -1}, "value_dim=-1"),
        ({"num_heads": 2, "key_dim": 2, "dropout": 1.0}, r"dropout=1\.0"),
        ({"num_heads": 2, "key_dim": 2, "attention_axes": "time"}, "attention_axes='time'"),
        ({"num_heads": 2, "key_dim": 2, "sliding_window": 0}, "sliding_window=0"),
        ({"num_heads": 2, "key_dim": 2, "flash_attention": True, "dropout": 0.1}, "flash_attention=True"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadAttention(**kwargs)


def test_invalid_shapes_and_axes():
    with pytest.raises(ValueError, match="attention_axes"):
        MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(2,))(torch.ones(1, 3, 4), torch.ones(1, 3, 4))
    with pytest.raises(ValueError, match="value_shape"):
        MultiHeadAttention(num_heads=2, key_dim=2).build((1, 3, 4), (1, 3, 4), (1, 5, 4))
    with pytest.raises(ValueError, match="return_attention_scores"):
        MultiHeadAttention(num_heads=2, key_dim=2, flash_attention=True)(
            torch.ones(1, 3, 4), torch.ones(1, 3, 4), return_attention_scores=True
        )
