"""Utilities shared by the trainer and user code: downloads, the progress bar, batch packing, data preparation."""

import importlib
from typing import Any

from kfit.utils.batch_utils import pack_x_y_sample_weight, unpack_x_y_sample_weight
from kfit.utils.config import Config
from kfit.utils.dataset_utils import split_dataset
from kfit.utils.file_utils import get_file
from kfit.utils.image_dataset_utils import image_dataset_from_directory
from kfit.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from kfit.utils.io_utils import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from kfit.utils.model_visualization import model_to_dot, plot_model
from kfit.utils.numerical_utils import normalize, to_categorical
from kfit.utils.plotting import plot_history
from kfit.utils.progbar import Progbar
from kfit.utils.py_dataset import PyDataset
from kfit.utils.rng_utils import set_random_seed
from kfit.utils.sequence_utils import pad_sequences
from kfit.utils.text_dataset_utils import text_dataset_from_directory
from kfit.utils.timeseries_dataset_utils import timeseries_dataset_from_array

# Keras 3 keeps the Keras 2 name of PyDataset too.
Sequence = PyDataset

__all__ = [
    "Config",
    "CustomObjectScope",
    "Progbar",
    "PyDataset",
    "Sequence",
    "array_to_img",
    "clear_session",
    "custom_object_scope",
    "deserialize_keras_object",
    "disable_interactive_logging",
    "enable_interactive_logging",
    "get_custom_objects",
    "get_file",
    "get_registered_name",
    "get_registered_object",
    "get_source_inputs",
    "image_dataset_from_directory",
    "img_to_array",
    "is_interactive_logging_enabled",
    "is_keras_tensor",
    "load_img",
    "model_to_dot",
    "normalize",
    "pack_x_y_sample_weight",
    "pad_sequences",
    "plot_history",
    "plot_model",
    "register_keras_serializable",
    "save_img",
    "serialize_keras_object",
    "set_random_seed",
    "split_dataset",
    "standardize_dtype",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
    "to_categorical",
    "unpack_x_y_sample_weight",
]


def is_keras_tensor(x: object) -> bool:
    """Whether `x` is a symbolic tensor of the functional API (what `kfit.Input` returns).

    Example:
        >>> import kfit
        >>> is_keras_tensor(kfit.Input(shape=(2,))), is_keras_tensor(1.0)
        (True, False)
    """
    # Imported here: kfit.layers imports kfit.utils.
    from kfit.layers.symbolic import KerasTensor

    return isinstance(x, KerasTensor)


# Names Keras also exports here whose homes import kfit.utils themselves (the saving registry,
# the layer graph, the backend, the ops): they are imported on first use, not with this package.
_LAZY = {
    "CustomObjectScope": "kfit.saving.object_registration",
    "custom_object_scope": "kfit.saving.object_registration",
    "get_custom_objects": "kfit.saving.object_registration",
    "get_registered_name": "kfit.saving.object_registration",
    "get_registered_object": "kfit.saving.object_registration",
    "register_keras_serializable": "kfit.saving.object_registration",
    "serialize_keras_object": "kfit.saving.serialization_lib",
    "deserialize_keras_object": "kfit.saving.serialization_lib",
    "clear_session": "kfit.backend.session",
    "get_source_inputs": "kfit.layers.symbolic",
    "standardize_dtype": "kfit.ops.dtypes",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
