"""Elementwise primitives. Each backward is written once for arrays and Tensors (see Function).

Broadcasting is undone by the engine, so binary rules return full-shape gradients.
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..backend import kernels


# ---- arithmetic ----------------------------------------------------------------------------
class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, F, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, F, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        self.save(a, b)
        return a * b

    def backward(self, F, g):
        a, b = self.saved
        return g * b, g * a


class Div(Function):
    def forward(self, a, b):
        self.save(a, b)
        return a / b

    def backward(self, F, g):
        a, b = self.saved
        gb = g / b
        return gb, -gb * a / b


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, F, g):
        return -g


class Pow(Function):
    """``a ** b`` for a tensor or constant exponent; d/db uses log(a) (0 where a == 0)."""

    def forward(self, a, b):
        out = a ** b
        self.save(a, b, out)
        return out

    def backward(self, F, g):
        a, b, out = self.saved
        ga = g * b * a ** (b - 1)
        if self.inputs is not None and _requires_grad(self.inputs[1]):
            if isinstance(a, (int, float)):  # 2 ** x: a Python float keeps x's dtype
                safe_log = math.log(a) if a > 0 else 0.0
            else:
                safe_log = F.log(F.where(a > 0, a, 1))
            return ga, g * out * safe_log
        return ga, None


def _requires_grad(x) -> bool:
    return getattr(x, "_rg", False)


# ---- unary math -----------------------------------------------------------------------------
class Exp(Function):
    def forward(self, a):
        out = self.xp.exp(a)
        self.save(out)
        return out

    def backward(self, F, g):
        return g * self.saved[0]


class Expm1(Function):
    def forward(self, a):
        out = self.xp.expm1(a)
        self.save(out)
        return out

    def backward(self, F, g):
        return g * (self.saved[0] + 1)


class Log(Function):
    def forward(self, a):
        self.save(a)
        return self.xp.log(a)

    def backward(self, F, g):
        return g / self.saved[0]


class Log1p(Function):
    def forward(self, a):
        self.save(a)
        return self.xp.log1p(a)

    def backward(self, F, g):
        return g / (self.saved[0] + 1)


class Sqrt(Function):
    def forward(self, a):
        out = self.xp.sqrt(a)
        self.save(out)
        return out

    def backward(self, F, g):
        return g / (2 * self.saved[0])


class Rsqrt(Function):
    def forward(self, a):
        out = 1 / self.xp.sqrt(a)
        self.save(a, out)
        return out

    def backward(self, F, g):
        a, out = self.saved
        return g * -0.5 * out / a


class Abs(Function):
    def forward(self, a):
        self.save(a)
        return self.xp.abs(a)

    def backward(self, F, g):
        return g * F.sign(self.saved[0])


class Sin(Function):
    def forward(self, a):
        self.save(a)
        return self.xp.sin(a)

    def backward(self, F, g):
        return g * F.cos(self.saved[0])


class Cos(Function):
    def forward(self, a):
        self.save(a)
        return self.xp.cos(a)

    def backward(self, F, g):
        return -g * F.sin(self.saved[0])


class Tanh(Function):
    def forward(self, a):
        out = self.xp.tanh(a)
        self.save(out)
        return out

    def backward(self, F, g):
        out = self.saved[0]
        return g * (1 - out * out)


class Sigmoid(Function):
    def forward(self, a):
        out = kernels.sigmoid(a)
        self.save(out)
        return out

    def backward(self, F, g):
        out = self.saved[0]
        return g * out * (1 - out)


# ---- activations with kinks (fused: one pass forward, one backward) -----------------------
class Relu(Function):
    def forward(self, a):
        out = self.xp.maximum(a, 0)
        self.save(out)
        return out

    def backward(self, F, g):
        return g * (self.saved[0] > 0)


class LeakyRelu(Function):
    @property
    def max_form(self) -> bool:
        """With 0 < slope <= 1 (the usual case) the forward is max(a, slope * a) and the
        backward factor max(a > 0, slope): the same values as ``where``, which NumPy runs ~10x
        slower on mixed signs (a branch per element). Slope 0 stays with ``where``: inf * 0 is
        NaN."""
        return 0 < self.slope <= 1

    def forward(self, a):
        self.save(a)
        if self.max_form:
            return self.xp.maximum(a, a * self.slope)
        return self.xp.where(a > 0, a, a * self.slope)

    def backward(self, F, g):
        a = self.saved[0]
        if not isinstance(a, self.xp.ndarray) or not self.max_form:  # Tensors: create_graph
            return F.where(a > 0, g, g * self.slope)
        return g * self.xp.maximum((a > 0).astype(g.dtype), self.xp.asarray(self.slope, g.dtype))


class Elu(Function):
    def forward(self, a):
        xp = self.xp
        out = xp.where(a > 0, a, self.alpha * xp.expm1(xp.minimum(a, 0)))
        self.save(a, out)
        return out

    def backward(self, F, g):
        a, out = self.saved
        return F.where(a > 0, g, g * (out + self.alpha))


class Softplus(Function):
    """log(1 + exp(beta a)) / beta, linear above ``threshold`` as in PyTorch."""

    def forward(self, a):
        xp = self.xp
        z = a * self.beta
        self.save(a)
        return xp.where(z > self.threshold, a, xp.logaddexp(0, z) / self.beta).astype(
            a.dtype, copy=False)

    def backward(self, F, g):
        a = self.saved[0]
        z = a * self.beta
        return F.where(z > self.threshold, g, g * F.sigmoid(z))


class Erf(Function):
    def forward(self, a):
        self.save(a)
        return kernels.erf(a)

    def backward(self, F, g):
        a = self.saved[0]
        return g * (2 / math.sqrt(math.pi)) * F.exp(-a * a)


class Clamp(Function):
    """Clip to [lo, hi]; the gradient passes where lo <= a <= hi (inclusive, as PyTorch)."""

    def forward(self, a):
        self.save(a)
        return self.xp.clip(a, self.lo, self.hi)

    def backward(self, F, g):
        a = self.saved[0]
        inside = True
        if self.lo is not None:
            inside = a >= self.lo
        if self.hi is not None:
            inside = inside & (a <= self.hi) if self.lo is not None else a <= self.hi
        return g * inside


class Maximum(Function):
    """Elementwise max; on ties each side gets half the gradient (as PyTorch)."""

    def forward(self, a, b):
        self.save(a, b)
        return self.xp.maximum(a, b)

    def backward(self, F, g):
        a, b = self.saved
        return _split_by(F, g, a > b, a == b)


class Minimum(Function):
    def forward(self, a, b):
        self.save(a, b)
        return self.xp.minimum(a, b)

    def backward(self, F, g):
        a, b = self.saved
        return _split_by(F, g, a < b, a == b)


def _split_by(F, g, first_wins, tie):
    share = F.where(tie, g * 0.5, g)
    return F.where(first_wins | tie, share, 0), F.where(first_wins, 0, share)


class Where(Function):
    def forward(self, cond, a, b):
        self.save(cond)
        return self.xp.where(cond, a, b)

    def backward(self, F, g):
        cond = self.saved[0]
        return None, F.where(cond, g, 0), F.where(cond, 0, g)


class Cast(Function):
    """Change dtype; the gradient is cast back to the input's dtype."""

    def forward(self, a):
        self.in_dtype = a.dtype
        return a.astype(self.dtype)

    def backward(self, F, g):
        if self.in_dtype.kind not in "fc":
            return None
        return F.cast(g, self.in_dtype)


class Copy(Function):
    """``clone``: a new array with the same values."""

    def forward(self, a):
        return a.copy()

    def backward(self, F, g):
        return g
