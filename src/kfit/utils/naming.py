"""Object names: the one snake_case rule and the one counter behind every automatic name.

Layers, models, losses, metrics and optimizers all name themselves the way Keras does:
`auto_name("Dense")` gives `"dense"`, then `"dense_1"`, `"dense_2"`, ... As in Keras, there
is a single counter per base name for the whole process, shared by every kind of object, so a
metric and a layer of the same class name never get the same automatic name.
`reset_uids` (called by `clear_session`) starts every counter over.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

__all__ = ["auto_name", "get_object_name", "reset_uids", "to_snake_case", "uniquify"]

# How many objects have asked for each base name so far.
_NAME_UIDS: defaultdict[str, int] = defaultdict(int)


def to_snake_case(name: str) -> str:
    """Converts a class name to snake_case exactly as Keras does.

    Characters other than letters, digits and `_` are dropped first; a digit followed by a
    capital does not start a new word (`"Conv2D"` gives `"conv2d"`).

    Args:
        name: A class or function name such as `"MeanSquaredError"`.

    Returns:
        The snake_case form, e.g. `"mean_squared_error"`.

    Example:
        >>> to_snake_case("SparseCategoricalAccuracy")
        'sparse_categorical_accuracy'
        >>> to_snake_case("RMSprop"), to_snake_case("Conv2D")
        ('rm_sprop', 'conv2d')
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def uniquify(name: str) -> str:
    """Returns `name` the first time, then `name_1`, `name_2`, ... on later calls.

    Args:
        name: The base name (used as given; see `auto_name` to start from a class name).

    Returns:
        A name no earlier call returned for this base.

    Example:
        >>> uniquify("naming_doc_example"), uniquify("naming_doc_example")
        ('naming_doc_example', 'naming_doc_example_1')
    """
    uid = _NAME_UIDS[name]
    _NAME_UIDS[name] += 1
    return f"{name}_{uid}" if uid else name


def reset_uids() -> None:
    """Starts every name counter over: the next `uniquify("dense")` returns `"dense"` again.

    Existing objects keep their names, so a model built afterwards may repeat them.

    Example:
        >>> uniquify("reset_doc_example"), uniquify("reset_doc_example")
        ('reset_doc_example', 'reset_doc_example_1')
        >>> reset_uids()
        >>> uniquify("reset_doc_example")
        'reset_doc_example'
    """
    _NAME_UIDS.clear()


def auto_name(class_name: str) -> str:
    """The default name of a new object: its snake_cased class name, made unique.

    Args:
        class_name: The object's class name, e.g. `type(self).__name__`.

    Returns:
        `to_snake_case(class_name)`, with a `_<n>` suffix after the first use.

    Example:
        >>> auto_name("AutoNameDocExample"), auto_name("AutoNameDocExample")
        ('auto_name_doc_example', 'auto_name_doc_example_1')
    """
    return uniquify(to_snake_case(class_name))


def get_object_name(obj: Any) -> str:
    """The name under which an object is logged: its `name`, else its snake_cased (class) name.

    Args:
        obj: A named object (metric, loss, layer), a function or any other instance.

    Returns:
        `obj.name` when it exists, else `to_snake_case` of the function or class name.

    Example:
        >>> def MyMetric(y_true, y_pred): ...
        >>> get_object_name(MyMetric)
        'my_metric'
    """
    if hasattr(obj, "name"):
        return obj.name
    if hasattr(obj, "__name__"):
        return to_snake_case(obj.__name__)
    return to_snake_case(type(obj).__name__)
