"""Utilities shared by the trainer and user code: downloads, the progress bar, batch packing, data preparation."""

from kfit.utils.batch_utils import pack_x_y_sample_weight, unpack_x_y_sample_weight
from kfit.utils.dataset_utils import split_dataset
from kfit.utils.file_utils import get_file
from kfit.utils.model_visualization import model_to_dot, plot_model
from kfit.utils.numerical_utils import normalize, to_categorical
from kfit.utils.plotting import plot_history
from kfit.utils.progbar import Progbar
from kfit.utils.py_dataset import PyDataset
from kfit.utils.rng_utils import set_random_seed
from kfit.utils.sequence_utils import pad_sequences

# Keras 3 keeps the Keras 2 name of PyDataset too.
Sequence = PyDataset

__all__ = [
    "Progbar",
    "PyDataset",
    "Sequence",
    "get_file",
    "is_keras_tensor",
    "model_to_dot",
    "normalize",
    "pack_x_y_sample_weight",
    "pad_sequences",
    "plot_history",
    "plot_model",
    "set_random_seed",
    "split_dataset",
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
