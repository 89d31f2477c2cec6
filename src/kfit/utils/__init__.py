"""Utilities shared by the trainer and user code: file downloads, the progress bar, batch packing."""

from kfit.utils.batch_utils import pack_x_y_sample_weight, unpack_x_y_sample_weight
from kfit.utils.file_utils import get_file
from kfit.utils.progbar import Progbar

__all__ = ["Progbar", "get_file", "pack_x_y_sample_weight", "unpack_x_y_sample_weight"]
