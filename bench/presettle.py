"""Single-claim pre-settlement through the same kernel, in process.

    python bench/presettle.py [--n 50000]

Each call settles one claim of one person with that person's stored year-to-date state, as the
online path does (policy tables compiled once). Last line: ``settlements/s: <number>``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from yibao.kernel.settle import Claims, Persons, State, settle
from yibao.kernel.tables import compile_tables
from yibao.policy import Policy

try:
    from bench._claims import batch
except ImportError:
    from _claims import batch  # type: ignore[no-redef]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--region", default="360100")
    args = parser.parse_args()
    tables = compile_tables(Policy(args.region), 2025)
    claims, persons = batch(7, max(1, args.n // 10))
    n = min(args.n, len(claims))
    rows = [
        Claims(*(getattr(claims, f)[i : i + 1] for f in claims.__dataclass_fields__))
        for i in range(n)
    ]
    people = [
        Persons(*(getattr(persons, f)[p : p + 1] for f in persons.__dataclass_fields__))
        for p in range(len(persons.scheme))
    ]
    zero = np.zeros(1, dtype=np.int64)
    states: dict[int, State] = {}
    start = time.perf_counter()
    for row in rows:
        p = int(row.person[0])
        row.person = zero
        states[p] = settle(tables, row, people[p], states.get(p)).state
    elapsed = time.perf_counter() - start
    print(f"settlements: {n}  seconds: {elapsed:.2f}  per settlement µs: {elapsed / n * 1e6:.1f}")
    print(f"settlements/s: {n / elapsed:,.0f}")


if __name__ == "__main__":
    main()
