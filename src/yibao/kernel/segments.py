"""Grouped (segmented) scans over claims sorted by person: the kernel's only primitives.

A *segment* is one person's claims in the batch; ``seg[i]`` is the segment number (0..P-1) of
claim i. Per-segment values (a person's attributes and year-to-date state) are spread to claims.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

_LIMIT = 1 << 62


@dataclass(frozen=True)
class Segments:
    seg: I64  # segment number of each claim
    starts: I64  # index of the first claim of each segment
    ends: I64  # index of the last claim of each segment
    counts: I64  # claims per segment
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
        counts = ends - starts + 1
        return cls(seg=seg, starts=starts, ends=ends, counts=counts, n_segments=len(starts))

    def spread(self, per_segment: I64) -> I64:
        """A per-segment value repeated for each claim of the segment.

        ``take`` rather than ``repeat``: it releases the GIL, so threads settle in parallel."""
        return per_segment.take(self.seg)

    def cumsum(self, x: I64, init: I64 | None = None) -> I64:
        """Running total of x within each segment (inclusive), plus the segment's ``init``."""
        cs = np.cumsum(x, dtype=np.int64)
        if not len(cs):
            return cs
        before = cs[self.starts] - x[self.starts]
        if init is not None:
            before = before - init[: self.n_segments]
        cs -= self.spread(before)
        return cs

    def cummax(self, x: I64, init: I64) -> I64:
        """Running maximum of x within each segment, starting from the segment's ``init`` (≥ 0)."""
        y = np.maximum(x, self.spread(init))
        if not len(y):
            return y
        width = int(y.max()) + 1
        if width * max(self.n_segments, 1) < _LIMIT:
            offset = self.seg * width
            y += offset
            np.maximum.accumulate(y, out=y)
            y -= offset
            return y
        out = np.empty_like(y)  # pathological magnitudes: one segment at a time
        for s, e in zip(self.starts, self.ends, strict=True):
            out[s : e + 1] = np.maximum.accumulate(y[s : e + 1])
        return out

    def subset(self, idx: I64) -> tuple[Segments, I64]:
        """The segments of the claims ``idx`` (sorted) and the original segment of each."""
        keys = self.seg[idx]
        sub = segments(keys)
        return sub, keys[sub.starts]

    def previous(self, running: I64, init: I64) -> I64:
        """The running value before each claim (``init`` at a segment's first claim)."""
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


def round_div(x: I64, d: int | I64) -> I64:
    """x / d rounded half up (x ≥ 0): the one rounding of a layer."""
    return (x + d // 2) // d


class OneSegment(Segments):
    """The same primitives for a batch of one person (the online path): fewer array passes."""

    def spread(self, per_segment: I64) -> I64:
        return per_segment[:1]

    def cumsum(self, x: I64, init: I64 | None = None) -> I64:
        out = np.cumsum(x) if len(x) > 1 else x.copy()
        if init is not None:
            out += init[0]
        return out

    def cummax(self, x: I64, init: I64) -> I64:
        y = np.maximum(x, init[0])
        return np.maximum.accumulate(y) if len(y) > 1 else y

    def previous(self, running: I64, init: I64) -> I64:
        return np.concatenate((init[:1], running[:-1]))

    def last(self, running: I64, init: I64) -> I64:
        return running[-1:]


def segments(keys: I64) -> Segments:
    """Segments of claims sorted by person key (one-person batches take the short path)."""
    n = len(keys)
    if n and keys[0] == keys[-1]:
        zero = np.zeros(1, dtype=np.int64)
        end = np.array([n - 1], dtype=np.int64)
        return OneSegment(np.zeros(n, dtype=np.int64), zero, end, np.array([n]), 1)
    return Segments.from_sorted_keys(keys)
