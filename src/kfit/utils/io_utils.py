"""Where kfit's console output goes: standard output, or Python's `logging` for batch jobs.

The progress bar of `fit`/`evaluate`/`predict` and `Model.summary` print to standard output
while *interactive logging* is on (the default). `disable_interactive_logging()` sends the same
text, one complete line or table per record, to the `logging` logger named `"kfit"` at level
INFO instead, as Keras sends it to `absl.logging`: a server job then gets timestamped records in
its log rather than a redrawn bar full of control characters. The switch is process-wide;
`clear_session` turns interactive logging back on.

Output that a caller directs itself (`Progbar(file=...)`, `summary(print_fn=...)`) goes where
it says, whatever the switch.
"""

from __future__ import annotations

import logging
import sys

__all__ = [
    "LOGGER_NAME",
    "disable_interactive_logging",
    "enable_interactive_logging",
    "is_interactive_logging_enabled",
    "print_msg",
]

LOGGER_NAME = "kfit"

_interactive = True


def enable_interactive_logging() -> None:
    """Sends progress bars and summaries to standard output (the default).

    Example:
        >>> disable_interactive_logging()
        >>> enable_interactive_logging()
        >>> is_interactive_logging_enabled()
        True
    """
    global _interactive
    _interactive = True


def disable_interactive_logging() -> None:
    """Sends progress bars and summaries to the `logging` logger `"kfit"` (level INFO).

    Configure that logger (or the root logger) to see them, e.g. with
    `logging.basicConfig(level=logging.INFO)`.

    Example:
        >>> disable_interactive_logging()
        >>> is_interactive_logging_enabled()
        False
        >>> enable_interactive_logging()
    """
    global _interactive
    _interactive = False


def is_interactive_logging_enabled() -> bool:
    """Whether progress bars and summaries print to standard output (else to `logging`).

    Example:
        >>> is_interactive_logging_enabled()
        True
    """
    return _interactive


def print_msg(message: str, line_break: bool = True) -> None:
    """Prints `message` to standard output, or logs it when interactive logging is off.

    Args:
        message: The text; a logged message is one record, without its final newline.
        line_break: Whether to end the printed text with a newline.

    Example:
        >>> print_msg("epoch 1 done")
        epoch 1 done
    """
    message = str(message)
    if not _interactive:
        logging.getLogger(LOGGER_NAME).info(message.rstrip("\n"))
        return
    text = message + "\n" if line_break else message
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        # A console that cannot encode the summary's box-drawing characters gets what it can.
        encoding = sys.stdout.encoding or "utf-8"
        sys.stdout.write(text.encode(encoding, errors="replace").decode(encoding))
    sys.stdout.flush()
