"""A birth in one step (``services.maternity.settle_birth``) against the two calls it replaces
(``settlement.settle`` then ``maternity.pay_allowance``), on a fresh database.

    python bench/maternity_one_step.py --db postgresql://postgres@127.0.0.1:5432/DB [--n 100]

Enrols ``2 × --n`` employee mothers of one employer (three months of 2024 paid each), then
applies for each birth of the first half in one step and for each of the second half in two
calls, one application at a time. Prints, per application, wall time and this process's CPU
time (the database server's CPU is not in it), and the ledger check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable

from yibao.domain.identity import make_national_id
from yibao.domain.settlement import Claim
from yibao.rules.maternity import Birth
from yibao.services import contributions, enrolment, ledger, maternity, registry, settlement
from yibao.services.clock import today
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork

AREA = "360100"
EMPLOYER = "91360100MA35000001"
BIRTH = Birth(dt.date(2025, 5, 1), difficult=True, babies=2)


def mothers(uow: UnitOfWork, n: int) -> list[str]:
    out = []
    for i in range(n):
        born = dt.date(1990, 1, 1) + dt.timedelta(days=i // 400)
        who = make_national_id("360426", born, i % 400 * 2)  # even: a woman
        registry.add_person(uow, who, f"职工{i}")
        enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
        for m in (1, 2, 3):
            contributions.pay_employee(uow, who, dt.date(2024, m, 1), 800000, dt.date(2024, m, 20))
        out.append(who)
    return out


def bill(who: str) -> Claim:
    return Claim(
        person=who, date=dt.date(2025, 5, 6), total=800_000, med_type="maternity", level=2,
        fully_self_paid=60_000, category_b=100_000, fixmedins_code="H1",
    )  # fmt: skip


def timed(label: str, calls: list[str], n: int, run: Callable[[str], object]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    for who in calls:
        run(who)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    each = f"{wall / n * 1000:.1f} ms wall, {cpu / n * 1000:.1f} ms CPU each"
    print(f"{label}: {n} applications, {each}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    assert today() > BIRTH.date
    upgrade(args.db)
    engine = make_engine(args.db)
    uow = UnitOfWork.for_engine(engine)
    people = mothers(uow, 2 * args.n)
    settlement.warm_kernel(2025)
    one, two = people[: args.n], people[args.n :]
    timed("one step", one, args.n, lambda w: maternity.settle_birth(uow, bill(w), BIRTH))
    timed(
        "two calls",
        two,
        args.n,
        lambda w: (settlement.settle(uow, bill(w)), maternity.pay_allowance(uow, w, BIRTH)),
    )
    print("ledger reconciles:", ledger.reconcile(uow).ok)


if __name__ == "__main__":
    main()
