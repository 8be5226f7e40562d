"""Reductions and the fused, numerically stable softmax family."""
from __future__ import annotations

from ..autograd.function import Function


def normalize_axis(axis, ndim):
    """``None`` -> all axes; an int or sequence -> a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(f"axis {a} is out of range for a tensor with {ndim} dimension(s)")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _expand_reduced(F, g, in_shape, axes, keepdims):
    """Re-insert the reduced axes of ``g`` (size 1) so that it broadcasts against the input."""
    if not keepdims and axes:
        kept = [1 if i in axes else n for i, n in enumerate(in_shape)]
        g = g.reshape(tuple(kept))
    return g


class Sum(Function):
    def forward(self, a):
        self.in_shape = a.shape
        return a.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, F, g):
        g = _expand_reduced(F, g, self.in_shape, self.axes, self.keepdims)
        return F.broadcast_to(g, self.in_shape)


class Mean(Function):
    def forward(self, a):
        self.in_shape = a.shape
        self.count = 1
        for ax in self.axes:
            self.count *= a.shape[ax]
        return a.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, F, g):
        g = _expand_reduced(F, g, self.in_shape, self.axes, self.keepdims)
        return F.broadcast_to(g / self.count, self.in_shape)


class Prod(Function):
    """Product; d/da_i = prod of the others, computed without dividing when some a_j == 0."""

    def forward(self, a):
        out = a.prod(axis=self.axes, keepdims=self.keepdims)
        self.save(a, out)  # the output itself, so that create_graph differentiates through it
        return out

    def backward(self, F, g):
        a, out = self.saved
        g = _expand_reduced(F, g, a.shape, self.axes, self.keepdims)
        out = _expand_reduced(F, out, a.shape, self.axes, self.keepdims)
        return g * F.prod_others(a, out, self.axes)


class Extreme(Function):
    """max/min over ``axes``. As PyTorch: with ``evenly`` (amax, whole-tensor max) tied
    extremes share the gradient equally; without it (``max(dim)``) it all goes to the first
    one, the index that ``max(dim)`` returns."""

    evenly = False

    def forward(self, a):
        xp = self.xp
        fn = a.max if self.largest else a.min
        self.in_shape = a.shape
        if self.evenly:
            hit = a == fn(axis=self.axes, keepdims=True)
            self.save(hit / hit.sum(axis=self.axes, keepdims=True).astype(a.dtype))
            return fn(axis=self.axes, keepdims=self.keepdims)
        moved = xp.moveaxis(a, self.axes, tuple(range(-len(self.axes), 0)))
        flat = moved.reshape(moved.shape[:moved.ndim - len(self.axes)] + (-1,))
        pick = flat.argmax(-1) if self.largest else flat.argmin(-1)
        mask = xp.zeros(flat.shape, dtype=bool)
        xp.put_along_axis(mask, pick[..., None], True, axis=-1)
        mask = xp.moveaxis(mask.reshape(moved.shape), tuple(range(-len(self.axes), 0)),
                           self.axes)
        self.save(mask)
        return fn(axis=self.axes, keepdims=self.keepdims)

    def backward(self, F, g):
        g = _expand_reduced(F, g, self.in_shape, self.axes, self.keepdims)
        if self.evenly:
            return g * self.saved[0]
        return F.where(self.saved[0], g, 0)


class LogSumExp(Function):
    def forward(self, a):
        xp = self.xp
        m = a.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        out = xp.log(xp.exp(a - m).sum(axis=self.axes, keepdims=True)) + m
        if not self.keepdims:
            out = out.reshape([n for i, n in enumerate(a.shape) if i not in self.axes])
        self.save(a, out)
        return out

    def backward(self, F, g):
        a, out = self.saved
        g = _expand_reduced(F, g, a.shape, self.axes, self.keepdims)
        out = _expand_reduced(F, out, a.shape, self.axes, self.keepdims)
        return g * F.exp(a - out)


class Softmax(Function):
    def forward(self, a):
        xp = self.xp
        e = xp.exp(a - a.max(axis=self.axis, keepdims=True))
        out = e / e.sum(axis=self.axis, keepdims=True)
        self.save(out)
        return out

    def backward(self, F, g):
        out = self.saved[0]
        return out * (g - (g * out).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a):
        xp = self.xp
        shifted = a - a.max(axis=self.axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save(out)
        return out

    def backward(self, F, g):
        out = self.saved[0]
        return g - F.exp(out) * g.sum(axis=self.axis, keepdims=True)


class Cumsum(Function):
    def forward(self, a):
        return self.xp.cumsum(a, axis=self.axis)

    def backward(self, F, g):
        return F.flip(F.cumsum(F.flip(g, self.axis), self.axis), self.axis)
