"""Pickle-free, crash-safe files for models, weights and training state.

`save_model`/`load_model` store a whole model as a `.keras` archive (config, weights,
optimizer state); `save_weights`/`load_weights` store a module's state_dict as
`.weights.h5` (HDF5) or `.safetensors`; `save_state`/`load_state` add JSON state, and
`save_checkpoint`/`load_checkpoint` keep weights, optimizer state and training progress
together for resuming. Every file is written to a temporary sibling and renamed into place,
so an interrupted save never leaves a half-written file behind.
"""

from kfit.saving.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from kfit.saving.checkpoint import load_checkpoint, save_checkpoint
from kfit.saving.model_io import load_model, save_model
from kfit.saving.safetensors_io import load_tensors, save_tensors
from kfit.saving.weights import load_state, load_weights, save_state, save_weights

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_checkpoint",
    "load_model",
    "load_state",
    "load_tensors",
    "load_weights",
    "save_checkpoint",
    "save_model",
    "save_state",
    "save_tensors",
    "save_weights",
]
