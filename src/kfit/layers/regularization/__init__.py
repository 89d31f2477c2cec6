"""Noise, dropout variants and activity regularization."""
