"""Pooling layers: max and average pooling over windows, and global pooling."""
