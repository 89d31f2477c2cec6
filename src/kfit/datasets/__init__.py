"""Loaders for the small datasets that Keras examples use (`keras.datasets`)."""

from kfit.datasets import mnist

__all__ = ["mnist"]
