"""Keeping freed memory for the next batch (glibc ``malloc`` tuning).

Each kernel call allocates its result (one int64 row per output column) and the persons' state,
and a process that settles batch after batch frees them and allocates them again. With glibc's
defaults the main thread's heap gives freed memory back to the system as soon as its free top
passes a small, self-adjusting threshold (about twice the largest block freed so far), and takes
it back, page fault by page fault, a moment later, where a worker thread's arena keeps more of
it (docs/benchmarks.md). ``keep_freed_memory`` fixes the thresholds instead (``mallopt``):

- ``M_MMAP_THRESHOLD``: arrays below 32 MiB (glibc's largest setting) come from the heap, not
  from a fresh mapping each;
- ``M_TRIM_THRESHOLD``: up to 256 MiB free at the heap's top stays with the process;
- ``M_TOP_PAD``: the heap grows 64 MiB at a time.

So a process that settles keeps its peak heap (the results of the batches in flight) instead of
returning and re-faulting it. Applied once per process when the
kernel is imported (``kernel.settle``): the calculator, ``yibao serve``'s workers, batch
settlement and the benchmarks all settle through it. Elsewhere than glibc, or with the
environment variable ``YIBAO_MALLOC_TUNING=off`` (glibc's own defaults, e.g. to compare), nothing
is changed.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

#: ``mallopt`` parameters (glibc ``malloc.h``).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MIB = 1 << 20
SETTINGS = {
    M_MMAP_THRESHOLD: 32 * MIB,
    M_TRIM_THRESHOLD: 256 * MIB,
    M_TOP_PAD: 64 * MIB,
}

#: Set to ``off`` to keep glibc's defaults.
SWITCH = "YIBAO_MALLOC_TUNING"
#: Whether this process runs with the settings (set by ``keep_freed_memory``).
applied = False


def is_glibc() -> bool:
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def keep_freed_memory() -> bool:
    """Set ``SETTINGS`` with ``mallopt`` (glibc only; idempotent). True when they hold."""
    global applied
    if applied or not is_glibc() or os.environ.get(SWITCH, "on") == "off":
        return applied
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = all(mallopt(param, value) == 1 for param, value in SETTINGS.items())
    return applied
