"""Objects to JSON-ready configs and back: `serialize_keras_object`, `deserialize_keras_object`.

A serialized object is Keras 3's record:
`{"module": "keras.layers", "class_name": "Dense", "config": {...}, "registered_name": None}`.

- kfit's built-ins (the classes a public kfit namespace exports) are written the way Keras
  writes its own: `module` is that namespace with `keras` for `kfit` (`"keras.layers"`,
  `"keras.losses"`, `"keras"` for `Sequential` and `Model`) and `registered_name` is None.
- Any other class is written with its Python `module` (None for `__main__`, as in Keras) and
  `registered_name`: its `"package>Name"` key when registered, else its class name.
- A function is written by name, exactly as Keras writes it:
  `{"module": "builtins", "class_name": "function", "config": "my_fn", "registered_name":
  "function"}` (`config` is `"package>my_fn"` for a registered function).
- None, strings, numbers, booleans, and lists, tuples and dicts of them are kept as they are;
  numpy scalars become Python numbers, numpy arrays and torch tensors become `__numpy__` and
  `__tensor__` records holding their values as nested lists.

How loading finds a class (the first match wins):

1. its `registered_name` (the `class_name`, when the config has no `registered_name` field)
   in the active `custom_object_scope`, then the registry filled by
   `@register_keras_serializable`, then the `custom_objects` argument;
2. for a built-in (a `module` of `keras...` or `kfit...`): a loss, metric, optimizer,
   learning-rate schedule, initializer or activation config goes to that kfit namespace's own
   `deserialize`; a layer or model is the class registered as `"keras>" + class_name`;
3. (kfit only) its `class_name` in the scope or `custom_objects`, so that
   `custom_objects={"MyLayer": MyLayer}` also loads a class saved as `"my_project>MyLayer"`.

A function is found by its name in the scope, the registry or `custom_objects`, then among the
public functions of `kfit.activations`, `kfit.losses` and `kfit.metrics`.

Nothing is unpickled or evaluated, whatever `safe_mode` says: a lambda cannot be serialized
(Keras stores its bytecode and runs it on load when `safe_mode=False`), so name it with `def`.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from kfit.backend.conversion import to_host
from kfit.saving.object_registration import (
    BUILTIN_PACKAGE,
    custom_object_scope,
    get_registered_name,
    get_registered_object,
)
from kfit.utils.errors import received

__all__ = ["deserialize_keras_object", "find_class", "serialize_keras_object"]

_PLAIN_TYPES = (str, int, float, bool)

# Keras namespaces whose built-in configs are read by the kfit namespace's own `deserialize`,
# longest first. Layers and models are not listed: they are found in the registry.
_NAMESPACES = {
    "keras.optimizers.schedules": "kfit.optimizers.schedules",
    "keras.activations": "kfit.activations",
    "keras.initializers": "kfit.initializers",
    "keras.losses": "kfit.losses",
    "keras.metrics": "kfit.metrics",
    "keras.optimizers": "kfit.optimizers",
}
# Where a function saved by bare name (`"module": "builtins"`) can be one of kfit's own.
_FUNCTION_NAMESPACES = ("kfit.activations", "kfit.losses", "kfit.metrics")


# ---------------------------------------------------------------------------- serialize
def _public_module(cls: type) -> str | None:
    """`"keras.<namespace>"` for a class that a public kfit namespace exports, else None."""
    parts = cls.__module__.split(".")
    if parts[0] != "kfit":
        return None
    # The shortest public module that lists the class is its namespace: kfit.layers, not
    # kfit.layers.dense.
    for end in range(1, len(parts) + 1):
        if parts[end - 1].startswith("_"):
            return None
        namespace = sys.modules.get(".".join(parts[:end]))
        exported = cls.__name__ in getattr(namespace, "__all__", ())
        if exported and getattr(namespace, cls.__name__, None) is cls:
            return ".".join(["keras", *parts[1:end]])
    return None


def _tensor_record(tensor: torch.Tensor) -> dict[str, Any]:
    # numpy has no bfloat16; float32 holds every bfloat16 value exactly.
    values = to_host(tensor.float() if tensor.dtype == torch.bfloat16 else tensor).tolist()
    return {
        "class_name": "__tensor__",
        "config": {"value": values, "dtype": str(tensor.dtype).removeprefix("torch.")},
    }


def serialize_keras_object(obj: Any) -> Any:
    """Returns a JSON-ready description of `obj` that `deserialize_keras_object` turns back.

    Objects with `get_config()` become Keras 3 records (`module`, `class_name`, `config`,
    `registered_name`); functions are saved by name; plain values pass through (see the
    module docstring for every case).

    Args:
        obj: A layer, model, loss, metric, optimizer, any object with `get_config()`, a named
            function, or plain data (None, str, int, float, bool, lists, tuples, dicts, numpy
            values, tensors).

    Returns:
        A dict, list, tuple or plain value.

    Raises:
        ValueError: For a lambda (kfit never saves code).
        TypeError: For a class, or an object that has no `get_config()`.

    Example:
        >>> import kfit
        >>> record = serialize_keras_object(kfit.layers.Dropout(0.5, name="drop"))
        >>> record["module"], record["class_name"], record["registered_name"]
        ('keras.layers', 'Dropout', None)
        >>> record["config"]["rate"]
        0.5
        >>> serialize_keras_object(kfit.activations.relu)
        {'module': 'builtins', 'class_name': 'function', 'config': 'relu', 'registered_name': 'function'}
        >>> serialize_keras_object({"units": 3, "shape": (2, None)})
        {'units': 3, 'shape': (2, None)}
    """
    if obj is None or isinstance(obj, _PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(item) for item in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, torch.Tensor):
        return _tensor_record(obj)
    if type(obj).__module__ == "numpy":
        if isinstance(obj, np.ndarray) and obj.ndim > 0:
            values = {"value": obj.tolist(), "dtype": str(obj.dtype)}
            return {"class_name": "__numpy__", "config": values}
        return obj.item()
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        raise ValueError(
            "Expected a function defined with `def`, which is saved by its name. Received: "
            f"obj={obj!r} (of type function), a lambda. kfit never saves code (Keras stores "
            "a lambda's bytecode, which loading would have to run): define it with `def` and "
            "register it with @kfit.saving.register_keras_serializable(), or pass it in "
            "`custom_objects` when loading."
        )
    if inspect.isroutine(obj):
        return {
            "module": "builtins",
            "class_name": "function",
            "config": get_registered_name(obj),
            "registered_name": "function",
        }
    if inspect.isclass(obj):
        raise TypeError(
            "Expected an object to serialize, not a class. "
            f"{received('obj', obj)} Pass an instance, or save the class by name with "
            "get_registered_name(cls)."
        )
    get_config = getattr(obj, "get_config", None)
    if not callable(get_config):
        raise TypeError(
            "Expected a JSON value, a named function, or an object with a get_config() "
            f"method. {received('obj', obj)} Give its class a get_config() that returns its "
            "__init__ arguments."
        )
    cls = type(obj)
    config = get_config()
    if not isinstance(config, dict):
        raise TypeError(
            f"Expected {cls.__name__}.get_config() to return a dict. "
            f"{received('config', config)} Return a dict of the __init__ arguments."
        )
    module = _public_module(cls)
    registered_name = None
    if module is None:
        module = None if cls.__module__ == "__main__" else cls.__module__
        registered_name = get_registered_name(cls)
    return {
        "module": module,
        "class_name": cls.__name__,
        "config": serialize_keras_object(config),
        "registered_name": registered_name,
    }


# ---------------------------------------------------------------------------- deserialize
def _public_name(module: Any) -> str | None:
    """`module` with `kfit` spelled `keras`, when it names a built-in namespace; else None."""
    if not isinstance(module, str):
        return None
    root, dot, rest = module.partition(".")
    return f"keras{dot}{rest}" if root in ("keras", "kfit") else None


def _delegated_namespace(module: Any) -> str | None:
    public = _public_name(module)
    if public is None:
        return None
    for prefix, namespace in _NAMESPACES.items():
        if public == prefix or public.startswith(prefix + "."):
            return namespace
    return None


def find_class(
    config: Mapping[str, Any],
    custom_objects: Mapping[str, Any] | None = None,
    module_objects: Mapping[str, Any] | None = None,
) -> Any:
    """Returns the class a serialized record names, or None when nothing matches.

    Steps 1 to 3 of the module docstring, without instantiating anything: the registered name
    in the scope, registry and `custom_objects`; for a `keras...`/`kfit...` module, the class
    registered as `"keras>" + class_name`; then the class name in the scope and
    `custom_objects`. Losses, metrics and optimizers are not registered classes: pass their
    records to `deserialize_keras_object`.

    Args:
        config: A record with `class_name` (and usually `module` and `registered_name`).
        custom_objects: Names given by the user.
        module_objects: Names a library adds to the search (looked at last).

    Returns:
        The class (or whatever object the name maps to), or None.

    Example:
        >>> import kfit
        >>> find_class({"module": "keras.layers", "class_name": "Dense", "registered_name": None})
        <class 'kfit.layers.dense.Dense'>
        >>> find_class({"module": None, "class_name": "Mine", "registered_name": "Mine"}) is None
        True
    """
    class_name = config.get("class_name")
    registered_name = config.get("registered_name", class_name)
    found = get_registered_object(registered_name, custom_objects, module_objects)
    if found is None and _public_name(config.get("module")) is not None:
        found = get_registered_object(f"{BUILTIN_PACKAGE}>{class_name}")
    if found is None and registered_name != class_name:
        found = get_registered_object(class_name, custom_objects, module_objects)
    return found


def _find_function(
    name: Any,
    module: Any,
    custom_objects: Mapping[str, Any] | None,
    module_objects: Mapping[str, Any] | None,
) -> Any | None:
    found = get_registered_object(name, custom_objects, module_objects)
    if found is not None or not isinstance(name, str):
        return found
    namespace = _delegated_namespace(module)
    if namespace is not None:
        candidates: tuple[str, ...] = (namespace,)
    elif module == "builtins":
        candidates = _FUNCTION_NAMESPACES
    else:
        return None
    for candidate in candidates:
        namespace_module = importlib.import_module(candidate)
        function = getattr(namespace_module, name, None)
        if name in getattr(namespace_module, "__all__", ()) and inspect.isroutine(function):
            return function
    return None


def _torch_dtype(name: Any) -> torch.dtype:
    dtype = getattr(torch, name, None) if isinstance(name, str) else None
    if not isinstance(dtype, torch.dtype):
        raise ValueError(
            "Expected the dtype of a saved tensor to be a torch dtype name such as 'float32'. "
            f"{received('dtype', name)} The config is damaged or was not written by "
            "serialize_keras_object(); save it again."
        )
    return dtype


def _not_found(kind: str, name: Any, config: Mapping[str, Any]) -> TypeError:
    return TypeError(
        f"Could not locate {kind} {name!r}: expected a kfit built-in, an object registered "
        "with @kfit.saving.register_keras_serializable(), or a name in the active "
        f"custom_object_scope or in `custom_objects`. Received: config={dict(config)!r} "
        f"(of type dict). Register the {kind}, or pass custom_objects={{{name!r}: ...}}; "
        "if it is registered, import the module that defines it before loading."
    )


def deserialize_keras_object(
    config: Any,
    custom_objects: Mapping[str, Any] | None = None,
    safe_mode: bool = True,
    **kwargs: Any,
) -> Any:
    """Rebuilds the object that `serialize_keras_object` described.

    Classes are found as the module docstring lists (registry, `custom_objects`, the active
    `custom_object_scope`, kfit's built-ins) and built with `cls.from_config(config)` inside a
    scope that holds `custom_objects`, so that a `from_config` which deserializes nested
    objects finds them too. A string is looked up by name and returned unchanged when nothing
    matches; lists and plain dicts are rebuilt item by item. A record's `build_config` and
    `compile_config` are not applied (`load_model` applies them).

    Args:
        config: A record, a name, or a list or dict of them.
        custom_objects: Maps names to user classes and functions.
        safe_mode: Accepted for Keras compatibility. kfit never evaluates code from a config
            (it cannot contain any), with either value.
        **kwargs: `module_objects`, names a library adds to the search (looked at last).

    Returns:
        The object.

    Raises:
        TypeError: If a class or function cannot be located, or `from_config` rejects its
            config.
        ValueError: For a serialized lambda, which kfit never loads.

    Example:
        >>> import kfit
        >>> layer = deserialize_keras_object(serialize_keras_object(kfit.layers.Dense(3, name="out")))
        >>> type(layer).__name__, layer.units, layer.name
        ('Dense', 3, 'out')
        >>> deserialize_keras_object(serialize_keras_object(kfit.losses.Huber(delta=2.0))).get_config()["delta"]
        2.0
        >>> record = {"module": "builtins", "class_name": "function", "config": "relu",
        ...           "registered_name": "function"}
        >>> deserialize_keras_object(record) is kfit.activations.relu
        True
    """
    del safe_mode  # nothing below can run code from the config
    module_objects = kwargs.pop("module_objects", None)
    if kwargs:
        raise TypeError(
            "Expected no keyword arguments besides `custom_objects`, `safe_mode` and "
            f"`module_objects`. Received: {sorted(kwargs)!r} (of type list). Remove them."
        )

    def rebuild(value: Any) -> Any:
        return deserialize_keras_object(value, custom_objects, module_objects=module_objects)

    if config is None:
        return None
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects, module_objects)
        return config if found is None else found
    if isinstance(config, _PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [rebuild(item) for item in config]
    if not isinstance(config, Mapping):
        raise TypeError(
            "Expected a config: a dict, a list, a string or a number. "
            f"{received('config', config)} Pass what serialize_keras_object() returned."
        )
    if "class_name" not in config or "config" not in config:
        return {key: rebuild(value) for key, value in config.items()}

    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        return torch.tensor(inner["value"], dtype=_torch_dtype(inner["dtype"]))
    if class_name == "__lambda__":
        raise ValueError(
            "Expected a config without code. Received: config with class_name='__lambda__' "
            "(of type dict), a lambda that Keras stored as bytecode. kfit never runs code "
            "from a saved file, whatever `safe_mode` says: define the function with `def`, "
            "register it with @kfit.saving.register_keras_serializable(), and save again."
        )
    module = config.get("module")
    if class_name == "function":
        function = _find_function(inner, module, custom_objects, module_objects)
        if function is None:
            raise _not_found("function", inner, config)
        return function
    if not isinstance(inner, Mapping):
        raise TypeError(
            f"Expected the 'config' of a {class_name!r} record to be a dict. "
            f"{received('config', inner)} Pass what serialize_keras_object() returned."
        )

    registered_name = config.get("registered_name", class_name)
    cls = get_registered_object(registered_name, custom_objects, module_objects)
    namespace = _delegated_namespace(module)
    if cls is None and namespace is not None:
        # Imported here: losses, metrics and optimizers may register classes of their own,
        # which makes them import kfit.saving.
        return importlib.import_module(namespace).deserialize(
            {"class_name": class_name, "config": dict(inner)},
            custom_objects=dict(custom_objects or {}),
        )
    if cls is None:
        cls = find_class(config, custom_objects, module_objects)
    if cls is None:
        raise _not_found("class", class_name, config)
    if inspect.isroutine(cls):
        return cls
    from_config = getattr(cls, "from_config", None)
    if not callable(from_config):
        raise TypeError(
            f"Expected {class_name} to have a from_config() classmethod to rebuild it. "
            f"Received: {cls!r} (of type {type(cls).__name__}), without one. Define "
            "from_config(cls, config), e.g. returning cls(**config)."
        )
    with custom_object_scope(custom_objects):
        try:
            return from_config(dict(inner))
        except TypeError as e:
            raise TypeError(
                f"Could not rebuild {class_name} from its config ({e}). Received: "
                f"config={dict(inner)!r} (of type dict). Give {class_name} a get_config() "
                "that returns its __init__ arguments, and a from_config() that deserializes "
                "nested objects (layers, models) with deserialize_keras_object()."
            ) from e
