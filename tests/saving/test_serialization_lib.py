"""Config records of objects, and back; each record checked against Keras 3's own."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import kfit
from kfit.saving import (
    custom_object_scope,
    deserialize_keras_object,
    register_keras_serializable,
    serialize_keras_object,
)
from kfit.saving.serialization_lib import find_class

keras = pytest.importorskip("keras")

HEADER = ("module", "class_name", "registered_name")


def _header(record):
    return {key: record[key] for key in HEADER}


class Scale(kfit.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class KerasScale(keras.layers.Layer):
    pass


@register_keras_serializable("test_serialization")
class Registered(kfit.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable("test_serialization")
class KerasRegistered(keras.layers.Layer):
    pass


class Holder(kfit.layers.Layer):
    """A layer whose config holds another layer's record, as Keras's wrappers do."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def get_config(self):
        return {**super().get_config(), "inner": serialize_keras_object(self.inner)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["inner"] = deserialize_keras_object(config["inner"])
        return cls(**config)


def double(x):
    return 2 * x


@register_keras_serializable("test_serialization")
def triple(x):
    return 3 * x


keras.saving.register_keras_serializable("test_serialization")(triple)


# ---------------------------------------------------------------------------- serialize
@pytest.mark.parametrize("ours, theirs", [
    (lambda: kfit.layers.Dense(2), lambda: keras.layers.Dense(2)),
    (lambda: kfit.layers.Dropout(0.5), lambda: keras.layers.Dropout(0.5)),
    (lambda: kfit.Sequential([kfit.layers.Dense(1)]), lambda: keras.Sequential([keras.layers.Dense(1)])),
    (lambda: kfit.losses.Huber(), lambda: keras.losses.Huber()),
    (lambda: kfit.metrics.MeanSquaredError(name="err"), lambda: keras.metrics.MeanSquaredError(name="err")),
    (lambda: kfit.initializers.GlorotUniform(seed=3), lambda: keras.initializers.GlorotUniform(seed=3)),
    (lambda: kfit.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9),
     lambda: keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
])
def test_builtins_are_recorded_under_keras_namespaces_as_keras_does(ours, theirs):
    record, keras_record = serialize_keras_object(ours()), serialize_keras_object(theirs())
    assert set(record) == set(keras_record) == {*HEADER, "config"}
    assert _header(record) == _header(keras.saving.serialize_keras_object(theirs()))
    assert record["registered_name"] is None


def test_builtin_loss_metric_and_initializer_records_equal_keras():
    pairs = [
        (kfit.losses.MeanSquaredError(), keras.losses.MeanSquaredError()),
        (kfit.metrics.MeanSquaredError(name="err"), keras.metrics.MeanSquaredError(name="err")),
        (kfit.initializers.GlorotUniform(seed=3), keras.initializers.GlorotUniform(seed=3)),
    ]
    for ours, theirs in pairs:
        assert serialize_keras_object(ours) == keras.saving.serialize_keras_object(theirs)


def test_user_classes_are_recorded_with_their_module_and_registered_name_as_in_keras():
    ours = serialize_keras_object(Scale(2.0))
    theirs = keras.saving.serialize_keras_object(KerasScale())
    assert ours["module"] == theirs["module"] == __name__
    assert (ours["registered_name"], theirs["registered_name"]) == ("Scale", "KerasScale")
    assert ours["config"]["factor"] == 2.0

    ours = serialize_keras_object(Registered())
    theirs = keras.saving.serialize_keras_object(KerasRegistered())
    assert ours["module"] == theirs["module"] == __name__
    assert ours["registered_name"] == "test_serialization>Registered"
    assert theirs["registered_name"] == "test_serialization>KerasRegistered"


def test_functions_are_recorded_by_name_exactly_as_keras_does():
    for function in (double, triple, kfit.activations.relu, kfit.losses.mean_squared_error):
        assert serialize_keras_object(function) == keras.saving.serialize_keras_object(function)
    assert serialize_keras_object(triple)["config"] == "test_serialization>triple"


@pytest.mark.parametrize("value", [
    None, "relu", 3, 2.5, True, [1, (2, None)], {"a": [1, {"b": (3,)}], "c": None},
    np.float32(1.5), np.int64(7), np.arange(3), np.ones((2, 2), "float32"),
    torch.tensor([1.0, 2.0]), torch.arange(4).reshape(2, 2),
])
def test_plain_values_arrays_and_tensors_are_recorded_as_keras_does(value):
    assert serialize_keras_object(value) == keras.saving.serialize_keras_object(value)


def test_bfloat16_tensor_round_trips():
    tensor = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    restored = deserialize_keras_object(json.loads(json.dumps(serialize_keras_object(tensor))))
    assert restored.dtype == torch.bfloat16 and torch.equal(restored, tensor)


def test_a_lambda_is_refused_rather_than_stored_as_code():
    with pytest.raises(ValueError, match=r"lambda.*def"):
        serialize_keras_object(lambda x: x)


@pytest.mark.parametrize("obj, message", [
    (kfit.layers.Dense, r"not a class.*Received: obj=<class 'kfit\.layers\.dense\.Dense'>"),
    (object(), r"get_config\(\).*Received: obj=<object object"),
    ({1, 2}, r"Received: obj=\{1, 2\} \(of type set\)"),
])
def test_what_cannot_be_serialized_is_named(obj, message):
    with pytest.raises(TypeError, match=message):
        serialize_keras_object(obj)


def test_get_config_must_return_a_dict():
    class Odd:
        def get_config(self):
            return ["units", 3]

    with pytest.raises(TypeError, match=r"Odd\.get_config\(\) to return a dict"):
        serialize_keras_object(Odd())


# ---------------------------------------------------------------------------- deserialize
def _round_trip(obj, **kwargs):
    return deserialize_keras_object(json.loads(json.dumps(serialize_keras_object(obj))), **kwargs)


def test_builtins_round_trip_through_json():
    dense = _round_trip(kfit.layers.Dense(3, activation="relu", name="out"))
    assert type(dense) is kfit.layers.Dense and dense.get_config()["activation"] == "relu"
    assert dense.name == "out"
    assert _round_trip(kfit.losses.Huber(delta=2.0)).get_config()["delta"] == 2.0
    assert _round_trip(kfit.metrics.MeanSquaredError(name="err")).name == "err"
    assert _round_trip(kfit.initializers.Constant(2.0)).value == 2.0
    optimizer = _round_trip(
        kfit.optimizers.Adam(kfit.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5), beta_1=0.8)
    )
    assert type(optimizer) is kfit.optimizers.Adam and optimizer.beta_1 == 0.8
    assert optimizer.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"


def test_functions_round_trip_to_the_same_object():
    for function in (kfit.activations.relu, kfit.losses.mean_squared_error, triple):
        assert _round_trip(function) is function
    with pytest.raises(TypeError, match=r"Could not locate function 'double'.*custom_objects"):
        _round_trip(double)
    assert _round_trip(double, custom_objects={"double": double}) is double


def test_user_classes_are_found_in_registry_custom_objects_or_scope():
    registered = _round_trip(Registered(3.0, name="r"))
    assert type(registered) is Registered and registered.factor == 3.0 and registered.name == "r"
    with pytest.raises(TypeError, match=r"Could not locate class 'Scale'.*custom_objects="):
        _round_trip(Scale(2.0))
    assert _round_trip(Scale(2.0), custom_objects={"Scale": Scale}).factor == 2.0
    with custom_object_scope({"Scale": Scale}):
        assert _round_trip(Scale(2.0)).factor == 2.0


def test_a_registered_record_also_loads_with_custom_objects_keyed_by_class_name():
    record = serialize_keras_object(Scale(2.0))
    record["registered_name"] = "elsewhere>Scale"  # registered where it was saved, not here
    assert deserialize_keras_object(record, custom_objects={"Scale": Scale}).factor == 2.0
    assert deserialize_keras_object(record, custom_objects={"elsewhere>Scale": Scale}).factor == 2.0


def test_nested_from_config_sees_the_outer_custom_objects():
    holder = Holder(Scale(4.0), name="holder")
    restored = _round_trip(holder, custom_objects={"Scale": Scale, "Holder": Holder})
    assert type(restored.inner) is Scale and restored.inner.factor == 4.0


def test_keras_written_records_of_builtins_load():
    records = [
        keras.saving.serialize_keras_object(keras.losses.Huber()),
        keras.saving.serialize_keras_object(keras.metrics.MeanSquaredError(name="err")),
        keras.saving.serialize_keras_object(keras.initializers.GlorotUniform(seed=3)),
        keras.saving.serialize_keras_object(keras.activations.relu),
        keras.saving.serialize_keras_object(keras.layers.Dropout(0.3)),
    ]
    loss, metric, initializer, activation, dropout = (deserialize_keras_object(r) for r in records)
    assert type(loss) is kfit.losses.Huber
    assert type(metric) is kfit.metrics.MeanSquaredError and metric.name == "err"
    assert type(initializer) is kfit.initializers.GlorotUniform and initializer.seed == 3
    assert activation is kfit.activations.relu
    assert type(dropout) is kfit.layers.Dropout and dropout.rate == 0.3


@pytest.mark.parametrize("config", [
    None, "relu", 3, 2.5, True, [1, "a", None], {"a": 1, "b": [1, 2], "c": {"d": None}},
    {"class_name": "__numpy__", "config": {"value": [1, 2], "dtype": "int32"}},
])
def test_plain_configs_are_rebuilt_as_keras_does(config):
    ours = deserialize_keras_object(config)
    theirs = keras.saving.deserialize_keras_object(config)
    if isinstance(theirs, np.ndarray):
        np.testing.assert_array_equal(ours, theirs)
        assert ours.dtype == theirs.dtype
    else:
        assert ours == theirs


def test_a_string_is_looked_up_in_custom_objects_as_keras_does():
    assert deserialize_keras_object("double", custom_objects={"double": double}) is double
    assert keras.saving.deserialize_keras_object("double", custom_objects={"double": double}) is double
    assert deserialize_keras_object("test_serialization>triple") is triple


def test_an_unknown_class_raises_type_error_as_in_keras():
    record = {"module": "somewhere", "class_name": "Nowhere", "config": {}, "registered_name": "Nowhere"}
    with pytest.raises(TypeError, match="Nowhere"):
        keras.saving.deserialize_keras_object(record)
    with pytest.raises(TypeError, match=r"Could not locate class 'Nowhere'.*register_keras_serializable"):
        deserialize_keras_object(record)


@pytest.mark.parametrize("safe_mode", [True, False])
def test_a_keras_lambda_record_never_loads(safe_mode):
    record = {"class_name": "__lambda__", "config": {"value": "anything"}}
    with pytest.raises(ValueError, match=r"never runs code"):
        deserialize_keras_object(record, safe_mode=safe_mode)


def test_a_tensor_record_with_a_bad_dtype_is_refused():
    record = {"class_name": "__tensor__", "config": {"value": [1], "dtype": "load"}}
    with pytest.raises(ValueError, match=r"Received: dtype='load' \(of type str\)"):
        deserialize_keras_object(record)


def test_module_objects_are_searched_last_and_other_keywords_are_refused():
    assert deserialize_keras_object("double", module_objects={"double": double}) is double
    with pytest.raises(TypeError, match=r"Received: \['verbose'\]"):
        deserialize_keras_object("relu", verbose=True)


def test_find_class_resolves_builtins_and_user_classes_without_building_them():
    assert find_class({"module": "keras", "class_name": "Sequential", "registered_name": None}) is kfit.Sequential
    # Records written by older kfit versions name the Python module of the class.
    assert find_class({"module": "kfit.layers.dense", "class_name": "Dense"}) is kfit.layers.Dense
    assert find_class({"module": None, "class_name": "Dense"}) is None
    assert find_class({"module": __name__, "class_name": "Scale"}, {"Scale": Scale}) is Scale
    assert find_class({"module": __name__, "class_name": "Registered",
                       "registered_name": "test_serialization>Registered"}) is Registered
