"""The year-end rules by name (``domain.year_end``), and the store's set-based close (SQL built
from them) agreeing with them on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.domain.enrolment import CoverageStatus, EnrolmentKind, Status
from yibao.domain.year_end import continuous_years, unpaid_year_status, zero_claim
from yibao.services import enrolment, registry, yearend
from yibao.store.uow import UnitOfWork

AREA = "360100"
INSURED, LAPSED = CoverageStatus.INSURED, CoverageStatus.LAPSED


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (EnrolmentKind.RETIREE, Status.ACTIVE, INSURED),
        (EnrolmentKind.RETIREE, Status.SUSPENDED, LAPSED),
        (EnrolmentKind.RETIREE, Status.TERMINATED, INSURED),
        (EnrolmentKind.RETIREE, Status.TRANSFERRED, INSURED),
        (EnrolmentKind.RESIDENT, Status.ACTIVE, LAPSED),
        (EnrolmentKind.EMPLOYER, Status.ACTIVE, LAPSED),
        (EnrolmentKind.FLEXIBLE, Status.ACTIVE, LAPSED),
    ],
)
def test_unpaid_year_status(kind: EnrolmentKind, status: Status, expected: CoverageStatus) -> None:
    assert unpaid_year_status(kind, status) is expected


@pytest.mark.parametrize(
    ("insured", "previous", "expected"),
    [(True, None, 1), (True, 0, 1), (True, 4, 5), (False, None, 0), (False, 4, 0)],
)
def test_continuous_years(insured: bool, previous: int | None, expected: int) -> None:
    assert continuous_years(insured, previous) == expected


@pytest.mark.parametrize(
    ("insured", "fund_paid", "by_settlement", "expected"),
    [
        (True, 0, False, True),
        (True, 1, False, False),
        (True, 0, True, False),
        (False, 0, False, False),
    ],
)
def test_zero_claim(insured: bool, fund_paid: int, by_settlement: bool, expected: bool) -> None:
    assert zero_claim(insured, fund_paid, by_settlement) is expected


def test_close_follows_unpaid_year_status(uow: UnitOfWork) -> None:
    """Nobody paid for 2024: each row the close adds has the status the rule gives for the
    person's latest enrolment overlapping the year."""
    old = dt.date(1950, 1, 1)
    cases = [
        (nid(1, old, "110101"), EnrolmentKind.RETIREE, Status.ACTIVE),
        (nid(3, old, "110101"), EnrolmentKind.RETIREE, Status.SUSPENDED),
        (nid(5, old, "110101"), EnrolmentKind.RETIREE, Status.TERMINATED),
        (nid(7), EnrolmentKind.RESIDENT, Status.ACTIVE),
        (nid(9), EnrolmentKind.RESIDENT, Status.SUSPENDED),
    ]
    for number, kind, status in cases:
        who = registry.add_person(uow, number, "甲").label
        if kind is EnrolmentKind.RETIREE:
            enrolment.enrol(uow, who, kind, AREA, dt.date(2020, 1, 1), deemed_months=25 * 12)
        else:
            enrolment.enrol(uow, who, kind, AREA, dt.date(2020, 1, 1))
        if status is Status.SUSPENDED:
            enrolment.suspend(uow, who, dt.date(2024, 3, 1))
        elif status is Status.TERMINATED:
            enrolment.terminate(uow, who, dt.date(2024, 6, 30))
    yearend.close_year(uow, 2024)
    with uow:
        for number, kind, status in cases:
            person = uow.persons.require(number)
            assert person.id is not None
            row = uow.coverage.get(person.id, 2024)
            assert row is not None
            assert row.status is unpaid_year_status(kind, status), (kind, status)
            assert row.continuous_years == continuous_years(row.status is INSURED, None)
            assert row.zero_claim is zero_claim(row.status is INSURED, 0, False)
