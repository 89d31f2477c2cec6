"""Preprocessing layers that live in the model: Rescaling and Normalization (with `adapt`)."""
