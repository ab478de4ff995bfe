"""The kernel's processes keep freed memory for the next batch (``yibao.kernel.memory``): glibc's
thresholds are set when the kernel is imported, and a main thread that allocates and frees the
temporaries of a batch again and again stops re-faulting them (page faults, not wall time)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from yibao.kernel import memory

glibc_only = pytest.mark.skipif(not memory.is_glibc(), reason="glibc malloc only")

# 20 passes over the temporaries of a 100,000-claim batch (800 kB arrays) on the main thread
PROBE = """
import resource
import numpy as np
import yibao.kernel.settle
from yibao.kernel import memory

a = np.arange(100_000, dtype=np.int64)
def one_pass():
    b = a * 2; c = b + a; d = np.cumsum(c); e = np.maximum(d, b)
    del b, c, d, e
one_pass()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    one_pass()
print(memory.applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 20)
"""


def faults_per_pass(tuning: str) -> tuple[bool, int]:
    env = {**os.environ, memory.SWITCH: tuning}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0] == "True", int(out[1])


@glibc_only
def test_importing_the_kernel_sets_the_thresholds() -> None:
    import yibao.kernel.settle  # noqa: F401

    if os.environ.get(memory.SWITCH, "on") != "off":
        assert memory.applied
        assert memory.keep_freed_memory()  # idempotent


@glibc_only
def test_the_main_thread_reuses_freed_temporaries() -> None:
    applied, tuned = faults_per_pass("on")
    assert applied
    # each pass allocates 4 arrays of 196 pages: with the thresholds nothing is re-faulted
    assert tuned < 50
    # glibc's defaults give them back and fault them in again (about 750 a pass)
    applied, default = faults_per_pass("off")
    assert not applied
    assert default > 10 * max(tuned, 1)
