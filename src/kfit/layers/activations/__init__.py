"""Activation functions as layers (ReLU, LeakyReLU, PReLU, ELU, Softmax)."""
