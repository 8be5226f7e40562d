"""Drawing: the autograd graph as Graphviz DOT (``to_dot``) or an image (``render``)."""
from .dot import render, to_dot

__all__ = ["render", "to_dot"]
