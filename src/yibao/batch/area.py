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

from yibao.kernel.arrow import (
    claims_from_arrow,
    in_order,
    int_column,
    person_rows,
    persons_from_arrow,
    take,
)
from yibao.kernel.schema import CLAIM_COLUMNS, PERSON_COLUMNS
from yibao.kernel.settle import Claims, Persons


def parts(area: Path | str) -> list[tuple[Path, Path]]:
    root = Path(area)
    return [
        (p, root / "claims" / p.name) for p in sorted((root / "persons").glob("part-*.parquet"))
    ]


#: The string columns read dictionary-encoded: a part's few distinct values are looked up once
#: each (``kernel.arrow._codes``), not once per row.
CLAIM_STRINGS = ("med_type", "cross_region")
PERSON_STRINGS = ("scheme", "assistance_class")


def read_part(
    persons_path: Path, claims_path: Path, use_threads: bool = True
) -> tuple[Claims, Persons]:
    """One part as kernel arrays: claims sorted by (person, date) with ``person`` the segment
    number 0..P-1, persons in segment order.

    Reads only the kernel's columns, its strings as dictionaries; sorts in NumPy (argsort of the
    integer keys) only where the part is not already in order, and finds the persons by runs of
    equal keys. ``use_threads``: Arrow decodes the columns on its own threads (off where the
    caller already keeps every core busy, e.g. reading one part while others settle).
    """
    claims_table = pq.read_table(
        claims_path,
        columns=list(CLAIM_COLUMNS),
        read_dictionary=CLAIM_STRINGS,
        use_threads=use_threads,
    )
    claims = claims_from_arrow(claims_table)
    if not in_order(claims.person, claims.date):  # a generated part is already in order
        claims = take(claims, np.lexsort((claims.date, claims.person)))
    persons_table = pq.read_table(
        persons_path,
        columns=list(PERSON_COLUMNS),
        read_dictionary=PERSON_STRINGS,
        use_threads=use_threads,
    )
    persons = persons_from_arrow(persons_table)
    claims.person, rows = person_rows(claims.person, int_column(persons_table["psn_no"]))
    if len(rows) != len(persons.scheme) or np.any(rows != np.arange(len(rows))):
        persons = take(persons, rows)  # only the persons with claims, in segment order
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
