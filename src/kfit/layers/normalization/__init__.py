"""Normalization layers: batch, layer and group normalization."""
