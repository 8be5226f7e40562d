"""``Function``: one primitive = ``forward`` on arrays + ``backward`` giving one gradient per input.

A subclass writes ``forward(self, *arrays)`` using ``self.xp`` (numpy or cupy) and saves what
backward needs with ``self.save(...)``; ``backward(self, F, g)`` returns the input gradients.
``F`` is a namespace with the same names for arrays and for Tensors: a first-order backward
runs on raw arrays (no graph, no Tensor objects), while ``create_graph=True`` runs the very
same rule on Tensors so that it is itself differentiable. Broadcast gradients are summed back
to each input's shape by the engine, never by a rule.
"""
from __future__ import annotations

import numpy

from ..backend import device_of
from . import grad_mode
from .tensor import Tensor

_ND = numpy.ndarray
_GENERIC = numpy.generic


class Function:
    """Base class of every differentiable primitive (also the graph node it creates)."""

    # set per call by apply / the engine
    inputs: tuple | None = None  # the Tensors and constants passed to apply
    saved: tuple = ()
    out = None  # the output array (identifies the output among saved values)
    hooks: list | None = None  # hooks of the output tensor (non-leaf tensor hooks)
    differentiable = True

    @classmethod
    def apply(cls, *args, **params):
        """Run forward on the args' arrays and, when grad is recorded, link the result."""
        node = cls.__new__(cls)
        if params:
            node.__dict__.update(params)
        datas = []
        requires_grad = False
        first = None
        for a in args:
            if isinstance(a, Tensor):
                data = a.data
                if first is None:
                    first = data
                elif type(data) is not type(first) or (
                        type(first) is not _ND and data.device != first.device):
                    _device_mismatch(cls, args)
                requires_grad = requires_grad or a._rg
                datas.append(data)
            else:
                datas.append(a)
        if first is None or type(first) is _ND:
            node.xp = numpy
            for d in datas:  # a CuPy array among the constants of a CPU op
                if type(d) is not _ND and type(d).__module__.startswith("cupy"):
                    _device_mismatch(cls, args)
        else:
            import cupy

            node.xp = cupy
            for d in datas:
                if type(d) is _ND:
                    _device_mismatch(cls, args)
        out = node.forward(*datas)
        if out.__class__ is not _ND:
            scalar, out = out, node.xp.asarray(out)
            if node.saved:  # a NumPy scalar saved as "the output" must stay the output
                node.saved = tuple(out if s is scalar else s for s in node.saved)
        if requires_grad and grad_mode._enabled and cls.differentiable:
            node.inputs = args
            node.out = out
            return Tensor._make(out, node)
        return Tensor._make(out, None)

    def save(self, *values):
        self.saved = values

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, F, g):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name}>"


def _device_mismatch(cls, args):
    devices = []
    for a in args:
        if isinstance(a, Tensor):
            devices.append(f"Tensor on {a.device}")
        elif hasattr(a, "shape"):
            devices.append(f"{type(a).__module__}.ndarray on {device_of(a)}")
    raise RuntimeError(
        f"{cls.__name__}: expected all operands on the same device, got {', '.join(devices)}; "
        "move them with .to(device) first"
    )

