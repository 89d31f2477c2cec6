"""`Config`: a dict of named settings with attribute access, freezing and JSON export."""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Any

from kfit.utils.errors import received

__all__ = ["Config"]

_MISSING = object()


class Config:
    """A container of named values (an experiment's hyperparameters, say), read and set as
    attributes or as dict entries.

    Entries given to the constructor or set later (`config.seed = 1` or `config["seed"] = 1`)
    live in one dict, which `as_dict()` copies and `to_json()` serializes. `freeze()` makes
    every later change an error, so that nothing alters the settings once a run has started;
    `unfreeze()` allows changes again. As in Keras, iterating over a config gives its keys
    sorted, while `keys()`, `values()` and `items()` keep insertion order.

    The names of `Config`'s own methods (`keys`, `get`, `freeze`, ...) cannot be set as
    attributes; store such an entry with `config["keys"] = ...`.

    Args:
        **kwargs: The initial entries.

    Example:
        >>> config = Config(learning_rate=0.1, momentum=0.9)
        >>> config.seed = 123
        >>> config["learning_rate"], config.seed, len(config)
        (0.1, 123, 3)
        >>> config.freeze()
        >>> config.seed = 7
        Traceback (most recent call last):
        ...
        ValueError: Expected an unfrozen Config to change an entry. ...
        >>> config.to_json()
        '{"learning_rate": 0.1, "momentum": 0.9, "seed": 123}'
    """

    __slots__ = ("_config", "_frozen")

    def __init__(self, **kwargs: Any) -> None:
        object.__setattr__(self, "_config", dict(kwargs))
        object.__setattr__(self, "_frozen", False)

    # ------------------------------------------------------------------ freezing
    @property
    def frozen(self) -> bool:
        """Whether changes are refused (see `freeze`)."""
        return self._frozen

    def freeze(self) -> None:
        """Refuses every later change (setting, deleting, `update`, `pop`) with a ValueError."""
        object.__setattr__(self, "_frozen", True)

    def unfreeze(self) -> None:
        """Allows changes again after `freeze`."""
        object.__setattr__(self, "_frozen", False)

    def _check_not_frozen(self, key: Any) -> None:
        if self._frozen:
            raise ValueError(
                f"Expected an unfrozen Config to change an entry. Received: a change of {key!r} "
                "after freeze(). Call config.unfreeze() first, or make the change before "
                "freezing."
            )

    # ------------------------------------------------------------------ export
    def as_dict(self) -> dict[str, Any]:
        """A shallow copy of the entries, as a plain dict.

        Example:
            >>> Config(units=4).as_dict()
            {'units': 4}
        """
        return copy.copy(self._config)

    def to_json(self) -> str:
        """The entries as a JSON object.

        Raises:
            TypeError: when an entry has no JSON form (a function, a tensor, ...).

        Example:
            >>> Config(units=4, name="mlp").to_json()
            '{"units": 4, "name": "mlp"}'
        """
        return json.dumps(self._config)

    # ------------------------------------------------------------------ dict methods
    def keys(self) -> KeysView[str]:
        return self._config.keys()

    def values(self) -> ValuesView[Any]:
        return self._config.values()

    def items(self) -> ItemsView[str, Any]:
        return self._config.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._config.get(key, default)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """Removes `key` and returns its value (or `default`; a KeyError without one)."""
        self._check_not_frozen(key)
        if default is _MISSING:
            return self._config.pop(key)
        return self._config.pop(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Adds or replaces entries, as `dict.update` does."""
        self._check_not_frozen(sorted(dict(*args, **kwargs)))
        self._config.update(*args, **kwargs)

    def __getitem__(self, key: str) -> Any:
        return self._config[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_not_frozen(key)
        self._config[key] = value

    def __delitem__(self, key: str) -> None:
        self._check_not_frozen(key)
        del self._config[key]

    def __contains__(self, key: object) -> bool:
        return key in self._config

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._config))

    def __len__(self) -> int:
        return len(self._config)

    def __repr__(self) -> str:
        return f"<Config {self._config}>"

    # ------------------------------------------------------------------ attribute access
    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: the methods and properties above win.
        if name in Config.__slots__:
            raise AttributeError(name)  # not initialised yet (copy, unpickling)
        config = self._config
        if name in config:
            return config[name]
        message = f"Expected the name of an entry of this Config. Received: {name!r}."
        close = difflib.get_close_matches(name, [str(k) for k in config], n=1, cutoff=0.7)
        message += f" Did you mean {close[0]!r}?" if close else f" Its entries are {sorted(config)}."
        raise AttributeError(message)

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(type(self), name):
            raise AttributeError(
                f"Expected an entry name that is not one of Config's own attributes. "
                f"{received('name', name)} Set it as an item instead: config[{name!r}] = value."
            )
        self._check_not_frozen(name)
        self._config[name] = value

    def __delattr__(self, name: str) -> None:
        if name not in self._config:
            raise AttributeError(f"Expected the name of an entry of this Config. Received: {name!r}.")
        self._check_not_frozen(name)
        del self._config[name]

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self._config, "frozen": self._frozen}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "_config", state["config"])
        object.__setattr__(self, "_frozen", state["frozen"])
