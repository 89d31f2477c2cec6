"""UpSampling, ZeroPadding and Cropping layers against Keras 3."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
import torch

from kfit.layers.reshaping.cropping1d import Cropping1D
from kfit.layers.reshaping.cropping2d import Cropping2D
from kfit.layers.reshaping.up_sampling1d import UpSampling1D
from kfit.layers.reshaping.up_sampling2d import UpSampling2D
from kfit.layers.reshaping.zero_padding1d import ZeroPadding1D
from kfit.layers.reshaping.zero_padding2d import ZeroPadding2D

CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D, Cropping1D, Cropping2D)
}
WITH_DATA_FORMAT = {"UpSampling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping2D"}

# (class name, constructor arguments, channels-last input shape)
CASES = [
    ("UpSampling1D", {}, (2, 5, 3)),
    ("UpSampling1D", {"size": 3}, (2, 4, 2)),
    ("UpSampling2D", {}, (2, 4, 3, 3)),
    ("UpSampling2D", {"size": (3, 2)}, (2, 3, 4, 2)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (2, 4, 5, 2)),
    ("UpSampling2D", {"size": 2, "interpolation": "BICUBIC"}, (2, 4, 4, 2)),
    ("ZeroPadding1D", {}, (2, 5, 3)),
    ("ZeroPadding1D", {"padding": (0, 3)}, (2, 5, 3)),
    ("ZeroPadding2D", {}, (2, 4, 4, 3)),
    ("ZeroPadding2D", {"padding": 2}, (2, 3, 4, 3)),
    ("ZeroPadding2D", {"padding": (1, 3)}, (2, 3, 4, 3)),
    ("ZeroPadding2D", {"padding": ((0, 2), (3, 1))}, (2, 3, 4, 3)),
    ("Cropping1D", {}, (2, 5, 3)),
    ("Cropping1D", {"cropping": (0, 2)}, (2, 5, 3)),
    ("Cropping1D", {"cropping": 2}, (2, 6, 3)),
    ("Cropping2D", {}, (2, 4, 4, 3)),
    ("Cropping2D", {"cropping": 1}, (2, 4, 5, 3)),
    ("Cropping2D", {"cropping": (1, 2)}, (2, 4, 5, 3)),
    ("Cropping2D", {"cropping": ((0, 2), (3, 0))}, (2, 4, 5, 3)),
]


@pytest.fixture
def keras() -> Any:
    return pytest.importorskip("keras")


def _output_and_grad(layer: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inputs = torch.tensor(x, requires_grad=True)
    out = layer(inputs)
    (grad,) = torch.autograd.grad((out**2).sum(), [inputs])
    return out.detach().numpy(), grad.numpy()


# UpSampling1D and Cropping1D have no data_format in Keras: they run channels-last only.
PARAMS = [
    pytest.param(name, kwargs, shape, data_format, id=f"{name}-{i}-{data_format}")
    for i, (name, kwargs, shape) in enumerate(CASES)
    for data_format in (("channels_last", "channels_first") if name in WITH_DATA_FORMAT else (None,))
]


@pytest.mark.parametrize(("name", "kwargs", "shape", "data_format"), PARAMS)
def test_matches_keras(keras, name, kwargs, shape, data_format):
    if data_format is not None:
        kwargs = {**kwargs, "data_format": data_format}
    if data_format == "channels_first":
        shape = (shape[0], shape[-1], *shape[1:-1])
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    ours, theirs = CLASSES[name](**kwargs), getattr(keras.layers, name)(**kwargs)
    want, want_grad = _output_and_grad(theirs, x)
    got, got_grad = _output_and_grad(ours, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(got_grad, want_grad, atol=1e-5, rtol=1e-5)
    symbolic = (None, *x.shape[1:])
    assert ours.compute_output_shape(symbolic) == tuple(theirs.compute_output_shape(symbolic))
    assert ours.compute_output_shape(x.shape) == want.shape
    got_config, want_config = ours.get_config(), theirs.get_config()
    for config in (got_config, want_config):
        config.pop("name")
        config.pop("dtype", None)
    assert got_config == want_config


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_signature_and_defaults_match_keras(keras, name):
    ours = inspect.signature(CLASSES[name].__init__).parameters
    theirs = inspect.signature(getattr(keras.layers, name).__init__).parameters
    assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()]


def test_argument_forms_are_normalized_as_in_keras():
    assert ZeroPadding1D().padding == (1, 1) and ZeroPadding1D(2).padding == (2, 2)
    assert ZeroPadding2D().padding == ((1, 1), (1, 1))
    assert ZeroPadding2D((1, 2)).padding == ((1, 1), (2, 2))
    assert ZeroPadding2D(((1, 2), 3)).padding == ((1, 2), (3, 3))
    assert Cropping1D().cropping == (1, 1) and Cropping1D(0).cropping == (0, 0)
    assert Cropping2D().cropping == ((0, 0), (0, 0))  # a no-op, unlike Cropping1D's default
    assert Cropping2D(2).cropping == ((2, 2), (2, 2))
    assert UpSampling2D(3).size == (3, 3) and UpSampling2D(interpolation="Bilinear").interpolation == "bilinear"
    x = torch.rand(1, 3, 3, 2)
    assert torch.equal(Cropping2D()(x), x)


def test_nearest_upsampling_repeats_pixels():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    got = UpSampling2D((1, 2))(x)[0, :, :, 0]
    assert got.tolist() == [[1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0]]


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: UpSampling1D(0), ValueError, "size"),
        (lambda: UpSampling1D(2.0), TypeError, "size"),
        (lambda: UpSampling2D(interpolation="lanczos3"), ValueError, "interpolation"),
        (lambda: UpSampling2D((2, 0)), ValueError, "size"),
        (lambda: ZeroPadding1D(-1), ValueError, "padding"),
        (lambda: ZeroPadding2D((1, 2, 3)), ValueError, "padding"),
        (lambda: ZeroPadding2D("same"), ValueError, "padding"),
        (lambda: Cropping1D((1, 2, 3)), ValueError, "cropping"),
        (lambda: Cropping2D(((1, 2), (1, -1))), ValueError, "cropping"),
    ],
)
def test_bad_arguments_raise(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_cropping_everything_raises():
    with pytest.raises(ValueError, match="at least one step"):
        Cropping1D((2, 3))(torch.zeros(1, 5, 2))
    with pytest.raises(ValueError, match="width"):
        Cropping2D(((0, 0), (2, 2)))(torch.zeros(1, 5, 4, 2))
    with pytest.raises(ValueError, match="height"):
        Cropping2D(((3, 2), (0, 0))).compute_output_shape((None, 5, 4, 2))
    assert Cropping2D(1).compute_output_shape((None, None, 4, 2)) == (None, None, 2, 2)
