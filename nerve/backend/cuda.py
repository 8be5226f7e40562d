"""Lazy, failure-proof access to CuPy: nothing here raises unless a GPU is actually requested."""
from __future__ import annotations

_cupy = None
_import_error: BaseException | None = None
_tried = False


def get_cupy():
    """Return the cupy module, or None when it is not installed or has no usable GPU."""
    global _cupy, _import_error, _tried
    if not _tried:
        _tried = True
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception as exc:  # ImportError, or CUDA driver/runtime errors
            _import_error = exc
    return _cupy


def is_available() -> bool:
    """True when CuPy is importable and sees at least one CUDA device."""
    cp = get_cupy()
    return cp is not None and cp.cuda.runtime.getDeviceCount() > 0


def require_cupy(what: str):
    cp = get_cupy()
    if cp is None:
        reason = f" ({type(_import_error).__name__}: {_import_error})" if _import_error else ""
        raise RuntimeError(
            f"{what}: CUDA needs CuPy and an NVIDIA GPU, and none is usable{reason}. "
            "Install the GPU extra (pip install 'nerve[gpu]') on a machine with a GPU, "
            "or use device='cpu'."
        )
    return cp
