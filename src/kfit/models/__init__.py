"""Models: `Model` (a torch module with the Keras training API) and `Sequential`."""

from kfit.models.model import Model
from kfit.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
