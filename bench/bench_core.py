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

import argparse
import gc
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
CHAIN_OPS = 1_000  # half scalar multiplications, half sines
CHAIN_SIZE = 8
CHAIN_SCALE = 1.01  # y = sin(1.01 y) settles near 0.24: no denormals, gradients stay O(1)
MATMUL_N = 512
WORKERS = ("nerve", "numpy", "torch")

# (key, label, unit, scale from seconds, target ratio nerve/torch)
ROWS = [
    ("chain_total", f"autograd chain, {CHAIN_OPS:,} ops on {CHAIN_SIZE} float32: fwd+bwd per op",
     "µs/op", 1e6 / CHAIN_OPS, 3.0),
    ("chain_forward", "  of which forward per op", "µs/op", 1e6 / CHAIN_OPS, 3.0),
    ("chain_backward", "  of which backward per op", "µs/op", 1e6 / CHAIN_OPS, 3.0),
    ("matmul_forward", f"matmul {MATMUL_N}x{MATMUL_N} float32 + sum: forward", "ms", 1e3, 1.2),
    ("matmul_backward", f"matmul {MATMUL_N}x{MATMUL_N} float32 + sum: backward", "ms", 1e3, 1.2),
    ("matmul_total", f"matmul {MATMUL_N}x{MATMUL_N} float32 + sum: fwd+bwd", "ms", 1e3, 1.2),
]


# ---- the worker: times one framework in this process -----------------------------------------
def time_forward_backward(forward, leaves, warmup, repeats):
    """Median forward, backward and total seconds of ``forward().backward()``."""
    fwd, bwd, total = [], [], []
    for i in range(warmup + repeats):
        for leaf in leaves:
            leaf.grad = None
        gc.collect()  # start each repeat with the same heap; collections inside still count
        t0 = time.perf_counter()
        loss = forward()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        del loss
        if i >= warmup:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            total.append(t2 - t0)
    return {"forward": statistics.median(fwd), "backward": statistics.median(bwd),
            "total": statistics.median(total), "total_all": total}


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


def run_worker(name, warmup, repeats, threads):
    import numpy as np

    if name == "torch":
        import torch

        if threads:
            torch.set_num_threads(threads)
        blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
        info = {"version": torch.__version__, "threads": torch.get_num_threads(),
                "blas": blas.group(1) if blas else "unknown"}
        cases = framework_cases(torch)
    else:
        info = {"version": np.__version__, "threads": _numpy_blas_threads(),
                "blas": _numpy_blas()}
        if name == "nerve":
            sys.path.insert(0, str(ROOT))
            import nerve

            info["version"] = nerve.__version__
            cases = framework_cases(nerve)
        else:
            cases = numpy_cases()
    results = {}
    for case, (fn, leaves) in cases.items():
        timing = time_forward_backward(fn, leaves, warmup, repeats)
        for part in ("forward", "backward", "total", "total_all"):
            results[f"{case}_{part}"] = timing[part]
        # lets the parent check that every worker computed the same gradients
        results[f"{case}_checksum"] = sum(float(np.asarray(t.grad, dtype=np.float64).sum())
                                          for t in leaves)
    print(json.dumps({"info": info, "results": results}))


def _numpy_blas():
    import numpy

    blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return f"{blas.get('name')} {blas.get('version')}"


def _numpy_blas_threads():
    """OpenBLAS's thread count, asked from the library NumPy loaded (None when unknown)."""
    try:
        from threadpoolctl import threadpool_info

        return sum(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
    except ImportError:
        pass
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in libs:
        lib = ctypes.CDLL(path)
        for sym in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                    "openblas_get_num_threads"):
            if hasattr(lib, sym):
                return int(getattr(lib, sym)())
    return None


# ---- the parent: runs the workers and reports --------------------------------------------------
def run_child(name, args):
    env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name,
           "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def combine(rounds):
    """One worker's rounds -> the median over rounds of each round's median, plus the spread
    (slowest round / fastest round) of every timing."""
    keys = [k for k in rounds[0]["results"] if not k.endswith(("_all", "_checksum"))]
    results = {k: statistics.median(r["results"][k] for r in rounds) for k in keys}
    spread = {k: max(r["results"][k] for r in rounds) / min(r["results"][k] for r in rounds)
              for k in keys}
    for k in rounds[0]["results"]:
        if k.endswith("_checksum"):
            results[k] = rounds[0]["results"][k]
    return {"info": rounds[0]["info"], "results": results, "spread": spread}


def machine():
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    import numpy

    return {"cpu": model, "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "python": platform.python_version(), "numpy": numpy.__version__,
            "numpy_blas": _numpy_blas(), "platform": platform.platform(),
            "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                      "MKL_NUM_THREADS") if k in os.environ}}


def _cell(value, unit):
    return "-" if value is None else f"{value:.3g} {unit}"


def report(mach, runs, args):
    nerve, torch = runs["nerve"], runs.get("torch")
    head = (f"Machine: {mach['cpu']}, {mach['logical_cpus']} logical CPUs "
            f"({mach['usable_cpus']} usable); Python {mach['python']}; numpy {mach['numpy']} "
            f"({mach['numpy_blas']}, {nerve['info']['threads']} BLAS threads)")
    if torch:
        head += (f"; torch {torch['info']['version']} (BLAS {torch['info']['blas']}, "
                 f"{torch['info']['threads']} intra-op threads)")
    else:
        head += "; torch not installed (nerve alone)"
    threads = f"{args.threads} (set for both)" if args.threads else "each library's default"
    lines = [head, f"Threads: {threads}. Median of {args.repeats} repeats after {args.warmup} "
             f"warm-up runs, per process; median over {args.rounds} alternating rounds.", "",
             "| case | nerve | numpy by hand | torch | nerve/torch | target | met |",
             "|---|---:|---:|---:|---:|---:|:---:|"]
    rows = []
    for key, label, unit, scale, target in ROWS:
        n = nerve["results"][key] * scale
        h = runs["numpy"]["results"][key] * scale
        t = torch["results"][key] * scale if torch else None
        ratio = n / t if t else None
        met = None if ratio is None else ("yes" if ratio <= target else "no")
        lines.append(f"| {label} | {_cell(n, unit)} | {_cell(h, unit)} | {_cell(t, unit)} | "
                     f"{'-' if ratio is None else f'{ratio:.2f}x'} | <= {target:g}x | "
                     f"{met or '-'} |")
        rows.append({"case": key, "label": label.strip(), "unit": unit, "nerve": n,
                     "numpy_by_hand": h, "torch": t, "ratio": ratio, "target": target,
                     "met": met})
    notes = []
    for name, run in runs.items():
        for case in ("chain", "matmul"):
            ref = nerve["results"][f"{case}_checksum"]
            got = run["results"][f"{case}_checksum"]
            if abs(got - ref) > 1e-3 * max(1.0, abs(ref)):
                notes.append(f"WARNING: {case} gradients differ: nerve {ref:.6g}, {name} "
                             f"{got:.6g}")
        worst = max(run["spread"].values())
        if worst > 1.3:
            hint = "" if args.threads == 1 else ", or try --threads 1"
            notes.append(f"Note: {name}'s rounds differ by up to {worst:.1f}x (slowest/fastest "
                         f"round): the machine was busy; rerun{hint}.")
    return "\n".join(lines + ([""] + notes if notes else [])), rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--repeats", type=int, default=21, help="timed runs per case (median)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating runs of each worker process (median)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads for all (default: each library's default)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args.worker, args.warmup, args.repeats, args.threads)
        return
    names = [w for w in WORKERS if w != "torch" or (
        not args.no_torch and importlib.util.find_spec("torch") is not None)]
    mach = machine()
    rounds = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            rounds[name].append(run_child(name, args))
    runs = {name: combine(r) for name, r in rounds.items()}
    text, rows = report(mach, runs, args)
    print(text)
    if args.json:
        payload = {"machine": mach, "threads": args.threads, "repeats": args.repeats,
                   "warmup": args.warmup, "rounds": args.rounds, "rows": rows,
                   "raw": rounds}
        Path(args.json).write_text(json.dumps(payload, indent=2))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
