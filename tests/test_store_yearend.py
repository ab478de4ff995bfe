"""Year-end close on SQLite and PostgreSQL: lapses, continuous years, zero-claim years,
repair, and idempotency."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.domain.enrolment import CoverageStatus
from yibao.services import contributions, enrolment, ledger, registry, yearend
from yibao.store.models import AccountRow, CoverageYearRow, PostingRow
from yibao.store.uow import UnitOfWork

AREA = "360100"


def _table(engine: Engine, model: Any) -> list[tuple[Any, ...]]:
    cols = [c for c in model.__table__.columns if c.name not in ("created_at",)]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*cols).order_by(*cols[:2])).all()]


def _row(uow: UnitOfWork, who: str, year: int) -> Any:
    with uow:
        person = uow.persons.require(who)
        assert person.id is not None
        return uow.coverage.get(person.id, year)


def test_year_end_close(uow: UnitOfWork, engine: Engine) -> None:
    a = registry.add_person(uow, nid(1), "甲").label  # pays every year
    b = registry.add_person(uow, nid(3), "乙").label  # pays 2024 only, claims in 2024
    c = registry.add_person(uow, nid(5, dt.date(1950, 1, 1), "110101"), "丙").label  # retiree
    d = registry.add_person(uow, nid(7), "丁").label  # terminated in 2023
    e = registry.add_person(uow, nid(9), "戊").label  # employee, paid in 2024
    for who in (a, b):
        enrolment.enrol(uow, who, "resident", AREA, dt.date(2023, 10, 1))
    enrolment.enrol(uow, c, "retiree", AREA, dt.date(2020, 1, 1), deemed_months=25 * 12)
    enrolment.enrol(uow, d, "resident", AREA, dt.date(2023, 1, 1))
    enrolment.terminate(uow, d, dt.date(2023, 6, 30))
    enrolment.enrol(uow, e, "employer", AREA, dt.date(2024, 3, 1), employer_code="91360100X")
    contributions.pay_employee(uow, e, dt.date(2024, 3, 1), 700000, dt.date(2024, 3, 20))

    contributions.pay_resident(uow, a, 2024, dt.date(2023, 11, 1))
    contributions.pay_resident(uow, b, 2024, dt.date(2023, 11, 1))
    contributions.pay_resident(uow, a, 2025, dt.date(2024, 11, 1))  # collection period
    yearend.add_fund_paid(uow, b, 2024, 152050)

    first = yearend.close_year(uow, 2024)
    assert (first.insured, first.lapsed, first.lapses_recorded, first.retirees_added) == (
        4,
        0,
        0,
        1,
    )
    assert first.zero_claim == 3 and first.next_year_rows == 1 and first.runs == 1
    assert _row(uow, a, 2024).zero_claim and _row(uow, a, 2024).closed
    assert not _row(uow, b, 2024).zero_claim
    assert _row(uow, c, 2024).status is CoverageStatus.INSURED
    assert _row(uow, d, 2024) is None
    assert _row(uow, a, 2025).continuous_years == 2  # next year's row recomputed
    assert not _row(uow, a, 2025).closed

    coverage, postings, accounts = (
        _table(engine, CoverageYearRow),
        _table(engine, PostingRow),
        _table(engine, AccountRow),
    )
    again = yearend.close_year(uow, 2024)
    assert again.runs == 2 and again.lapses_recorded == again.retirees_added == 0
    assert (again.insured, again.lapsed, again.zero_claim) == (4, 0, 3)
    assert _table(engine, CoverageYearRow) == coverage
    assert _table(engine, PostingRow) == postings
    assert _table(engine, AccountRow) == accounts

    contributions.pay_resident(uow, a, 2026, dt.date(2025, 10, 1))
    closed = yearend.close_year(uow, 2025)
    assert closed.lapses_recorded == 2  # b did not pay; e's employer stopped paying
    assert _row(uow, b, 2025).status is CoverageStatus.LAPSED
    assert _row(uow, b, 2025).continuous_years == 0
    assert _row(uow, a, 2025).continuous_years == 2
    assert _row(uow, a, 2026).continuous_years == 3

    # b repairs the lapsed 2025 in 2026: still lapsed, but repaired; the close keeps it so.
    contributions.pay_repair(uow, b, [2025], dt.date(2026, 2, 1))
    assert _row(uow, b, 2025).repaired
    yearend.close_year(uow, 2025)
    row = _row(uow, b, 2025)
    assert row.repaired and row.status is CoverageStatus.LAPSED
    assert ledger.reconcile(uow).ok
