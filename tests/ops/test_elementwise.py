"""Elementwise ops (nerve/ops/elementwise.py and their public wrappers in nerve/ops/math.py)."""
import math

import numpy as np
import pytest

import nerve

from .opcheck import (
    DTYPES,
    assert_close,
    check_grads,
    check_values,
    grads_of,
    leaf,
    sample,
    unbroadcast,
)

_erf = np.vectorize(math.erf)
_SQRT_2_PI = math.sqrt(2 / math.pi)

# name -> (nerve function, NumPy reference, input domain); all are twice differentiable away
# from the kinks that the domain avoids
UNARY = {
    "neg": (nerve.neg, np.negative, "real"),
    "exp": (nerve.exp, np.exp, "real"),
    "log": (nerve.log, np.log, "positive"),
    "log1p": (nerve.log1p, np.log1p, "unit"),
    "expm1": (nerve.expm1, np.expm1, "real"),
    "sqrt": (nerve.sqrt, np.sqrt, "positive"),
    "rsqrt": (nerve.rsqrt, lambda a: 1 / np.sqrt(a), "positive"),
    "square": (nerve.square, np.square, "real"),
    "abs": (nerve.abs, np.abs, "nonzero"),
    "sin": (nerve.sin, np.sin, "real"),
    "cos": (nerve.cos, np.cos, "real"),
    "tanh": (nerve.tanh, np.tanh, "real"),
    "erf": (nerve.erf, _erf, "real"),
    "sigmoid": (nerve.sigmoid, lambda a: 1 / (1 + np.exp(-a)), "real"),
    "relu": (nerve.relu, lambda a: np.maximum(a, 0), "nonzero"),
    "leaky_relu": (lambda x: nerve.leaky_relu(x, 0.1), lambda a: np.where(a > 0, a, 0.1 * a),
                   "nonzero"),
    "elu": (lambda x: nerve.elu(x, 0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(a)),
            "nonzero"),
    "gelu": (nerve.gelu, lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2))), "real"),
    "gelu_tanh": (lambda x: nerve.gelu(x, approximate="tanh"),
                  lambda a: 0.5 * a * (1 + np.tanh(_SQRT_2_PI * (a + 0.044715 * a ** 3))),
                  "real"),
    "softplus": (nerve.softplus, lambda a: np.logaddexp(0, a), "real"),
    "softplus_beta": (lambda x: nerve.softplus(x, beta=2.0), lambda a: np.logaddexp(0, 2 * a) / 2,
                      "real"),
    "silu": (nerve.silu, lambda a: a / (1 + np.exp(-a)), "real"),
    "clamp": (lambda x: nerve.clamp(x, -1.1, 0.9), lambda a: np.clip(a, -1.1, 0.9), "nonzero"),
    "clamp_min": (lambda x: nerve.clamp(x, min=0.1), lambda a: np.maximum(a, 0.1), "nonzero"),
    "clip_max": (lambda x: nerve.clip(x, max=0.1), lambda a: np.minimum(a, 0.1), "nonzero"),
}

# name -> (nerve function, NumPy reference, domain of a, domain of b)
BINARY = {
    "add": (nerve.add, np.add, "real", "real"),
    "sub": (nerve.sub, np.subtract, "real", "real"),
    "mul": (nerve.mul, np.multiply, "real", "real"),
    "div": (nerve.div, np.divide, "real", "nonzero"),
    "pow": (nerve.pow, np.power, "positive", "real"),
    "maximum": (nerve.maximum, np.maximum, "real", "real"),
    "minimum": (nerve.minimum, np.minimum, "real", "real"),
    "add_alpha": (lambda a, b: nerve.add(a, b, alpha=2), lambda a, b: a + 2 * b, "real", "real"),
}

BROADCAST_SHAPES = [((2, 3), (2, 3)), ((3, 1), (4,)), ((2, 3, 4), (3, 1)), ((), (2, 3)),
                    ((2, 3), ()), ((), ())]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), ()])
@pytest.mark.parametrize("name", UNARY)
def test_unary_values(name, shape, dtype):
    fn, ref, domain = UNARY[name]
    check_values(fn, ref, [sample(shape, domain)], dtype)


@pytest.mark.parametrize("shape", [(2, 3), ()])
@pytest.mark.parametrize("name", UNARY)
def test_unary_gradients(name, shape):
    fn, _, domain = UNARY[name]
    check_grads(fn, [sample(shape, domain, seed=1)])


def test_gelu_known_values():
    x = nerve.tensor([-1.0, 0.0, 1.0, 2.0], dtype=nerve.float64)
    assert_close(nerve.gelu(x), [-0.15865525393145707, 0.0, 0.8413447460685429,
                                 1.9544997361036416])
    assert_close(nerve.gelu(x, approximate="tanh"), [-0.15880800939172324, 0.0,
                                                     0.8411919906082768, 1.9545976940871754])
    with pytest.raises(ValueError, match="approximate"):
        nerve.gelu(x, approximate="fast")


def test_stable_for_large_inputs():
    x = nerve.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=nerve.float32)
    assert_close(nerve.sigmoid(x), [0.0, 0.0, 0.5, 1.0, 1.0])
    assert_close(nerve.softplus(x), [0.0, 0.0, math.log(2), 100.0, 1e4])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES)
@pytest.mark.parametrize("name", BINARY)
def test_binary_values(name, shapes, dtype):
    fn, ref, da, db = BINARY[name]
    check_values(fn, ref, [sample(shapes[0], da), sample(shapes[1], db, seed=1)], dtype)


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES)
@pytest.mark.parametrize("name", BINARY)
def test_binary_gradients(name, shapes):
    fn, _, da, db = BINARY[name]
    check_grads(fn, [sample(shapes[0], da, seed=2), sample(shapes[1], db, seed=3)])


def test_broadcast_gradient_is_summed_back():
    a, b = sample((3, 1)), sample((4,), seed=1)
    ga, gb = grads_of(nerve.mul, [a, b], seed=5)
    w = np.random.default_rng(5).standard_normal((3, 4))
    assert_close(ga, unbroadcast(w * b, (3, 1)))
    assert_close(gb, unbroadcast(w * a, (4,)))


# ---- Python operators, reflected forms, scalars and NumPy arrays ---------------------------
OPERATORS = {
    "x + s": (lambda x, s: x + s), "s + x": (lambda x, s: s + x),
    "x - s": (lambda x, s: x - s), "s - x": (lambda x, s: s - x),
    "x * s": (lambda x, s: x * s), "s * x": (lambda x, s: s * x),
    "x / s": (lambda x, s: x / s), "s / x": (lambda x, s: s / x),
    "x ** s": (lambda x, s: x ** s), "s ** x": (lambda x, s: s ** x),
    "-x": (lambda x, s: -x), "+x": (lambda x, s: +x), "abs(x)": (lambda x, s: abs(x)),
}


@pytest.mark.parametrize("other", ["int", "float", "array"])
@pytest.mark.parametrize("expr", OPERATORS)
def test_python_operators(expr, other):
    """Tensor op scalar/array and the reflected forms give Tensors with NumPy's values and
    float32 stays float32 (NumPy arrays of the same dtype, weak Python scalars)."""
    op = OPERATORS[expr]
    a = sample((2, 3), "positive")
    s = {"int": 2, "float": 1.5, "array": sample((3,), "positive", seed=1).astype(np.float32)}
    out = op(leaf(a, np.float32), s[other])
    assert isinstance(out, nerve.Tensor) and out.dtype == np.float32
    assert_close(out, op(a.astype(np.float32), s[other]), np.float32)
    check_grads(lambda x: op(x, s[other]), [a])


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1, 0])
def test_pow_scalar_exponent(exponent):
    a = sample((4,), "positive")
    assert_close(leaf(a) ** exponent, a ** exponent)
    check_grads(lambda x: x ** exponent, [a])


def test_pow_at_zero_base():
    x = leaf([0.0, 2.0])
    b = leaf([2.0, 3.0])
    (x ** b).sum().backward()
    assert_close(x.grad, [0.0, 12.0])
    assert_close(b.grad, [0.0, 8 * math.log(2)])  # d/db 0**b is 0, not nan


# ---- kinks: exact gradients ------------------------------------------------------------------
@pytest.mark.parametrize("fn, x, expected", [
    (nerve.relu, [-1.0, 0.0, 2.0], [0.0, 0.0, 1.0]),
    (nerve.abs, [-1.0, 0.0, 2.0], [-1.0, 0.0, 1.0]),
    (lambda t: nerve.leaky_relu(t, 0.1), [-1.0, 0.0, 2.0], [0.1, 0.1, 1.0]),
    (lambda t: nerve.elu(t, 0.7), [0.0, 2.0], [0.7, 1.0]),
    (lambda t: nerve.clamp(t, -0.5, 0.5), [-1.0, -0.5, 0.0, 0.5, 1.0], [0, 1, 1, 1, 0]),
    (lambda t: nerve.clamp(t, min=0.0), [-1.0, 0.0, 1.0], [0, 1, 1]),
])
def test_kink_gradients(fn, x, expected):
    (g,) = grads_of(fn, [np.array(x)])
    assert_close(g, np.array(expected, dtype=np.float64))


@pytest.mark.parametrize("slope", [0.2, 0.0, 1.0, 1.5, -0.3])
def test_leaky_relu_is_exactly_the_where_formula(slope):
    """The max(a, slope * a) fast path (0 < slope <= 1) and the where() one agree bit for bit
    with the definition, signed zeros and NaN included, in float32."""
    a = np.array([-2.0, -0.0, 0.0, 3.0, np.nan, -np.inf, np.inf], dtype=np.float32)
    g = np.array([1.5, -2.0, 0.25, 3.0, 1.0, 2.0, -1.0], dtype=np.float32)
    x = nerve.tensor(a, requires_grad=True)
    out = nerve.leaky_relu(x, slope)
    out.backward(nerve.tensor(g))
    np.testing.assert_array_equal(out.detach().numpy(), np.where(a > 0, a, a * np.float32(slope)))
    np.testing.assert_array_equal(x.grad.numpy(), np.where(a > 0, g, g * np.float32(slope)))
    assert out.dtype == x.grad.dtype == nerve.float32


@pytest.mark.parametrize("fn, first", [(nerve.maximum, True), (nerve.minimum, False)])
def test_maximum_minimum_ties_split_gradient(fn, first):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])
    ga, gb = grads_of(fn, [a, b])
    wins = (a > b) if first else (a < b)
    assert_close(ga, np.where(a == b, 0.5, wins * 1.0))
    assert_close(gb, np.where(a == b, 0.5, (~wins & (a != b)) * 1.0))


# ---- where, no-gradient ops, casts, clone ----------------------------------------------------
@pytest.mark.parametrize("cond_kind", ["tensor", "array", "int_tensor"])
def test_where(cond_kind):
    a, b = sample((2, 3)), sample((3,), seed=1)
    cond = a > 0.2
    c = {"tensor": nerve.tensor(cond), "array": cond,
         "int_tensor": nerve.tensor(cond.astype(np.int64))}[cond_kind]
    assert_close(nerve.where(c, leaf(a), leaf(b)), np.where(cond, a, b))
    ga, gb = grads_of(lambda x, y: nerve.where(c, x, y), [a, b])
    assert_close(ga, cond * 1.0)
    assert_close(gb, (~cond).sum(0) * 1.0)
    check_grads(lambda x, y: nerve.where(c, x, y), [a, b])
    assert_close(nerve.where(c, leaf(a), 0.0), np.where(cond, a, 0.0))


COMPARE = {
    "eq": (nerve.eq, np.equal, lambda x, y: x == y), "ne": (nerve.ne, np.not_equal,
                                                          lambda x, y: x != y),
    "lt": (nerve.lt, np.less, lambda x, y: x < y), "le": (nerve.le, np.less_equal,
                                                        lambda x, y: x <= y),
    "gt": (nerve.gt, np.greater, lambda x, y: x > y),
    "ge": (nerve.ge, np.greater_equal, lambda x, y: x >= y),
}
LOGICAL = {
    "and": (nerve.logical_and, np.logical_and, lambda x, y: x & y),
    "or": (nerve.logical_or, np.logical_or, lambda x, y: x | y),
    "xor": (nerve.logical_xor, np.logical_xor, lambda x, y: x ^ y),
}


@pytest.mark.parametrize("name", COMPARE)
def test_comparisons_have_no_gradient(name):
    fn, ref, op = COMPARE[name]
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    for other, ref_other in [(leaf(b), b), (2.0, 2.0), (b, b)]:
        for out in (fn(leaf(a), other), op(leaf(a), other)):
            assert out.dtype == np.bool_ and not out.requires_grad
            np.testing.assert_array_equal(out.numpy(), ref(a, ref_other))
    reflected = op(b, leaf(a))  # ndarray <op> Tensor defers to the Tensor
    assert isinstance(reflected, nerve.Tensor)
    np.testing.assert_array_equal(reflected.numpy(), ref(b, a))


@pytest.mark.parametrize("name", LOGICAL)
def test_logical_ops(name):
    fn, ref, op = LOGICAL[name]
    p, q = np.array([True, True, False, False]), np.array([True, False, True, False])
    for out in (fn(nerve.tensor(p), nerve.tensor(q)), op(nerve.tensor(p), nerve.tensor(q))):
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), ref(p, q))
    np.testing.assert_array_equal((~nerve.tensor(p)).numpy(), ~p)
    np.testing.assert_array_equal(nerve.logical_not(nerve.tensor(p)).numpy(), ~p)


def test_sign_and_float_predicates():
    a = np.array([-2.0, 0.0, 3.0, np.inf, np.nan])
    x = leaf(a[:3])
    s = nerve.sign(x)
    assert not s.requires_grad
    np.testing.assert_array_equal(s.numpy(), np.sign(a[:3]))
    t = nerve.tensor(a)
    for fn, ref in [(nerve.isnan, np.isnan), (nerve.isinf, np.isinf),
                    (nerve.isfinite, np.isfinite)]:
        np.testing.assert_array_equal(fn(t).numpy(), ref(a))


@pytest.mark.parametrize("cast, dtype", [
    (lambda t: t.float(), np.float32), (lambda t: t.double(), np.float64),
    (lambda t: t.to(nerve.float64), np.float64), (lambda t: t.to("float32"), np.float32),
    (lambda t: t.to(dtype=nerve.float64), np.float64), (lambda t: t.half(), np.float16),
])
@pytest.mark.parametrize("source", DTYPES)
def test_casts(cast, dtype, source):
    a = sample((2, 3))
    x = leaf(a, source)
    y = cast(x)
    assert y.dtype == dtype
    assert_close(y.detach().numpy().astype(np.float64), a.astype(source).astype(dtype), dtype)
    (y * 3).sum().backward()
    assert x.grad.dtype == source  # the gradient comes back in the input's dtype
    assert_close(x.grad, np.full((2, 3), 3.0, dtype=source))


def test_cast_to_integer_is_not_differentiable():
    x = leaf([1.7, -2.2])
    y = x.long()
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [1, -2])


def test_clone():
    a = sample((2, 3))
    x = leaf(a)
    y = x.clone()
    assert y.data is not x.data and y.requires_grad
    assert_close(y, a)
    check_grads(lambda t: t.clone() * t, [a])


def test_backward_on_non_scalar_needs_gradient():
    x = leaf(sample((2, 3)))
    with pytest.raises(RuntimeError, match="only for scalar outputs.*shape \\(2, 3\\)"):
        (x * 2).backward()
    (x * 2).backward(gradient=nerve.ones(2, 3, dtype=nerve.float64))
    assert_close(x.grad, np.full((2, 3), 2.0))
