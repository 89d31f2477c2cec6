"""The shared wording of kfit's error messages.

kfit's errors say what was expected, then what was received, then how to fix it. The middle
sentence always reads `Received: arg=<repr> (of type T).`; `received` writes it, and
`unknown_identifier_error` is the whole message for a name that a `get()` does not know.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["received", "unknown_identifier_error"]


def received(name: str, value: Any) -> str:
    """The `Received: ...` sentence of an error message about argument `name`.

    Args:
        name: The argument's name as the user wrote it.
        value: The value that was passed.

    Returns:
        `"Received: name=<repr> (of type T)."`

    Example:
        >>> received("units", "10")
        "Received: units='10' (of type str)."
    """
    return f"Received: {name}={value!r} (of type {type(value).__name__})."


def unknown_identifier_error(kind: str, identifier: Any, options: Iterable[str]) -> ValueError:
    """The error for an identifier that names none of `options`, suggesting close matches.

    Args:
        kind: What was looked up, in the singular: `"loss"`, `"metric"`, ...; the message
            points at its namespace (`kfit.losses`, `kfit.metrics`).
        identifier: The identifier that was not understood.
        options: The names that would have been understood.

    Returns:
        A `ValueError` to raise.

    Example:
        >>> print(unknown_identifier_error("loss", "mse2", ["mse", "mae"]))  # doctest: +ELLIPSIS
        Could not interpret loss identifier: ... identifier='mse2' (of type str). Did you mean 'mse'?
    """
    matches = difflib.get_close_matches(str(identifier), sorted(set(options)), n=3)
    namespace = f"kfit.{kind}es" if kind.endswith("s") else f"kfit.{kind}s"
    hint = (
        f"Did you mean {' or '.join(repr(m) for m in matches)}?"
        if matches
        else f"Use one of the built-in {kind} names (see `{namespace}`), an object or a callable."
    )
    return ValueError(
        f"Could not interpret {kind} identifier: expected the name of a built-in {kind}, "
        f"a {kind} object, a callable or a config dict. {received('identifier', identifier)} {hint}"
    )
