"""Callbacks: `Callback`, `CallbackList`, the event filters (`Every`, `Never`), and the built-in ones."""

from kfit.callbacks.backup_and_restore import BackupAndRestore
from kfit.callbacks.callback import Callback
from kfit.callbacks.callback_list import CallbackList
from kfit.callbacks.csv_logger import CSVLogger
from kfit.callbacks.early_stopping import EarlyStopping
from kfit.callbacks.event_filters import EventFilter, Every, Never
from kfit.callbacks.history import History
from kfit.callbacks.lambda_callback import LambdaCallback
from kfit.callbacks.learning_rate_scheduler import LearningRateScheduler
from kfit.callbacks.model_checkpoint import ModelCheckpoint
from kfit.callbacks.progbar_logger import ProgbarLogger
from kfit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from kfit.callbacks.remote_monitor import RemoteMonitor
from kfit.callbacks.swap_ema_weights import SwapEMAWeights
from kfit.callbacks.tensorboard import TensorBoard
from kfit.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "EventFilter",
    "Every",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "Never",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "RemoteMonitor",
    "SwapEMAWeights",
    "TensorBoard",
    "TerminateOnNaN",
]
