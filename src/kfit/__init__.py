"""kfit: the Keras training API and its callback system, on PyTorch.

`import kfit as keras` runs ordinary Keras training and callback code; every model is a
`torch.nn.Module`.

Example:
    >>> import numpy as np
    >>> import kfit as keras
    >>> model = keras.Sequential([keras.layers.Dense(1, input_dim=784)])
    >>> model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
    ...               loss="mean_squared_error", metrics=["mean_absolute_error"])
    >>> history = model.fit(np.zeros((64, 784)), np.zeros(64), batch_size=32, verbose=0)
    >>> sorted(history.history)
    ['loss', 'mean_absolute_error']
"""

from kfit import (
    activations,
    backend,
    callbacks,
    constraints,
    datasets,
    distribution,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    saving,
    utils,
)
from kfit.backend.variables import Variable
from kfit.initializers import Initializer
from kfit.layers import Input, Layer
from kfit.layers.symbolic import KerasTensor
from kfit.losses import Loss
from kfit.metrics import Metric
from kfit.mixed_precision.policy import DTypePolicy
from kfit.models import Model, Sequential
from kfit.optimizers import Optimizer
from kfit.regularizers import Regularizer

__version__ = "0.1.0"


def version() -> str:
    """kfit's version, as `keras.version()` gives Keras's.

    Example:
        >>> import kfit
        >>> kfit.version() == kfit.__version__
        True
    """
    return __version__


def __getattr__(name: str) -> object:
    # `kfit.ops` and `kfit.random` (hundreds of functions), `kfit.applications` and
    # `kfit.mixed_precision` load on first use, which keeps `import kfit` fast;
    # `from kfit import ops` and `kfit.ops.sum` both work.
    if name in ("ops", "random", "applications", "mixed_precision", "config"):
        import importlib

        module = importlib.import_module(f"kfit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'kfit' has no attribute {name!r}")

__all__ = [
    "DTypePolicy",
    "Initializer",
    "Input",
    "KerasTensor",
    "Layer",
    "Loss",
    "Metric",
    "Model",
    "Optimizer",
    "Regularizer",
    "Sequential",
    "Variable",
    "__version__",
    "activations",
    "applications",
    "backend",
    "callbacks",
    "config",
    "constraints",
    "datasets",
    "distribution",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "ops",
    "optimizers",
    "random",
    "regularizers",
    "saving",
    "utils",
    "version",
]
