"""Exact matching of a department file of N persons against a registry of N.

    python bench/compare.py --persons 1000000 [--repeat 1] [--threads 2]

The registry: N persons (checksum-valid IDs from ``synth.ids.IdIssuer``, names from
``synth.names``, all enrolled as residents; not timed). The department file: a public security
household registry file of the same N people in another order, Parquet (not timed to write),
with the generator's noise shares: 1% two adjacent ID digits swapped, 1% the ID missing, 1%
15-digit legacy IDs (upgraded when read), and 3% of the people replaced by people not in the
registry.

Timed: reading the file by its layout in batches (every ID normalised and checked, every
column parsed: ``services.compare.files.read_department``) and the comparison
(``services.compare.match.compare``: the exact join, the unmatched records, the findings, the
coverage table), both as ``yibao compare run`` does them. Matches are checked against the
truth before any figure is printed. Last line: ``persons/s: <number>`` (N / (read + compare)).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.services.compare.files import read_department
from yibao.services.compare.match import compare
from yibao.services.compare.registry import ENROLMENTS, PERSONS, SETTLEMENTS, Registry
from yibao.synth.dates import year_start
from yibao.synth.demography import draw_ages
from yibao.synth.departments import household_address, id15
from yibao.synth.ids import IdIssuer
from yibao.synth.names import names

AREA, YEAR = "360100", 2025
ON = dt.date(2025, 12, 31)
SWAP, MISSING, LEGACY, ABSENT = 0.01, 0.01, 0.01, 0.03
CHUNK = 1_000_000


def _people(rng: np.random.Generator, issuer: IdIssuer, n: int) -> pa.Table:
    age = draw_ages(rng, n)
    male = rng.random(n) < 0.51
    birth = year_start(YEAR) - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    return pa.table(
        {
            "id_no": issuer.issue(birth, male),
            "name": names(rng, male),
            "sex": pa.array(np.where(male, "M", "F")),
            "birth_date": pa.array(birth.astype(np.int32), pa.date32()),
        }
    )


def build(n: int, folder: Path, seed: int = 16) -> tuple[Registry, Path, int]:
    """The registry, the household file and how many rows should match exactly."""
    rng = np.random.default_rng(seed)
    issuer = IdIssuer(AREA, YEAR)
    parts = [_people(rng, issuer, min(CHUNK, n - k)) for k in range(0, n, CHUNK)]
    reg = pa.concat_tables(parts)
    person = np.arange(1, n + 1, dtype=np.int64)
    household = person // 3
    persons = pa.table(
        {
            "person": person,
            "id_no": reg["id_no"],
            "name": reg["name"],
            "sex": reg["sex"],
            "birth_date": reg["birth_date"],
            "area": pa.array(np.full(n, AREA)),
            "address": household_address(household),
            "aid_class": pa.nulls(n, pa.string()),
        },
        schema=PERSONS,
    )
    enrolments = pa.table(
        {
            "person": person,
            "category": pa.array(np.full(n, "resident")),
            "area": persons["area"],
            "start_date": pa.array(np.full(n, year_start(2020), dtype=np.int32), pa.date32()),
            "end_date": pa.nulls(n, pa.date32()),
        },
        schema=ENROLMENTS,
    )
    registry = Registry(persons, enrolments, lambda _p: SETTLEMENTS.empty_table(), "bench")

    order = rng.permutation(n)
    u = rng.random(n)
    absent = u < ABSENT
    others = pa.concat_tables(
        _people(rng, issuer, min(CHUNK, int(absent.sum()) - k))
        for k in range(0, max(int(absent.sum()), 1), CHUNK)
    ).slice(0, int(absent.sum()))
    ids = reg["id_no"].combine_chunks().to_numpy(zero_copy_only=False).astype(object)
    ids[absent] = others["id_no"].to_numpy(zero_copy_only=False)
    v = rng.random(n)
    swap = ~absent & (v < SWAP)
    missing = ~absent & (v >= SWAP) & (v < SWAP + MISSING)
    old = reg["birth_date"].combine_chunks().cast(pa.int32()).to_numpy() < year_start(2000)
    legacy = ~absent & ~swap & ~missing & (v < SWAP + MISSING + LEGACY) & old
    for i in np.flatnonzero(swap):
        s = ids[i]
        j = next(k for k in range(7, 16) if s[k] != s[k + 1])
        ids[i] = s[:j] + s[j + 1] + s[j] + s[j + 2 :]
    ids[missing] = ""
    ids[legacy] = id15(list(ids[legacy]))
    table = pa.table(
        {
            "id_no": pa.array(ids[order].tolist(), pa.string()),
            "name": reg["name"].take(pa.array(order)),
            "sex": reg["sex"].take(pa.array(order)),
            "birth_date": reg["birth_date"].take(pa.array(order)),
            "address": household_address(household[order]),
            "household_no": pa.array(household[order]).cast(pa.string()),
        }
    )
    path = folder / "household.parquet"
    pq.write_table(table, path, compression="zstd", row_group_size=1 << 20)
    expected = int((~absent & ~swap & ~missing).sum())
    return registry, path, expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    n = args.persons
    with tempfile.TemporaryDirectory(prefix="bench_compare_") as tmp:
        t0 = time.perf_counter()
        registry, path, expected = build(n, Path(tmp))
        print(f"built a registry of {n:,} and a household file in {time.perf_counter() - t0:.1f} s")
        figures = []
        for _ in range(args.repeat):
            t1 = time.perf_counter()
            read = read_department("household", path)
            t2 = time.perf_counter()
            c = compare(
                {"household": read},
                registry,
                ON,
                area=AREA,
                newborn_window_days=90,
                threads=args.threads,
            )
            t3 = time.perf_counter()
            if c.matched["household"] != expected:
                raise SystemExit(f"matched {c.matched['household']:,}, expected {expected:,}")
            uninsured = int(pc.sum(pc.equal(c.findings["kind"], "uninsured")).as_py() or 0)
            print(
                f"read {t2 - t1:.1f} s ({read.errors.num_rows:,} row errors), compare "
                f"{t3 - t2:.1f} s (join {c.seconds['match']:.1f} s): {expected:,} matched, "
                f"{c.unmatched.num_rows:,} unmatched, {uninsured:,} uninsured"
            )
            figures.append(n / (t3 - t1))
    print(f"persons/s: {round(statistics.median(figures))}")


if __name__ == "__main__":
    main()
