"""Property-based tests (hypothesis): broadcasting binary ops and reductions over random
shapes, axes and keepdims, checked against NumPy values and NumPy-derived gradients."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nerve

from .opcheck import assert_close, leaf, unbroadcast

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# name -> (nerve op, NumPy value, NumPy partial derivatives (d/da, d/db)); pow gets a > 0
BINARY = {
    "add": (lambda a, b: a + b, np.add, lambda a, b: (np.ones_like(a * b),) * 2),
    "sub": (lambda a, b: a - b, np.subtract,
            lambda a, b: (np.ones_like(a * b), -np.ones_like(a * b))),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b: (b + 0 * a, a + 0 * b)),
    "div": (lambda a, b: a / b, np.divide, lambda a, b: (1 / b + 0 * a, -a / b ** 2)),
    "pow": (lambda a, b: a ** b, np.power,
            lambda a, b: (b * a ** (b - 1), a ** b * np.log(a))),
    "maximum": (nerve.maximum, np.maximum,
                lambda a, b: ((a > b) + 0.0 * b, (b > a) + 0.0 * a)),
    "minimum": (nerve.minimum, np.minimum,
                lambda a, b: ((a < b) + 0.0 * b, (b < a) + 0.0 * a)),
}


@FAST
@given(name=st.sampled_from(sorted(BINARY)),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                max_side=3),
       seed=st.integers(0, 2 ** 16))
def test_binary_broadcast_gradients(name, shapes, seed):
    op, ref, partials = BINARY[name]
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    r = np.random.default_rng(seed)
    a = r.uniform(0.5, 2.0, sa)  # positive and away from 0 for div and pow
    b = r.uniform(0.5, 2.0, sb) * r.choice([-1.0, 1.0], sb)
    x, y = leaf(a), leaf(b)
    out = op(x, y)
    assert out.shape == out_shape
    assert_close(out, ref(a, b))
    w = r.standard_normal(out_shape)
    (out * nerve.tensor(w)).sum().backward()
    da, db = partials(a, b)
    assert x.grad.shape == sa and y.grad.shape == sb
    assert_close(x.grad, unbroadcast(np.broadcast_to(w * da, out_shape), sa))
    assert_close(y.grad, unbroadcast(np.broadcast_to(w * db, out_shape), sb))


def _np_logsumexp(a, axis, keepdims):
    m = a.max(axis=axis, keepdims=True)
    out = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.reshape(np.sum(a, axis=axis).shape)


# name -> (nerve reduction, NumPy value, NumPy gradient given the kept-dims output)
REDUCTIONS = {
    "sum": (nerve.sum, np.sum, lambda a, out, n: np.ones_like(a)),
    "mean": (nerve.mean, np.mean, lambda a, out, n: np.ones_like(a) / n),
    "prod": (nerve.prod, np.prod, lambda a, out, n: out / a),
    "amax": (nerve.amax, np.amax, lambda a, out, n: (a == out) * 1.0),
    "amin": (nerve.amin, np.amin, lambda a, out, n: (a == out) * 1.0),
    "logsumexp": (nerve.logsumexp, _np_logsumexp, lambda a, out, n: np.exp(a - out)),
}


@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3))
    nd = len(shape)
    choices = [st.none()]
    if nd:
        choices.append(st.integers(-nd, nd - 1))
        choices.append(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)
                       .map(tuple))
    return shape, draw(st.one_of(choices))


@FAST
@given(name=st.sampled_from(sorted(REDUCTIONS)), shape_axis=shape_and_axis(),
       keepdim=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_reductions_over_random_axes(name, shape_axis, keepdim, seed):
    fn, ref, grad_ref = REDUCTIONS[name]
    shape, axis = shape_axis
    r = np.random.default_rng(seed)
    n_all = int(np.prod(shape))
    # distinct nonzero values: no max ties, no division by zero in prod's reference
    a = ((0.5 + r.permutation(n_all) / max(n_all, 1)) * r.choice([-1.0, 1.0], n_all))
    a = a.reshape(shape)
    x = leaf(a)
    out = fn(x, axis, keepdim)
    expected = ref(a, axis=axis, keepdims=keepdim)
    assert_close(out, np.asarray(expected))
    w = r.standard_normal(out.shape)
    (out * nerve.tensor(w)).sum().backward()
    assert x.grad.shape == shape
    kept = np.asarray(ref(a, axis=axis, keepdims=True))
    axes = range(a.ndim) if axis is None else np.atleast_1d(axis) % max(a.ndim, 1)
    count = int(np.prod([shape[i] for i in axes])) if a.ndim else 1
    w_kept = w.reshape(kept.shape)
    assert_close(x.grad, w_kept * grad_ref(a, kept, count))


@FAST
@given(shape_axis=shape_and_axis(), seed=st.integers(0, 2 ** 16))
def test_softmax_rows_sum_to_one(shape_axis, seed):
    shape, axis = shape_axis
    if not isinstance(axis, int):
        axis = -1
    a = np.random.default_rng(seed).standard_normal(shape) * 30
    s = nerve.softmax(leaf(a), axis).detach().numpy()
    assert np.all(s >= 0)
    assert_close(s.sum(axis=axis if shape else None), np.ones(np.sum(a, axis=axis).shape))
    ls = nerve.log_softmax(leaf(a), axis).detach().numpy()
    assert np.isfinite(ls).all()
    assert_close(np.exp(ls), s)


@pytest.mark.parametrize("equation", ["ij,jk->ik", "bij,bjk->bik"])
@FAST
@given(sizes=st.lists(st.integers(1, 3), min_size=4, max_size=4), seed=st.integers(0, 100))
def test_einsum_matches_matmul(equation, sizes, seed):
    b, i, j, k = sizes
    lead = (b,) if equation.startswith("b") else ()
    r = np.random.default_rng(seed)
    p, q = r.standard_normal(lead + (i, j)), r.standard_normal(lead + (j, k))
    x1, y1, x2, y2 = leaf(p), leaf(q), leaf(p), leaf(q)
    e, m = nerve.einsum(equation, x1, y1), x2 @ y2
    assert_close(e, m.detach().numpy())
    w = nerve.tensor(r.standard_normal(e.shape))
    (e * w).sum().backward()
    (m * w).sum().backward()
    assert_close(x1.grad, x2.grad.numpy())
    assert_close(y1.grad, y2.grad.numpy())
