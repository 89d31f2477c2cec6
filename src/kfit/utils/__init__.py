"""Utilities shared by the trainer and user code: file downloads and the progress bar."""

from kfit.utils.file_utils import get_file
from kfit.utils.progbar import Progbar

__all__ = ["Progbar", "get_file"]
