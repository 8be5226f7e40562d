"""``Tensor``: an array plus the node (``grad_fn``) that produced it.

Only the data model lives here; arithmetic, reductions and the rest are attached by
``nerve.ops`` (see ``nerve/ops/methods.py``), and ``backward`` runs ``nerve.autograd.engine``.
"""
from __future__ import annotations

import numpy

from ..backend import device_of, dtypes
from . import grad_mode


class Tensor:
    """A multi-dimensional array that records the operations applied to it.

    >>> import nerve
    >>> x = nerve.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4.])
    """

    __slots__ = ("data", "grad", "grad_fn", "_rg", "_hooks", "_retains", "_name", "__weakref__")
    __array_ufunc__ = None  # NumPy defers to our reflected operators (ndarray + Tensor)
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.data
        if not hasattr(data, "__array_namespace__") and not isinstance(data, numpy.ndarray):
            data = numpy.asarray(data)
        self.data = data
        self.grad = None
        self.grad_fn = None
        self._rg = False
        self._hooks = None
        self._retains = False
        self._name = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, grad_fn):
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.grad_fn = grad_fn
        t._rg = grad_fn is not None
        t._hooks = None
        t._retains = False
        t._name = None
        return t

    # ---- autograd state -------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf tensor as a variable whose ``.grad`` backward fills in."""
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "requires_grad_: you can only change requires_grad of leaf tensors; "
                    "use .detach() to get a tensor that does not require grad")
            return self
        if requires_grad and not (dtypes.is_floating(self.data.dtype)
                                  or self.data.dtype.kind == "c"):
            raise RuntimeError(
                f"requires_grad_: only floating-point tensors can require gradients, "
                f"got dtype {self.data.dtype}")
        self._rg = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def detach(self) -> Tensor:
        """A tensor sharing this data, cut from the graph."""
        return Tensor._make(self.data, None)

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._rg = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on a non-leaf tensor after backward (leaves always keep it)."""
        if self.grad_fn is None:
            if not self._rg:
                raise RuntimeError("retain_grad: can't retain grad on a tensor that does not "
                                   "require grad")
            return
        if not self._retains:
            self._retains = True
            self.register_hook(_RetainGrad(self))

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
        if not self._rg:
            raise RuntimeError("register_hook: can't register a hook on a tensor that does not "
                               "require grad")
        if self.grad_fn is not None:
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = []
            hooks = self.grad_fn.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        if hooks and isinstance(hooks[-1], _RetainGrad):  # as PyTorch, retain_grad sees the
            hooks.insert(len(hooks) - 1, hook)  # gradient after every other hook
        else:
            hooks.append(hook)
        return _HookHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``nerve.autograd``)."""
        from .engine import backward

        backward(self, gradient, retain_graph, create_graph, inputs)

    # ---- array facts ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def element_size(self) -> int:
        return self.data.itemsize

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element can be converted to a Python "
                             f"scalar, got shape {tuple(self.shape)}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def numpy(self, force: bool = False):
        """The data as a NumPy array (shared, not copied, on the CPU)."""
        if self._rg and not force:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return _host(self.data)

    def __array__(self, dtype=None, copy=None):
        arr = _host(self.data)
        return arr if dtype is None else arr.astype(dtype)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"bool: a tensor with {self.data.size} elements is ambiguous; "
                               "use .any() or .all()")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data)

    __hash__ = object.__hash__

    def __repr__(self):
        data = self.data if isinstance(self.data, numpy.ndarray) else self.data.get()
        body = numpy.array2string(data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if data.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            extras.append(f"dtype=nerve.{data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}Backward>")
        elif self._rg:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ---- in-place updates (optimizers, init): only where no graph can see them -------------
    def _check_inplace(self, op: str) -> None:
        if grad_mode._enabled and self._rg:
            kind = "a leaf tensor that requires grad" if self.grad_fn is None else \
                "a tensor that is part of a graph"
            raise RuntimeError(f"{op}: in-place operation on {kind}; wrap it in "
                               "`with nerve.no_grad():` or use the out-of-place form")


def _host(data):
    """A CPU NumPy array of ``data``; gradients handed to hooks can be NumPy scalars (0-d
    arithmetic returns them), which have no ``.get()``."""
    if isinstance(data, numpy.ndarray):
        return data
    if isinstance(data, numpy.generic):
        return numpy.asarray(data)
    return data.get()


class _RetainGrad:
    """Hook that stores a non-leaf tensor's gradient on it (weakly, to avoid a cycle)."""

    def __init__(self, tensor):
        import weakref

        self.ref = weakref.ref(tensor)

    def __call__(self, grad):
        t = self.ref()
        if t is not None:
            # a copy: the engine goes on using (and may hand a leaf) the same array
            g = grad if grad.requires_grad else Tensor._make(grad.data.copy(), None)
            t.grad = g if t.grad is None else t.grad + g
        return None


class _HookHandle:
    def __init__(self, hooks, hook):
        self.hooks = hooks
        self.hook = hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)
