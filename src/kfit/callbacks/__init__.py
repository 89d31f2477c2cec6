"""Callbacks: `Callback`, `CallbackList`, and the built-in ones."""

from kfit.callbacks.callback import Callback
from kfit.callbacks.callback_list import CallbackList
from kfit.callbacks.history import History
from kfit.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
