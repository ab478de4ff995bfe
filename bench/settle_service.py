"""Online settlement through the service (2207) on PostgreSQL: persistence, postings, state.

    python bench/settle_service.py --db postgresql://postgres@127.0.0.1:5432/DB [--n 2000]
                                   [--persons 300] [--seed 1] [--profile]

Creates a small population when the database has none (persons through the bulk import, then
the enrol and pay services: a third employees who paid three months of 2024, the rest residents
who paid 2025 in the 2024 collection period), or loads the enrolled persons already there.
Then settles ``--n`` seeded claims of 2025 one request at a time through
``yibao.services.settlement.settle``: each is one database transaction with the settlement,
its layers, one balanced ledger transaction and the moved year-to-date state. ``--profile``
prints the top of a cProfile of the settlement loop. Last line: ``settlements/s: <number>``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import random
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import func, select

from yibao.domain.settlement import Claim
from yibao.services import contributions, enrolment, ledger, registry, settlement
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.models import EnrolmentRow, PersonRow
from yibao.store.uow import UnitOfWork

try:
    from bench.registry_import import population
except ImportError:
    from registry_import import population  # type: ignore[no-redef]

AREA = "360100"
EMPLOYER = "91360100MA35000001"
MED = ("inpatient", "outpatient", "chronic", "pharmacy")


def create_population(uow: UnitOfWork, n: int, seed: int) -> None:
    engine = uow.session_factory.kw["bind"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "persons.parquet"
        pq.write_table(population(n, seed), path)
        registry.import_persons(engine, path)
    with uow:
        ids = list(uow.session.scalars(select(PersonRow.national_id).order_by(PersonRow.id)))
    for i, who in enumerate(ids):
        if i % 3 == 0:
            enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
            for m in (1, 2, 3):
                contributions.pay_employee(uow, who, dt.date(2024, m, 1), 800000,
                                           dt.date(2024, m, 20))  # fmt: skip
        else:
            enrolment.enrol(uow, who, "resident", AREA, dt.date(2024, 10, 1))
            contributions.pay_resident(uow, who, 2025, dt.date(2024, 11, 1))


def enrolled(uow: UnitOfWork) -> list[str]:
    with uow:
        return list(
            uow.session.scalars(
                select(PersonRow.national_id)
                .join(EnrolmentRow, EnrolmentRow.person_id == PersonRow.id)
                .where(EnrolmentRow.status == "active")
                .order_by(PersonRow.id)
            )
        )


def claims(persons: list[str], n: int, seed: int) -> list[Claim]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        med = rng.choices(MED, weights=(0.08, 0.55, 0.1, 0.27))[0]
        scale = 9.0 if med == "inpatient" else 5.0
        total = max(100, int(rng.lognormvariate(scale, 1.0) * 100))
        fully = int(total * rng.uniform(0, 0.1))
        cat_b = int((total - fully) * rng.uniform(0, 0.3))
        out.append(
            Claim(
                person=rng.choice(persons),
                date=dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(60, 365)),
                total=total,
                med_type=med,
                level=rng.choice((1, 1, 2, 3)),
                fully_self_paid=fully,
                category_b=cat_b,
                fixmedins_code=f"H{AREA}{rng.randrange(20):03d}",
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    upgrade(args.db)
    engine = make_engine(args.db)
    uow = UnitOfWork.for_engine(engine)
    with uow:
        present = int(uow.session.scalar(select(func.count()).select_from(PersonRow)) or 0)
    if present == 0:
        start = time.perf_counter()
        create_population(uow, args.persons, args.seed)
        print(f"population: {args.persons} persons in {time.perf_counter() - start:.1f} s")
    persons = enrolled(uow)
    todo = claims(persons, args.n, args.seed + int(time.time()))
    warm = settlement.presettle(uow, todo[0])  # compile the policy tables outside the timing
    assert warm.amounts

    profiler = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    paid = 0
    for i, claim in enumerate(todo):
        s = settlement.settle(uow, claim, f"bench-{time.time_ns()}-{i}")
        paid += s.amounts["fund_pay_sumamt"]
    if profiler:
        profiler.disable()
    took = time.perf_counter() - start
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    report = ledger.reconcile(uow)
    engine.dispose()
    print(f"backend: {engine.dialect.name}, persons: {len(persons)}, settlements: {len(todo)}")
    print(f"funds paid: {paid / 100:,.2f} yuan; ledger reconciles: {report.ok}")
    print(f"{took / len(todo) * 1000:.2f} ms per settlement")
    print(f"settlements/s: {len(todo) / took:.0f}")


if __name__ == "__main__":
    main()
