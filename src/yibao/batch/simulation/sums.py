"""Per-person sums of the kernel's claim columns in one compiled pass (Numba, through the
kernel's decorator ``kernel.jit.compiled``: cached on disk, without the GIL), instead of one
NumPy ``reduceat`` and scatter per column; and which persons' claims differ between two
settlements. Importing this module imports Numba (the settlement does too)."""

from __future__ import annotations

import numpy as np

from yibao.kernel.jit import compiled
from yibao.kernel.segments import I64


@compiled
def _sums(person: I64, rows: I64, cols: tuple[I64, ...], out: I64) -> None:  # pragma: no cover
    for j in range(len(cols)):
        col = cols[j]
        for i in range(len(person)):
            out[j, rows[person[i]]] += col[i]


@compiled
def _changed(
    person: I64, rows: I64, a: tuple[I64, ...], b: tuple[I64, ...], out: I64
) -> None:  # pragma: no cover
    for j in range(len(a)):
        x, y = a[j], b[j]
        for i in range(len(person)):
            if x[i] != y[i]:
                out[rows[person[i]]] = 1


def _same(cols: list[I64]) -> tuple[I64, ...]:
    """The columns as one tuple type for Numba: contiguous, writable int64 (an Arrow column's
    array is read-only: copied)."""
    return tuple(
        c
        if c.flags.writeable and c.flags.c_contiguous and c.dtype == np.int64
        else np.array(c, dtype=np.int64)
        for c in cols
    )


def person_sums(person: I64, rows: I64, cols: list[I64], persons: int) -> I64:
    """(len(cols), persons): column j summed over each person's claims; ``person`` is each
    claim's segment, ``rows`` each segment's person row."""
    out = np.zeros((len(cols), persons), dtype=np.int64)
    if len(person):
        _sums(person, rows, _same(cols), out)
    return out


def changed_persons(person: I64, rows: I64, a: list[I64], b: list[I64], out: I64) -> None:
    """Set ``out[row] = 1`` for every person with a claim whose columns ``a`` and ``b`` differ."""
    if len(person):
        _changed(person, rows, _same(a), _same(b), out)
