"""The lecture's worked backpropagation examples, each derivative computed three ways.

For every example the derivatives come from autograd, from a staged backward pass written out
by hand (the CS231n way: one line per local gradient times upstream gradient), and from
central finite differences. ``python -m nerve demo`` prints them side by side.

>>> ex = sigmoid_neuron()
>>> round(float(ex.rows[0].autograd[0]), 3)
0.393
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy

from . import autograd, func, no_grad, ones, tensor
from .backend import dtypes

F64 = dtypes.float64


@dataclass
class Row:
    """One derivative (or value): autograd's, the hand-derived one, the numerical one."""

    name: str
    autograd: numpy.ndarray
    by_hand: numpy.ndarray | None = None
    numeric: numpy.ndarray | None = None


@dataclass
class Example:
    title: str
    formula: str
    value: float
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)


# ---- finite differences (on nerve functions, no graph recorded) ------------------------------
def _evaluate(f, arrays) -> float:
    with no_grad():
        return float(f(*(tensor(a, dtype=F64) for a in arrays)).item())


def numeric_grad(f, arrays, eps: float = 1e-6) -> list[numpy.ndarray]:
    """Central differences of a scalar function of several arrays, one gradient per array."""
    arrays = [numpy.array(a, dtype=numpy.float64) for a in arrays]
    grads = []
    for a in arrays:
        g = numpy.zeros_like(a)
        for k in range(a.size):
            orig = a.flat[k]
            a.flat[k] = orig + eps
            plus = _evaluate(f, arrays)
            a.flat[k] = orig - eps
            minus = _evaluate(f, arrays)
            a.flat[k] = orig
            g.flat[k] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def numeric_hessian(f, x, eps: float = 1e-4) -> numpy.ndarray:
    """Second central differences of a scalar function of one vector."""
    x = numpy.array(x, dtype=numpy.float64)
    n = x.size
    h = numpy.zeros((n, n))
    basis = numpy.eye(n) * eps
    for i in range(n):
        for j in range(n):
            pp = _evaluate(f, [x + basis[i] + basis[j]])
            pm = _evaluate(f, [x + basis[i] - basis[j]])
            mp = _evaluate(f, [x - basis[i] + basis[j]])
            mm = _evaluate(f, [x - basis[i] - basis[j]])
            h[i, j] = (pp - pm - mp + mm) / (4 * eps * eps)
    return h


def _leaves(*values):
    return [tensor(v, dtype=F64, requires_grad=True) for v in values]


# ---- the examples -----------------------------------------------------------------------------
def mean_of_squares() -> Example:
    """x = ones(2,2); y = x + 2; z = 3 y*y; out = mean(z): d out/dx = 6 y / 4 = 4.5."""
    x = ones(2, 2, dtype=F64, requires_grad=True)
    y = x + 2
    z = y * y * 3
    out = z.mean()
    out.backward()

    def f(x):
        return ((x + 2) * (x + 2) * 3).mean()

    by_hand = 6 * (numpy.ones((2, 2)) + 2) / 4  # d mean/dz = 1/4, dz/dy = 6y, dy/dx = 1
    return Example("Mean of squares", "x = ones(2,2); y = x + 2; z = 3*y*y; out = z.mean()",
                   out.item(), [Row("dout/dx", x.grad.numpy(), by_hand,
                                    numeric_grad(f, [numpy.ones((2, 2))])[0])])


def add_mul_circuit(x0=-2.0, y0=5.0, z0=-4.0) -> Example:
    """f = (x + y) z: df/dx = df/dy = z, df/dz = x + y."""
    x, y, z = _leaves(x0, y0, z0)
    f = (x + y) * z
    f.backward()
    q = x0 + y0  # forward: the add gate
    dq, dz = z0, q  # backward through the multiply gate (upstream gradient 1)
    dx, dy = dq, dq  # the add gate routes its gradient unchanged
    numeric = numeric_grad(lambda x, y, z: (x + y) * z, [x0, y0, z0])
    rows = [Row(f"df/d{n}", t.grad.numpy(), numpy.asarray(h), g)
            for n, t, h, g in zip("xyz", (x, y, z), (dx, dy, dz), numeric)]
    return Example("Add-multiply circuit", f"f(x,y,z) = (x + y) z at x={x0}, y={y0}, z={z0}",
                   f.item(), rows)


def _neuron(w, x):
    dot = w[0] * x[0] + w[1] * x[1] + w[2]
    return 1 / (1 + (-dot).exp())  # neg, exp, add, then reciprocal as a division


def sigmoid_neuron(w0=(2.0, -3.0, -3.0), x0=(-1.0, -2.0)) -> Example:
    """A 2-input sigmoid neuron built from primitives, backpropagated gate by gate."""
    w, x = _leaves(list(w0), list(x0))
    out = _neuron(w, x)
    out.backward()
    # staged forward
    dot = w0[0] * x0[0] + w0[1] * x0[1] + w0[2]
    a = -dot
    b = math.exp(a)
    c = 1.0 + b
    f = 1.0 / c
    # staged backward, one gate at a time
    dc = -1.0 / c ** 2
    db = dc
    da = b * db
    ddot = -da  # equals (1 - f) f, the sigmoid's local gradient
    dw = numpy.array([x0[0] * ddot, x0[1] * ddot, ddot])
    dx = numpy.array([w0[0] * ddot, w0[1] * ddot])
    num_w, num_x = numeric_grad(_neuron, [w0, x0])
    return Example(
        "Sigmoid neuron", f"f(w,x) = 1/(1 + exp(-(w0 x0 + w1 x1 + w2))) at w={list(w0)}, "
        f"x={list(x0)}", out.item(),
        [Row("df/dx", x.grad.numpy(), dx, num_x), Row("df/dw", w.grad.numpy(), dw, num_w)],
        [f"by hand: f = {f:.6f}, d f/d dot = (1 - f) f = {(1 - f) * f:.6f}"])


def _staged_f(x, y):
    return (x + y.sigmoid()) / (x.sigmoid() + (x + y) ** 2)


def staged_backprop(x0=3.0, y0=-4.0) -> Example:
    """CS231n's f(x,y) = (x + sigmoid(y)) / (sigmoid(x) + (x+y)^2), staged forward/backward."""
    x, y = _leaves(x0, y0)
    out = _staged_f(x, y)
    out.backward()
    # staged forward
    sigy = 1.0 / (1 + math.exp(-y0))
    num = x0 + sigy
    sigx = 1.0 / (1 + math.exp(-x0))
    xpy = x0 + y0
    xpysqr = xpy ** 2
    den = sigx + xpysqr
    invden = 1.0 / den
    f = num * invden
    # staged backward, in reverse order
    dnum = invden
    dinvden = num
    dden = (-1.0 / den ** 2) * dinvden
    dsigx = 1 * dden
    dxpysqr = 1 * dden
    dxpy = 2 * xpy * dxpysqr
    dx = 1 * dxpy
    dy = 1 * dxpy
    dx += ((1 - sigx) * sigx) * dsigx
    dx += 1 * dnum
    dsigy = 1 * dnum
    dy += ((1 - sigy) * sigy) * dsigy
    num_x, num_y = numeric_grad(_staged_f, [x0, y0])
    return Example("Staged backprop",
                   f"f(x,y) = (x + sigmoid(y)) / (sigmoid(x) + (x+y)^2) at x={x0}, y={y0}",
                   out.item(), [Row("df/dx", x.grad.numpy(), numpy.asarray(dx), num_x),
                                Row("df/dy", y.grad.numpy(), numpy.asarray(dy), num_y)],
                   [f"by hand: f = {f:.6f}"])


def _exp_sin(x):
    s = x.exp() + x.exp() ** 2
    return s.exp() + s.sin()


def exp_sin_derivatives(x0=0.0) -> Example:
    """f(x) = exp(s) + sin(s), s = e^x + e^2x: f' and f'' (the second through create_graph)."""
    (x,) = _leaves(x0)
    out = _exp_sin(x)
    (d1,) = autograd.grad(out, x, create_graph=True)
    (d2,) = autograd.grad(d1, x)
    u = math.exp(x0)
    s, ds, dds = u + u * u, u + 2 * u * u, u + 4 * u * u
    closed1 = (math.exp(s) + math.cos(s)) * ds
    closed2 = (math.exp(s) - math.sin(s)) * ds ** 2 + (math.exp(s) + math.cos(s)) * dds
    eps = 1e-4
    fd2 = (_evaluate(_exp_sin, [x0 + eps]) - 2 * _evaluate(_exp_sin, [x0])
           + _evaluate(_exp_sin, [x0 - eps])) / eps ** 2
    return Example("Second derivative", f"f(x) = exp(e^x + e^2x) + sin(e^x + e^2x) at x={x0}",
                   out.item(),
                   [Row("f'(x)", d1.detach().numpy(), numpy.asarray(closed1),
                        numeric_grad(_exp_sin, [x0])[0]),
                    Row("f''(x)", d2.numpy(), numpy.asarray(closed2), numpy.asarray(fd2))],
                   ["by hand is the closed form: f' = (e^s + cos s) s', "
                    "f'' = (e^s - sin s) s'^2 + (e^s + cos s) s''"])


def newton_step(a=10.0, start=(1.0, 1.0)) -> Example:
    """f(x) = 0.5 (x1^2 + a x2^2): Hessian diag(1, a); one Newton step reaches the minimum."""
    def f(x):
        return 0.5 * (x[0] ** 2 + a * x[1] ** 2)

    x = tensor(list(start), dtype=F64)
    g = func.grad(f)(x).numpy()
    h = func.hessian(f)(x).numpy()
    new = x.numpy() - numpy.linalg.solve(h, g)
    # by hand: H^-1 g = (x1 / 1, a x2 / a) = x, so the step lands exactly on the minimum
    exact = numpy.array(start) - numpy.array([start[0], a * start[1]]) / numpy.array([1.0, a])
    return Example("Newton step", f"f(x) = 0.5 (x1^2 + {a:g} x2^2) from x={list(start)}",
                   f(x).item(),
                   [Row("grad f", g, numpy.array([start[0], a * start[1]]),
                        numeric_grad(f, [list(start)])[0]),
                    Row("hessian f", h, numpy.diag([1.0, a]), numeric_hessian(f, start)),
                    Row("x - H^-1 grad", new, exact)])


EXAMPLES = (mean_of_squares, add_mul_circuit, sigmoid_neuron, staged_backprop,
            exp_sin_derivatives, newton_step)


# ---- printing -----------------------------------------------------------------------------------
def _fmt(value) -> str:
    if value is None:
        return "-"
    a = numpy.asarray(value, dtype=numpy.float64)
    if a.ndim == 0:
        return f"{a.item():.6g}"
    return " ".join(numpy.array2string(a, precision=6, separator=", ",
                                       suppress_small=True).split())


def format_example(i: int, ex: Example) -> str:
    lines = [f"{i}. {ex.title}: {ex.formula}", f"   value = {ex.value:.6g}"]
    cells = [(r.name, _fmt(r.autograd), _fmt(r.by_hand), _fmt(r.numeric)) for r in ex.rows]
    header = ("", "autograd", "by hand", "finite differences")
    widths = [max(len(c[k]) for c in cells + [header]) for k in range(4)]
    for c in [header] + cells:
        lines.append("   " + "  ".join(s.ljust(w) for s, w in zip(c, widths)).rstrip())
    lines += [f"   {n}" for n in ex.notes]
    return "\n".join(lines)


def run(file=None) -> list[Example]:
    """Run every worked example and print its values and derivatives."""
    file = file or sys.stdout
    results = []
    for i, make in enumerate(EXAMPLES, 1):
        ex = make()
        results.append(ex)
        print(format_example(i, ex), file=file)
        print(file=file)
    return results
