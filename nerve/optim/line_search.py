"""Line searches along a direction ``d``: backtracking (Armijo) and strong Wolfe.

Both work on the one-dimensional restriction ``phi(t) = f(x + t d)`` and know nothing about
parameters or models, so any direction method can use them (``GD``, ``Newton``, ``BFGS``,
``LBFGS``, ``ConjugateGradient``, ``HessianFree`` all do). ``obj(t)`` evaluates the objective at
``x + t d`` and returns ``(f, g)``: the loss as a float and the flat gradient there (an array;
``backtracking`` passes it through and never reads it, so ``None`` is fine there).

>>> import numpy as np
>>> obj = lambda t: ((1.0 - t) ** 2, np.array([-2.0 * (1.0 - t)]))  # f(x + t d), x=0, d=1
>>> backtracking(obj, f=1.0, gtd=-2.0, t=4.0).t  # 4 -> 2 -> 1 (f(1)=0 passes Armijo)
1.0
"""
from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["LineSearchResult", "backtracking", "check_armijo", "strong_wolfe"]


class LineSearchResult(NamedTuple):
    """The accepted step ``t``, the loss ``f`` and gradient ``g`` there, and how many times
    ``obj`` was called. A failed backtracking search returns ``t=0`` (stay put)."""
    t: float
    f: float
    g: object
    evals: int


def check_armijo(where: str, alpha: float, beta: float) -> None:
    """Construction-time check of the Armijo constants (Boyd & Vandenberghe, section 9.2)."""
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 0.5):
        raise ValueError(f"{where}: the Armijo constant alpha must lie in (0, 1/2), got {alpha!r}")
    if not (isinstance(beta, (int, float)) and 0.0 < beta < 1.0):
        raise ValueError(f"{where}: the backtracking factor beta must lie in (0, 1), got {beta!r}")


def backtracking(obj, f: float, gtd: float, t: float = 1.0, alpha: float = 1e-4,
                 beta: float = 0.5, max_evals: int = 50, g=None) -> LineSearchResult:
    """Backtracking line search: ``while f(x + t d) > f(x) + alpha t grad·d: t = beta t``.

    ``f`` and ``gtd`` are the loss and the directional derivative ``grad·d`` at ``t = 0``
    (negative for a descent direction). Returns the first ``t`` that satisfies the Armijo
    sufficient-decrease condition; if none does within ``max_evals`` evaluations (or ``d`` is
    not a descent direction) it returns ``t = 0`` with ``f`` and ``g`` from ``t = 0``.
    """
    check_armijo("backtracking", alpha, beta)
    if not gtd < 0:
        return LineSearchResult(0.0, f, g, 0)
    for evals in range(1, max_evals + 1):
        f_new, g_new = obj(t)
        if f_new <= f + alpha * t * gtd:  # NaN/inf losses fail this test and shrink t
            return LineSearchResult(t, f_new, g_new, evals)
        t *= beta
    return LineSearchResult(0.0, f, g, max(max_evals, 0))


def _cubic_minimizer(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimizer of the cubic through (x1, f1, f'=g1) and (x2, f2, f'=g2), clipped to
    ``bounds`` (default the interval); the midpoint when the cubic has no minimizer."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def strong_wolfe(obj, d, f: float, g, gtd: float, t: float = 1.0, c1: float = 1e-4,
                 c2: float = 0.9, tolerance_change: float = 1e-9,
                 max_evals: int = 25) -> LineSearchResult:
    """Line search for a step satisfying the strong Wolfe conditions

        f(x + t d) <= f(x) + c1 t grad·d      and      |grad(x + t d)·d| <= c2 |grad·d|,

    with ``0 < c1 < c2 < 1`` (Nocedal & Wright, Algorithms 3.5 and 3.6): a bracketing phase that
    grows ``t`` by cubic extrapolation until an interval contains acceptable steps, then a zoom
    phase that shrinks it by safeguarded cubic interpolation. The trial points follow minFunc's
    ``lswolfe`` (as ``torch.optim.LBFGS`` does), so iterates agree with PyTorch's. ``g`` is the
    gradient at ``t = 0`` (an array); ``d`` is the direction (its max-norm bounds the zoom).
    """
    d_norm = float(abs(d).max())
    f_new, g_new = obj(t)
    evals = 1
    gtd_new = float((g_new * d).sum())
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_evals:  # bracketing phase
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g, bracket_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate: somewhere in [t + 0.01 (t - t_prev), 10 t]
        t_next = _cubic_minimizer(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                  bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = obj(t)
        evals += 1
        gtd_new = float((g_new * d).sum())
        ls_iter += 1
    else:  # out of evaluations while still bracketing
        bracket, bracket_f = [0.0, t], [f, f_new]
        bracket_g, bracket_gtd = [g, g_new], [gtd, gtd_new]

    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_evals:  # zoom phase
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimizer(bracket[0], bracket_f[0], bracket_gtd[0],
                             bracket[1], bracket_f[1], bracket_gtd[1])
        # a trial too close to an end of the bracket makes little progress: after two such
        # trials in a row (or one outside the bracket) move it 10% of the width inside
        top, bottom = max(bracket), min(bracket)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            if insufficient_progress or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = obj(t)
        evals += 1
        gtd_new = float((g_new * d).sum())
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new
    return LineSearchResult(bracket[low], bracket_f[low], bracket_g[low], evals)
