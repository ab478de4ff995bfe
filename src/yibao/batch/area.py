"""Settle a generated (or exported) pooling area part by part through the columnar kernel.

An area is a folder of ``persons/part-*.parquet`` and ``claims/part-*.parquet`` with the columns
of ``yibao.kernel.schema``; each part holds whole persons, so parts (and batches cut at person
boundaries inside a part) settle independently and in parallel. ``read_part`` reads one part as
kernel arrays; ``settle_area`` settles a whole area and writes each part's payments as Parquet,
one part a core at once, memory bounded by about that many parts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path

import numpy as np
import pyarrow as pa
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
from yibao.kernel.settle import Claims, Persons, Result
from yibao.kernel.stream import Batch


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


#: The payments ``settle_area`` writes for each claim (fen), as the national platform names them.
PAYMENTS = (
    "hifp_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
)
#: Claims per row group of the written payments (at least; whole batches): fewer, larger row
#: groups cost the writer less than one a batch.
ROW_GROUP = 131_072


#: The payments that are zero for nearly every claim (critical illness, large amounts, medical
#: assistance, mutual aid: 0–6 % of generated claims pay any): written LZ4-compressed, their pages
#: shrink to almost nothing for less than it costs to write their plain bytes (the others stay
#: plain: compressing them costs more than writing them).
MOSTLY_ZERO = ("hifmi_pay", "hifob_pay", "maf_pay", "acct_mulaid_pay")
#: Values the Parquet writer encodes at a time (Arrow's default 1,024): fewer, longer calls.
WRITE_BATCH = 65_536


def payments_schema(columns: Sequence[str] = PAYMENTS) -> pa.Schema:
    """int64 fen columns, not nullable (the writer then writes no definition levels)."""
    return pa.schema([pa.field(c, pa.int64(), nullable=False) for c in columns])


def write_payments(path: Path, results: Iterable[Result], columns: Sequence[str] = PAYMENTS) -> int:
    """Write the payments of one part's results, in order, as one Parquet file; returns the
    number of claims written. Not-nullable int64 columns (no definition levels, which took a
    third of the writer's time), row groups of at least ``ROW_GROUP`` claims, no dictionary or
    statistics, LZ4 only for ``MOSTLY_ZERO``: what is cheapest to write, read back exactly.

    Each result's payments are copied into one buffer, reused row group after row group, and
    the result let go at once: a kernel call's output holds every one of its columns, and
    keeping a row group's worth of them alive until it is written made the next calls write
    into memory not in the cache (~30 ns a claim more for the kernel)."""
    schema = payments_schema(columns)
    buffer = np.empty((len(columns), 0), dtype=np.int64)
    at = written = 0
    with pq.ParquetWriter(
        path,
        schema,
        use_dictionary=False,
        compression={c: "lz4" if c in MOSTLY_ZERO else "none" for c in columns},
        write_statistics=False,
        write_batch_size=WRITE_BATCH,
    ) as writer:

        def flush() -> None:
            table = pa.Table.from_arrays([pa.array(row[:at]) for row in buffer], schema=schema)
            writer.write_table(table, row_group_size=at)

        for result in results:
            n = len(result.columns[columns[0]])
            if at + n > buffer.shape[1]:
                grown = np.empty((len(columns), max(ROW_GROUP, at) + n), dtype=np.int64)
                grown[:, :at] = buffer[:, :at]
                buffer = grown
            for row, name in zip(buffer, columns, strict=True):
                row[at : at + n] = result.columns[name]
            del result
            at += n
            written += n
            if at >= ROW_GROUP:
                flush()
                at = 0
        if at:
            flush()
    return written


def settle_area(
    area: Path | str,
    out: Path | str,
    stream: Callable[[Iterable[Batch]], Iterator[Result]],
    batch: int = 20_000,
    columns: Sequence[str] = PAYMENTS,
    read_threads: bool = False,
    pipelines: int | None = None,
) -> int:
    """Settle every part of ``area`` and write each part's payments as ``out/<part name>``
    (Parquet, one row a claim in the order ``read_part`` returns them: (psn_no, date); see
    ``write_payments``). Returns the number of claims settled.

    ``pipelines`` parts (default: one a core) go at once, each on its own thread: read, its
    batches settled in order through ``stream`` (``KernelPool.stream``, or one after the other
    on that thread), its payments written. Reading, the kernel and writing release the GIL, so
    the cores stay busy with no thread waiting for another's stage; memory stays bounded by
    about ``pipelines`` parts. ``read_threads``: Arrow decodes a part on its own threads too
    (off by default: the cores are busy with the other pipelines).
    """
    todo = parts(area)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def settle_part(k: int) -> int:
        persons_path, claims_path = todo[k]
        claims, persons = read_part(persons_path, claims_path, read_threads)
        batches = ((c, p, None) for c, p in split(claims, persons, batch))
        written = write_payments(out / claims_path.name, stream(batches), columns)
        assert written == len(claims), (claims_path, written, len(claims))
        return written

    with ThreadPoolExecutor(pipelines or os.cpu_count() or 1) as pool:
        return sum(pool.map(settle_part, range(len(todo))))
