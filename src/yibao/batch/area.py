"""Settle a generated (or exported) pooling area part by part through the columnar kernel.

An area is a folder of ``persons/part-*.parquet`` and ``claims/part-*.parquet`` with the columns
of ``yibao.kernel.schema``; each part holds whole persons, so parts (and batches cut at person
boundaries inside a part) settle independently and in parallel. Memory is bounded by one part.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from yibao.kernel.arrow import claims_from_arrow, in_order, persons_from_arrow
from yibao.kernel.schema import CLAIM_COLUMNS, PERSON_COLUMNS
from yibao.kernel.settle import Claims, Persons


def parts(area: Path | str) -> list[tuple[Path, Path]]:
    root = Path(area)
    return [
        (p, root / "claims" / p.name) for p in sorted((root / "persons").glob("part-*.parquet"))
    ]


def read_part(persons_path: Path, claims_path: Path) -> tuple[Claims, Persons]:
    """One part as kernel arrays: claims sorted by person, persons in segment order."""
    claims_table = pq.read_table(claims_path, columns=list(CLAIM_COLUMNS))
    claims = claims_from_arrow(claims_table)
    if not in_order(claims.person, claims.date):  # a generated part is already in order
        claims_table = claims_table.sort_by([("psn_no", "ascending"), ("date", "ascending")])
        claims = claims_from_arrow(claims_table)
    persons_table = pq.read_table(persons_path, columns=list(PERSON_COLUMNS))
    psn = np.asarray(persons_table["psn_no"].to_numpy(), dtype=np.int64)
    if len(psn) > 1 and not np.all(psn[1:] >= psn[:-1]):
        persons_table = persons_table.sort_by("psn_no")
        psn = np.asarray(persons_table["psn_no"].to_numpy(), dtype=np.int64)
    # each run of equal keys is one person: its key, and each claim's run number
    first = np.empty(len(claims), dtype=np.bool_)
    first[:1] = True
    np.not_equal(claims.person[1:], claims.person[:-1], out=first[1:])
    present = claims.person[first]
    idx = np.searchsorted(psn, present)
    persons = persons_from_arrow(persons_table.take(idx))
    claims.person = np.cumsum(first, dtype=np.int64) - 1  # segment numbers 0..P-1
    return claims, persons


def split(claims: Claims, persons: Persons, size: int) -> Iterator[tuple[Claims, Persons]]:
    """Cut a part into batches of about ``size`` claims at person boundaries."""
    n = len(claims)
    starts = np.flatnonzero(np.r_[True, claims.person[1:] != claims.person[:-1]])
    lo = 0
    while lo < n:
        hi = int(starts[np.searchsorted(starts, lo + size)]) if lo + size < n else n
        hi = n if hi <= lo else hi
        first, last = int(claims.person[lo]), int(claims.person[hi - 1]) + 1
        c = Claims(**{f.name: getattr(claims, f.name)[lo:hi] for f in fields(Claims)})
        c.person = c.person - first
        p = Persons(**{f.name: getattr(persons, f.name)[first:last] for f in fields(Persons)})
        yield c, p
        lo = hi
