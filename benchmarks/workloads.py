"""The benchmark workloads: synthetic data and the models, written once for kfit and Keras.

Each `build_*` function takes the Keras-like module (`kfit` or `keras`) and returns a compiled
model, so the two frameworks run literally the same model code (`import kfit as keras`).
The plain-torch twin of each model lives in `plain_loops.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["WORKLOADS", "Workload", "build_cnn", "build_guide_model", "build_lstm", "build_mlp",
           "build_mlp_confusion", "build_mlp_custom_step", "build_mnist_convnet", "guide_data", "image_data",
           "mnist_like_data", "nhwc_image_data", "token_data"]

Data = tuple[np.ndarray, np.ndarray]


def guide_data(rows: int, seed: int = 0) -> Data:
    """MNIST-shaped inputs in [0, 1) and digit labels as float targets, as in the Keras guide.

    Example:
        >>> x, y = guide_data(4)
        >>> x.shape, x.dtype, y.shape, y.dtype
        ((4, 784), dtype('float32'), (4,), dtype('float32'))
    """
    rs = np.random.RandomState(seed)
    return rs.rand(rows, 784).astype("float32"), rs.randint(0, 10, rows).astype("float32")


def mnist_like_data(rows: int, seed: int = 0) -> Data:
    """Flat MNIST-shaped inputs with integer class labels (for sparse cross-entropy).

    Example:
        >>> x, y = mnist_like_data(4)
        >>> x.shape, y.dtype
        ((4, 784), dtype('int64'))
    """
    rs = np.random.RandomState(seed)
    return rs.rand(rows, 784).astype("float32"), rs.randint(0, 10, rows).astype("int64")


def binary_data(rows: int, seed: int = 0) -> Data:
    """Flat MNIST-shaped inputs with 0/1 float labels (for binary cross-entropy).

    Example:
        >>> x, y = binary_data(4)
        >>> sorted(set(y.tolist())) <= [0.0, 1.0], y.dtype
        (True, dtype('float32'))
    """
    rs = np.random.RandomState(seed)
    return rs.rand(rows, 784).astype("float32"), rs.randint(0, 2, rows).astype("float32")


def one_hot_data(rows: int, seed: int = 0) -> Data:
    """Flat MNIST-shaped inputs with one-hot float32 labels over 10 classes.

    Example:
        >>> x, y = one_hot_data(4)
        >>> y.shape, y.sum(axis=1).tolist()
        ((4, 10), [1.0, 1.0, 1.0, 1.0])
    """
    rs = np.random.RandomState(seed)
    return rs.rand(rows, 784).astype("float32"), np.eye(10, dtype="float32")[rs.randint(0, 10, rows)]


def image_data(rows: int, seed: int = 0) -> Data:
    """28x28 single-channel images, channels first (NCHW, torch's layout), with class labels.

    Example:
        >>> x, y = image_data(2)
        >>> x.shape
        (2, 1, 28, 28)
    """
    rs = np.random.RandomState(seed)
    return rs.rand(rows, 1, 28, 28).astype("float32"), rs.randint(0, 10, rows).astype("int64")


def nhwc_image_data(rows: int, seed: int = 0) -> Data:
    """28x28x1 images, channels last (Keras's layout), with one-hot labels over 10 classes.

    Example:
        >>> x, y = nhwc_image_data(2)
        >>> x.shape, y.shape
        ((2, 28, 28, 1), (2, 10))
    """
    rs = np.random.RandomState(seed)
    return rs.rand(rows, 28, 28, 1).astype("float32"), np.eye(10, dtype="float32")[rs.randint(0, 10, rows)]


# W11's token sequences: a vocabulary, a sequence length and an embedding width of a small
# text classifier (IMDB-like, shortened so a CPU epoch stays short).
VOCABULARY, SEQUENCE_LENGTH, EMBEDDING_DIM, LSTM_UNITS = 5000, 50, 32, 64


def token_data(rows: int, seed: int = 0) -> Data:
    """Integer token sequences (no padding) with 0/1 float labels.

    Example:
        >>> x, y = token_data(3)
        >>> x.shape, x.dtype, y.shape
        ((3, 50), dtype('int64'), (3,))
    """
    rs = np.random.RandomState(seed)
    x = rs.randint(1, VOCABULARY, size=(rows, SEQUENCE_LENGTH)).astype("int64")
    return x, rs.randint(0, 2, rows).astype("float32")


def _classifier(k: ModuleType, model: Any, compile_kwargs: dict[str, Any]) -> Any:
    # W2, W4 and W5 train the same way: Adam, sparse cross-entropy from logits, accuracy.
    model.compile(
        optimizer=k.optimizers.Adam(),
        loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **compile_kwargs,
    )
    return model


def build_guide_model(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W1, the guide's model: `Dense(1)` on 784 inputs, RMSprop(0.1), MSE loss and MAE metric.

    Example:
        >>> import kfit
        >>> build_guide_model(kfit).count_params()
        785
    """
    model = k.Sequential([k.Input(shape=(784,)), k.layers.Dense(1)])
    model.compile(
        optimizer=k.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
        **compile_kwargs,
    )
    return model


def build_mlp(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W2: an MLP 784-512-512-10 (relu), Adam, sparse cross-entropy from logits, accuracy.

    Example:
        >>> import kfit
        >>> build_mlp(kfit).count_params()
        669706
    """
    model = k.Sequential(
        [
            k.Input(shape=(784,)),
            k.layers.Dense(512, activation="relu"),
            k.layers.Dense(512, activation="relu"),
            k.layers.Dense(10),
        ]
    )
    return _classifier(k, model, compile_kwargs)


def build_mlp_confusion(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W12: W2's MLP with a softmax output, on one-hot targets, with accuracy, AUC, precision
    and recall as metrics.

    Keras's confusion-matrix metrics need labels shaped like the predictions (integer labels
    raise in Keras), hence one-hot targets; the softmax gives the metrics probabilities, so
    they read as one-vs-rest scores flattened over the 10 classes, as Keras computes them.

    Example:
        >>> import kfit
        >>> [m.name for m in build_mlp_confusion(kfit).metrics]
        ['loss', 'compile_metrics']
    """
    model = k.Sequential(
        [
            k.Input(shape=(784,)),
            k.layers.Dense(512, activation="relu"),
            k.layers.Dense(512, activation="relu"),
            k.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=k.optimizers.Adam(), loss="categorical_crossentropy",
                  metrics=["accuracy", "AUC", "Precision", "Recall"], **compile_kwargs)
    return model


def _guide_train_step(k: ModuleType) -> type:
    """A `Sequential` whose `train_step` is the one in Keras's guide "Customizing what happens in
    fit() with PyTorch" ("A first simple example"), line for line."""
    import torch

    class CustomModel(k.Sequential):  # type: ignore[name-defined,misc]
        def train_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]  # noqa: C416 (the guide's line)
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    return CustomModel


def build_mlp_custom_step(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W9: the W2 model, trained by the guide's own `train_step` instead of the built-in one.

    Example:
        >>> import kfit
        >>> type(build_mlp_custom_step(kfit)).__name__, build_mlp_custom_step(kfit).count_params()
        ('CustomModel', 669706)
    """
    model = _guide_train_step(k)(
        [
            k.Input(shape=(784,)),
            k.layers.Dense(512, activation="relu"),
            k.layers.Dense(512, activation="relu"),
            k.layers.Dense(10),
        ]
    )
    return _classifier(k, model, compile_kwargs)


def build_softmax(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W5: softmax regression, `Dense(10)` on 784 inputs, Adam, sparse cross-entropy, accuracy.

    The smallest classifier there is: nearly all of its step is the classifier head and
    the loop around it, which is where a framework's per-step cost shows.

    Example:
        >>> import kfit
        >>> build_softmax(kfit).count_params()
        7850
    """
    model = k.Sequential([k.Input(shape=(784,)), k.layers.Dense(10)])
    return _classifier(k, model, compile_kwargs)


def build_binary(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W6: logistic regression, `Dense(1, "sigmoid")` on 784 inputs, Adam, binary cross-entropy on
    probabilities, accuracy: the binary classifier of the Keras tutorials.

    Example:
        >>> import kfit
        >>> build_binary(kfit).count_params()
        785
    """
    model = k.Sequential([k.Input(shape=(784,)), k.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=k.optimizers.Adam(), loss="binary_crossentropy", metrics=["accuracy"], **compile_kwargs)
    return model


def _softmax_head(k: ModuleType, loss: str, compile_kwargs: dict[str, Any]) -> Any:
    # W7 and W8: one model, trained on integer labels or on one-hot targets.
    model = k.Sequential([k.Input(shape=(784,)), k.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=k.optimizers.Adam(), loss=loss, metrics=["accuracy"], **compile_kwargs)
    return model


def build_softmax_probabilities(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W7: `Dense(10, "softmax")` on 784 inputs, Adam, sparse cross-entropy on probabilities,
    accuracy: the multi-class classifier of the Keras tutorials.

    Example:
        >>> import kfit
        >>> build_softmax_probabilities(kfit).count_params()
        7850
    """
    return _softmax_head(k, "sparse_categorical_crossentropy", compile_kwargs)


def build_one_hot(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W8: `Dense(10, "softmax")` on 784 inputs, Adam, categorical cross-entropy on one-hot
    targets, accuracy: the `to_categorical` form of the Keras tutorials.

    Example:
        >>> import kfit
        >>> build_one_hot(kfit).count_params()
        7850
    """
    return _softmax_head(k, "categorical_crossentropy", compile_kwargs)


CNN_CHANNELS = (16, 32)


def build_cnn(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W4: conv-pool-conv-pool-dense on 1x28x28 inputs, Adam, sparse cross-entropy, accuracy.

    Any torch module is a layer, so the kfit model uses `torch.nn.Conv2d`/`MaxPool2d` (NCHW)
    with kfit's `Flatten` and `Dense` (W10 measures kfit's own `Conv2D`). Keras gets its
    `Conv2D` layers with `data_format="channels_first"`, which is the same work on torch.

    Example:
        >>> import kfit
        >>> build_cnn(kfit).count_params()
        12810
    """
    c1, c2 = CNN_CHANNELS
    if k.__name__ == "kfit":
        import torch

        convs = [
            torch.nn.Conv2d(1, c1, 3),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(c1, c2, 3),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
        ]
    else:
        fmt = "channels_first"
        convs = [
            k.layers.Conv2D(c1, 3, activation="relu", data_format=fmt),
            k.layers.MaxPooling2D(2, data_format=fmt),
            k.layers.Conv2D(c2, 3, activation="relu", data_format=fmt),
            k.layers.MaxPooling2D(2, data_format=fmt),
        ]
    model = k.Sequential([k.Input(shape=(1, 28, 28)), *convs, k.layers.Flatten(), k.layers.Dense(10)])
    return _classifier(k, model, compile_kwargs)


def build_mnist_convnet(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W10: the keras.io "Simple MNIST convnet", channels last, line for line.

    Conv2D 32 -> MaxPooling2D -> Conv2D 64 -> MaxPooling2D -> Flatten -> Dropout(0.5) ->
    Dense(10, softmax); Adam, categorical cross-entropy, accuracy.

    Example:
        >>> import kfit
        >>> build_mnist_convnet(kfit).count_params()
        34826
    """
    layers = k.layers
    model = k.Sequential(
        [
            k.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"], **compile_kwargs)
    return model


def build_lstm(k: ModuleType, **compile_kwargs: Any) -> Any:
    """W11: Embedding -> LSTM(64) -> Dense(1, sigmoid) on token sequences; Adam, binary
    cross-entropy, accuracy (the text classifier of the Keras examples).

    Example:
        >>> import kfit
        >>> build_lstm(kfit).count_params()
        184897
    """
    model = k.Sequential(
        [
            k.Input(shape=(SEQUENCE_LENGTH,), dtype="int64"),
            k.layers.Embedding(VOCABULARY, EMBEDDING_DIM),
            k.layers.LSTM(LSTM_UNITS),
            k.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], **compile_kwargs)
    return model


@dataclass(frozen=True)
class Workload:
    """One training workload: its data, its model, and the goal for kfit's time ratio.

    Attributes:
        key: short id used on the command line and in the tables (`"W1"`).
        title: one line for the table.
        make_data: `rows -> (x, y)` numpy arrays.
        build: the model, given `kfit` or `keras`.
        rows: rows of data per epoch in a full run (60000, as MNIST).
        quick_rows: rows per epoch with `--quick`.
        batch_size: the batch size of every side.
        goal: the largest kfit/plain time ratio that meets the issue's goal.

    Example:
        >>> WORKLOADS["W1"].batch_size
        128
    """

    key: str
    title: str
    make_data: Callable[[int], Data]
    build: Callable[..., Any]
    rows: int
    quick_rows: int
    batch_size: int = 128
    goal: float | None = None


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload("W1", "guide model: Dense(1) on 784, RMSprop, MSE + MAE", guide_data, build_guide_model,
                 rows=60000, quick_rows=12800, goal=1.05),
        Workload("W2", "MLP 784-512-512-10, Adam, sparse CE + accuracy", mnist_like_data, build_mlp,
                 rows=60000, quick_rows=6400, goal=1.02),
        Workload("W4", "CNN 28x28: conv16-pool-conv32-pool-dense, Adam", image_data, build_cnn,
                 rows=30080, quick_rows=3200, goal=1.03),
        Workload("W5", "softmax regression: Dense(10) on 784, Adam, sparse CE + accuracy", mnist_like_data,
                 build_softmax, rows=60000, quick_rows=12800),
        Workload("W6", "Dense(1, sigmoid) on 784, Adam, BCE on probabilities + accuracy", binary_data,
                 build_binary, rows=60000, quick_rows=12800),
        Workload("W7", "Dense(10, softmax) on 784, Adam, sparse CE on probabilities + accuracy", mnist_like_data,
                 build_softmax_probabilities, rows=60000, quick_rows=12800),
        Workload("W8", "Dense(10, softmax) on 784, Adam, CCE on one-hot targets + accuracy", one_hot_data,
                 build_one_hot, rows=60000, quick_rows=12800),
        Workload("W9", "W2 trained by the guide's custom train_step", mnist_like_data, build_mlp_custom_step,
                 rows=60000, quick_rows=6400, goal=1.05),
        Workload("W10", "keras.io MNIST convnet, channels_last: conv32-pool-conv64-pool-dropout-dense, Adam",
                 nhwc_image_data, build_mnist_convnet, rows=15360, quick_rows=1280, goal=1.05),
        Workload("W11", "Embedding(5000, 32) -> LSTM(64) -> Dense(1, sigmoid) on 50 tokens, Adam, BCE",
                 token_data, build_lstm, rows=8192, quick_rows=1024, batch_size=64, goal=1.05),
        Workload("W12", "W2's MLP, softmax on one-hot targets, metrics accuracy + AUC + Precision + Recall",
                 one_hot_data, build_mlp_confusion, rows=60000, quick_rows=6400, goal=1.05),
    )
}
