"""Functional transforms (``nerve.func``): ``grad``, ``value_and_grad``, ``vjp``, ``jvp``,
``hvp``, ``jacobian`` and ``hessian``, after ``torch.func``, built on ``autograd.grad``.

Each transform calls ``f`` on stand-ins for the differentiated arguments:

* a fresh leaf sharing the argument's data, when the argument is not part of an outer
  computation. If ``f`` also touches no other tensor that requires grad, the derivatives are
  taken with ``create_graph=False``: no graph is recorded during backward and the results are
  plain constants (``grad_fn is None``), at the cost of a first-order backward.
* an identity node on top of the argument, when the argument already requires grad (it is
  part of an outer computation, e.g. inside another transform). Then ``create_graph=True``
  keeps the result differentiable, which is what makes nesting work
  (``hessian(f) == jacobian(jacobian(f))``, ``grad(grad(f))``). The identity node, rather than
  the argument itself, is what gets differentiated, so a closure that also captures the
  argument is treated as a constant by the inner transform (no perturbation confusion).

Arguments that are differentiated may be Tensors or tuples/lists/dicts of Tensors; gradients
come back in the same structure. Under ``no_grad`` the transforms still compute derivatives
(they enable grad for ``f``), but the results are never differentiable.
"""
from __future__ import annotations

import functools

from ..backend import get_array_module
from . import grad_mode
from .engine import grad as autograd_grad
from .function import Function
from .tensor import Tensor

__all__ = ["grad", "hessian", "hvp", "jacobian", "jvp", "value_and_grad", "vjp"]


class Alias(Function):
    """Identity node: the handle an inner transform differentiates an outer tensor through."""

    def forward(self, a):
        return a.view()  # a new array object sharing memory (saved-array identity matters)

    def backward(self, F, g):
        return g


# ---- pytrees of tensors (Tensor, tuple, list, dict): argument structures are shallow ----------
def _tree_map(fn, tree):
    """Apply ``fn`` to every leaf of nested tuples/lists/dicts, keeping the structure."""
    if isinstance(tree, dict):
        return {k: _tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        items = [_tree_map(fn, v) for v in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else type(tree)(items)
    return fn(tree)


def _tree_leaves(tree) -> list:
    leaves = []
    _tree_map(leaves.append, tree)
    return leaves


def _detach_tree(tree):
    return _tree_map(lambda t: t.detach() if isinstance(t, Tensor) else t, tree)


def _zeros_like(t: Tensor) -> Tensor:
    return Tensor._make(get_array_module(t.data).zeros_like(t.data), None)


# ---- one traced call of f --------------------------------------------------------------------
class _Trace:
    """Calls ``f`` with stand-ins for the arguments in ``argnums`` and differentiates it."""

    def __init__(self, where: str, args: tuple, argnums):
        self.where = where
        self.single = isinstance(argnums, int)
        nums = (argnums,) if self.single else \
            tuple(argnums) if isinstance(argnums, (tuple, list)) else None
        if not nums or not all(isinstance(i, int) for i in nums):
            raise TypeError(f"{where}: argnums must be an int or a non-empty tuple of ints, "
                            f"got {argnums!r}")
        n = len(args)
        for i in nums:
            if not -n <= i < n:
                raise ValueError(f"{where}: argnums={argnums!r} is out of range for "
                                 f"{n} positional argument(s)")
        self.nums = tuple(i % n for i in nums)
        if len(set(self.nums)) != len(self.nums):
            raise ValueError(f"{where}: argnums={argnums!r} has duplicates")
        self.enabled = grad_mode.is_grad_enabled()
        self.nested = False  # results must stay differentiable (record graphs in backward)
        self.shared = False  # the graph of f reaches outer tensors: never free it
        self.leaves: list[Tensor] = []  # the stand-ins, in argument order
        self.args = list(args)
        for i in self.nums:
            self.args[i] = _tree_map(functools.partial(self._stand_in, i), args[i])
        self.structure = [self.args[i] for i in self.nums]

    def _stand_in(self, argnum: int, t) -> Tensor:
        if not isinstance(t, Tensor):
            raise TypeError(f"{self.where}: argument {argnum} must be a Tensor (or a tuple, "
                            f"list or dict of Tensors) to differentiate it, got "
                            f"{type(t).__name__}")
        if t.dtype.kind not in "fc":
            raise TypeError(f"{self.where}: argument {argnum} has dtype {t.dtype}; only "
                            "floating-point tensors can be differentiated")
        if self.enabled and t.requires_grad:
            self.nested = True
            s = Alias.apply(t)
        else:
            s = Tensor._make(t.data, None)
            s._rg = True
        self.leaves.append(s)
        return s

    def run(self, f, kwargs):
        with grad_mode.enable_grad():
            out = f(*self.args, **kwargs)
        return out

    def decide(self, outputs) -> None:
        """Record a graph during backward only when something outside needs it."""
        if not self.nested:
            self.shared = _touches_outer(outputs, {id(s) for s in self.leaves})
            self.nested = self.enabled and self.shared

    def vjp(self, outputs, cotangents, retain_graph=False, create_graph=None) -> list:
        """Gradients (one per stand-in, zeros where unused) of sum <outputs, cotangents>."""
        if create_graph is None:
            create_graph = self.nested
        live = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
        found = [None] * len(self.leaves)
        if live:
            found = autograd_grad([o for o, _ in live], self.leaves, [c for _, c in live],
                                  retain_graph=retain_graph or create_graph or self.shared,
                                  create_graph=create_graph, allow_unused=True)
        return [_zeros_like(s) if g is None else g for s, g in zip(self.leaves, found)]

    def pack(self, flat: list):
        """Put per-stand-in values back into the structure of the differentiated arguments."""
        index = {id(s): v for s, v in zip(self.leaves, flat)}
        packed = tuple(_tree_map(lambda s: index[id(s)], tree) for tree in self.structure)
        return packed[0] if self.single else packed

    def finish(self, tree):
        """Results leave the transform detached unless an outer computation needs them."""
        return tree if self.nested else _detach_tree(tree)


def _touches_outer(outputs, own: set) -> bool:
    """Does the graph of ``outputs`` reach a tensor requiring grad that is not ours?"""
    seen = set()
    stack = [o.grad_fn for o in outputs if isinstance(o, Tensor) and o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.inputs is None:  # an outer graph already freed: treat it as outer
            return True
        for t in node.inputs:
            if isinstance(t, Tensor) and t._rg:
                if t.grad_fn is None:
                    if id(t) not in own:
                        return True
                elif t.grad_fn not in seen:
                    stack.append(t.grad_fn)
    return False


def _split_aux(where, out, has_aux):
    if not has_aux:
        return out, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"{where}(f, has_aux=True): f must return a pair (output, aux), got "
                        f"{type(out).__name__}")
    return out[0], out[1]


def _as_tuple(where, name, value) -> tuple:
    """A Tensor or a tuple/list of Tensors, as a tuple."""
    values = (value,) if isinstance(value, Tensor) else \
        tuple(value) if isinstance(value, (tuple, list)) else None
    if values is None or not all(isinstance(v, Tensor) for v in values):
        raise TypeError(f"{where}: {name} must be a Tensor or a tuple of Tensors, got "
                        f"{value!r:.80}")
    return values


def _check_like(where, name, values, refs):
    if len(values) != len(refs):
        raise ValueError(f"{where}: expected {len(refs)} {name}, got {len(values)}")
    checked = []
    for i, (v, r) in enumerate(zip(values, refs)):
        if tuple(v.shape) != tuple(r.shape):
            raise ValueError(f"{where}: {name} {i} has shape {tuple(v.shape)} but must match "
                             f"shape {tuple(r.shape)}")
        checked.append(v if v.dtype == r.dtype else v.to(r.dtype))
    return checked


# ---- the transforms ----------------------------------------------------------------------------
def value_and_grad(f, argnums=0, has_aux: bool = False):
    """``f``'s value and its gradient with respect to ``args[argnums]``.

    ``f`` must return a 0-d Tensor (or ``(value, aux)`` with ``has_aux=True``). Returns
    ``(value, grads)`` or ``((value, aux), grads)``; ``grads`` is one gradient, or a tuple of
    them when ``argnums`` is a tuple.

    >>> import nerve
    >>> value_and_grad(lambda x: (x ** 2).sum())(nerve.tensor([1.0, 2.0]))
    (tensor(5.), tensor([2., 4.]))
    """
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        tr = _Trace("grad", args, argnums)
        value, aux = _split_aux("grad", tr.run(f, kwargs), has_aux)
        if not isinstance(value, Tensor) or value.ndim != 0:
            got = f"a tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) \
                else type(value).__name__
            raise RuntimeError(f"grad(f)(*args): expected f(*args) to return a scalar (0-d) "
                               f"Tensor, got {got}; use vjp or jacobian for non-scalar "
                               "outputs, or reduce the output (e.g. .sum())")
        tr.decide([value] + _tree_leaves(aux))
        grads = tr.pack(tr.vjp([value], [None]))
        value = tr.finish(value)
        return ((value, tr.finish(aux)) if has_aux else value), grads

    return wrapper


def grad(f, argnums=0, has_aux: bool = False):
    """The gradient of a scalar function: ``grad(f)(x)`` is df/dx at x.

    Nests: ``grad(grad(f))`` is the second derivative. With ``has_aux=True`` ``f`` returns
    ``(value, aux)`` and the transform returns ``(grads, aux)``.

    >>> import nerve
    >>> grad(lambda x: x.sin())(nerve.tensor(0.0))
    tensor(1.)
    >>> grad(grad(lambda x: x ** 3))(nerve.tensor(2.0))
    tensor(12.)
    """
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapper


def vjp(f, *primals, has_aux: bool = False):
    """Evaluate ``f(*primals)`` and return ``(output, vjp_fn)`` (``, aux`` with has_aux).

    ``vjp_fn(cotangents)`` (one cotangent per output, same shapes) returns a tuple with one
    ``J^T cotangent`` per primal; it may be called several times.

    >>> import nerve
    >>> out, vjp_fn = vjp(lambda x: x * 3, nerve.tensor([1.0, 2.0]))
    >>> vjp_fn(nerve.tensor([1.0, 10.0]))
    (tensor([ 3., 30.]),)
    """
    tr = _Trace("vjp", primals, tuple(range(len(primals))))
    out, aux = _split_aux("vjp", tr.run(f, {}), has_aux)
    outs = list(_as_tuple("vjp", "the output of f", out))
    tr.decide(outs)

    def vjp_fn(cotangents):
        cots = _check_like("vjp_fn", "cotangents", _as_tuple("vjp_fn", "cotangents",
                                                             cotangents), outs)
        return tr.pack(tr.vjp(outs, cots, retain_graph=True))

    result = (tr.finish(out), vjp_fn)
    return result + (tr.finish(aux),) if has_aux else result


def jvp(f, primals, tangents, has_aux: bool = False):
    """Forward-mode product: ``(f(*primals), J @ tangents)`` (``, aux`` with has_aux).

    Built from two reverse passes (the double-vjp trick): with a dummy cotangent ``u``,
    ``g(u) = J^T u`` is linear in ``u``, so differentiating ``<g(u), v>`` with respect to
    ``u`` gives ``J v``: ``J v = d/du <J^T u, v>``. The first pass records its graph
    (``create_graph=True``), the second does not unless the result must stay differentiable.
    The output has ``f``'s structure.

    >>> import nerve
    >>> jvp(lambda x: x ** 2, (nerve.tensor([1.0, 3.0]),), (nerve.tensor([1.0, 1.0]),))
    (tensor([1., 9.]), tensor([2., 6.]))
    """
    primals = _as_tuple("jvp", "primals", primals)
    tr = _Trace("jvp", primals, tuple(range(len(primals))))
    tangents = _check_like("jvp", "tangents", _as_tuple("jvp", "tangents", tangents), primals)
    out, aux = _split_aux("jvp", tr.run(f, {}), has_aux)
    outs, single = list(_as_tuple("jvp", "the output of f", out)), isinstance(out, Tensor)
    tr.decide(outs)
    dummies = []
    for o in outs:
        u = _zeros_like(o)
        u._rg = True
        dummies.append(u)
    jt_u = tr.vjp(outs, dummies, create_graph=True)
    live = [(g, v) for g, v in zip(jt_u, tangents) if g.requires_grad]
    jv = [None] * len(outs)
    if live:
        jv = autograd_grad([g for g, _ in live], dummies, [v for _, v in live],
                           retain_graph=tr.nested or tr.shared, create_graph=tr.nested,
                           allow_unused=True)
    jv = [_zeros_like(o) if t is None else t for o, t in zip(outs, jv)]
    result = (tr.finish(out), jv[0] if single else type(out)(jv))
    return result + (tr.finish(aux),) if has_aux else result


def hvp(f, primals, tangents):
    """Hessian-vector product of a scalar ``f``: returns ``(f(*primals), H @ tangents)``.

    Computed reverse-over-reverse as ``H v = d/dx <grad f(x), v>`` (the Hessian of a twice
    differentiable function is symmetric), which costs two backward passes and never forms H.
    ``primals`` is a Tensor or a tuple of Tensors; the product has the same structure.

    >>> import nerve
    >>> hvp(lambda x: (x ** 3).sum(), nerve.tensor([1.0, 2.0]), nerve.tensor([1.0, 0.0]))
    (tensor(9.), tensor([6., 0.]))
    """
    single = isinstance(primals, Tensor)
    primals = _as_tuple("hvp", "primals", primals)
    tr = _Trace("hvp", primals, 0 if single else tuple(range(len(primals))))
    tangents = _check_like("hvp", "tangents", _as_tuple("hvp", "tangents", tangents), primals)
    value = tr.run(f, {})
    if not isinstance(value, Tensor) or value.ndim != 0:
        raise RuntimeError("hvp: f must return a scalar (0-d) Tensor, got "
                           + (f"shape {tuple(value.shape)}" if isinstance(value, Tensor)
                              else type(value).__name__))
    tr.decide([value])
    first = tr.vjp([value], [None], create_graph=True)
    hv = tr.vjp(first, tangents)
    return tr.finish(value), tr.pack(hv)


def jacobian(f, argnums=0, has_aux: bool = False):
    """The Jacobian of ``f`` with respect to ``args[argnums]`` (reverse mode, one backward
    pass per output element, like ``torch.func.jacrev``).

    For an output of shape ``S`` and an argument of shape ``T`` the Jacobian has shape
    ``S + T``. A tuple ``argnums`` gives a tuple of Jacobians; a tuple output gives a tuple
    with one entry per output.

    >>> import nerve
    >>> jacobian(lambda x: x ** 2)(nerve.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    from ..ops import shape as shape_ops  # ops sit above autograd; needed only when called

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        tr = _Trace("jacobian", args, argnums)
        out, aux = _split_aux("jacobian", tr.run(f, kwargs), has_aux)
        outs, single = list(_as_tuple("jacobian", "the output of f", out)), isinstance(out, Tensor)
        tr.decide(outs + _tree_leaves(aux))
        jacs = []
        for i, o in enumerate(outs):
            n = o.numel()
            xp = get_array_module(o.data)
            rows = []
            for k in range(n):
                onehot = xp.zeros(n, dtype=o.dtype)
                onehot[k] = 1
                last = k == n - 1 and i == len(outs) - 1
                rows.append(tr.vjp([o], [Tensor(onehot.reshape(o.shape))],
                                   retain_graph=not last))
            per_arg = []
            for j, s in enumerate(tr.leaves):
                if n == 0:
                    per_arg.append(Tensor._make(xp.zeros(o.shape + s.shape, dtype=s.dtype),
                                                None))
                else:
                    stacked = shape_ops.stack([r[j] for r in rows])
                    per_arg.append(stacked.reshape(o.shape + s.shape))
            jacs.append(tr.pack(per_arg))
        result = jacs[0] if single else type(out)(jacs)
        return (result, tr.finish(aux)) if has_aux else result

    return wrapper


def hessian(f, argnums=0):
    """The Hessian of a scalar ``f``: ``jacobian(jacobian(f, argnums), argnums)``.

    For an argument of shape ``T`` the Hessian has shape ``T + T``.

    >>> import nerve
    >>> hessian(lambda x: 0.5 * (x[0] ** 2 + 10 * x[1] ** 2))(nerve.tensor([1.0, 1.0]))
    tensor([[ 1.,  0.],
            [ 0., 10.]])
    """
    return jacobian(jacobian(f, argnums), argnums)
