"""Keep freed array memory in the process for reuse, as a caching allocator would (glibc only).

A training step allocates and frees the same large arrays at every iteration. With glibc's
defaults, arrays from 128 KiB up are served by fresh ``mmap`` calls until the dynamic
threshold has grown past them, and free memory at the top of the heap goes back to the system
as soon as it exceeds twice that threshold: the next step then touches new pages, and the
kernel's page faults and zero-filling cost as much as the arithmetic of a small model (half of
a LeNet-5 training step on a 2-core machine, 3,600 faults per step). ``keep_freed_memory``
makes the heap serve arrays up to 32 MiB and keep up to ``trim`` bytes of freed memory, so that
a steady training loop stops faulting. NumPy allocates through ``malloc``, so this covers
every array nerve makes on the CPU.

nerve calls it once on import. Set the environment variable ``NERVE_KEEP_FREED_MEMORY=0``
before importing nerve to keep the C library's defaults (less memory held between steps).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD = 32 * 2 ** 20  # glibc's largest allowed value on 64-bit systems
TOP_PAD = 64 * 2 ** 20
TRIM_THRESHOLD = 256 * 2 ** 20


def keep_freed_memory(trim: int = TRIM_THRESHOLD) -> bool:
    """Tune glibc's ``malloc`` for repeated large allocations; True if it was applied (a
    no-op returning False on other C libraries and systems)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        gnu_get_libc_version = libc.gnu_get_libc_version  # glibc only
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TOP_PAD, TOP_PAD), (_M_TRIM_THRESHOLD, trim)))


def on_import() -> None:
    """What ``import nerve`` does: ``keep_freed_memory()`` unless NERVE_KEEP_FREED_MEMORY is
    0/false/no/off."""
    if os.environ.get("NERVE_KEEP_FREED_MEMORY", "1").strip().lower() not in (
            "0", "false", "no", "off"):
        keep_freed_memory()
