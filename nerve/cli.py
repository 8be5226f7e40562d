"""The ``nerve`` command line (``python -m nerve ...``): ``demo``, ``info`` here; ``train``,
``evaluate``, ``predict`` and ``datasets`` in nerve/cli_train.py.

A subcommand is a function ``run(args) -> int`` registered with ``@command``; its arguments
are added by an optional ``setup(parser)``. A user's mistake (a missing file, a corrupt
checkpoint, an unknown model) is reported in one line, without a traceback, and exit status 1
(``NERVE_DEBUG=1`` shows the traceback).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys

COMMANDS: dict = {}  # name -> (help, setup, run)


def command(name: str, help: str, setup=None):
    """Register ``run(args) -> int`` as the subcommand ``name``."""
    def register(run):
        COMMANDS[name] = (help, setup, run)
        return run

    return register


@command("demo", help="run the worked backpropagation examples (autograd vs by hand vs "
                      "finite differences)")
def run_demo(args) -> int:
    from . import demo

    demo.run()
    return 0


def _blas() -> str:
    try:
        import numpy

        info = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # older NumPy or an unusual build: the line is informative only
        return "unknown"


def info_lines() -> list[str]:
    import numpy

    import nerve
    from nerve.backend import cuda

    lines = [f"nerve   {nerve.__version__}", f"numpy   {numpy.__version__}",
             f"python  {platform.python_version()} ({platform.python_implementation()}, "
             f"{platform.system()} {platform.machine()})", f"blas    {_blas()}",
             f"dtype   default {nerve.get_default_dtype()}"]
    devices = ["cpu"]
    cp = cuda.get_cupy()
    if cp is not None:
        for i in range(nerve.cuda.device_count()):
            name = cp.cuda.runtime.getDeviceProperties(i)["name"]
            name = name.decode() if isinstance(name, bytes) else name
            devices.append(f"cuda:{i} ({name})")
        lines.append(f"cupy    {cp.__version__}")
    else:
        lines.append("cupy    not available (CPU only)")
    lines.append(f"devices {', '.join(devices)}")
    return lines


@command("info", help="print versions, devices and the BLAS NumPy uses")
def run_info(args) -> int:
    print("\n".join(info_lines()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nerve", description="nerve: a deep-learning framework on NumPy and CuPy")
    parser.add_argument("--version", action="version", version=f"nerve {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help, setup, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        if setup is not None:
            setup(p)
        p.set_defaults(run=run)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def _user_errors() -> tuple:
    from .data.datasets import CorruptDataError, MissingDataError
    from .io import CheckpointError
    from .models import UnknownModelError

    return (FileNotFoundError, IsADirectoryError, CheckpointError, UnknownModelError,
            MissingDataError, CorruptDataError, ImportError, ValueError, TypeError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nerve`` script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # for the records a command writes (metrics.json)
    try:
        return args.run(args)
    except _user_errors() as exc:
        if os.environ.get("NERVE_DEBUG"):
            raise
        print(f"nerve {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nerve {args.command}: interrupted", file=sys.stderr)
        return 130


from . import cli_train  # noqa: E402,F401  (registers train, evaluate, predict, datasets)
