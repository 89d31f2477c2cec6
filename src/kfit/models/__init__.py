"""Models: `Model` (a torch module with the Keras training API) and `Sequential`."""

from kfit.models.cloning import clone_model
from kfit.models.model import Model, model_from_json
from kfit.models.sequential import Sequential
from kfit.saving.model_io import load_model

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json"]
