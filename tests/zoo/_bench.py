"""Load a script of bench/ (the PyTorch twins) as a module: the scripts are not a package."""
import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_bench(name: str):
    """``bench/NAME.py`` imported as ``bench_NAME``; bench/ is on sys.path meanwhile, for the
    script's own imports (``_twin``, ``torch_char_rnn``)."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module
