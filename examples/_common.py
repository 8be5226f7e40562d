"""Small helpers shared by the experiment scripts in ``examples/``.

Every experiment is ``examples/NAME.py`` with ``run(quick=False, out=None) -> dict`` and
``main(argv=None)``. A script typically reads::

    from _common import Timer, figure, main_for, out_dir, save, write_result

    def run(quick=False, out=None):
        out = out_dir(out, "xor")
        with Timer() as t:
            ...                                   # the experiment
        fig, ax = figure()                        # (None, None) without matplotlib
        if fig is not None:
            ax.plot(...)
        save(fig, out / "xor.png")                # no-op (returns None) without matplotlib
        return write_result(out, "xor", quick=quick, data="...", metric="accuracy",
                            value=1.0, wall_time_s=t.seconds, details={...})

    def main(argv=None):
        return main_for(run, "xor", argv, __doc__)

Scripts are run as ``python examples/NAME.py`` (this folder is then on ``sys.path``) and tests
load them by path, so a script imports this module with the preamble below; importing
``_common`` also puts the checkout's root on ``sys.path``, so ``import nerve`` works without
installing nerve (``E402`` is ignored for ``examples/`` in pyproject.toml)::

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import Timer, figure, main_for, out_dir, save, write_result

    import nerve
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout: nerve need not be installed
    sys.path.insert(1, str(ROOT))
_NOTED = set()


# ---- command line ----------------------------------------------------------------------------
def make_parser(name: str, description: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with ``--quick`` and ``--out DIR`` (default ``runs/examples/NAME``).

    Scripts may add their own arguments before parsing.
    """
    parser = argparse.ArgumentParser(prog=f"examples/{name}.py", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="reduced run (seconds), as used by the tests")
    parser.add_argument("--out", default=str(Path("runs") / "examples" / name),
                        help="folder for result.json and figures (default: %(default)s)")
    return parser


def main_for(run, name: str, argv=None, description: str | None = None) -> dict:
    """Parse ``--quick/--out``, call ``run(quick=..., out=...)``, print a one-line summary."""
    args = make_parser(name, description).parse_args(argv)
    result = run(quick=args.quick, out=args.out)
    print(f"{name}: {result['metric']} = {_short(result['value'])} "
          f"({result['wall_time_s']:.1f} s) -> {Path(args.out) / 'result.json'}")
    return result


def command_for(name: str, quick: bool = False) -> str:
    """The command line that regenerates an experiment's result."""
    return f"python examples/{name}.py" + (" --quick" if quick else "")


def out_dir(out, name: str) -> Path:
    """``out`` as a created Path (default ``runs/examples/NAME``)."""
    path = Path(out) if out is not None else Path("runs") / "examples" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- timing and seeding ----------------------------------------------------------------------
class Timer:
    """Wall-clock timer: ``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start

    def elapsed(self) -> float:
        """Seconds since the timer started (usable inside the ``with`` block)."""
        return time.perf_counter() - self.start


def seed(n: int = 0) -> numpy.random.Generator:
    """Seed nerve's generator and return a NumPy Generator seeded with the same number."""
    import nerve

    nerve.manual_seed(n)
    return numpy.random.default_rng(n)


# ---- results ---------------------------------------------------------------------------------
def jsonable(obj):
    """Convert NumPy scalars/arrays, Paths, tuples and non-finite floats to JSON-safe values."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, numpy.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, numpy.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # "nan"/"inf": json.dumps would write invalid JSON otherwise
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path, obj) -> Path:
    """Write ``obj`` as JSON atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(jsonable(obj), f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def write_result(out, experiment: str, *, data: str, metric: str, value, wall_time_s: float,
                 details: dict | None = None, quick: bool = False,
                 command: str | None = None) -> dict:
    """Write ``out/result.json`` atomically and return the record (a JSON-safe dict).

    The record has the keys the results table needs: experiment, command, data, metric,
    value, wall_time_s, details (anything else: curves, per-setting numbers, figure paths).
    """
    record = jsonable({
        "experiment": experiment,
        "command": command or command_for(experiment, quick),
        "data": data,
        "metric": metric,
        "value": value,
        "wall_time_s": round(float(wall_time_s), 3),
        "quick": bool(quick),
        "details": details or {},
    })
    write_json(Path(out) / "result.json", record)
    return record


# ---- figures ---------------------------------------------------------------------------------
def note_once(message: str) -> None:
    """Print a note the first time it is given (e.g. a missing optional dependency)."""
    if message not in _NOTED:
        _NOTED.add(message)
        print(f"note: {message}")


def have_matplotlib() -> bool:
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")  # files only; never open a window
    return True


def figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """``(fig, axes)`` from ``plt.subplots``, or ``(None, None)`` with a note without matplotlib.

    Keyword arguments go to ``plt.subplots`` (``figsize=(8, 4)``, ``squeeze=False``...).
    """
    if not have_matplotlib():
        note_once("matplotlib is not installed: figures are skipped")
        return None, None
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, **kwargs)


def save(fig, path, dpi: int = 120, also: tuple = ()) -> str | None:
    """Save ``fig`` to ``path`` (format from the suffix) and close it; None if ``fig`` is None.

    ``also``: more suffixes to write the same figure as, e.g. ``also=(".svg",)``.
    """
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    for p in (path, *(path.with_suffix(s) for s in also)):
        fig.savefig(p, dpi=dpi)
    plt.close(fig)
    return str(path)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
