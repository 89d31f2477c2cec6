"""Models: `Model` (a torch module with the Keras training API) and `Sequential`."""

from kfit.models.model import Model
from kfit.models.sequential import Sequential
from kfit.saving.model_io import load_model

__all__ = ["Model", "Sequential", "load_model"]
