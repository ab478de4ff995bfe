"""Record linkage: unmatched department records linked against a registry with Splink.

    python bench/linkage.py --records 100000 [--registry 1000000] [--threads 2] [--seed 16]
                            [--engine duckdb|spark]

A registry of ``--registry`` persons is generated (names from the generator's lists, birth
dates 1940–2024, national IDs from ``synth.ids.IdIssuer``, the households' addresses of
``synth.departments``; not timed). ``--records`` department records are drawn from it with noise
(the ID missing in half, two adjacent digits swapped in 45%, another person's in 5%; one given
name character changed in 20%; the birth date off by 1–30 days in 5%; the room left out of the
address in 30%), and 5% of them are people not in the registry. Then ``linkage.link`` is timed
from end to end: the names' pinyin, u by random sampling, m by EM (two blocking rules), the
candidate pairs scored and each record's status. Precision and recall of the automatic links
against the ground truth are printed. Last line: ``records/s: <number>``.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console

from yibao.services.compare.linkage import Thresholds, link
from yibao.synth.dates import year_start
from yibao.synth.departments import household_address
from yibao.synth.ids import IdIssuer
from yibao.synth.names import FEMALE_CHARS, MALE_CHARS, names

REGION, YEAR = "360100", 2025
CHARS = MALE_CHARS + FEMALE_CHARS


def registry(rng: np.random.Generator, n: int) -> pa.Table:
    male = rng.random(n) < 0.5
    birth = rng.integers(year_start(1940), year_start(2025), n)
    household = rng.integers(0, max(1, n // 3), n)
    return pa.table(
        {
            "psn_no": pa.array([f"P{i:09d}" for i in range(n)]),
            "name": names(rng, male),
            "sex": pa.array(np.where(male, "M", "F")),
            "birth_date": pc.strftime(pa.array(birth.astype(np.int32), pa.date32()), "%Y-%m-%d"),
            "address": household_address(household),
            "id_no": IdIssuer(REGION, YEAR).issue(birth, male),
        }
    )


def records(
    rng: np.random.Generator, people: pa.Table, n: int
) -> tuple[pa.Table, dict[int, str | None]]:
    """``n`` noisy records: 95% of them registry persons, the rest strangers."""
    linked = int(n * 0.95)
    picked = rng.choice(people.num_rows, linked, replace=False)
    strangers = registry(np.random.default_rng(rng.integers(1 << 31)), n - linked)
    base = pa.concat_tables([people.take(pa.array(picked)), strangers])
    truth = {i + 1: (base["psn_no"][i].as_py() if i < linked else None) for i in range(n)}
    ids, nm = base["id_no"].to_pylist(), base["name"].to_pylist()
    birth = base["birth_date"].to_pylist()
    address = base["address"].to_pylist()
    u = rng.random((n, 4))
    all_ids = people["id_no"]
    for i in range(n):
        if u[i, 0] < 0.5:
            ids[i] = None
        elif u[i, 0] < 0.95:
            j = int(rng.integers(6, 16))
            if ids[i][j] != ids[i][j + 1]:
                ids[i] = ids[i][:j] + ids[i][j + 1] + ids[i][j] + ids[i][j + 2 :]
        else:
            ids[i] = all_ids[int(rng.integers(len(all_ids)))].as_py()
        if u[i, 1] < 0.2 and len(nm[i]) > 1:
            k = int(rng.integers(1, len(nm[i])))
            nm[i] = nm[i][:k] + CHARS[int(rng.integers(len(CHARS)))] + nm[i][k + 1 :]
        if u[i, 2] < 0.05:
            day = np.datetime64(birth[i]) + int(rng.integers(1, 31)) * int(rng.choice([-1, 1]))
            birth[i] = str(day)
        if u[i, 3] < 0.3:
            address[i] = address[i].split("号")[0] + "号"
    table = pa.table(
        {
            "source": pa.array(["household"] * n),
            "row_no": pa.array(np.arange(1, n + 1)),
            "name": pa.array(nm),
            "sex": base["sex"],
            "birth_date": pa.array(birth),
            "address": pa.array(address),
            "id_no": pa.array(ids, pa.string()),
        }
    )
    return table, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    args = parser.parse_args()
    console = Console(stderr=True)
    rng = np.random.default_rng(args.seed)
    with console.status("generating the registry and the records"):
        people = registry(rng, args.registry)
        rows, truth = records(rng, people, args.records)
    start, cpu_start = time.perf_counter(), time.process_time()

    def say(message: str) -> None:
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        console.print(f"[dim]{wall:7.1f} s ({cpu:6.1f} s CPU)[/dim] {message}")

    result = link(
        rows,
        people,
        Thresholds(Decimal("0.99"), Decimal("0.5")),
        seed=args.seed,
        engine=args.engine,
        threads=args.threads,
        progress=say,
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    auto = result.auto()
    right = sum(
        truth[r] == p
        for r, p in zip(auto["row_no"].to_pylist(), auto["psn_no"].to_pylist(), strict=True)
    )
    in_registry = sum(v is not None for v in truth.values())
    review = result.review()
    print(f"registry {args.registry:,}, records {args.records:,}, engine {args.engine}")
    print(f"auto {auto.num_rows:,}, review {review.num_rows:,} pairs")
    print(f"precision {right / max(1, auto.num_rows):.4f}, recall {right / in_registry:.4f}")
    print(f"seconds: {seconds:.1f} ({cpu:.1f} s CPU, {args.threads} DuckDB threads)")
    print(f"records/s: {round(args.records / seconds)}")


if __name__ == "__main__":
    main()
