"""Pooling layers against Keras 3: outputs, input gradients, shapes, configs and masking."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
import torch

from kfit.layers.pooling.average_pooling1d import AveragePooling1D
from kfit.layers.pooling.average_pooling2d import AveragePooling2D
from kfit.layers.pooling.average_pooling3d import AveragePooling3D
from kfit.layers.pooling.global_average_pooling1d import GlobalAveragePooling1D
from kfit.layers.pooling.global_average_pooling2d import GlobalAveragePooling2D
from kfit.layers.pooling.global_average_pooling3d import GlobalAveragePooling3D
from kfit.layers.pooling.global_max_pooling1d import GlobalMaxPooling1D
from kfit.layers.pooling.global_max_pooling2d import GlobalMaxPooling2D
from kfit.layers.pooling.global_max_pooling3d import GlobalMaxPooling3D
from kfit.layers.pooling.max_pooling1d import MaxPooling1D
from kfit.layers.pooling.max_pooling2d import MaxPooling2D
from kfit.layers.pooling.max_pooling3d import MaxPooling3D

CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D, AveragePooling3D,
        GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
        GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
    )
}

# (class name, constructor arguments, channels-last input shape). The "same" average cases
# are those where Keras 3.15 on torch already follows TensorFlow's rule (see
# test_average_same_padding_leaves_padded_positions_out_as_tensorflow).
CASES = [
    ("MaxPooling1D", {}, (2, 10, 3)),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 10, 3)),
    ("MaxPooling1D", {"pool_size": 4, "strides": 1, "padding": "same"}, (2, 7, 3)),
    ("MaxPooling2D", {}, (2, 9, 9, 3)),
    ("MaxPooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 5, 6, 3)),
    ("MaxPooling2D", {"padding": "same"}, (2, 5, 5, 3)),
    ("MaxPooling2D", {"pool_size": (2, 3), "strides": (1, 2), "padding": "same"}, (2, 5, 7, 3)),
    ("MaxPooling3D", {}, (2, 4, 5, 4, 2)),
    ("MaxPooling3D", {"padding": "same"}, (2, 3, 3, 3, 2)),
    ("AveragePooling1D", {"pool_size": 2}, (2, 10, 3)),
    ("AveragePooling1D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 7, 3)),
    ("AveragePooling1D", {"pool_size": 2, "padding": "same"}, (2, 9, 3)),
    ("AveragePooling2D", {"pool_size": 2}, (2, 9, 9, 3)),
    ("AveragePooling2D", {"pool_size": (3, 2), "strides": (2, 1)}, (2, 9, 6, 3)),
    ("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 5, 6, 3)),
    ("AveragePooling2D", {"pool_size": 2, "padding": "same"}, (2, 5, 5, 3)),
    ("AveragePooling3D", {"pool_size": 2}, (2, 4, 4, 5, 2)),
    ("GlobalMaxPooling1D", {}, (2, 10, 3)),
    ("GlobalMaxPooling2D", {"keepdims": True}, (2, 5, 6, 3)),
    ("GlobalMaxPooling3D", {}, (2, 3, 4, 2, 3)),
    ("GlobalAveragePooling1D", {"keepdims": True}, (2, 10, 3)),
    ("GlobalAveragePooling2D", {}, (2, 5, 6, 3)),
    ("GlobalAveragePooling3D", {"keepdims": True}, (2, 3, 4, 2, 3)),
]


@pytest.fixture
def keras() -> Any:
    return pytest.importorskip("keras")


def _channels_first(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], shape[-1], *shape[1:-1])


def _output_and_grad(layer: Any, x: np.ndarray, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    inputs = torch.tensor(x, requires_grad=True)
    out = layer(inputs, **kwargs)
    (grad,) = torch.autograd.grad((out**2).sum(), [inputs])
    return out.detach().numpy(), grad.numpy()


def assert_matches_keras(ours: Any, theirs: Any, x: np.ndarray) -> None:
    want, want_grad = _output_and_grad(theirs, x)
    got, got_grad = _output_and_grad(ours, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(got_grad, want_grad, atol=1e-6, rtol=1e-6)
    symbolic = (None, *x.shape[1:])
    assert ours.compute_output_shape(symbolic) == tuple(theirs.compute_output_shape(symbolic))
    assert ours.compute_output_shape(x.shape) == want.shape
    got_config, want_config = ours.get_config(), theirs.get_config()
    for config in (got_config, want_config):
        config.pop("name")
        config.pop("dtype", None)
    assert got_config == want_config
    assert ours.get_weights() == []


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_keras(keras, name, kwargs, shape, data_format):
    if data_format == "channels_first":
        shape = _channels_first(shape)
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    ours = CLASSES[name](**kwargs, data_format=data_format)
    theirs = getattr(keras.layers, name)(**kwargs, data_format=data_format)
    assert_matches_keras(ours, theirs, x)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_signature_and_defaults_match_keras(keras, name):
    ours = inspect.signature(CLASSES[name].__init__).parameters
    theirs = inspect.signature(getattr(keras.layers, name).__init__).parameters
    assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()]


def test_defaults():
    assert MaxPooling2D().pool_size == (2, 2) and MaxPooling2D().strides == (2, 2)
    assert MaxPooling1D(3).strides == (3,)
    with pytest.raises(TypeError):
        AveragePooling2D()  # type: ignore[call-arg]  # pool_size is required, as in Keras


def _tf_same_average(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int]) -> np.ndarray:
    """TensorFlow's "same" average pooling of (batch, h, w, c), by brute force: each window's
    mean over the positions that fall inside the image."""
    _, h, w, _ = x.shape
    out_h, out_w = -(-h // strides[0]), -(-w // strides[1])
    top = max((out_h - 1) * strides[0] + pool[0] - h, 0) // 2
    left = max((out_w - 1) * strides[1] + pool[1] - w, 0) // 2
    out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            r0, c0 = i * strides[0] - top, j * strides[1] - left
            rows = slice(max(r0, 0), min(r0 + pool[0], h))
            cols = slice(max(c0, 0), min(c0 + pool[1], w))
            out[:, i, j] = x[:, rows, cols].mean(axis=(1, 2))
    return out


def test_average_same_padding_leaves_padded_positions_out_as_tensorflow():
    # Keras 3.15 on torch gives [1.75, 2.5, 3.5, 4.25, 4.75] here (it pads by repeating the
    # edge); TensorFlow, JAX and keras-team/keras#23233 average the real positions only.
    x = torch.arange(1.0, 6.0).reshape(1, 5, 1)
    got = AveragePooling1D(4, strides=1, padding="same")(x)
    assert got.flatten().tolist() == [2.0, 2.5, 3.5, 4.0, 4.5]

    images = np.random.default_rng(0).standard_normal((2, 7, 6, 3)).astype("float32")
    for pool, strides in (((3, 3), (3, 3)), ((4, 2), (1, 2)), ((3, 2), (2, 2))):
        want = _tf_same_average(images, pool, strides)
        got_last = AveragePooling2D(pool, strides, padding="same")(torch.tensor(images))
        np.testing.assert_allclose(got_last.numpy(), want, atol=1e-6)
        first = torch.tensor(images).permute(0, 3, 1, 2).contiguous()
        got_first = AveragePooling2D(pool, strides, padding="same", data_format="channels_first")(first)
        np.testing.assert_allclose(got_first.permute(0, 2, 3, 1).numpy(), want, atol=1e-6)


def test_max_same_padding_never_picks_a_padded_position():
    x = -torch.arange(1.0, 6.0).reshape(1, 5, 1)  # all negative: a zero pad would win
    got = MaxPooling1D(4, strides=1, padding="same")(x)
    assert got.flatten().tolist() == [-1.0, -1.0, -2.0, -3.0, -4.0]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_average_1d_masked_mean_matches_keras(keras, data_format):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 2)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 0, 0, 1, 0]], dtype=bool)
    if data_format == "channels_first":
        x = x.transpose(0, 2, 1).copy()
    ours = GlobalAveragePooling1D(data_format=data_format)
    theirs = keras.layers.GlobalAveragePooling1D(data_format=data_format)
    want = keras.ops.convert_to_numpy(theirs(x, mask=mask))
    got = ours(torch.tensor(x), mask=torch.tensor(mask))
    np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    assert getattr(got, "_keras_mask", None) is None
    assert ours.supports_masking and ours.compute_mask(x, torch.tensor(mask)) is None


def test_global_average_1d_mask_example_from_keras():
    values = torch.tensor([[[1.0], [3.0], [100.0]]])
    got = GlobalAveragePooling1D(keepdims=True)(values, mask=torch.tensor([[True, True, False]]))
    assert got.tolist() == [[[2.0]]]


def test_channels_last_pooling_keeps_channels_last_memory():
    x = torch.rand(2, 8, 8, 4)
    for layer in (MaxPooling2D(), AveragePooling2D(2)):
        y = layer(x)
        assert y.shape == (2, 4, 4, 4) and y.is_contiguous()


def test_from_config_round_trips():
    layer = AveragePooling2D((3, 2), strides=1, padding="same", data_format="channels_first")
    rebuilt = AveragePooling2D.from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config() | {"name": rebuilt.name}
    pooled = GlobalMaxPooling2D.from_config(GlobalMaxPooling2D(keepdims=True).get_config())
    assert pooled.keepdims


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: MaxPooling2D(0), "pool_size"),
        (lambda: MaxPooling2D((2, 2, 2)), "pool_size"),
        (lambda: MaxPooling2D(strides=0), "strides"),
        (lambda: AveragePooling1D(2, padding="causal"), "padding"),
        (lambda: GlobalMaxPooling2D(data_format="nhwc"), "data_format"),
    ],
)
def test_bad_arguments_raise(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_a_window_larger_than_the_input_raises_as_in_keras():
    with pytest.raises(ValueError, match="at least one window"):
        MaxPooling2D(3).compute_output_shape((None, 2, 2, 3))
    assert MaxPooling2D(3, padding="same").compute_output_shape((None, 2, 2, 3)) == (None, 1, 1, 3)
