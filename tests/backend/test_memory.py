"""nerve.backend.memory: glibc malloc tuning applied on import, and its opt-out."""
from __future__ import annotations

import platform
import resource
import sys

import numpy as np
import pytest

from nerve.backend import memory

glibc = pytest.mark.skipif(not sys.platform.startswith("linux")
                           or platform.libc_ver()[0] != "glibc", reason="needs Linux with glibc")


@glibc
def test_keep_freed_memory_applies_and_stops_page_faults_of_a_repeated_allocation():
    assert memory.keep_freed_memory() is True

    def churn():  # a step's pattern: several large arrays made and freed together
        arrays = [np.ones(2 * 2 ** 20, dtype=np.float32) for _ in range(8)]
        return sum(float(a[0]) for a in arrays)

    churn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        churn()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 100  # 8 MiB arrays re-faulted every time would be ~10,000 faults a round


@pytest.mark.parametrize("value, calls", [(None, 1), ("1", 1), ("0", 0), ("off", 0),
                                          ("False", 0)])
def test_on_import_respects_the_opt_out_variable(monkeypatch, value, calls):
    seen = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: seen.append(1))
    if value is None:
        monkeypatch.delenv("NERVE_KEEP_FREED_MEMORY", raising=False)
    else:
        monkeypatch.setenv("NERVE_KEEP_FREED_MEMORY", value)
    memory.on_import()
    assert len(seen) == calls
