"""Settle a generated (or exported) pooling area part by part through the columnar kernel.

An area is a folder of ``persons/part-*.parquet`` and ``claims/part-*.parquet`` with the columns
of ``yibao.kernel.schema``; each part holds whole persons, so parts (and batches cut at person
boundaries inside a part) settle independently and in parallel. ``read_part`` reads one part as
kernel arrays; ``settle_area`` settles a whole area and writes each part's payments as Parquet,
memory bounded by about two parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
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


def payments_schema(columns: Sequence[str] = PAYMENTS) -> pa.Schema:
    """int64 fen columns, not nullable (the writer then writes no definition levels)."""
    return pa.schema([pa.field(c, pa.int64(), nullable=False) for c in columns])


def settle_area(
    area: Path | str,
    out: Path | str,
    stream: Callable[[Iterable[Batch]], Iterator[Result]],
    batch: int = 20_000,
    columns: Sequence[str] = PAYMENTS,
    read_threads: bool = False,
) -> int:
    """Settle every part of ``area`` and write each part's payments as ``out/<part name>``
    (Parquet, one row a claim in the order ``read_part`` returns them: (psn_no, date); no
    dictionary, compression or statistics, which would cost most of the writing). Returns the
    number of claims settled.

    ``stream`` settles batches in order (``KernelPool.stream``, or one after the other); the
    batches of every part go through it as one stream, so the workers do not wait at the end of
    a part. One thread reads the next part while the current one settles and the calling thread
    writes, so memory stays bounded by about two parts. ``read_threads``: Arrow decodes a part
    on its own threads too (off by default: the cores are busy settling).
    """
    todo = parts(area)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    schema = payments_schema(columns)
    sizes: list[int] = []  # claims per part, appended as each part is read

    with ThreadPoolExecutor(1) as reader, ExitStack() as open_files:

        def read(k: int) -> Future[tuple[Claims, Persons]]:
            return reader.submit(read_part, todo[k][0], todo[k][1], read_threads)

        def batches() -> Iterator[Batch]:
            ahead = read(0) if todo else None
            for k in range(len(todo)):
                assert ahead is not None
                claims, persons = ahead.result()
                ahead = read(k + 1) if k + 1 < len(todo) else None
                sizes.append(len(claims))
                for c, p in split(claims, persons, batch):
                    yield c, p, None

        part, left, settled = -1, 0, 0
        writer: pq.ParquetWriter | None = None
        buffered: list[pa.RecordBatch] = []

        def flush() -> None:
            if buffered and writer is not None:
                rows = sum(b.num_rows for b in buffered)
                writer.write_table(pa.Table.from_batches(buffered), row_group_size=rows)
                buffered.clear()

        def next_part() -> None:
            nonlocal part, left, writer
            flush()
            if writer is not None:
                writer.close()
            part += 1
            left = sizes[part]
            writer = open_files.enter_context(
                pq.ParquetWriter(
                    out / todo[part][1].name,
                    schema,
                    use_dictionary=False,
                    compression="none",
                    write_statistics=False,
                )
            )

        for result in stream(batches()):
            while left == 0:  # the next part (an empty one gets an empty file)
                next_part()
            n = len(result.columns[columns[0]])
            buffered.append(pa.record_batch([result.columns[c] for c in columns], schema=schema))
            left -= n
            settled += n
            if left == 0 or sum(b.num_rows for b in buffered) >= ROW_GROUP:
                flush()
        while part + 1 < len(todo):  # the empty parts at the end
            next_part()
        flush()
    return settled
