"""Attention layers: MultiHeadAttention and dot-product Attention."""
