"""Forward vs reverse mode: the full gradient of a scalar loss of n parameters.

Forward mode (a Jacobian-vector product, ``nerve.func.jvp``) gives one directional
derivative per pass, so the gradient takes n passes, one per basis vector e_i. Reverse mode
(a vector-Jacobian product, ``nerve.func.vjp``, i.e. backprop) gives the whole gradient of a
scalar in one pass. The loss is a small network of its parameters,
``f(w) = mean(tanh(A w + b)^2)`` with a fixed ``A`` (m x n), so one evaluation costs O(mn).

Note: nerve's ``jvp`` is built from two reverse passes (the double-vjp trick, see
nerve/autograd/functional.py), so one JVP costs a small constant times one VJP; what this
experiment shows is the n-fold count of passes, which is the same for a true forward mode.

    python examples/forward_vs_reverse.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result

import nerve
from nerve import func

NAME = "forward_vs_reverse"


class Counted:
    """The loss, counting how many times it is evaluated (one per JVP or VJP pass)."""

    def __init__(self, A, b):
        self.A, self.b, self.calls = A, b, 0

    def __call__(self, w):
        self.calls += 1
        return (nerve.tanh(nerve.matmul(self.A, w) + self.b) ** 2).mean()


def gradient_by_jvps(f, w):
    """n forward-mode passes, one per basis vector: gradient[i] = J e_i."""
    n = w.shape[0]
    grad = numpy.zeros(n)
    for i in range(n):
        e = numpy.zeros(n)
        e[i] = 1.0
        _, d = func.jvp(f, (w,), (nerve.tensor(e, dtype=nerve.float64),))
        grad[i] = d.item()
    return grad


def gradient_by_vjp(f, w):
    """One reverse-mode pass: the cotangent 1 of the scalar loss gives the whole gradient."""
    out, vjp_fn = func.vjp(f, w)
    (grad,) = vjp_fn(nerve.ones_like(out))
    return grad.numpy()


def _best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(n: int, m: int = 64, repeats: int = 3, rng=None) -> dict:
    """Gradients both ways for one n: the passes counted, the best-of-``repeats`` times."""
    rng = rng if rng is not None else numpy.random.default_rng(0)
    A = nerve.tensor(rng.normal(size=(m, n)) / numpy.sqrt(n), dtype=nerve.float64)
    b = nerve.tensor(rng.normal(size=m), dtype=nerve.float64)
    w = nerve.tensor(rng.normal(size=n), dtype=nerve.float64)
    f_fwd, f_rev = Counted(A, b), Counted(A, b)
    g_fwd = gradient_by_jvps(f_fwd, w)
    g_rev = gradient_by_vjp(f_rev, w)
    row = {"n": n, "jvp_passes": f_fwd.calls, "vjp_passes": f_rev.calls,
           "max_abs_diff": float(numpy.abs(g_fwd - g_rev).max())}
    row["jvp_time_s"] = _best_time(lambda: gradient_by_jvps(f_fwd, w), repeats)
    row["vjp_time_s"] = _best_time(lambda: gradient_by_vjp(f_rev, w), repeats)
    return row


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    rng = seed(0)
    sizes = [2, 4, 8, 16, 32] if quick else [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
    with Timer() as t:
        rows = [measure(n, repeats=1 if quick else 3, rng=rng) for n in sizes]
    for r in rows:
        print(f"n={r['n']:4d}: {r['jvp_passes']:4d} JVPs {1e3 * r['jvp_time_s']:9.2f} ms, "
              f"{r['vjp_passes']} VJP {1e3 * r['vjp_time_s']:7.2f} ms, "
              f"max |difference| {r['max_abs_diff']:.1e}")
    figures = {}
    fig, ax = figure(figsize=(5.5, 4))
    if fig is not None:
        ns = [r["n"] for r in rows]
        ax.loglog(ns, [r["jvp_time_s"] for r in rows], "o-", label="forward: n JVPs")
        ax.loglog(ns, [r["vjp_time_s"] for r in rows], "s-", label="reverse: 1 VJP")
        ax.set_xlabel("number of parameters n")
        ax.set_ylabel("time for the full gradient (s)")
        ax.set_title("Gradient of a scalar loss: forward vs reverse mode", fontsize=10)
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        figures["timing"] = save(fig, out / "forward_vs_reverse.png")
    last = rows[-1]
    return write_result(
        out, NAME, quick=quick, data=f"f(w) = mean(tanh(A w + b)^2), A: 64 x n, n = {sizes}",
        metric=f"time ratio n JVPs / 1 VJP at n = {last['n']}",
        value=round(last["jvp_time_s"] / last["vjp_time_s"], 1), wall_time_s=t.seconds,
        details={"rows": rows, "figures": figures,
                 "note": "nerve's jvp is two reverse passes (double-vjp); times on a shared "
                         "2-core machine"})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
