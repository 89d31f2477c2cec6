"""`kfit.utils.naming` against Keras 3's `keras.src.utils.naming`."""

from __future__ import annotations

import pytest

from kfit import layers, losses, metrics, optimizers
from kfit.utils import naming

keras_naming = pytest.importorskip("keras.src.utils.naming")

NAMES = [
    "Dense",
    "InputLayer",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "KLDivergence",
    "RMSprop",
    "AdamW",
    "SGD",
    "Conv2D",
    "Conv2DTranspose",
    "BatchNorm1d",
    "ReLU",
    "LSTMCell",
    "HTTPServer",
    "getHTTPResponseCode",
    "already_snake",
    "With Space-And.Dots",
    "Layer2D3",
    "ABC",
    "",
]


@pytest.mark.parametrize("name", NAMES)
def test_to_snake_case_matches_keras(name):
    assert naming.to_snake_case(name) == keras_naming.to_snake_case(name)


def test_uniquify_counts_per_base_name():
    assert naming.uniquify("test_naming_base") == "test_naming_base"
    assert naming.uniquify("test_naming_other") == "test_naming_other"
    assert naming.uniquify("test_naming_base") == "test_naming_base_1"
    assert naming.uniquify("test_naming_base") == "test_naming_base_2"


def test_auto_name_snake_cases_then_uniquifies():
    assert naming.auto_name("TestNamingAuto") == "test_naming_auto"
    assert naming.auto_name("TestNamingAuto") == "test_naming_auto_1"
    assert naming.uniquify("test_naming_auto") == "test_naming_auto_2"


def test_one_counter_is_shared_by_every_kind_of_object_as_in_keras():
    class SharedNameForNamingTest(layers.Layer):
        pass

    class SharedNameForNamingTestLoss(losses.Loss):
        pass

    layer = SharedNameForNamingTest()
    metric = type("SharedNameForNamingTest", (metrics.Metric,), {})()
    optimizer = type("SharedNameForNamingTest", (optimizers.SGD,), {})()
    assert [layer.name, metric.name, optimizer.name] == [
        "shared_name_for_naming_test",
        "shared_name_for_naming_test_1",
        "shared_name_for_naming_test_2",
    ]
    assert SharedNameForNamingTestLoss().name == "shared_name_for_naming_test_loss"


def test_get_object_name_matches_keras():
    def MyMetricFunction(y_true, y_pred):
        return y_true

    class Unnamed:
        pass

    for obj in (metrics.Mean(name="running"), MyMetricFunction, Unnamed()):
        assert naming.get_object_name(obj) == keras_naming.get_object_name(obj)
