"""Loading a generated area (``yibao synth load``) into SQLite or PostgreSQL.

    python bench/synth_load.py [--persons 100000] [--db postgresql://postgres@127.0.0.1/DB]
                               [--no-lines] [--no-settlements]

Generates the area (360100, 2025, seed 1) into a temporary folder, migrates the database,
loads the area (its visits with their fee lines, or without them with ``--no-lines``; the
visits settled, or not with ``--no-settlements``), reconciles the ledger and prints the
counts. Without ``--db`` a temporary SQLite file is used; with ``--db`` the database must not
hold these persons. Last line: ``persons/min: <number>``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from yibao.services import ledger
from yibao.services.area_load import load_area
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork
from yibao.synth import SynthConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=200_000)
    parser.add_argument("--db", default=None)
    parser.add_argument("--no-lines", action="store_true", help="visits without fee lines")
    parser.add_argument("--no-settlements", action="store_true", help="visits not settled")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yibao_load_") as tmp:
        area = Path(tmp) / "area"
        generate(area, SynthConfig("360100", args.persons, 2025, 1, args.chunk_size))
        url = args.db or f"sqlite:///{Path(tmp) / 'yibao.sqlite'}"
        upgrade(url)
        report = load_area(
            area,
            url,
            migrate=False,
            lines=not args.no_lines,
            settlements=not args.no_settlements,
        )
        started = time.perf_counter()
        check = ledger.reconcile(UnitOfWork.for_url(url))
        reconcile_s = time.perf_counter() - started
    print(f"database: {report.database}")
    print(f"persons: {report.persons_inserted:,} in {report.seconds:.1f} s")
    print(f"enrolments: {report.enrolments}")
    print(f"contributions: {report.contributions}")
    print(f"ledger: {report.transactions:,} transactions, {report.postings:,} postings")
    print(
        f"visits: {sum(report.visits.values()):,} {report.visits}; diagnoses "
        f"{report.diagnoses:,}, procedures {report.procedures:,}, fee lines {report.lines:,}"
    )
    print(f"settlements: {report.settlements:,}")
    print(f"reconciled: {check.ok} ({reconcile_s:.1f} s)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    print(f"persons/min: {report.persons_per_minute:.0f}")


if __name__ == "__main__":
    main()
