"""Preprocessing layers that live in the model: Rescaling, Normalization (with `adapt`), and the
image augmentations RandomFlip and RandomRotation."""
