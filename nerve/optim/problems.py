"""An optimization playground: the lectures' toy problems and optimizer trajectories.

Each problem is a function of a nerve Tensor ``x`` whose first axis holds the coordinates
(``x[0]``, ``x[1]``): a vector ``(2,)`` gives a scalar loss to optimize, and a stack
``(2, ...)`` of points gives the loss at each point, which is how ``contour_grid`` draws the
level sets. ``trajectory`` runs an optimizer from a starting point and records every iterate.

>>> import nerve
>>> from nerve.optim import GD
>>> path = trajectory(lambda p: GD(p, lr=0.25), two_weight, (0.5, 2.0), steps=500)
>>> path.points[-1].round(4).tolist(), round(TWO_WEIGHT_MINIMUM, 4)
([1.2083, 1.2083], 1.2083)

The classic figures: GD with lr 0.25 crawls to the minimum of ``two_weight`` while lr 0.35
(above 2 / 5.84, the Hessian's largest eigenvalue there) ends bouncing between two points;
Newton jumps to the minimum of ``quadratic`` in one step; BFGS on an n-dimensional quadratic
stops after at most n steps.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from ..backend import dtypes, get_array_module
from ..ops.creation import tensor
from .hessian_free import HessianFree
from .newton import Newton

__all__ = ["QUADRATIC_MINIMUM", "ROSENBROCK_MINIMUM", "TWO_WEIGHT_MINIMUM", "Trajectory",
           "contour_grid", "quadratic", "quadratic_form", "rosenbrock", "trajectory",
           "two_weight"]

TWO_WEIGHT_MINIMUM = math.sqrt(1.46)  # w1 = w2 = sqrt(1.46) (or both negative)
QUADRATIC_MINIMUM = (0.0, 0.0)
ROSENBROCK_MINIMUM = (1.0, 1.0)


def quadratic(x: Tensor, a: float = 10.0) -> Tensor:
    """``0.5 (x1^2 + a x2^2)``: condition number ``a``; minimum 0 at the origin."""
    return 0.5 * (x[0] ** 2 + a * x[1] ** 2)


def two_weight(w: Tensor) -> Tensor:
    """``(w1 w2 - 1.5)^2 + 0.04 (w1^2 + w2^2)``: a one-example, two-weight "network" with
    weight decay. Minima at ``w1 = w2 = ±sqrt(1.46)``, where the Hessian is
    ``[[3, 2.84], [2.84, 3]]`` with eigenvalues 5.84 and 0.16 (so GD is stable for
    ``lr < 2/5.84 ≈ 0.342``); a saddle at the origin."""
    return (w[0] * w[1] - 1.5) ** 2 + 0.04 * (w[0] ** 2 + w[1] ** 2)


def rosenbrock(x: Tensor, a: float = 1.0, b: float = 100.0) -> Tensor:
    """``(a - x1)^2 + b (x2 - x1^2)^2``: the banana valley; minimum 0 at ``(a, a^2)``."""
    return (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2


def quadratic_form(A, b=None):
    """The function ``x -> 0.5 x^T A x - b^T x`` for a matrix ``A`` (array or Tensor) and an
    optional vector ``b``; its minimum (``A`` positive definite) is at ``A^{-1} b``.

    >>> import nerve
    >>> f = quadratic_form([[2.0, 0.0], [0.0, 4.0]], [2.0, 4.0])
    >>> f(nerve.tensor([1.0, 1.0], dtype=nerve.float64)).item()
    -3.0
    """
    A = A if isinstance(A, Tensor) else Tensor(A)
    b = None if b is None else (b if isinstance(b, Tensor) else Tensor(b))
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"quadratic_form: A must be a square matrix, got shape {A.shape}")
    if b is not None and b.shape != (A.shape[0],):
        raise ValueError(f"quadratic_form: b must have shape ({A.shape[0]},), got {b.shape}")

    def f(x: Tensor) -> Tensor:
        value = 0.5 * (x * (A @ x)).sum()
        return value if b is None else value - (b * x).sum()

    return f


class Trajectory(NamedTuple):
    """``points[k]`` is the k-th iterate (``points[0]`` the start) and ``losses[k]`` the
    problem's value there; both NumPy arrays (``steps + 1`` rows)."""
    points: object
    losses: object


def trajectory(optimizer_factory, problem, x0, steps: int, dtype=None) -> Trajectory:
    """Run ``optimizer_factory([x])`` on ``problem(x)`` from ``x0`` for ``steps`` steps.

    Every optimizer is driven through a closure (zero the gradients, compute the loss, call
    ``backward``, return the loss) except ``Newton`` and ``HessianFree``, which need the graph
    for second derivatives and get a closure that returns the loss without calling backward.
    ``dtype`` defaults to float64, so that trajectories are exact enough to compare.
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"trajectory: steps must be a non-negative integer, got {steps!r}")
    x = tensor(x0, dtype=dtype or dtypes.float64, requires_grad=True)
    opt = optimizer_factory([x])
    keep_graph = isinstance(opt, (Newton, HessianFree))

    def closure():
        opt.zero_grad()
        loss = problem(x)
        if not keep_graph:
            loss.backward()
        return loss

    def value():
        with grad_mode.no_grad():
            return float(problem(x))

    points, losses = [x.data.copy()], [value()]
    for _ in range(steps):
        opt.step(closure)
        points.append(x.data.copy())
        losses.append(value())
    xp = get_array_module(x.data)
    return Trajectory(_to_host(xp.stack(points)), _to_host(xp.asarray(losses)))


def contour_grid(problem, xlim=(-2.0, 2.0), ylim=(-2.0, 2.0), n: int = 101):
    """``(X, Y, Z)`` NumPy arrays of shape ``(n, n)`` with ``Z = problem((X, Y))``, ready
    for ``matplotlib.pyplot.contour(X, Y, Z)``."""
    xp = get_array_module()  # NumPy: the grid is for plotting
    X, Y = xp.meshgrid(xp.linspace(*xlim, n), xp.linspace(*ylim, n))
    with grad_mode.no_grad():
        Z = problem(Tensor(xp.stack([X, Y]))).data
    return X, Y, Z


def _to_host(a):
    return a.get() if hasattr(a, "get") else a
