"""Registry bulk import (persons from Parquet or CSV) into SQLite or PostgreSQL.

    python bench/registry_import.py [--n 1000000] [--db postgresql://postgres@127.0.0.1/DB]
                                    [--format parquet|csv]

Generates ``n`` persons with checksum-valid national IDs (seeded), writes them to a temporary
file, migrates the database and imports the file twice (the second run finds every row already
there). Without ``--db`` a temporary SQLite file is used; with ``--db`` the database must be
empty (persons are inserted for real). Last line: ``persons/min: <number>`` (first run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from yibao.domain.identity import make_national_id
from yibao.store.bulk import import_persons
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade

#: Codes ``stdnum.cn.ric`` accepts for every birth year (no date range in its table).
AREAS = ("110101", "110102", "110105", "110106", "110108")


def population(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    epoch = dt.date(1930, 1, 1).toordinal()
    span = dt.date(2024, 12, 31).toordinal() - epoch
    step = next(p for p in range(7919 + rng.randrange(1000), span) if math.gcd(p, span) == 1)
    ids, households = [], []
    for i in range(n):  # (birth date, order code) is a bijection of i: unique below ~34 M
        birth = dt.date.fromordinal(epoch + (i * step) % span)
        ids.append(make_national_id(AREAS[i % len(AREAS)], birth, (i // span) % 1000))
        households.append(f"H{i // 3}")
    return pa.table(
        {
            "national_id": ids,
            "name": [f"居民{i}" for i in range(n)],
            "phone": [f"139{i:08d}" for i in range(n)],
            "household": households,
            "region": [AREAS[i % len(AREAS)] for i in range(n)],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", default=None)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"persons.{args.format}"
        table = population(args.n, args.seed)
        if args.format == "parquet":
            pq.write_table(table, path)
        else:
            pacsv.write_csv(table, path)
        del table
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            start = time.perf_counter()
            first = import_persons(engine, path, batch_size=args.batch_size)
            took = time.perf_counter() - start
            start = time.perf_counter()
            second = import_persons(engine, path, batch_size=args.batch_size)
            again = time.perf_counter() - start
        finally:
            engine.dispose()
    print(f"backend: {engine.dialect.name}, file: {args.format}, persons: {args.n}")
    print(
        f"first run: {first.inserted} inserted, {first.invalid} invalid, "
        f"{first.duplicates} duplicates in {took:.1f} s"
    )
    print(f"second run: {second.inserted} inserted, {second.duplicates} present in {again:.1f} s")
    print(f"persons/min: {first.read / took * 60:,.0f}")


if __name__ == "__main__":
    main()
