"""Pickle-free, crash-safe files for models, weights and training state.

`save_model`/`load_model` store a whole model as a `.keras` archive (config, weights,
optimizer state); `save_weights`/`load_weights` store a module's state_dict as
`.weights.h5` (HDF5) or `.safetensors`; `save_state`/`load_state` add JSON state, and
`save_checkpoint`/`load_checkpoint` keep weights, optimizer state and training progress
together for resuming. Every file is written to a temporary sibling and renamed into place,
so an interrupted save never leaves a half-written file behind.

`serialize_keras_object`/`deserialize_keras_object` turn objects into Keras 3 config records
and back; loading finds user classes in the registry (`@register_keras_serializable`), in
`custom_objects` and in the active `custom_object_scope` (see `object_registration`).

This package sits below the layers and models, which import it to register themselves: it
imports nothing from `kfit.layers` or `kfit.models` and finds their classes in the registry.
"""

from kfit.saving.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from kfit.saving.checkpoint import load_checkpoint, save_checkpoint
from kfit.saving.model_io import load_model, save_model
from kfit.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from kfit.saving.safetensors_io import load_tensors, save_tensors
from kfit.saving.serialization_lib import (
    deserialize_keras_object,
    serialize_keras_object,
)
from kfit.saving.weights import load_state, load_weights, save_state, save_weights

__all__ = [
    "CustomObjectScope",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_checkpoint",
    "load_model",
    "load_state",
    "load_tensors",
    "load_weights",
    "register_keras_serializable",
    "save_checkpoint",
    "save_model",
    "save_state",
    "save_tensors",
    "save_weights",
    "serialize_keras_object",
]
