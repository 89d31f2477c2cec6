import numpy as np
import pytest
import torch

import kfit
from kfit.saving import load_checkpoint, load_state, save_checkpoint, save_state
from kfit.saving.checkpoint import optimizer_state, restore_optimizer_state

X = np.random.RandomState(0).rand(64, 4).astype("float32")
Y = np.random.RandomState(1).rand(64, 1).astype("float32")


def _model(optimizer=None, seed=0):
    torch.manual_seed(seed)
    model = kfit.Sequential([kfit.layers.Dense(8, activation="relu", input_dim=4), kfit.layers.Dense(1)])
    model.compile(optimizer=optimizer or kfit.optimizers.Adam(0.01, amsgrad=True, use_ema=True), loss="mse")
    return model


def _fit(model, epochs):
    model.fit(X, Y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)


def _assert_same_weights(a, b, atol=0.0):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=atol)


def test_round_trip_restores_weights_optimizer_state_and_progress(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    reference = _model()
    _fit(reference, 2)
    save_checkpoint(path, reference, {"epoch": 2, "batch": 0, "extra": {"rng": [1, 2]}})

    restored = _model(seed=1)
    _fit(restored, 1)  # different weights and optimizer state, to be overwritten
    assert load_checkpoint(path, restored) == {"epoch": 2, "batch": 0, "extra": {"rng": [1, 2]}}
    _assert_same_weights(reference, restored)
    ref_state, new_state = reference.optimizer.state_dict(), restored.optimizer.state_dict()
    assert ref_state["iterations"] == new_state["iterations"] == 8
    for index, slots in ref_state["state"].items():
        assert set(slots) == {"momentum", "velocity", "velocity_hat", "average"}
        for slot, value in slots.items():
            assert torch.equal(value, new_state["state"][index][slot]), slot

    # Continuing both gives the same result: nothing the update depends on was lost.
    _fit(reference, 2)
    _fit(restored, 2)
    _assert_same_weights(reference, restored)


def test_file_layout_is_one_state_file(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    model = _model(kfit.optimizers.SGD(momentum=0.9))
    _fit(model, 1)
    save_checkpoint(path, model, {"epoch": 1})
    tensors, document = load_state(path)
    assert sorted(tensors) == [
        "model/dense.bias", "model/dense.kernel", "model/dense_1.bias", "model/dense_1.kernel",
        "optimizer/0/momentum", "optimizer/1/momentum", "optimizer/2/momentum", "optimizer/3/momentum",
    ]
    assert document["format"] == "kfit.checkpoint"
    assert document["training_state"] == {"epoch": 1}
    assert document["optimizer"]["iterations"] == 4
    assert document["optimizer"]["param_groups"][0]["momentum"] == 0.9


def test_unbuilt_optimizer_gets_the_state_when_built(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    reference = _model()
    _fit(reference, 1)
    save_checkpoint(path, reference, {})
    fresh = _model(seed=3)
    assert not fresh.optimizer.built
    load_checkpoint(path, fresh)
    assert int(fresh.optimizer.iterations) == 4
    _fit(reference, 1)
    _fit(fresh, 1)  # fit builds the optimizer, which then takes the saved slots
    _assert_same_weights(reference, fresh)


def test_model_without_optimizer(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
    save_checkpoint(path, model, {"epoch": 0})
    other = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
    assert load_checkpoint(path, other) == {"epoch": 0}
    _assert_same_weights(model, other)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_file_names_the_file_and_changes_nothing(tmp_path, damage):
    path = tmp_path / "ckpt.safetensors"
    model = _model()
    _fit(model, 1)
    save_checkpoint(path, model, {"epoch": 1})
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00" * 64, "empty": b""}[damage])
    target = _model(seed=5)
    _fit(target, 1)
    before = [w.copy() for w in target.get_weights()]
    iterations = int(target.optimizer.iterations)
    with pytest.raises(ValueError, match=r"ckpt\.safetensors"):
        load_checkpoint(path, target)
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(target.optimizer.iterations) == iterations


def test_architecture_mismatch_changes_nothing(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    model = _model()
    _fit(model, 1)
    save_checkpoint(path, model, {})
    wider = kfit.Sequential([kfit.layers.Dense(9, input_dim=4), kfit.layers.Dense(1)])
    wider.compile(optimizer="adam", loss="mse")
    before = [w.copy() for w in wider.get_weights()]
    with pytest.raises(ValueError, match=r"dense\.kernel: expected shape \(4, 9\), got shape \(4, 8\)"):
        load_checkpoint(path, wider)
    for a, b in zip(before, wider.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_optimizer_group_mismatch_is_checked_before_weights_change(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    model = _model(kfit.optimizers.SGD(momentum=0.9))
    _fit(model, 1)
    save_checkpoint(path, model, {})
    other = _model(kfit.optimizers.SGD(momentum=0.9), seed=2)
    other.optimizer.build(list(other.parameters())[:2])  # a different set of parameters
    before = [w.copy() for w in other.get_weights()]
    with pytest.raises(ValueError, match=r"param groups of sizes \[4\].*\[2\]"):
        load_checkpoint(path, other)
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.safetensors"
    save_state(path, {}, {"epoch": 3})
    with pytest.raises(ValueError, match=r"save_checkpoint.*other\.safetensors"):
        load_checkpoint(path, _model())


def test_wrong_extension():
    with pytest.raises(ValueError, match=r"\.safetensors"):
        save_checkpoint("ckpt.weights.h5", _model(), {})


def test_plain_torch_optimizer_state_round_trips():
    layer = torch.nn.Linear(3, 2)
    a = torch.optim.Adam(layer.parameters(), lr=0.1)
    layer(torch.ones(4, 3)).sum().backward()
    a.step()
    tensors, json_state = optimizer_state(a)
    assert {"0/exp_avg", "0/exp_avg_sq", "0/step"} <= set(tensors)
    b = torch.optim.Adam(layer.parameters(), lr=0.5)
    restore_optimizer_state(b, tensors, json_state)
    assert b.param_groups[0]["lr"] == 0.1
    assert torch.equal(b.state[layer.weight]["exp_avg"], a.state[layer.weight]["exp_avg"])
