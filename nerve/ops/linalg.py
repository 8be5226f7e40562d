"""Matrix products: ``matmul`` (NumPy's 1-D and batched broadcasting rules) and ``einsum``."""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor import Tensor


class Matmul(Function):
    def forward(self, a, b):
        self.save(a, b)
        return a @ b

    def backward(self, F, g):
        a, b = self.saved
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        if a.ndim == 1:  # (n) @ (..., n, m) -> (..., m)
            ga = F.matmul(F.expand_dims(g, -2), F.swapaxes(b, -1, -2))
            return ga.reshape(ga.shape[:-2] + ga.shape[-1:]), \
                F.expand_dims(a, -1) * F.expand_dims(g, -2)
        if b.ndim == 1:  # (..., m, n) @ (n) -> (..., m)
            gb = F.matmul(F.swapaxes(a, -1, -2), F.expand_dims(g, -1))
            return F.expand_dims(g, -1) * b, gb.reshape(gb.shape[:-1])
        return F.matmul(g, F.swapaxes(b, -1, -2)), F.matmul(F.swapaxes(a, -1, -2), g)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy's rules for 1-D operands and broadcast batch dimensions."""
    if not isinstance(a, Tensor):
        a = Tensor(a)
    if not isinstance(b, Tensor):
        b = Tensor(b)
    sa, sb = a.shape, b.shape
    if not sa or not sb:
        raise RuntimeError(f"matmul: both operands need at least 1 dimension, got shapes "
                           f"{tuple(sa)} and {tuple(sb)}")
    inner_a = sa[-1]
    inner_b = sb[-2] if len(sb) > 1 else sb[0]
    if inner_a != inner_b:
        raise RuntimeError(f"matmul: shapes {tuple(sa)} and {tuple(sb)} cannot be multiplied "
                           f"(inner dimensions {inner_a} and {inner_b} differ)")
    batch_a, batch_b = sa[:-2], sb[:-2]
    for x, y in zip(batch_a[::-1], batch_b[::-1]):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"matmul: batch dimensions of shapes {tuple(sa)} and "
                               f"{tuple(sb)} do not broadcast")
    return Matmul.apply(a, b)
