"""Core speed of nerve against PyTorch: autograd overhead per op, and a large matmul.

    python bench/bench_core.py [--json results.json] [--threads N] [--repeats 21] [--rounds 3]

Each framework runs in its own child process, so one library's idle worker threads (OpenBLAS
and OpenMP both spin for a while after a call) never steal cores from the other, and the
processes alternate over several rounds so that a burst of load elsewhere on the machine hits
one round, not one framework. The same benchmark code drives nerve and PyTorch (nerve follows
PyTorch's API); a hand-written NumPy version of each case shows the floor that nerve's arrays
allow. See bench/README.md.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import Column, Row  # noqa: E402

CHAIN_OPS = 1_000  # half scalar multiplications, half sines
CHAIN_SIZE = 8
CHAIN_SCALE = 1.01  # y = sin(1.01 y) settles near 0.24: no denormals, gradients stay O(1)
MATMUL_N = 512

# (key, label, unit, scale from seconds, target ratio nerve/torch)
ROWS = [
    Row("chain_total", f"autograd chain, {CHAIN_OPS:,} ops on {CHAIN_SIZE} float32: fwd+bwd "
        "per op", "µs/op", 1e6 / CHAIN_OPS, 3.0),
    Row("chain_forward", "  of which forward per op", "µs/op", 1e6 / CHAIN_OPS, 3.0),
    Row("chain_backward", "  of which backward per op", "µs/op", 1e6 / CHAIN_OPS, 3.0),
    Row("matmul_forward", f"matmul {MATMUL_N}x{MATMUL_N} float32 + sum: forward", "ms", 1e3,
        1.2),
    Row("matmul_backward", f"matmul {MATMUL_N}x{MATMUL_N} float32 + sum: backward", "ms", 1e3,
        1.2),
    Row("matmul_total", f"matmul {MATMUL_N}x{MATMUL_N} float32 + sum: fwd+bwd", "ms", 1e3, 1.2),
]
COLUMNS = [Column("nerve", "nerve", "nerve"), Column("numpy", "numpy by hand", "numpy_by_hand"),
           Column("torch", "torch", "torch")]


# ---- the worker: times one framework in this process -----------------------------------------
def time_forward_backward(forward, leaves, warmup, repeats):
    """Median forward, backward and total seconds of ``forward().backward()``."""
    def run():
        t0 = time.perf_counter()
        loss = forward()
        t1 = time.perf_counter()
        loss.backward()
        return t0, t1, time.perf_counter()

    def clear():
        for leaf in leaves:
            leaf.grad = None

    return harness.time_phases(run, ("forward", "backward"), warmup, repeats, before=clear)


def inputs():
    """The same float32 inputs in every process."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, CHAIN_SIZE).astype(np.float32)
    a = rng.standard_normal((MATMUL_N, MATMUL_N)).astype(np.float32)
    b = rng.standard_normal((MATMUL_N, MATMUL_N)).astype(np.float32)
    return x, a, b


def framework_cases(lib):
    """The two cases written once for nerve and torch (same API)."""
    x, a, b = (lib.tensor(v, requires_grad=True) for v in inputs())

    def chain():
        y = x
        for _ in range(CHAIN_OPS // 2):
            y = (y * CHAIN_SCALE).sin()
        return y.sum()

    def matmul():
        return (a @ b).sum()

    return {"chain": (chain, [x]), "matmul": (matmul, [a, b])}


def numpy_cases():
    """The same computations with hand-written gradients: what nerve's arrays cost at least."""
    import numpy as np

    xv, av, bv = inputs()
    x, a, b = (SimpleNamespace(grad=None) for _ in range(3))

    def chain():
        scaled, y = [], xv
        for _ in range(CHAIN_OPS // 2):
            m = y * np.float32(CHAIN_SCALE)
            scaled.append(m)
            y = np.sin(m)
        y.sum()

        def backward():
            g = np.ones_like(y)
            for m in reversed(scaled):
                g = g * np.cos(m) * np.float32(CHAIN_SCALE)
            x.grad = g

        return SimpleNamespace(backward=backward)

    def matmul():
        c = av @ bv
        c.sum()

        def backward():
            g = np.ones_like(c)
            a.grad, b.grad = g @ bv.T, av.T @ g

        return SimpleNamespace(backward=backward)

    return {"chain": (chain, [x]), "matmul": (matmul, [a, b])}


def cases(name, lib, args):
    """Times both cases in this worker; a checksum of the gradients goes with the timings."""
    import numpy as np

    results = {}
    for case, (fn, leaves) in (framework_cases(lib) if lib else numpy_cases()).items():
        timing = time_forward_backward(fn, leaves, args.warmup, args.repeats)
        for part in ("forward", "backward", "total", "total_all"):
            results[f"{case}_{part}"] = timing[part]
        # lets the parent check that every worker computed the same gradients
        results[f"{case}_checksum"] = sum(float(np.asarray(t.grad, dtype=np.float64).sum())
                                          for t in leaves)
    return results


def check(name, run, nerve):
    notes = []
    for case in ("chain", "matmul"):
        ref = nerve["results"][f"{case}_checksum"]
        got = run["results"][f"{case}_checksum"]
        if abs(got - ref) > 1e-3 * max(1.0, abs(ref)):
            notes.append(f"WARNING: {case} gradients differ: nerve {ref:.6g}, {name} {got:.6g}")
    return notes


SPEC = harness.Spec(script=__file__, description=__doc__.splitlines()[0],
                    workers=("nerve", "numpy", "torch"), columns=COLUMNS, rows=ROWS,
                    cases=cases, check=check)


if __name__ == "__main__":
    harness.main(SPEC)
