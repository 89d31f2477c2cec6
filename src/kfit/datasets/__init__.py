"""Loaders for the small datasets that Keras examples use (`keras.datasets`).

Every loader downloads the same files as Keras into the same cache folder (`$KERAS_HOME/datasets`
or `~/.keras/datasets`), checks them against the same hashes, and returns the same arrays in the
same order for the same `seed`. Files that hold pickles (CIFAR, IMDB, Reuters) are read by
`kfit.datasets.pickle_reader`, which executes nothing from them.
"""

from kfit.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

__all__ = [
    "boston_housing",
    "california_housing",
    "cifar10",
    "cifar100",
    "fashion_mnist",
    "imdb",
    "mnist",
    "reuters",
]
