"""Every input type trains exactly like a hand-written torch loop over the same batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kfit

N, D, BS, LR = 40, 5, 8, 0.05


def _data():
    rs = np.random.RandomState(1)
    return rs.rand(N, D).astype("float32"), rs.rand(N).astype("float32")


def _reference(x, y, kernel, bias, epochs=2):
    """Plain torch: SGD on MSE over unshuffled batches."""
    k = torch.tensor(kernel, requires_grad=True)
    b = torch.tensor(bias, requires_grad=True)
    for _ in range(epochs):
        for i in range(0, N, BS):
            xb, yb = torch.from_numpy(x[i:i + BS]), torch.from_numpy(y[i:i + BS])
            loss = ((xb @ k + b)[:, 0] - yb).pow(2).mean()
            k.grad = b.grad = None
            loss.backward()
            with torch.no_grad():
                k -= LR * k.grad
                b -= LR * b.grad
    return k.detach().numpy(), b.detach().numpy()


def _model():
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=D)])
    model.compile(optimizer=kfit.optimizers.SGD(LR), loss="mse")
    return model


def _check(model, x, y):
    kernel, bias = model.get_weights()
    return kernel, bias


def _fit_and_compare(make_input, fit_kwargs):
    x, y = _data()
    model = _model()
    k0, b0 = model.get_weights()
    model.fit(*make_input(x, y), epochs=2, verbose=0, shuffle=False, **fit_kwargs)
    k_ref, b_ref = _reference(x, y, k0, b0)
    k, b = model.get_weights()
    np.testing.assert_allclose(k, k_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, b_ref, rtol=1e-5, atol=1e-6)


def test_numpy_arrays():
    _fit_and_compare(lambda x, y: (x, y), {"batch_size": BS})


def test_torch_tensors():
    _fit_and_compare(lambda x, y: (torch.from_numpy(x), torch.from_numpy(y)), {"batch_size": BS})


def test_float64_numpy_is_cast_to_float32():
    _fit_and_compare(lambda x, y: (x.astype("float64"), y.astype("float64")), {"batch_size": BS})


def test_torch_dataset():
    _fit_and_compare(
        lambda x, y: (torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),),
        {"batch_size": BS},
    )


def test_dataloader():
    def make(x, y):
        ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        return (torch.utils.data.DataLoader(ds, batch_size=BS, shuffle=False),)

    _fit_and_compare(make, {})


def test_generator_with_steps_per_epoch():
    def make(x, y):
        def gen():
            while True:
                for i in range(0, N, BS):
                    yield x[i:i + BS], y[i:i + BS]
        return (gen(),)

    _fit_and_compare(make, {"steps_per_epoch": N // BS})


class TwoInputs(kfit.Model):
    """Keras convention: the structure arrives as one `inputs` argument."""

    def __init__(self):
        super().__init__()
        self.dense = kfit.layers.Dense(1)

    def call(self, inputs):
        if isinstance(inputs, dict):
            a, b = inputs["a"], inputs["b"]
        else:
            a, b = inputs
        return self.dense(torch.cat([a, b], dim=-1))


@pytest.mark.parametrize("structure", ["tuple", "list", "dict"])
def test_multi_input(structure):
    x, y = _data()
    model = TwoInputs()
    model.compile(optimizer=kfit.optimizers.SGD(LR), loss="mse")
    parts = (x[:, :2], x[:, 2:])
    inputs = {"tuple": parts, "list": list(parts), "dict": {"a": parts[0], "b": parts[1]}}[structure]
    model.predict(inputs, verbose=0)  # builds the weights
    k0, b0 = model.get_weights()
    model.fit(inputs, y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    k_ref, _ = _reference(x, y, k0, b0)
    np.testing.assert_allclose(model.get_weights()[0], k_ref, rtol=1e-5, atol=1e-6)
    assert model.predict(inputs, verbose=0).shape == (N, 1)


def test_wrapped_torch_module_receives_tuple_as_positional_args():
    class Add(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, a, b):
            return (a + b) * self.scale

    model = kfit.Model(Add())
    out = model.predict((np.ones((3, 2), "float32"), np.ones((3, 2), "float32")), verbose=0)
    np.testing.assert_array_equal(out, np.full((3, 2), 2.0))


def test_sample_weight_and_class_weight_weight_the_loss():
    x, y = _data()
    labels = (y > 0.5).astype("float32")
    model = _model()
    k0, b0 = model.get_weights()
    pred = x @ k0 + b0
    per_sample = (pred[:, 0] - labels) ** 2
    sw = np.where(labels > 0, 3.0, 1.0).astype("float32")
    weighted = model.evaluate(x, labels, sample_weight=sw, batch_size=N, verbose=0)
    np.testing.assert_allclose(weighted, (per_sample * sw).mean(), rtol=1e-5)
    history = model.fit(x, labels, batch_size=N, epochs=1, shuffle=False, verbose=0, class_weight={0: 1.0, 1: 3.0})
    np.testing.assert_allclose(history.history["loss"][0], (per_sample * sw).mean(), rtol=1e-5)
