"""Saving and loading: ``save``/``load`` for state dicts and checkpoints (see serialization)."""
from .serialization import CheckpointError, load, save

__all__ = ["save", "load", "CheckpointError"]
