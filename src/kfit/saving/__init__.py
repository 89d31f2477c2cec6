"""Pickle-free, crash-safe files for weights and training state.

`save_weights`/`load_weights` store a module's state_dict as `.weights.h5` (HDF5) or
`.safetensors`; `save_state`/`load_state` add JSON state for resuming training. Every file
is written to a temporary sibling and renamed into place, so an interrupted save never
leaves a half-written file behind.
"""

from kfit.saving.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from kfit.saving.safetensors_io import load_tensors, save_tensors
from kfit.saving.weights import load_state, load_weights, save_state, save_weights

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_state",
    "load_tensors",
    "load_weights",
    "save_state",
    "save_tensors",
    "save_weights",
]
