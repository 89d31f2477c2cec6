"""The serialization registry: which class or function a saved name stands for.

A saved config names its objects by string: a class as `{"class_name": "MyLayer", "module":
..., "registered_name": "my_package>MyLayer"}`, a function as its name. When a config is
loaded (`deserialize_keras_object`, `load_model`), each name is looked up, as in Keras 3, in:

1. the active `custom_object_scope` (a nested scope adds its entries to the enclosing
   scope's; in Keras 3 it replaces them);
2. the registry that `@register_keras_serializable(package, name)` fills, keyed
   `"package>name"` (the class's own name by default);
3. the `custom_objects` passed to the loading call.

kfit's own layers and models register themselves under the package `"keras"` (`"keras>Dense"`,
`"keras>Sequential"`), because a config written by Keras or kfit for a built-in says only
`{"module": "keras.layers", "class_name": "Dense", "registered_name": None}`: the loader finds
it as `"keras>" + class_name`. kfit.saving finds kfit's built-in classes the same way, rather
than importing `kfit.layers` or `kfit.models`, which import kfit.saving to register themselves.

The registry is global to the process; a scope belongs to the thread that opened it. Its
user part is the dict `get_custom_objects()` returns, as Keras's is: adding to it registers a name
(`get_custom_objects()["MyLayer"] = MyLayer`) and clearing it forgets the user's registrations;
kfit's built-ins are kept apart, so clearing it leaves them loadable.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from kfit.utils.errors import received

__all__ = [
    "BUILTIN_PACKAGE",
    "CustomObjectScope",
    "custom_object_scope",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "register_keras_serializable",
]

_T = TypeVar("_T")

# The package kfit's built-in layers and models are registered under: a Keras config names a
# built-in by `class_name` alone, and the loader looks it up as "keras>" + class_name.
BUILTIN_PACKAGE = "keras"

_OBJECTS: dict[str, Any] = {}  # "package>name" -> the user's class or function
_BUILTINS: dict[str, Any] = {}  # "keras>name" -> kfit's own class or function
_NAMES: dict[Any, str] = {}  # class or function -> "package>name"
_SCOPES = threading.local()


def _scope_objects() -> dict[str, Any]:
    return getattr(_SCOPES, "objects", {})


def _is_kfit_builtin(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "")).split(".")[0] == "kfit"


class CustomObjectScope:
    """Makes user classes and functions visible to deserialization inside a `with` block.

    Inside the block, `deserialize_keras_object`, `load_model` and `get_registered_object`
    resolve the names in `custom_objects` as if they had been passed to them. A nested scope
    adds to the enclosing one (its entries win on a clash); leaving it restores the enclosing
    scope. `custom_object_scope` is the same class, under Keras's other name.

    Args:
        custom_objects: Maps the names used in saved configs (class or function names, or
            registered `"package>name"` keys) to the objects.

    Example:
        >>> class Scale:
        ...     def get_config(self):
        ...         return {}
        >>> with CustomObjectScope({"Scale": Scale}):
        ...     get_registered_object("Scale") is Scale
        True
        >>> get_registered_object("Scale") is None
        True
    """

    def __init__(self, custom_objects: Mapping[str, Any] | None) -> None:
        if custom_objects is not None and not isinstance(custom_objects, Mapping):
            raise TypeError(
                "Expected `custom_objects` to be a dict mapping names to classes or "
                f"functions. {received('custom_objects', custom_objects)} Pass e.g. "
                "{'MyLayer': MyLayer}."
            )
        self.custom_objects: dict[str, Any] = dict(custom_objects or {})
        self._enclosing: list[dict[str, Any]] = []

    def __enter__(self) -> CustomObjectScope:
        enclosing = _scope_objects()
        self._enclosing.append(enclosing)
        _SCOPES.objects = {**enclosing, **self.custom_objects}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _SCOPES.objects = self._enclosing.pop()


custom_object_scope = CustomObjectScope


def register_keras_serializable(
    package: str = "Custom", name: str | None = None
) -> Callable[[_T], _T]:
    """Registers a class or function under `"package>name"`, so that loading finds it.

    A registered object needs no entry in `custom_objects`: `serialize_keras_object` records
    the key in the config's `registered_name`, and loading looks it up here. Registering a
    name again replaces the earlier object (as in Keras 3, so that a notebook cell defining
    a class can run twice). A class must define `get_config()`.

    Args:
        package: The first part of the key; use your project's name.
        name: The second part; the object's `__name__` by default.

    Returns:
        A decorator that registers its argument and returns it unchanged.

    Raises:
        TypeError: If `package` or `name` is not a string, typically because the decorator
            was written without parentheses.
        ValueError: If a class has no `get_config()`, or the key is one of kfit's own
            built-ins (`"keras>Dense"`), which would change how every saved `Dense` loads.

    Example:
        >>> import kfit
        >>> @register_keras_serializable(package="my_project")
        ... class Scale(kfit.layers.Layer):
        ...     pass
        >>> get_registered_name(Scale)
        'my_project>Scale'
        >>> get_registered_object("my_project>Scale") is Scale
        True
    """
    if not isinstance(package, str):
        raise TypeError(
            "Expected `package` to be a string, the first part of the registered name "
            f"'package>name'. {received('package', package)} Call the decorator with "
            "parentheses: @register_keras_serializable() or "
            "@register_keras_serializable(package='my_project')."
        )
    if name is not None and not isinstance(name, str):
        raise TypeError(
            "Expected `name` to be a string or None (the object's own name). "
            f"{received('name', name)} Pass e.g. name='MyLayer'."
        )

    def decorator(obj: _T) -> _T:
        object_name = name if name is not None else getattr(obj, "__name__", None)
        if not isinstance(object_name, str):
            raise TypeError(
                "Expected a class or function, which has a `__name__` to register it under. "
                f"{received('obj', obj)} Decorate the class or function itself, or pass name=."
            )
        key = f"{package}>{object_name}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(
                "Expected a class that defines get_config(), which saving calls to record "
                f"its constructor arguments. Received: {obj!r} (of type type), without one. "
                "Define get_config() returning a dict of the __init__ arguments."
            )
        current = _BUILTINS.get(key)
        if current is not None and not _is_kfit_builtin(obj):
            raise ValueError(
                f"Expected a registered name that no kfit built-in uses. Received: "
                f"package={package!r} and name={object_name!r}, the key {key!r} of "
                f"{current.__module__}.{current.__qualname__}; taking it over would change "
                "what every saved config of that built-in loads as. Use your own package, "
                "e.g. @register_keras_serializable(package='my_project')."
            )
        (_BUILTINS if _is_kfit_builtin(obj) else _OBJECTS)[key] = obj
        _NAMES[obj] = key
        return obj

    return decorator


def get_custom_objects() -> dict[str, Any]:
    """The live dict of the user's registered classes and functions, keyed as loading looks them up.

    This is the registry itself, not a copy: `@register_keras_serializable` adds
    `"package>name"` keys to it, and an entry added by hand (a plain class name, say) is found
    by loading as a registered one is. Clearing it forgets the user's registrations; kfit's
    built-ins are kept apart and stay loadable.

    Returns:
        The mutable mapping from names to classes or functions.

    Example:
        >>> class Doubler:
        ...     def get_config(self):
        ...         return {}
        >>> get_custom_objects()["Doubler"] = Doubler
        >>> get_registered_object("Doubler") is Doubler
        True
        >>> del get_custom_objects()["Doubler"]
    """
    return _OBJECTS


def get_registered_name(obj: Any) -> str:
    """Returns the name `obj` is registered under, or its `__name__` when it is not registered.

    Args:
        obj: A class or function.

    Returns:
        `"package>name"` for a registered object, else `obj.__name__`.

    Example:
        >>> def double(x):
        ...     return 2 * x
        >>> get_registered_name(double)
        'double'
    """
    try:
        registered = _NAMES.get(obj)
    except TypeError:  # an unhashable object cannot have been registered
        registered = None
    if registered is not None:
        return registered
    object_name = getattr(obj, "__name__", None)
    if not isinstance(object_name, str):
        raise TypeError(
            "Expected a class or function, which has a `__name__`. "
            f"{received('obj', obj)} Pass the class itself (type(obj)) for an instance."
        )
    return object_name


def get_registered_object(
    name: str | None,
    custom_objects: Mapping[str, Any] | None = None,
    module_objects: Mapping[str, Any] | None = None,
) -> Any:
    """Returns the class or function that `name` stands for, or None when nothing matches.

    Looks in the active `custom_object_scope`, then the registry, then `custom_objects`,
    then `module_objects`, as Keras does.

    Args:
        name: A registered key (`"package>name"`) or a plain name.
        custom_objects: Names given by the user, e.g. `load_model`'s `custom_objects`.
        module_objects: Names a library adds to the search (looked at last).

    Returns:
        The object, or None.

    Example:
        >>> import kfit
        >>> get_registered_object("keras>Dense") is kfit.layers.Dense
        True
        >>> get_registered_object("Dense", custom_objects={"Dense": kfit.layers.Dense}).__name__
        'Dense'
        >>> get_registered_object("Dense") is None
        True
    """
    if name is None:  # what a built-in's record has as its registered name
        return None
    scope = _scope_objects()
    if name in scope:
        return scope[name]
    if name in _OBJECTS:
        return _OBJECTS[name]
    if name in _BUILTINS:
        return _BUILTINS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None
