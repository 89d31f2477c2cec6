"""`clear_session`: forgets the process-wide state that building models leaves behind."""

from __future__ import annotations

import gc

import torch

__all__ = ["clear_session"]


def clear_session(free_memory: bool = True) -> None:
    """Resets kfit's global state, as Keras's `clear_session` does.

    Afterwards automatic names start over (the next `Dense` is `"dense"` again), the global
    dtype policy is the default one (`floatx()`'s), interactive logging is on, and the caches of
    `torch.compile` are dropped. Call it between experiments that build many models in one
    process, so that names stay short and predictable. `floatx()`, the image data format and
    the registry of custom objects are settings, and are kept. Models and layers that still
    exist keep working (and keep their names).

    Args:
        free_memory: Whether to run Python's garbage collector afterwards, so that the memory
            of models no longer referenced is released now (it can take a moment).

    Example:
        >>> import kfit
        >>> _ = kfit.layers.Dense(1)
        >>> clear_session()
        >>> kfit.layers.Dense(1).name
        'dense'
    """
    # Imported here: the backend sits below these packages, which import it.
    from kfit.mixed_precision.policy import reset_dtype_policy
    from kfit.utils import io_utils, naming

    naming.reset_uids()
    reset_dtype_policy()
    io_utils.enable_interactive_logging()
    torch.compiler.reset()
    if free_memory:
        gc.collect()
