"""Convolution layers (Conv1D/2D/3D, transposed, depthwise, separable), channels_last by default as in Keras."""
