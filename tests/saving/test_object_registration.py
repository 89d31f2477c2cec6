"""The registry and custom-object scopes, checked against Keras 3's own functions."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import kfit
from kfit.saving import (
    CustomObjectScope,
    custom_object_scope,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

keras = pytest.importorskip("keras")

SRC = Path(kfit.__file__).resolve().parents[1]


def _classes(base):
    """A kfit class and a Keras class of the same name, both with get_config()."""

    class Widget(base):
        def get_config(self):
            return {}

    return Widget


@pytest.mark.parametrize("package, name, expected", [
    ("test_registration", None, "test_registration>Widget"),
    ("test_registration", "Gadget", "test_registration>Gadget"),
])
def test_registered_name_and_lookup_match_keras(package, name, expected):
    ours = register_keras_serializable(package, name)(_classes(object))
    theirs = keras.saving.register_keras_serializable(package, name)(_classes(object))
    assert get_registered_name(ours) == keras.saving.get_registered_name(theirs) == expected
    assert get_registered_object(expected) is ours
    assert keras.saving.get_registered_object(expected) is theirs


def test_default_package_is_custom_as_in_keras():
    ours = register_keras_serializable()(_classes(object))
    theirs = keras.saving.register_keras_serializable()(_classes(object))
    assert get_registered_name(ours) == keras.saving.get_registered_name(theirs) == "Custom>Widget"


def test_functions_register_and_unregistered_objects_keep_their_name_as_in_keras():
    def scaled(x):
        return 2 * x

    def plain(x):
        return x

    assert register_keras_serializable("test_registration_fn")(scaled) is scaled
    keras.saving.register_keras_serializable("test_registration_fn")(scaled)
    assert get_registered_name(scaled) == keras.saving.get_registered_name(scaled)
    assert get_registered_name(scaled) == "test_registration_fn>scaled"
    assert get_registered_object("test_registration_fn>scaled") is scaled
    assert get_registered_name(plain) == keras.saving.get_registered_name(plain) == "plain"
    assert get_registered_name(kfit.layers.Dense) == "keras>Dense"  # a kfit built-in


def test_registering_a_name_again_replaces_it_as_in_keras_3():
    # Keras 3 replaces silently (Keras 2 raised): a notebook cell that defines a registered
    # class can run twice.
    first, second = _classes(object), _classes(object)
    register_keras_serializable("test_registration_again")(first)
    register_keras_serializable("test_registration_again")(second)
    keras_first, keras_second = _classes(object), _classes(object)
    keras.saving.register_keras_serializable("test_registration_again")(keras_first)
    keras.saving.register_keras_serializable("test_registration_again")(keras_second)
    assert get_registered_object("test_registration_again>Widget") is second
    assert keras.saving.get_registered_object("test_registration_again>Widget") is keras_second


def test_a_class_without_get_config_is_refused_as_in_keras():
    class Plain:
        pass

    with pytest.raises(ValueError, match=r"get_config\(\)"):
        register_keras_serializable("test_registration_bad")(Plain)
    with pytest.raises(ValueError, match="get_config"):
        keras.saving.register_keras_serializable("test_registration_bad")(Plain)
    assert get_registered_object("test_registration_bad>Plain") is None


def test_decorator_written_without_parentheses_is_an_error():
    # In Keras this silently replaces the class by the inner decorator function.
    with pytest.raises(TypeError, match=r"Received: package=<class .*Widget.*parentheses"):
        register_keras_serializable(_classes(object))
    with pytest.raises(TypeError, match=r"Received: name=3 \(of type int\)"):
        register_keras_serializable("pkg", 3)


def test_kfit_builtin_names_cannot_be_taken_over():
    class Dense(kfit.layers.Dense):
        pass

    with pytest.raises(ValueError, match=r"'keras>Dense'.*kfit\.layers\.dense\.Dense"):
        register_keras_serializable("keras")(Dense)
    assert get_registered_object("keras>Dense") is kfit.layers.Dense
    # Registering the built-in itself again changes nothing.
    assert register_keras_serializable("keras")(kfit.layers.Dense) is kfit.layers.Dense


def test_every_builtin_layer_and_model_is_registered_under_keras():
    classes = [getattr(kfit.layers, name) for name in kfit.layers.__all__]
    classes += [kfit.Model, kfit.Sequential]
    for cls in classes:
        if isinstance(cls, type):
            assert get_registered_object(f"keras>{cls.__name__}") is cls
            assert get_registered_name(cls) == f"keras>{cls.__name__}"


def test_lookup_order_scope_registry_custom_objects_module_objects_as_in_keras():
    def lookup(register, scope, get):
        marker = _classes(object)
        register("test_order")(marker)
        custom = {"test_order>Widget": "custom", "only_custom": "custom", "both": "custom"}
        module = {"test_order>Widget": "module", "only_module": "module", "both": "module"}
        with scope({"scoped": "scope", "test_order>Widget": "scope"}):
            inside = [get(name, custom, module) for name in ("scoped", "test_order>Widget")]
        outside = [
            get(name, custom, module)
            for name in ("test_order>Widget", "only_custom", "only_module", "both", "absent")
        ]
        outside[0] = "registry" if outside[0] is marker else outside[0]
        return inside, outside

    ours = lookup(register_keras_serializable, custom_object_scope, get_registered_object)
    theirs = lookup(
        keras.saving.register_keras_serializable,
        keras.saving.custom_object_scope,
        keras.saving.get_registered_object,
    )
    assert ours == theirs == (
        ["scope", "scope"],
        ["registry", "custom", "module", "custom", None],
    )


def test_scope_is_a_context_manager_and_alias_as_in_keras():
    assert custom_object_scope is CustomObjectScope
    assert keras.saving.custom_object_scope is keras.saving.CustomObjectScope
    with custom_object_scope({"scoped_fn": len}) as scope:
        assert isinstance(scope, CustomObjectScope)
        assert get_registered_object("scoped_fn") is len
    assert get_registered_object("scoped_fn") is None
    with custom_object_scope(None):
        assert get_registered_object("scoped_fn") is None


def test_nested_scopes_add_to_the_enclosing_one_and_restore_it():
    # Keras 3 replaces the enclosing scope's objects instead (docs/differences-from-keras.md).
    with custom_object_scope({"a": 1, "b": 1}):
        with custom_object_scope({"b": 2, "c": 2}):
            assert [get_registered_object(k) for k in "abc"] == [1, 2, 2]
        assert [get_registered_object(k) for k in "abc"] == [1, 1, None]
    assert [get_registered_object(k) for k in "abc"] == [None, None, None]


def test_scope_is_left_on_an_exception_and_is_reusable():
    scope = custom_object_scope({"x": 1})
    with pytest.raises(RuntimeError), scope:
        raise RuntimeError("boom")
    assert get_registered_object("x") is None
    with scope, scope:
        assert get_registered_object("x") == 1
    assert get_registered_object("x") is None


def test_scope_belongs_to_its_thread():
    seen = []
    with custom_object_scope({"threaded": 1}):
        worker = threading.Thread(target=lambda: seen.append(get_registered_object("threaded")))
        worker.start()
        worker.join()
        assert get_registered_object("threaded") == 1
    assert seen == [None]


def test_scope_rejects_a_non_mapping():
    with pytest.raises(TypeError, match=r"Received: custom_objects=\['MyLayer'\] \(of type list\)"):
        custom_object_scope(["MyLayer"])


def test_get_registered_name_of_an_instance_says_to_pass_the_class():
    with pytest.raises(TypeError, match=r"type\(obj\)"):
        get_registered_name(kfit.layers.Flatten())


# ---------------------------------------------------------------------------- import order
def _run(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
        check=False,
    )


@pytest.mark.parametrize("first", [
    "kfit.saving", "kfit.saving.model_io", "kfit.saving.object_registration", "kfit.models",
    "kfit.models.sequential", "kfit.layers.dense", "kfit.callbacks",
])
def test_any_module_can_be_imported_first(first):
    result = _run(f"import {first}; import kfit; kfit.models.load_model; kfit.saving.load_model")
    assert result.returncode == 0, result.stderr


def test_saving_imports_neither_layers_nor_models():
    # Stand-in for kfit/__init__.py, which would import everything: kfit.saving must load on
    # its own, so that kfit.layers and kfit.models can import it to register themselves.
    result = _run(
        "import sys, types\n"
        f"package = types.ModuleType('kfit'); package.__path__ = [{str(SRC / 'kfit')!r}]\n"
        "sys.modules['kfit'] = package\n"
        "import kfit.saving\n"
        "above = ('kfit.layers', 'kfit.models', 'kfit.trainers', 'kfit.callbacks', "
        "'kfit.losses', 'kfit.metrics', 'kfit.optimizers')\n"
        "print(sorted(m for m in sys.modules if m.startswith(above)))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
