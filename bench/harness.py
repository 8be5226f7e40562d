"""What every benchmark here shares: child processes per framework, alternating rounds, medians,
the machine line, the Markdown table and ``--json``.

A benchmark script describes itself with a ``Spec`` (its workers, table columns and rows, and
the function that times its cases inside a worker) and hands it to ``main``. ``main`` re-runs
the script itself as ``--worker NAME`` child processes, one framework per process, so one
library's idle worker threads (OpenBLAS and OpenMP both spin for a while after a call) never
steal cores from the other; the processes alternate over several rounds so that a burst of load
elsewhere on the machine hits one round, not one framework. See bench/README.md.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class Row(NamedTuple):
    """One table row: the worker's result ``key`` (seconds), shown in ``unit`` = seconds *
    ``scale``, and the target for nerve / torch (None: the ratio is shown, no target)."""

    key: str
    label: str
    unit: str
    scale: float
    target: float | None


class Column(NamedTuple):
    """One timing column of the table: which worker, its heading and its key in ``--json``."""

    worker: str
    heading: str
    json_key: str


@dataclass
class Spec:
    """A benchmark. ``cases(name, lib, args)`` runs in the worker process and returns its
    results (seconds under the rows' keys, plus anything ``check`` needs); ``lib`` is the
    imported ``nerve`` or ``torch`` module, None for other workers. ``rows`` is a list of
    ``Row`` or a function of the parsed arguments that returns one. ``check(name, run,
    reference)`` returns warnings comparing one worker's combined run with nerve's. ``options``
    are extra ``(flags, add_argument kwargs)`` passed on to the workers."""

    script: str
    description: str
    workers: tuple
    columns: list
    rows: list
    cases: Callable
    check: Callable = None
    repeats: int = 21
    warmup: int = 3
    rounds: int = 3
    options: list = field(default_factory=list)


# ---- in the worker ---------------------------------------------------------------------------
def time_phases(run, names, warmup, repeats, before=None):
    """Median seconds of each phase of ``run()`` and of their total.

    ``run()`` returns ``len(names) + 1`` ``time.perf_counter()`` readings that bound its
    phases. Every repeat starts with ``before()`` and a ``gc.collect()`` (the same heap each
    time); collections inside a repeat still count, as they are part of the real cost.
    Returns ``{name: median, "total": median, "total_all": [every total]}``.
    """
    phases, total = [[] for _ in names], []
    for i in range(warmup + repeats):
        if before is not None:
            before()
        gc.collect()
        marks = run()
        if i >= warmup:
            for k in range(len(names)):
                phases[k].append(marks[k + 1] - marks[k])
            total.append(marks[-1] - marks[0])
    out = {name: statistics.median(p) for name, p in zip(names, phases)}
    out.update(total=statistics.median(total), total_all=total)
    return out


def load_worker(name, threads):
    """The library a worker drives (None for plain NumPy) and what the report says about it."""
    if name == "torch":
        import torch

        if threads:
            torch.set_num_threads(threads)
        blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
        return torch, {"version": torch.__version__, "threads": torch.get_num_threads(),
                       "blas": blas.group(1) if blas else "unknown"}
    import numpy

    info = {"version": numpy.__version__, "threads": numpy_blas_threads(),
            "blas": numpy_blas()}
    if name != "nerve":
        return None, info
    sys.path.insert(0, str(ROOT))
    import nerve

    info["version"] = nerve.__version__
    return nerve, info


def numpy_blas():
    """NumPy's BLAS, its version and (OpenBLAS) the kernels it runs, e.g. "scipy-openblas
    0.3.31, SkylakeX kernels"."""
    import numpy

    blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    core = openblas_query("corename")
    return f"{blas.get('name')} {blas.get('version')}" + (f", {core} kernels" if core else "")


def numpy_blas_threads():
    """OpenBLAS's thread count, asked from the library NumPy loaded (None when unknown)."""
    return openblas_query("num_threads")


def openblas_query(what):
    """``"num_threads"`` or ``"corename"`` (the CPU kernels it picked) of the OpenBLAS that
    NumPy loaded, through threadpoolctl when installed, else its C API; None when unknown."""
    try:
        from threadpoolctl import threadpool_info

        found = [p for p in threadpool_info() if p["user_api"] == "blas"]
        if what == "num_threads":
            return sum(p["num_threads"] for p in found) if found else None
        return found[0].get("architecture") if found else None
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
        for prefix in ("scipy_openblas_get_", "openblas_get_"):
            for suffix in ("64_", ""):
                fn = getattr(lib, prefix + what + suffix, None)
                if fn is not None:
                    if what == "corename":
                        fn.restype = ctypes.c_char_p
                        return fn().decode()
                    return int(fn())
    return None


def forced_kernel_note():
    """A note when the environment forces OpenBLAS's kernels (OPENBLAS_CORETYPE), else None."""
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if not forced:
        return None
    return (f"Note: OPENBLAS_CORETYPE={forced} forces NumPy's OpenBLAS onto those kernels, "
            "whatever this CPU supports (PyTorch's MKL/oneDNN ignore it). To compare like with "
            "like, unset it and OPENBLAS_L2_SIZE for the benchmark command alone (see "
            "bench/README.md).")


def run_worker(spec, args):
    lib, info = load_worker(args.worker, args.threads)
    results = spec.cases(args.worker, lib, args)
    print(json.dumps({"info": info, "results": results}))


# ---- in the parent ---------------------------------------------------------------------------
def _option_dest(flags):
    return flags[-1].lstrip("-").replace("-", "_")


def run_child(spec, name, args):
    env = dict(os.environ)
    if args.threads:
        for var in THREAD_VARS:
            env[var] = str(args.threads)
    cmd = [sys.executable, str(Path(spec.script).resolve()), "--worker", name,
           "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    for flags, _ in spec.options:
        value = getattr(args, _option_dest(flags))
        if value is not None:
            cmd += [flags[-1], str(value)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def combine(rounds):
    """One worker's rounds -> the median over rounds of each round's median, plus the spread
    (slowest round / fastest round) of every timing. A worker's results are timings (seconds)
    except keys ending in ``_all`` (every repeat, kept in ``--json`` only) and in ``_checksum``
    (values that ``check`` compares across workers, taken from the first round)."""
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
            "numpy_blas": numpy_blas(), "platform": platform.platform(),
            "thread_env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ}}


def _cell(value, unit):
    return "-" if value is None else f"{value:.3g} {unit}"


def report(spec, mach, runs, args):
    """The machine line, the table and the notes (text), and the rows (for ``--json``)."""
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
    headings = " | ".join(c.heading for c in spec.columns)
    lines = [head, f"Threads: {threads}. Median of {args.repeats} repeats after {args.warmup} "
             f"warm-up runs, per process; median over {args.rounds} alternating rounds.", "",
             f"| case | {headings} | nerve/torch | target | met |",
             "|---|" + "---:|" * len(spec.columns) + "---:|---:|:---:|"]
    rows = []
    for key, label, unit, scale, target in (spec.rows(args) if callable(spec.rows)
                                            else spec.rows):
        values = {c.worker: runs[c.worker]["results"][key] * scale if c.worker in runs else None
                  for c in spec.columns}
        n, t = values["nerve"], values.get("torch")
        ratio = n / t if t else None
        met = None if ratio is None or target is None else (
            "yes" if ratio <= target else "no")
        cells = " | ".join(_cell(values[c.worker], unit) for c in spec.columns)
        lines.append(f"| {label} | {cells} | {'-' if ratio is None else f'{ratio:.2f}x'} | "
                     f"{'-' if target is None else f'<= {target:g}x'} | {met or '-'} |")
        rows.append({"case": key, "label": label.strip(), "unit": unit,
                     **{c.json_key: values[c.worker] for c in spec.columns},
                     "ratio": ratio, "target": target, "met": met})
    notes = [note for note in (forced_kernel_note(),) if note]
    for name, run in runs.items():
        if spec.check is not None:
            notes += spec.check(name, run, nerve)
        worst = max(run["spread"].values())
        if worst > 1.3:
            hint = "" if args.threads == 1 else ", or try --threads 1"
            notes.append(f"Note: {name}'s rounds differ by up to {worst:.1f}x (slowest/fastest "
                         f"round): the machine was busy; rerun{hint}.")
    return "\n".join(lines + ([""] + notes if notes else [])), rows


def main(spec, argv=None):
    parser = argparse.ArgumentParser(description=spec.description)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--repeats", type=int, default=spec.repeats,
                        help="timed runs per case (median)")
    parser.add_argument("--warmup", type=int, default=spec.warmup, help="untimed runs first")
    parser.add_argument("--rounds", type=int, default=spec.rounds,
                        help="alternating runs of each worker process (median)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads for all (default: each library's default)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    for flags, kwargs in spec.options:
        parser.add_argument(*flags, **kwargs)
    parser.add_argument("--worker", choices=spec.workers, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(spec, args)
        return
    names = [w for w in spec.workers if w != "torch" or (
        not args.no_torch and importlib.util.find_spec("torch") is not None)]
    mach = machine()
    rounds = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            rounds[name].append(run_child(spec, name, args))
    runs = {name: combine(r) for name, r in rounds.items()}
    text, rows = report(spec, mach, runs, args)
    print(text)
    if args.json:
        payload = {"machine": mach, "threads": args.threads, "repeats": args.repeats,
                   "warmup": args.warmup, "rounds": args.rounds, "rows": rows,
                   "raw": rounds}
        Path(args.json).write_text(json.dumps(payload, indent=2))
        print(f"\nwrote {args.json}")
