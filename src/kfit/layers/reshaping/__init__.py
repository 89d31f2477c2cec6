"""Layers that only move, repeat, pad or crop values."""
