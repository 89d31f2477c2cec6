"""Layers that merge several inputs into one (Add, Concatenate, ...), and their functional forms."""
