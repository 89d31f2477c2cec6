"""Utilities shared by the trainer and user code: downloads, the progress bar, batch packing, data preparation."""

from kfit.utils.batch_utils import pack_x_y_sample_weight, unpack_x_y_sample_weight
from kfit.utils.file_utils import get_file
from kfit.utils.numerical_utils import normalize, to_categorical
from kfit.utils.progbar import Progbar
from kfit.utils.rng_utils import set_random_seed
from kfit.utils.sequence_utils import pad_sequences

__all__ = [
    "Progbar",
    "get_file",
    "is_keras_tensor",
    "normalize",
    "pack_x_y_sample_weight",
    "pad_sequences",
    "set_random_seed",
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
