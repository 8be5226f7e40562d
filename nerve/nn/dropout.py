"""Dropout layers: ``Dropout``, ``Dropout1d/2d/3d`` (whole channels) and ``DropConnect``.

All are active only in training mode (``module.train()``) and the identity after
``module.eval()``.
"""
from __future__ import annotations

from ..ops.dropout import _check_p, dropout, dropout1d, dropout2d, dropout3d
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "DropConnect"]


class Dropout(Module):
    """Zero each entry with probability ``p`` in training, scaling the rest by ``1 / (1 - p)``
    (Srivastava et al., 2014). ``inplace`` is accepted and ignored.

    >>> import nerve
    >>> Dropout(0.5).eval()(nerve.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    fn = staticmethod(dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        _check_p(p, type(self).__name__)
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return type(self).fn(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Zero whole channels of (N, C, L) or (C, L) inputs with probability ``p``."""

    fn = staticmethod(dropout1d)


class Dropout2d(Dropout):
    """Zero whole feature maps of (N, C, H, W) or (C, H, W) inputs with probability ``p``."""

    fn = staticmethod(dropout2d)


class Dropout3d(Dropout):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs with probability ``p``."""

    fn = staticmethod(dropout3d)


class DropConnect(Module):
    """DropConnect (Wan et al., 2013): in training, drop each *weight* of the wrapped layer
    with probability ``p`` for the duration of one forward call, instead of dropping
    activations.

    The wrapped layer's parameters named in ``weights`` (default ``("weight",)``; e.g.
    ``("weight_hh_l0",)`` for a recurrent layer, as the AWD-LSTM "weight drop") are replaced,
    during the call only, by ``dropout(weight, p)``: a fresh mask per call, shared by the whole
    batch, with kept weights scaled by ``1 / (1 - p)``. Gradients reach the original
    parameters through the mask. In eval mode the layer uses its plain weights — the
    mean-field approximation, rather than the paper's Gaussian moment-matching inference.
    The wrapped layer must read the weight as an attribute (``self.weight``) in its forward.
    The parameters keep their place in the state dict, under ``module.<name>``.

    >>> import nerve, nerve.nn as nn
    >>> layer = DropConnect(nn.Linear(4, 3), p=0.3)
    >>> layer(nerve.ones(2, 4)).shape
    (2, 3)
    """

    def __init__(self, module: Module, p: float = 0.5, weights=("weight",)):
        super().__init__()
        _check_p(p, "DropConnect")
        if not isinstance(module, Module):
            raise TypeError(f"DropConnect: expected a Module to wrap, got "
                            f"{type(module).__name__}")
        weights = (weights,) if isinstance(weights, str) else tuple(weights)
        for name in weights:
            if module._parameters.get(name) is None:
                raise ValueError(f"DropConnect: {type(module).__name__} has no parameter "
                                 f"{name!r} (it has {list(module._parameters)})")
        self.module, self.p, self.weights = module, p, weights

    def forward(self, *args, **kwargs):
        if not self.training or self.p == 0:
            return self.module(*args, **kwargs)
        attrs = self.module.__dict__
        originals = {name: attrs[name] for name in self.weights}
        try:  # bypass __setattr__: the registered Parameters stay untouched
            for name, weight in originals.items():
                attrs[name] = dropout(weight, self.p, True)
            return self.module(*args, **kwargs)
        finally:
            attrs.update(originals)

    def extra_repr(self) -> str:
        return f"p={self.p}, weights={self.weights}"
