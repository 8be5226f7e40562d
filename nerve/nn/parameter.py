"""``Parameter``: a leaf Tensor that a Module registers as learnable; ``Buffer``: a marker for
state that is not learnable."""
from __future__ import annotations

import numpy

from ..autograd.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that requires grad by default and is found by ``Module.parameters()``.

    It shares memory with the tensor or array it wraps (as ``torch.nn.Parameter``).

    >>> import nerve
    >>> p = Parameter(nerve.zeros(3))
    >>> p.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = numpy.empty(0, dtype="float32")
        super().__init__(data.detach() if isinstance(data, Tensor) else data,
                         requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """Marks a tensor as a buffer when assigned to a Module attribute (``self.x = Buffer(t)``),
    the same as ``register_buffer('x', t, persistent)``; the module stores a plain Tensor.

    >>> import nerve
    >>> Buffer(nerve.zeros(2), persistent=False).persistent
    False
    """

    __slots__ = ("persistent",)

    def __init__(self, data, persistent: bool = True):
        super().__init__(data.detach() if isinstance(data, Tensor) else data)
        self.persistent = bool(persistent)
