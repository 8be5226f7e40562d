"""nerve against PyTorch, op by op: values, dtypes and first derivatives of every input.

In the manner of tinygrad's test/backend/test_ops.py, each case is one call of ``check``: it
builds the same random inputs for both libraries, runs the same code on each (nerve's API is
PyTorch's, so one lambda usually serves both; ``lib(x)`` is the module of ``x``), compares the
outputs, then backpropagates the same random upstream gradient and compares the gradient of
every input. Each case runs in float64 at tight tolerance and in float32 at float32 tolerance.
"""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.nn.functional as NF

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: the reference suite compares nerve with it")
TF = torch.nn.functional

# dtype -> ((forward rtol, atol), (gradient rtol, atol))
TOLERANCES = {
    "float64": ((1e-10, 1e-12), (1e-9, 1e-11)),
    "float32": ((2e-6, 1e-6), (2e-5, 1e-5)),
}


def lib(x):
    """The module that ``x`` belongs to, so that one lambda runs on both: ``lib(x).cat(...)``."""
    return torch if isinstance(x, torch.Tensor) else nerve


def functional(name, *args, **kwargs):
    """``F.name(x, ...)`` with F = torch.nn.functional or nerve.nn.functional."""
    def call(x):
        return getattr(TF if isinstance(x, torch.Tensor) else NF, name)(x, *args, **kwargs)

    call.__name__ = f"F.{name}" + repr(args + tuple(f"{k}={v!r}" for k, v in kwargs.items()))
    return call


def ids(cases):
    """Test ids that find each case: a functional's call, else its line in this file (L120,
    or L120.2 for the second lambda on that line)."""
    out, seen = [], {}
    for case in cases:
        fn = case[0] if isinstance(case, tuple) else case
        line = fn.__code__.co_firstlineno
        seen[line] = seen.get(line, 0) + 1
        out.append(fn.__name__ if fn.__name__ != "<lambda>" else
                   f"L{line}" + (f".{seen[line]}" if seen[line] > 1 else ""))
    return out


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in _flatten(item)]
    return [out]


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _assert_same(where, n, t, tol):
    """One nerve tensor against one torch tensor: shape, dtype, then values."""
    assert tuple(n.shape) == tuple(t.shape), f"{where}: shape {n.shape} != torch {t.shape}"
    assert _name(n.dtype) == _name(t.dtype), f"{where}: dtype {n.dtype} != torch {t.dtype}"
    got, want = n.detach().numpy(), t.detach().numpy()
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, *tol, err_msg=where)
    else:
        np.testing.assert_array_equal(got, want, err_msg=where)


def _run(fn, arrays, dtype, module):
    """Build the inputs (floats require grad) and apply ``fn``."""
    inputs = []
    for a in arrays:
        a = a.astype(dtype) if a.dtype.kind == "f" else a
        t = torch.tensor(a) if module is torch else nerve.tensor(a)
        inputs.append(t.requires_grad_() if a.dtype.kind == "f" else t)
    return inputs, _flatten(fn(*inputs))


def check(fn, torch_fn=None, shapes=((3, 4),), *, vals=None, low=-2.0, high=2.0):
    """Compare ``fn`` on nerve with ``torch_fn`` (default: ``fn``) on torch, in each dtype.

    Inputs are uniform on [low, high) with the given ``shapes``, or the arrays in ``vals``
    (integer arrays stay integer and need no gradient).
    """
    rng = np.random.default_rng(0)
    if vals is None:
        arrays = [rng.uniform(low, high, size=s) for s in shapes]
    else:
        arrays = [np.asarray(v) for v in vals]
    for dtype, (fwd_tol, grad_tol) in TOLERANCES.items():
        n_in, n_out = _run(fn, arrays, dtype, nerve)
        t_in, t_out = _run(torch_fn or fn, arrays, dtype, torch)
        assert len(n_out) == len(t_out), f"{len(n_out)} outputs, torch gives {len(t_out)}"
        for i, (n, t) in enumerate(zip(n_out, t_out)):
            _assert_same(f"{dtype} output {i}", n, t, fwd_tol)
            assert n.requires_grad == t.requires_grad, \
                f"{dtype} output {i}: requires_grad {n.requires_grad}, torch {t.requires_grad}"
        _check_grads(dtype, rng, n_in, n_out, t_in, t_out, grad_tol)


def _check_grads(dtype, rng, n_in, n_out, t_in, t_out, tol):
    """Backpropagate one random upstream gradient per output; compare every input's grad."""
    outs = [i for i, t in enumerate(t_out) if t.requires_grad]
    wrt = [i for i, t in enumerate(t_in) if t.requires_grad]
    if not outs or not wrt:
        return
    upstream = [rng.standard_normal(t_out[i].shape).astype(_name(t_out[i].dtype)) for i in outs]
    t_grads = torch.autograd.grad([t_out[i] for i in outs], [t_in[i] for i in wrt],
                                  [torch.tensor(u) for u in upstream], allow_unused=True,
                                  materialize_grads=True)
    n_grads = nerve.autograd.grad([n_out[i] for i in outs], [n_in[i] for i in wrt],
                                  [nerve.tensor(u) for u in upstream], allow_unused=True)
    for i, n, t in zip(wrt, n_grads, t_grads):
        n = nerve.zeros_like(n_in[i]) if n is None else n
        _assert_same(f"{dtype} gradient of input {i}", n, t, tol)


# ---- arithmetic -------------------------------------------------------------------------
BROADCAST = [[(3, 4), (3, 4)], [(2, 3, 4), (4,)], [(3, 1), (1, 4)], [(), (2, 3)]]


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
@pytest.mark.parametrize("fn", [
    lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y,
    lambda x, y: lib(x).add(x, y, alpha=2.5), lambda x, y: x.sub(y, alpha=-0.5),
    lambda x, y: x.mul(y), lambda x, y: lib(x).maximum(x, y), lambda x, y: x.minimum(y),
    lambda x, y: lib(x).where(x > y, x, y), lambda x, y: lib(x).max(x, y),
], ids=["add", "sub", "mul", "add_alpha", "sub_alpha", "mul_method", "maximum", "minimum",
        "where", "max_binary"])
def test_binary(fn, shapes):
    check(fn, shapes=shapes)


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
@pytest.mark.parametrize("fn", [
    lambda x, y: x / y, lambda x, y: x.div(y), lambda x, y: x ** y,
    lambda x, y: lib(x).pow(x, y),
], ids=["div", "div_method", "pow", "pow_function"])
def test_binary_positive(fn, shapes):
    check(fn, shapes=shapes, low=0.5, high=2.0)


@pytest.mark.parametrize("fn", [
    lambda x: x + 1.5, lambda x: 2 - x, lambda x: 3 * x, lambda x: x / 4, lambda x: -x,
    lambda x: x.neg(), lambda x: x ** 2, lambda x: x ** 3.5, lambda x: x.pow(-1.5),
    lambda x: 2 ** x, lambda x: 0.5 ** x, lambda x: 1 / x, lambda x: x.square(),
    lambda x: lib(x).where(x > 1, x, 0.0), lambda x: lib(x).where(x > 1, 2.0, x),
], ids=["add_scalar", "rsub", "rmul", "div_scalar", "neg", "neg_method", "pow2", "pow_float",
        "pow_negative", "rpow2", "rpow_half", "rdiv", "square", "where_scalar",
        "where_scalar_left"])
def test_scalar_operand(fn):
    check(fn, shapes=[(3, 4)], low=0.5, high=2.0)


def test_pow_integer_exponent_of_negative_base():
    check(lambda x: x ** 3, shapes=[(3, 4)], low=-2.0, high=-0.5)


# ---- unary math and activations -----------------------------------------------------------
UNARY = {  # name -> (function, low, high)
    "exp": (lambda x: x.exp(), -2, 2), "log": (lambda x: x.log(), 0.1, 3),
    "log1p": (lambda x: x.log1p(), -0.9, 3), "expm1": (lambda x: x.expm1(), -2, 2),
    "sqrt": (lambda x: x.sqrt(), 0.1, 3), "rsqrt": (lambda x: x.rsqrt(), 0.1, 3),
    "abs": (lambda x: x.abs(), -2, 2), "abs_builtin": (lambda x: abs(x), -2, 2),
    "sin": (lambda x: x.sin(), -3, 3), "cos": (lambda x: x.cos(), -3, 3),
    "tanh": (lambda x: x.tanh(), -3, 3), "sigmoid": (lambda x: x.sigmoid(), -5, 5),
    "relu": (lambda x: x.relu(), -2, 2), "torch_relu": (lambda x: lib(x).relu(x), -2, 2),
    "torch_exp": (lambda x: lib(x).exp(x), -2, 2),
    "torch_sigmoid": (lambda x: lib(x).sigmoid(x), -5, 5),
    "erf": (lambda x: x.erf(), -2, 2),
    "clamp": (lambda x: x.clamp(-0.5, 1.0), -2, 2),
    "clamp_min": (lambda x: x.clamp(min=0.3), -2, 2),
    "clamp_max": (lambda x: lib(x).clamp(x, max=-0.2), -2, 2),
    "clip": (lambda x: x.clip(-1.0, 1.0), -2, 2),
    "leaky_relu": (functional("leaky_relu"), -2, 2),
    "leaky_relu_slope": (functional("leaky_relu", 0.2), -2, 2),
    "elu": (functional("elu"), -2, 2), "elu_alpha": (functional("elu", alpha=0.7), -2, 2),
    "gelu": (functional("gelu"), -3, 3),
    "gelu_tanh": (functional("gelu", approximate="tanh"), -3, 3),
    "softplus": (functional("softplus"), -3, 3),
    "softplus_beta": (functional("softplus", beta=2.0, threshold=1.0), -3, 3),
    "softplus_large": (functional("softplus"), 15, 25),
    "silu": (functional("silu"), -3, 3), "functional_relu": (functional("relu"), -2, 2),
    "functional_sigmoid": (functional("sigmoid"), -5, 5),
    "functional_tanh": (functional("tanh"), -3, 3),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(3, 4), ()], ids=str)
def test_unary(name, shape):
    fn, low, high = UNARY[name]
    check(fn, shapes=[shape], low=low, high=high)


# ---- reductions ---------------------------------------------------------------------------
REDUCE = [
    lambda x: x.sum(), lambda x: x.sum(1), lambda x: x.sum(dim=(0, 2), keepdim=True),
    lambda x: lib(x).sum(x, -1, keepdim=True), lambda x: x.mean(),
    lambda x: x.mean(dim=1), lambda x: lib(x).mean(x, (0, 1), keepdim=True),
    lambda x: x.prod(), lambda x: x.prod(1), lambda x: x.prod(dim=-1, keepdim=True),
    lambda x: x.var(), lambda x: x.var(1), lambda x: x.var(dim=(0, 2), keepdim=True),
    lambda x: x.var(dim=1, unbiased=False), lambda x: x.var(1, correction=0),
    lambda x: x.var(dim=2, correction=2), lambda x: x.std(), lambda x: x.std(dim=0),
    lambda x: x.std(dim=1, unbiased=False, keepdim=True), lambda x: x.std(2, correction=0),
    lambda x: lib(x).std(x, dim=(1, 2)), lambda x: x.var(unbiased=False),
    lambda x: x.var(False), lambda x: x.std(True), lambda x: x.var(1, True, True),
    lambda x: x.sum(-1, True), lambda x: x.max(), lambda x: x.min(), lambda x: x.max(1)[0],
    lambda x: x.max(dim=1), lambda x: x.max(1, keepdim=True), lambda x: x.min(dim=-1),
    lambda x: lib(x).max(x, 0), lambda x: x.max(dim=2).values,
    lambda x: x.min(dim=0).indices, lambda x: x.amax(), lambda x: x.amax(dim=(0, 2)),
    lambda x: x.amin(1, keepdim=True), lambda x: lib(x).amin(x, -1),
    lambda x: x.argmax(), lambda x: x.argmin(), lambda x: x.argmax(dim=1),
    lambda x: x.argmin(-1, keepdim=True), lambda x: lib(x).argmax(x, 0),
    lambda x: x.argmax(dim=None, keepdim=True), lambda x: x.argmin(keepdim=True),
    lambda x: x.logsumexp(1), lambda x: x.logsumexp(dim=(0, 2), keepdim=True),
    lambda x: lib(x).logsumexp(x, -1), lambda x: x.cumsum(1), lambda x: x.cumsum(dim=-1),
    lambda x: lib(x).cumsum(x, 0),
]


@pytest.mark.parametrize("fn", REDUCE, ids=ids(REDUCE))
def test_reduce(fn):
    check(fn, shapes=[(2, 3, 4)], low=0.5, high=1.5)


REDUCE_0D = [
    lambda x: x.sum(), lambda x: x.sum(0), lambda x: x.mean(-1, keepdim=True),
    lambda x: x.max(), lambda x: x.max(0), lambda x: x.amin(0), lambda x: x.prod(0),
    lambda x: x.logsumexp(0), lambda x: x.softmax(0), lambda x: x.log_softmax(-1),
    lambda x: x.cumsum(0), lambda x: x.argmax(0), lambda x: x.var(0, correction=0),
]


@pytest.mark.parametrize("fn", REDUCE_0D, ids=ids(REDUCE_0D))
def test_reduce_0d(fn):
    check(fn, shapes=[()])


@pytest.mark.parametrize("vals", [[[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]],
                                  [[0.0, 0.0, 3.0], [0.0, 2.0, 0.5]]], ids=["zero", "zeros"])
@pytest.mark.parametrize("fn", [lambda x: x.prod(), lambda x: x.prod(1)], ids=["all", "dim"])
def test_prod_with_zeros(fn, vals):
    check(fn, vals=[vals])


SOFTMAX = [
    lambda x: x.softmax(1), lambda x: x.softmax(dim=0), lambda x: x.log_softmax(dim=-1),
    lambda x: x.log_softmax(1), lambda x: lib(x).softmax(x, dim=2),
    lambda x: lib(x).log_softmax(x, 0), functional("softmax", dim=-1),
    functional("log_softmax", dim=1), lambda x: x.softmax(-1).log(),
]


@pytest.mark.parametrize("fn", SOFTMAX, ids=ids(SOFTMAX))
def test_softmax(fn):
    check(fn, shapes=[(2, 3, 4)], low=-3, high=3)


@pytest.mark.parametrize("fn", [lambda x: x.log_softmax(-1), lambda x: x.softmax(-1),
                                lambda x: x.logsumexp(-1)], ids=["log_softmax", "softmax",
                                                                 "logsumexp"])
def test_softmax_large_logits(fn):
    vals = [[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4 + 1, -1e4 - 3, -1e4 + 0.5]]
    check(fn, vals=[vals])
    out = fn(nerve.tensor(vals))
    assert np.isfinite(out.numpy()).all(), f"non-finite values for large logits: {out}"


# ---- linear algebra -----------------------------------------------------------------------
@pytest.mark.parametrize("shapes", [
    [(4,), (4,)], [(4,), (4, 3)], [(3, 4), (4,)], [(4,), (2, 4, 3)], [(2, 3, 4), (4,)],
    [(3, 4), (4, 5)], [(2, 3, 4), (2, 4, 5)], [(2, 1, 3, 4), (5, 4, 2)], [(3, 4), (2, 4, 5)],
], ids=str)
@pytest.mark.parametrize("fn", [lambda x, y: x @ y, lambda x, y: x.matmul(y),
                                lambda x, y: lib(x).matmul(x, y)], ids=["@", "method", "fn"])
def test_matmul(fn, shapes):
    check(fn, shapes=shapes)


@pytest.mark.parametrize("fn, shapes", [
    (lambda x, y: x.mm(y), [(3, 4), (4, 2)]), (lambda x, y: x.bmm(y), [(2, 3, 4), (2, 4, 5)]),
    (lambda x, y: x.dot(y), [(4,), (4,)]), (lambda x, y: x.T @ y, [(4, 3), (4, 2)]),
], ids=["mm", "bmm", "dot", "T"])
def test_matmul_variants(fn, shapes):
    check(fn, shapes=shapes)


@pytest.mark.skipif(not hasattr(nerve, "einsum"), reason="nerve.einsum does not exist yet")
@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(4, 4)]), ("ij->ji", [(3, 4)]), ("i,j->ij", [(3,), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("ij,ij->", [(3, 4), (3, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_einsum(equation, shapes):
    check(lambda *xs: lib(xs[0]).einsum(equation, *xs), shapes=shapes)


# ---- shape --------------------------------------------------------------------------------
SHAPE = [  # (function, input shapes)
    (lambda x: x.reshape(4, 6), [(2, 3, 4)]), (lambda x: x.reshape((3, -1)), [(2, 3, 4)]),
    (lambda x: x.view(-1), [(2, 3, 4)]), (lambda x: x.view(2, 12), [(2, 3, 4)]),
    (lambda x: lib(x).reshape(x, (6, 4)), [(2, 3, 4)]), (lambda x: x.reshape(3, 4), [(3, 4)]),
    (lambda x, y: x.view_as(y), [(2, 6), (3, 4)]),
    (lambda x, y: x.reshape_as(y), [(2, 6), (3, 4)]),
    (lambda x: x.transpose(0, 2), [(2, 3, 4)]), (lambda x: x.transpose(-1, 0), [(2, 3, 4)]),
    (lambda x: lib(x).transpose(x, 1, 2), [(2, 3, 4)]),
    (lambda x: x.permute(2, 0, 1), [(2, 3, 4)]), (lambda x: x.permute((1, -1, 0)), [(2, 3, 4)]),
    (lambda x: lib(x).permute(x, (2, 1, 0)), [(2, 3, 4)]),
    (lambda x: x.T, [(3, 4)]), (lambda x: x.mT, [(2, 3, 4)]), (lambda x: x.t(), [(3, 4)]),
    (lambda x: x.swapaxes(0, 1), [(3, 4)]),
    (lambda x: x.expand(2, 3, 4), [(3, 1)]), (lambda x: x.expand(-1, 5), [(3, 1)]),
    (lambda x: x.expand((2, -1, 4)), [(1, 3, 1)]),
    (lambda x: lib(x).broadcast_to(x, (2, 3, 4)), [(4,)]),
    (lambda x, y: x.expand_as(y), [(3, 1), (2, 3, 4)]),
    (lambda x: x.squeeze(), [(3, 1, 4, 1)]), (lambda x: x.squeeze(1), [(3, 1, 4, 1)]),
    (lambda x: x.squeeze(-1), [(3, 1, 4, 1)]), (lambda x: x.squeeze(0), [(3, 1, 4, 1)]),
    (lambda x: x.squeeze((1, 3)), [(3, 1, 4, 1)]),
    (lambda x: lib(x).squeeze(x, 1), [(3, 1, 4, 1)]),
    (lambda x: x.unsqueeze(0), [(3, 4)]), (lambda x: x.unsqueeze(-1), [(3, 4)]),
    (lambda x: lib(x).unsqueeze(x, 1), [(3, 4)]),
    (lambda x: x.flatten(), [(2, 3, 4)]), (lambda x: x.flatten(1), [(2, 3, 4)]),
    (lambda x: x.flatten(0, 1), [(2, 3, 4)]),
    (lambda x: x.flatten(start_dim=1, end_dim=-2), [(2, 3, 4, 5)]),
    (lambda x: lib(x).flatten(x, 1), [(2, 3, 4)]),
    (lambda x, y: lib(x).cat([x, y], dim=1), [(2, 3), (2, 4)]),
    (lambda x, y: lib(x).cat((x, y, x)), [(2, 3), (1, 3)]),
    (lambda x, y: lib(x).cat([x, y], -1), [(2, 3, 1), (2, 3, 2)]),
    (lambda x, y: lib(x).concat([x, y], dim=0), [(2, 3), (1, 3)]),
    (lambda x, y: lib(x).stack([x, y]), [(2, 3), (2, 3)]),
    (lambda x, y: lib(x).stack((x, y, x), dim=1), [(2, 3), (2, 3)]),
    (lambda x, y: lib(x).stack([x, y], -1), [(2, 3), (2, 3)]),
    (lambda x: x.split(2), [(5, 3)]), (lambda x: x.split(2, dim=1), [(3, 5)]),
    (lambda x: x.split([1, 3], 1), [(2, 4)]), (lambda x: lib(x).split(x, [2, 1, 2]), [(5, 2)]),
    (lambda x: x.chunk(3), [(5, 2)]), (lambda x: x.chunk(2, dim=1), [(3, 4)]),
    (lambda x: lib(x).chunk(x, 4, -1), [(2, 6)]), (lambda x: x.unbind(1), [(2, 3)]),
    (lambda x: lib(x).unbind(x), [(2, 3)]),
    (functional("pad", (1, 2)), [(2, 3)]), (functional("pad", (1, 1, 2, 0)), [(2, 3)]),
    (functional("pad", (0, 1, 1, 0, 2, 2), value=1.5), [(2, 3, 4)]),
    (functional("pad", (2, 1), "constant", -1.0), [(2, 3, 4)]),
    (lambda x: x.flip(0), [(2, 3, 4)]), (lambda x: x.flip((0, 2)), [(2, 3, 4)]),
    (lambda x: x.flip(-1), [(2, 3, 4)]), (lambda x: x.flip(0, 1), [(2, 3, 4)]),
    (lambda x: lib(x).flip(x, [1]), [(2, 3, 4)]),
    (lambda x: x.tril(), [(4, 5)]), (lambda x: x.tril(1), [(2, 4, 5)]),
    (lambda x: x.tril(-1), [(5, 4)]), (lambda x: x.triu(diagonal=2), [(2, 4, 5)]),
    (lambda x: lib(x).triu(x, -1), [(4, 5)]), (lambda x: lib(x).tril(x, diagonal=0), [(3, 3)]),
    (lambda x: x.clone(), [(3, 4)]), (lambda x: x.contiguous(), [(3, 4)]),
]


@pytest.mark.parametrize("fn, shapes", SHAPE, ids=ids(SHAPE))
def test_shape(fn, shapes):
    check(fn, shapes=shapes)


# ---- indexing -----------------------------------------------------------------------------
def index(x, values):
    """An int64 (or bool) index tensor of the same library as ``x``."""
    return lib(x).tensor(values)


GETITEM = [
    lambda x: x[1], lambda x: x[-1], lambda x: x[1:3], lambda x: x[::2],
    lambda x: x[:, 1::2], lambda x: x[..., -1], lambda x: x[None], lambda x: x[:, None, 2],
    lambda x: x[..., None, :], lambda x: x[1, ..., 2], lambda x: x[-2:, :-1, ::3],
    lambda x: x[1, 2, 3], lambda x: x[1:, -3:-1, 1:4:2], lambda x: x[[0, 0, 2]],
    lambda x: x[index(x, [2, 0, 2])], lambda x: x[[0, 1], [1, 1]],
    lambda x: x[:, [2, 0, 2]], lambda x: x[[1, 0], :, [0, 3]], lambda x: x[1:, [0, 0]],
    lambda x: x[index(x, [[0, 2], [2, 2]])], lambda x: x[..., index(x, [4, 4, 0])],
    lambda x: x[x > 0.5], lambda x: x[index(x, [True, False, True])],
    lambda x: x[:, index(x, [False, True, True, False])], lambda x: x[x[..., 0] > 0],
]


@pytest.mark.parametrize("fn", GETITEM, ids=ids(GETITEM))
def test_getitem(fn):
    check(fn, shapes=[(3, 4, 5)])


INDEXING = [  # (function, input shapes)
    (lambda x: x.gather(1, index(x, [[0, 0], [2, 1], [3, 3]])), [(3, 4)]),
    (lambda x: lib(x).gather(x, 0, index(x, [[2, 0, 1, 2], [0, 0, 0, 1]])), [(3, 4)]),
    (lambda x: x.gather(-1, index(x, [[[1], [0]], [[2], [2]]])), [(2, 2, 3)]),
    (lambda x, y: x.scatter_add(1, index(x, [[0, 0], [3, 1], [2, 2]]), y), [(3, 4), (3, 2)]),
    (lambda x, y: lib(x).scatter_add(x, 0, index(x, [[1, 0, 1, 1], [0, 0, 2, 1]]), y),
     [(3, 4), (2, 4)]),
    (lambda x: x.index_select(0, index(x, [2, 0, 2])), [(3, 4)]),
    (lambda x: lib(x).index_select(x, 1, index(x, [3, 0, 3, 3])), [(3, 4)]),
    (lambda x, y: x.index_add(0, index(x, [0, 2, 0]), y), [(3, 4), (3, 4)]),
    (lambda x, y: lib(x).index_add(x, 1, index(x, [1, 1]), y), [(3, 4), (3, 2)]),
    (lambda x, y: x.index_add(0, index(x, [1, 1]), y, alpha=-2.0), [(3, 4), (2, 4)]),
    (lambda x: x.masked_fill(x > 0, 0.0), [(3, 4)]),
    (lambda x: x.masked_fill(index(x, [True, False, False, True]), -1.5), [(3, 4)]),
    (lambda x: lib(x).masked_fill(x, x < -1, 2.0), [(3, 4)]),
]


@pytest.mark.parametrize("fn, shapes", INDEXING, ids=ids(INDEXING))
def test_indexing(fn, shapes):
    check(fn, shapes=shapes)


ONE_HOT = [functional("one_hot"), functional("one_hot", 6), functional("one_hot", num_classes=4)]


@pytest.mark.parametrize("fn", ONE_HOT, ids=ids(ONE_HOT))
def test_one_hot(fn):
    check(fn, vals=[[[0, 3, 1], [1, 1, 2]]])


def test_torch_functional_names_at_top_level():
    """nerve also exposes these at the top level; torch has them only in nn.functional."""
    check(lambda x: nerve.pad(x, (1, 2, 0, 1), value=0.5), lambda x: TF.pad(x, (1, 2, 0, 1),
                                                                             value=0.5))
    check(lambda x: nerve.gelu(x, approximate="tanh") + nerve.leaky_relu(x, 0.3),
          lambda x: TF.gelu(x, approximate="tanh") + TF.leaky_relu(x, 0.3))
    check(lambda i: nerve.one_hot(i, 4), lambda i: TF.one_hot(i, 4), vals=[[3, 0, 0, 2]])


# ---- casts --------------------------------------------------------------------------------
CASTS = [
    lambda x: x.float(), lambda x: x.double(), lambda x: x.half(), lambda x: x.long(),
    lambda x: x.int(), lambda x: x.bool(), lambda x: x.to(lib(x).float32),
    lambda x: x.to(dtype=lib(x).float64), lambda x: x.to(lib(x).int64),
    lambda x: x.type(lib(x).float32), lambda x: x.float() * x,
    lambda x: x.long().float() + x, lambda x: (x > 0).float() * x,
]


@pytest.mark.parametrize("fn", CASTS, ids=ids(CASTS))
def test_cast(fn):
    check(fn, shapes=[(3, 4)], low=-3, high=3)


# ---- kinks and ties: exact inputs where the derivative is a convention ----------------------
KINKS = [
    lambda x: x.relu(), functional("leaky_relu", 0.1), functional("elu"), lambda x: x.abs(),
    lambda x: x.clamp(-1.0, 1.0), lambda x: x.clamp(min=0.0), lambda x: x.max(),
    lambda x: x.min(), lambda x: x.amax(1), lambda x: x.amin(dim=0),
    lambda x: x.amax((0, 1), keepdim=True), lambda x: x.max(dim=1), lambda x: x.min(0),
    lambda x: x.maximum(x.flip(1)), lambda x: lib(x).minimum(x, x.flip(0)),
    lambda x: lib(x).where(x > 0, x, -x), lambda x: x.logsumexp(1), lambda x: x.softmax(0),
]


@pytest.mark.parametrize("fn", KINKS, ids=ids(KINKS))
def test_kinks_and_ties(fn):
    check(fn, vals=[[[-1.0, 0.0, 1.0, 0.0], [1.0, 1.0, -1.0, 2.0], [2.0, 0.0, 2.0, -1.0]]])
