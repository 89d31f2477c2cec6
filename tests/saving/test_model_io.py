import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import kfit
from kfit.saving import load_model, save_model
from kfit.saving.model_io import compile_from_config, get_compile_config

X = np.random.RandomState(0).rand(64, 4).astype("float32")
Y = np.random.RandomState(1).rand(64, 1).astype("float32")



def _sequential(optimizer=None, seed=0, **compile_kwargs):
    torch.manual_seed(seed)
    model = kfit.Sequential(
        [
            kfit.layers.Dense(8, activation="relu", input_dim=4,
                              kernel_initializer=kfit.initializers.RandomNormal(stddev=0.3)),
            kfit.layers.Dropout(0.0),
            kfit.layers.Dense(1, use_bias=False),
        ],
        name="regressor",
    )
    compile_kwargs.setdefault("loss", "mse")
    compile_kwargs.setdefault("metrics", ["mae"])
    model.compile(optimizer=optimizer or kfit.optimizers.Adam(0.01, amsgrad=True), **compile_kwargs)
    return model


def _fit(model, epochs=2):
    return model.fit(X, Y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)


def _assert_same_weights(a, b, atol=0.0):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_allclose(x, y, rtol=0, atol=atol)


class TwoLayer(kfit.Model):
    def __init__(self):
        super().__init__()
        self.hidden = kfit.layers.Dense(8, activation="relu")
        self.out = kfit.layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))


class Scale(kfit.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.gain = torch.nn.Parameter(torch.full((input_shape[-1],), float(self.factor)))

    def call(self, x):
        return x * self.gain

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def custom_loss(y_true, y_pred):
    return torch.mean(torch.abs(y_true - y_pred), dim=-1)


def test_sequential_round_trip_rebuilds_layers_compile_and_optimizer(tmp_path):
    path = tmp_path / "model.keras"
    model = _sequential()
    _fit(model)
    save_model(model, path)
    loaded = load_model(path)

    assert type(loaded) is kfit.Sequential and loaded.name == "regressor"
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "Dropout", "Dense"]
    assert loaded.get_config() == model.get_config()
    _assert_same_weights(model, loaded)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert type(loaded.optimizer) is kfit.optimizers.Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 8

    # The loaded model continues training exactly as the original does.
    history_a = _fit(model)
    history_b = _fit(loaded)
    assert history_a.history == history_b.history
    assert sorted(history_b.history) == ["loss", "mae"]
    _assert_same_weights(model, loaded)


def test_archive_members_and_json(tmp_path):
    path = tmp_path / "model.keras"
    model = _sequential()
    _fit(model, 1)
    save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "config.json", "metadata.json", "model.weights.safetensors", "optimizer.safetensors",
        ]
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
    assert metadata["format"] == "kfit.keras" and metadata["kfit_version"] == kfit.__version__
    assert config["class_name"] == "Sequential"
    # Keras's layout: the InputLayer's record first.
    assert [layer["class_name"] for layer in config["config"]["layers"]] == ["InputLayer", "Dense", "Dropout", "Dense"]
    assert config["compile_config"]["loss"] == "mse"
    assert config["compile_config"]["metrics"] == ["mae"]
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"


def test_weights_member_is_an_ordinary_weight_file(tmp_path):
    path = tmp_path / "model.keras"
    model = _sequential()
    save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        archive.extract("model.weights.safetensors", tmp_path)
    clone = _sequential(seed=7)
    clone.load_weights(tmp_path / "model.weights.safetensors")
    _assert_same_weights(model, clone)


def test_lazily_built_sequential_and_input_layer(tmp_path):
    torch.manual_seed(0)
    lazy = kfit.Sequential([kfit.layers.Dense(6, activation="tanh"), kfit.layers.Dense(1)])
    lazy.compile(optimizer="sgd", loss="mse")
    _fit(lazy, 1)
    declared = kfit.Sequential([kfit.Input(shape=(4,)), kfit.layers.Dense(3), kfit.layers.Dense(1)])
    for i, model in enumerate((lazy, declared)):
        path = tmp_path / f"m{i}.keras"
        save_model(model, path)
        loaded = load_model(path)
        _assert_same_weights(model, loaded)
        assert loaded.input_shape == model.input_shape
        np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)


def test_subclassed_model_needs_custom_objects(tmp_path):
    path = tmp_path / "two.keras"
    model = TwoLayer()
    model.compile(optimizer="adam", loss="mse")
    _fit(model, 1)
    save_model(model, path)
    with pytest.raises(ValueError, match=r"class_name='TwoLayer'.*custom_objects=\{'TwoLayer': TwoLayer\}"):
        load_model(path)
    loaded = load_model(path, custom_objects={"TwoLayer": TwoLayer})
    assert isinstance(loaded, TwoLayer) and loaded.name == model.name
    _assert_same_weights(model, loaded)
    _fit(model, 1)
    _fit(loaded, 1)
    _assert_same_weights(model, loaded)


def test_subclassed_model_keeps_name_and_frozen_flag(tmp_path):
    path = tmp_path / "frozen.keras"
    model = TwoLayer()
    model(torch.ones(2, 4))
    model.name = "custom_name"
    model.trainable = False
    save_model(model, path)
    loaded = load_model(path, custom_objects={"TwoLayer": TwoLayer})
    assert loaded.name == "custom_name"
    assert not loaded.trainable
    assert not any(p.requires_grad for p in loaded.parameters())


def test_custom_layer_and_custom_loss_need_custom_objects(tmp_path):
    path = tmp_path / "custom.keras"
    torch.manual_seed(0)
    model = kfit.Sequential([kfit.layers.Dense(3, input_dim=4), Scale(factor=2.0)])
    model.compile(optimizer="sgd", loss=custom_loss, metrics=[kfit.metrics.MeanSquaredError(name="err")])
    _fit(model, 1)
    save_model(model, path)
    with pytest.raises(ValueError, match="'Scale'"):
        load_model(path)
    with pytest.raises(ValueError, match=r"custom_loss.*custom_objects"):
        load_model(path, custom_objects={"Scale": Scale})
    loaded = load_model(path, custom_objects={"Scale": Scale, "custom_loss": custom_loss})
    assert loaded.layers[1].factor == 2.0
    _assert_same_weights(model, loaded)
    history = _fit(loaded, 1)
    assert sorted(history.history) == ["err", "loss"]
    uncompiled = load_model(path, custom_objects={"Scale": Scale}, compile=False)
    assert not uncompiled.compiled
    _assert_same_weights(model, uncompiled)


def test_loss_objects_and_weighted_metrics_round_trip():
    model = _sequential(loss=kfit.losses.Huber(delta=2.0), weighted_metrics=["mse"])
    config = get_compile_config(model)
    json.dumps(config)
    other = _sequential(seed=1)
    compile_from_config(other, config)
    assert isinstance(other._compile_loss.spec, kfit.losses.Huber)
    assert other._compile_loss.spec.get_config()["delta"] == 2.0
    history = _fit(other, 1)
    assert sorted(history.history) == ["loss", "mae", "mse"]


def test_lambda_loss_warns_and_loads_uncompiled(tmp_path):
    path = tmp_path / "lambda.keras"
    model = _sequential(loss=lambda y, p: torch.mean((y - p) ** 2, dim=-1))
    with pytest.warns(UserWarning, match="compile\\(\\) arguments are not saved"):
        save_model(model, path)
    loaded = load_model(path)
    assert not loaded.compiled
    _assert_same_weights(model, loaded)


def test_uncompiled_model(tmp_path):
    path = tmp_path / "plain.keras"
    model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
    save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        assert "optimizer.safetensors" not in archive.namelist()
    loaded = load_model(path)
    assert not loaded.compiled
    _assert_same_weights(model, loaded)


def test_torch_modules_without_config_are_refused_at_save(tmp_path):
    stack = kfit.Sequential([kfit.layers.Dense(3, input_dim=4), torch.nn.Linear(3, 1)])
    with pytest.raises(ValueError, match=r"layers\[1\] = torch\.nn\.modules\.linear\.Linear.*save_weights"):
        save_model(stack, tmp_path / "a.keras")
    wrapped = kfit.Model(torch.nn.Linear(4, 1))
    with pytest.raises(ValueError, match="without a Keras config"):
        save_model(wrapped, tmp_path / "b.keras")
    nested = kfit.Sequential([kfit.Sequential([torch.nn.Linear(4, 2)]), kfit.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"model\.layers\[0\]\.layers\[0\] = torch"):
        save_model(nested, tmp_path / "c.keras")
    assert not os.listdir(tmp_path)


def test_nested_sequential_round_trip(tmp_path):
    inner = kfit.Sequential([kfit.layers.Dense(3, input_dim=4, activation="relu")], name="inner")
    model = kfit.Sequential([inner, kfit.layers.Dense(1)])
    save_model(model, tmp_path / "nested.keras")
    loaded = load_model(tmp_path / "nested.keras")
    assert type(loaded.layers[0]) is kfit.Sequential and loaded.layers[0].name == "inner"
    _assert_same_weights(model, loaded)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)


@pytest.mark.parametrize("name", ["model.h5", "model.weights.h5", "model.safetensors", "model", "model.zip"])
def test_unsupported_extensions_list_the_supported_one(tmp_path, name):
    with pytest.raises(ValueError, match=r"\('\.keras',\)"):
        save_model(_sequential(), tmp_path / name)
    with pytest.raises(ValueError, match=r"\('\.keras',\)"):
        load_model(tmp_path / name)


def test_weight_file_extension_points_to_load_weights(tmp_path):
    with pytest.raises(ValueError, match="load_weights"):
        load_model(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="save_weights"):
        save_model(_sequential(), tmp_path / "m.safetensors")


def _damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "bit flip in weights":
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("model.weights.safetensors")
        offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 40
        path.write_bytes(data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1:])
    elif how == "not a zip":
        path.write_bytes(b"this is not an archive")
    elif how == "missing member":
        _rewrite_archive(path, drop="config.json")
    elif how == "foreign metadata":
        _rewrite_archive(path, replace={"metadata.json": b'{"keras_version": "3.15.1"}'})
    elif how == "bad json":
        _rewrite_archive(path, replace={"config.json": b"{not json"})


def _rewrite_archive(path, drop=None, replace=None):
    with zipfile.ZipFile(path) as src:
        members = {n: src.read(n) for n in src.namelist() if n != drop}
    members.update(replace or {})
    with zipfile.ZipFile(path, "w") as dst:
        for name, content in members.items():
            dst.writestr(name, content)


@pytest.mark.parametrize(
    "how", ["truncated", "bit flip in weights", "not a zip", "missing member", "foreign metadata", "bad json"]
)
def test_damaged_archive_is_a_clear_error_naming_the_file(tmp_path, how):
    path = tmp_path / "model.keras"
    save_model(_sequential(), path)
    _damage(path, how)
    with pytest.raises(ValueError, match=r"Could not read the \.keras archive.*model\.keras"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.keras"):
        load_model(tmp_path / "nope.keras")


def test_overwrite_false_refuses_and_keeps_the_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        save_model(_sequential(), path, overwrite=False)
    assert path.read_bytes() == b"old"


def test_failed_save_leaves_the_previous_file_and_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    save_model(_sequential(), path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "write", fail)
    with pytest.raises(OSError, match="disk full"):
        save_model(_sequential(seed=3), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.keras"]


def test_loading_never_unpickles(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    model = _sequential()
    _fit(model, 1)
    save_model(model, path)

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    _assert_same_weights(model, load_model(path))


def test_layer_without_recorded_input_shape_is_named(tmp_path):
    class Holder(kfit.Model):
        def __init__(self):
            super().__init__()
            self.scale = Scale()

        def call(self, x):
            return self.scale(x)

    model = Holder()
    model(torch.ones(2, 4))
    save_model(model, tmp_path / "holder.keras")
    with pytest.raises(ValueError, match=r"scale \(Scale\).*input_shape"):
        load_model(tmp_path / "holder.keras", custom_objects={"Holder": Holder, "Scale": Scale})


def test_model_save_and_models_load_model(tmp_path):
    path = tmp_path / "wrapped.keras"
    model = _sequential()
    _fit(model, 1)
    model.save(path)
    loaded = kfit.models.load_model(path)
    _assert_same_weights(model, loaded)
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "wrapped.h5")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_model_saves_and_resumes_on_cuda(tmp_path):
    path = tmp_path / "gpu.keras"
    model = _sequential(device="cuda")
    _fit(model, 1)
    save_model(model, path)
    loaded = load_model(path)  # on the CPU; fit moves it to the default device, CUDA
    _fit(model, 1)
    _fit(loaded, 1)
    assert next(loaded.parameters()).device.type == "cuda"
    assert all(
        slot.device.type == "cuda"
        for slots in loaded.optimizer.state_dict()["state"].values()
        for slot in slots.values()
    )
    _assert_same_weights(model, loaded, atol=1e-6)


# ---------------------------------------------------------------------------- the registry
@kfit.saving.register_keras_serializable("test_model_io")
class RegisteredScale(Scale):
    pass


@kfit.saving.register_keras_serializable("test_model_io")
class RegisteredTwoLayer(TwoLayer):
    pass


@kfit.saving.register_keras_serializable("test_model_io")
def registered_loss(y_true, y_pred):
    return torch.mean(torch.abs(y_true - y_pred), dim=-1)


def _config_json(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def _header(record):
    return record["module"], record["class_name"], record["registered_name"]


def test_config_records_every_class_as_serialize_keras_object_does(tmp_path):
    model = kfit.Sequential([kfit.layers.Dense(3, input_dim=4), Scale(2.0), RegisteredScale()])
    model.compile(optimizer="sgd", loss=registered_loss, metrics=[kfit.metrics.MeanSquaredError()])
    save_model(model, tmp_path / "m.keras")
    config = _config_json(tmp_path / "m.keras")
    assert _header(config) == ("keras", "Sequential", None)
    assert [_header(layer) for layer in config["config"]["layers"]] == [
        ("keras.layers", "InputLayer", None),
        ("keras.layers", "Dense", None),
        (__name__, "Scale", "Scale"),
        (__name__, "RegisteredScale", "test_model_io>RegisteredScale"),
    ]
    assert config["compile_config"]["loss"]["config"] == "test_model_io>registered_loss"
    assert _header(config["compile_config"]["metrics"][0]) == ("keras.metrics", "MeanSquaredError", None)


def test_registered_classes_and_functions_load_without_custom_objects(tmp_path):
    torch.manual_seed(0)
    stack = kfit.Sequential([kfit.layers.Dense(3, input_dim=4), RegisteredScale(factor=2.0)])
    stack.compile(optimizer="sgd", loss=registered_loss)
    _fit(stack, 1)
    save_model(stack, tmp_path / "stack.keras")
    loaded = load_model(tmp_path / "stack.keras")
    assert type(loaded.layers[1]) is RegisteredScale and loaded.layers[1].factor == 2.0
    assert loaded._compile_loss.spec is registered_loss
    _assert_same_weights(stack, loaded)

    subclassed = RegisteredTwoLayer()
    subclassed(torch.ones(2, 4))
    save_model(subclassed, tmp_path / "two.keras")
    assert type(load_model(tmp_path / "two.keras")) is RegisteredTwoLayer


def test_custom_object_scope_stands_in_for_custom_objects(tmp_path):
    model = kfit.Sequential([kfit.layers.Dense(3, input_dim=4), Scale(factor=2.0)])
    model.compile(optimizer="sgd", loss=custom_loss)
    save_model(model, tmp_path / "m.keras")
    with kfit.saving.custom_object_scope({"Scale": Scale, "custom_loss": custom_loss}):
        loaded = load_model(tmp_path / "m.keras")
    assert type(loaded.layers[1]) is Scale and loaded._compile_loss.spec is custom_loss
    # The two are combined: each supplies what the other lacks.
    with kfit.saving.custom_object_scope({"Scale": Scale}):
        loaded = load_model(tmp_path / "m.keras", custom_objects={"custom_loss": custom_loss})
    assert loaded._compile_loss.spec is custom_loss


def _previous_format(config):
    """config.json as kfit wrote it before records had `registered_name` (its v0.1 layout)."""

    def bare(record):
        if isinstance(record, dict) and "class_name" in record:
            return {"class_name": record["class_name"], "config": record["config"]}
        return [bare(r) for r in record] if isinstance(record, list) else record

    old = {"module": "kfit.models.sequential", "class_name": config["class_name"],
           "config": {**config["config"], "layers": bare(config["config"]["layers"])},
           "build_config": config["build_config"], "compile_config": dict(config["compile_config"])}
    for key in ("loss", "metrics", "weighted_metrics"):
        old["compile_config"][key] = bare(config["compile_config"][key])
    return old


def test_archives_in_the_previous_layout_still_load(tmp_path):
    path = tmp_path / "old.keras"
    torch.manual_seed(0)
    model = kfit.Sequential([kfit.layers.Dense(3, input_dim=4), Scale(factor=2.0)], name="old")
    model.compile(optimizer="adam", loss=kfit.losses.Huber(delta=2.0),
                  metrics=[kfit.metrics.MeanSquaredError(name="err"), custom_loss])
    _fit(model, 1)
    save_model(model, path)
    old = _previous_format(_config_json(path))
    # The previous layout had no InputLayer record either.
    old["config"]["layers"] = [r for r in old["config"]["layers"] if r["class_name"] != "InputLayer"]
    assert old["config"]["layers"][1] == {"class_name": "Scale", "config": model.layers[1].get_config()}
    assert old["compile_config"]["metrics"][1] == {"class_name": "function", "config": "custom_loss"}
    _rewrite_archive(path, replace={"config.json": json.dumps(old).encode()})

    loaded = load_model(path, custom_objects={"Scale": Scale, "custom_loss": custom_loss})
    assert loaded.name == "old" and loaded.layers[1].factor == 2.0
    assert loaded._compile_loss.spec.get_config()["delta"] == 2.0
    _assert_same_weights(model, loaded)
    assert _fit(loaded, 1).history == _fit(model, 1).history
