"""Grouped (segmented) scans over claims sorted by person: the kernel's only primitives.

A *segment* is one person's claims in the batch. ``first[i]`` is the index of the first claim of
claim i's segment and ``seg[i]`` the segment number (0..P-1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]

_LIMIT = 1 << 62


@dataclass(frozen=True)
class Segments:
    seg: I64  # segment number of each claim
    first: I64  # index of the first claim of each claim's segment
    starts: I64  # index of the first claim of each segment
    ends: I64  # index of the last claim of each segment
    n_segments: int

    @classmethod
    def from_sorted_keys(cls, keys: I64) -> Segments:
        n = len(keys)
        is_start = np.empty(n, dtype=np.bool_)
        if n:
            is_start[0] = True
            np.not_equal(keys[1:], keys[:-1], out=is_start[1:])
        starts = np.flatnonzero(is_start).astype(np.int64)
        seg = np.cumsum(is_start, dtype=np.int64) - 1
        ends = np.empty_like(starts)
        if len(starts):
            ends[:-1] = starts[1:] - 1
            ends[-1] = n - 1
        return cls(seg=seg, first=starts[seg], starts=starts, ends=ends, n_segments=len(starts))

    def cumsum(self, x: I64, init: I64 | None = None) -> I64:
        """Running total of x within each segment (inclusive), plus the segment's ``init``."""
        cs = np.cumsum(x, dtype=np.int64)
        out = cs - (cs[self.first] - x[self.first])
        if init is not None:
            out += init[self.seg]
        return out

    def cummax(self, x: I64, init: I64) -> I64:
        """Running maximum of x within each segment, starting from the segment's ``init`` (≥ 0)."""
        y = np.maximum(x, init[self.seg])
        if not len(y):
            return y
        width = int(y.max()) + 1
        if width * max(self.n_segments, 1) < _LIMIT:
            offset = self.seg * width
            return np.maximum.accumulate(y + offset) - offset
        out = np.empty_like(y)  # pathological magnitudes: one segment at a time
        for s, e in zip(self.starts, self.ends, strict=True):
            out[s : e + 1] = np.maximum.accumulate(y[s : e + 1])
        return out

    def previous(self, running: I64, init: I64) -> I64:
        """The running value before each claim: the prior claim's, or ``init`` at a segment start."""
        prev = np.empty_like(running)
        if len(running):
            prev[1:] = running[:-1]
            prev[self.starts] = init
        return prev

    def last(self, running: I64, init: I64) -> I64:
        """Each segment's final running value (``init`` where the segment does not exist)."""
        out = init.copy()
        out[: self.n_segments] = running[self.ends]
        return out


def round_div(x: I64, d: int) -> I64:
    """x / d rounded half up (x ≥ 0): the one rounding of a layer."""
    return (x + d // 2) // d
