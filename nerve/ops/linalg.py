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
        if 0 in getattr(g, "strides", ()):  # e.g. sum()'s broadcast seed: BLAS needs real
            g = self.xp.ascontiguousarray(g)  # strides, else NumPy may take its slow loops
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


# ---- einsum ---------------------------------------------------------------------------------
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum_arrays(xp, equation: str, *arrays):
    """``xp.einsum`` with contraction-order optimisation (BLAS) for two or more operands."""
    return xp.einsum(equation, *arrays, optimize=len(arrays) > 1)


class Einsum(Function):
    """Einstein summation over an explicit equation with no ellipsis (``einsum`` makes it so).

    The gradient of operand k is again an einsum: the output gradient contracted with the
    other operands onto k's subscripts. A letter repeated within operand k (a diagonal) gets
    fresh letters tied together by identity matrices; a letter that only operand k has (summed
    away) is broadcast back.
    """

    def forward(self, *arrays):
        self.save(*arrays)
        self.in_shapes = [a.shape for a in arrays]
        return einsum_arrays(self.xp, self.equation, *arrays)

    def backward(self, F, g):
        lhs, out = self.equation.split("->")
        subs = lhs.split(",")
        grads = []
        for k in range(len(subs)):
            if not getattr(self.inputs[k], "_rg", False):  # a constant operand
                grads.append(None)
                continue
            grads.append(self._operand_grad(F, g, k, subs, out))
        return tuple(grads)

    def _operand_grad(self, F, g, k, subs, out):
        sub, shape = subs[k], self.in_shapes[k]
        unused = [c for c in LETTERS if c not in self.equation]
        target, eyes, eye_subs = [], [], []
        for pos, c in enumerate(sub):
            if c in sub[:pos]:  # a repeated letter: fresh letter, tied to c by an identity
                fresh = unused.pop()
                target.append(fresh)
                eyes.append(self.xp.eye(shape[pos], dtype=g.dtype))
                eye_subs.append(c + fresh)
            else:
                target.append(c)
        operands = [g] + [s for j, s in enumerate(self.saved) if j != k] + eyes
        inputs = [out] + [s for j, s in enumerate(subs) if j != k] + eye_subs
        available = set("".join(inputs))
        kept = "".join(c for c in target if c in available)
        grad = F.einsum(",".join(inputs) + "->" + kept, *operands)
        if len(kept) != len(target):  # letters summed away inside operand k: broadcast back
            grad = grad.reshape(tuple(n if c in available else 1 for c, n in zip(target, shape)))
            grad = F.broadcast_to(grad, shape)
        return grad


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, as ``numpy.einsum``/``torch.einsum`` (differentiable twice).

    Supports implicit output (``'ij,jk'`` means ``'ij,jk->ik'``), ``...`` (batch dimensions
    that broadcast, summed when an explicit output omits them), repeated letters within an
    operand (``'ii->i'`` diagonal, ``'ii->'`` trace) and letters summed away. Named letters
    must have one size everywhere (no size-1 broadcasting outside ``...``).

    >>> import nerve
    >>> a, b = nerve.ones(2, 3), nerve.ones(3, 4)
    >>> nerve.einsum('ij,jk->ik', a, b).shape
    (2, 4)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ops = [o if isinstance(o, Tensor) else Tensor(o) for o in operands]
    subs, out, ell, ell_shape = _parse_einsum(equation, [tuple(o.shape) for o in ops])
    if ell:
        ops, subs = _squeeze_broadcast_dims(ops, subs, ell, ell_shape)
    return Einsum.apply(*ops, equation=",".join(subs) + "->" + out)


def _parse_einsum(equation, shapes):
    """Validate; return explicit subscripts and output with ``...`` replaced by fresh letters
    (``ell``, right-aligned) and the broadcast sizes of those letters."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string, got {type(equation).__name__}")

    def fail(why):
        raise ValueError(f"einsum: equation {equation!r} with operand shapes {shapes}: {why}")

    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    if "->" in out:
        fail("more than one '->'")
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        fail(f"the equation names {len(subs)} operand(s) but {len(shapes)} were given")
    for s in subs + [out]:
        if any(c not in LETTERS for c in s.replace("...", "")) or s.count("...") > 1:
            fail(f"subscripts {s!r} must be letters a-z, A-Z with at most one '...'")
    n_ell = 0
    for s, shape in zip(subs, shapes):
        named = len(s.replace("...", ""))
        if ("..." not in s and named != len(shape)) or named > len(shape):
            fail(f"subscripts {s!r} name {named} dimension(s) but the operand has "
                 f"{len(shape)}")
        if "..." in s:
            n_ell = max(n_ell, len(shape) - named)
    spare = [c for c in LETTERS if c not in eq][::-1]
    if n_ell > len(spare):
        fail("too many dimensions under '...' for the letters left")
    ell = "".join(spare[:n_ell])
    ell_shape = [1] * n_ell
    expanded = []
    for s, shape in zip(subs, shapes):
        if "..." in s:
            k = len(shape) - len(s.replace("...", ""))
            head = s.index("...")
            for i, n in enumerate(shape[head:head + k]):
                j = n_ell - k + i
                if n != 1 and ell_shape[j] not in (1, n):
                    fail(f"the dimensions under '...' do not broadcast ({ell_shape[j]} vs {n})")
                ell_shape[j] = max(ell_shape[j], n)
            s = s.replace("...", ell[n_ell - k:])
        expanded.append(s)
    sizes = {}
    for s, shape in zip(expanded, shapes):
        for c, n in zip(s, shape):
            if c not in ell and sizes.setdefault(c, n) != n:
                fail(f"letter {c!r} has size {sizes[c]} in one place and {n} in another")
    if arrow:
        out = out.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                fail(f"output letter {c!r} appears more than once")
            if c not in ell and c not in sizes:
                fail(f"output letter {c!r} does not appear in any input")
    else:  # implicit output: '...' first, then the letters used once, alphabetically
        joined = "".join(expanded)
        out = ell + "".join(sorted(c for c in sizes if joined.count(c) == 1))
    return expanded, out, ell, ell_shape


def _squeeze_broadcast_dims(ops, subs, ell, ell_shape):
    """Drop size-1 dimensions under '...' that other operands broadcast, so that every letter
    has a single size (the reshape's gradient puts them back)."""
    from .shape import reshape

    new_ops, new_subs = [], []
    for op, s in zip(ops, subs):
        keep = [i for i, (c, n) in enumerate(zip(s, op.shape))
                if not (c in ell and n == 1 and ell_shape[ell.index(c)] != 1)]
        if len(keep) != op.ndim:
            op = reshape(op, tuple(op.shape[i] for i in keep))
            s = "".join(s[i] for i in keep)
        new_ops.append(op)
        new_subs.append(s)
    return new_ops, new_subs
