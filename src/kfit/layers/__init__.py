"""Keras layers as torch modules. Any `torch.nn.Module` can also be used as a layer."""

from kfit.layers.activation import Activation
from kfit.layers.dense import Dense
from kfit.layers.dropout import Dropout
from kfit.layers.flatten import Flatten
from kfit.layers.input_layer import Input, InputLayer
from kfit.layers.layer import Layer
from kfit.layers.reshape import Reshape

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer", "Reshape"]
