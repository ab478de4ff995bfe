"""Enrolment over time on SQLite and PostgreSQL: one scheme at a time, suspend, terminate,
transfer with contribution years carried, and refused payments that change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.domain.enrolment import Enrolment, EnrolmentKind, Status
from yibao.domain.errors import (
    ContributionRefused,
    DuplicateContribution,
    DuplicateEnrolment,
    EnrolmentStateError,
    InvalidField,
)
from yibao.services import contributions, enrolment, ledger, registry
from yibao.store.models import (
    AccountRow,
    ContributionRow,
    CoverageYearRow,
    LedgerTransactionRow,
    PostingRow,
)
from yibao.store.uow import UnitOfWork

EMPLOYER = "91360100MA35000001"


def _person(uow: UnitOfWork, n: int = 1) -> str:
    return registry.add_person(uow, nid(n), f"人{n}").label


def _snapshot(engine: Engine) -> tuple[int, ...]:
    tables = (ContributionRow, LedgerTransactionRow, PostingRow, AccountRow, CoverageYearRow)
    with engine.connect() as conn:
        counts = [int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in tables]
        balance = conn.scalar(select(func.coalesce(func.sum(func.abs(AccountRow.balance)), 0)))
        return (*counts, int(balance or 0))


def test_double_enrolment_refused_naming_existing(uow: UnitOfWork) -> None:
    who = _person(uow)
    first = enrolment.enrol(
        uow, who, "employer", "360100", dt.date(2024, 1, 1), employer_code=EMPLOYER
    )
    with pytest.raises(DuplicateEnrolment) as info:
        enrolment.enrol(uow, who, "resident", "360100", dt.date(2024, 6, 1))
    assert info.value.existing_id == first.id
    assert f"enrolment #{first.id}" in str(info.value)
    assert "employee scheme" in str(info.value) and "360100" in str(info.value)
    # a suspended enrolment still counts as enrolled
    enrolment.suspend(uow, who, dt.date(2024, 7, 1), "left the job")
    with pytest.raises(DuplicateEnrolment) as info:
        enrolment.enrol(uow, who, "flexible", "360100", dt.date(2024, 8, 1))
    assert "suspended since 2024-07-01" in str(info.value)


def test_double_enrolment_refused_by_the_database(uow: UnitOfWork) -> None:
    """Even past the service's check, the partial unique index refuses a second open one."""
    who = _person(uow)
    first = enrolment.enrol(uow, who, "resident", "360100", dt.date(2024, 1, 1))
    with uow:
        person = uow.persons.require(who)
        assert person.id is not None
        with pytest.raises(DuplicateEnrolment) as info:
            uow.enrolments.add(
                Enrolment(None, person.id, EnrolmentKind.FLEXIBLE, "360100", dt.date(2024, 2, 1)),
                who,
            )
        assert info.value.existing_id == first.id
    with uow, pytest.raises(IntegrityError):
        uow.session.execute(
            text(
                "INSERT INTO enrolments (person_id, scheme, kind, pooling_area, start_date, status)"
                " VALUES (:p, 'employee', 'flexible', '360100', '2024-03-01', 'active')"
            ),
            {"p": person.id},
        )
        uow.session.flush()


def test_suspend_resume_terminate(uow: UnitOfWork) -> None:
    who = _person(uow)
    enrolment.enrol(uow, who, "resident", "360100", dt.date(2024, 1, 1))
    assert enrolment.suspend(uow, who, dt.date(2024, 3, 1)).status is Status.SUSPENDED
    with pytest.raises(EnrolmentStateError):
        enrolment.suspend(uow, who, dt.date(2024, 3, 2))
    assert enrolment.resume(uow, who, dt.date(2024, 4, 1)).status is Status.ACTIVE
    with pytest.raises(EnrolmentStateError):
        enrolment.terminate(uow, who, dt.date(2023, 12, 31))  # before its start
    ended = enrolment.terminate(uow, who, dt.date(2024, 6, 30), "emigrated")
    assert (ended.status, ended.end_date) == (Status.TERMINATED, dt.date(2024, 6, 30))
    with pytest.raises(EnrolmentStateError) as info:
        enrolment.terminate(uow, who, dt.date(2024, 7, 1))
    assert "no open enrolment" in str(info.value) and "terminated" in str(info.value)
    with pytest.raises(InvalidField):  # a new enrolment may not overlap the ended one
        enrolment.enrol(uow, who, "resident", "360100", dt.date(2024, 6, 1))
    again = enrolment.enrol(uow, who, "resident", "340100", dt.date(2024, 9, 1))
    assert again.previous_id == ended.id
    with uow:
        assert [e.kind.value for e in uow.enrolments.events(ended.id or 0)] == [
            "enrol",
            "suspend",
            "resume",
            "terminate",
        ]


def test_transfer_between_areas_and_schemes_carries_years(uow: UnitOfWork) -> None:
    who = _person(uow)
    enrolment.enrol(uow, who, "employer", "360100", dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, 4):
        contributions.pay_employee(uow, who, dt.date(2024, m, 1), 800000, dt.date(2024, m, 20))
    old, new = enrolment.transfer(uow, who, dt.date(2024, 4, 1), to_area="340100")
    assert (old.status, old.end_date) == (Status.TRANSFERRED, dt.date(2024, 3, 31))
    assert (new.pooling_area, new.employer_code, new.carried_employee_months) == (
        "340100",
        EMPLOYER,
        3,
    )
    contributions.pay_employee(uow, who, dt.date(2024, 4, 1), 800000, dt.date(2024, 4, 20))
    _, flex = enrolment.transfer(uow, who, dt.date(2024, 5, 1), to_kind="flexible")
    assert flex.kind is EnrolmentKind.FLEXIBLE and flex.employer_code is None
    assert flex.carried_employee_months == 4
    contributions.pay_flexible(uow, who, dt.date(2024, 5, 1), 700000, dt.date(2024, 5, 20))
    _, res = enrolment.transfer(uow, who, dt.date(2024, 9, 1), to_kind="resident")
    assert (res.carried_employee_months, res.carried_resident_years) == (5, 0)
    contributions.pay_resident(uow, who, 2025, dt.date(2024, 10, 1))
    assert enrolment.contribution_totals(uow, who) == (5, 1)
    with pytest.raises(InvalidField):
        enrolment.transfer(uow, who, dt.date(2024, 10, 1))  # changes nothing
    with uow:
        person = uow.persons.require(who)
        assert person.id is not None
        assert uow.enrolments.count_open() == 1
        assert len(uow.enrolments.history(person.id)) == 4


def test_contribution_for_terminated_enrolment_refused_and_nothing_changed(
    uow: UnitOfWork, engine: Engine
) -> None:
    who = _person(uow)
    enrolment.enrol(uow, who, "employer", "360100", dt.date(2024, 1, 1), employer_code=EMPLOYER)
    contributions.pay_employee(uow, who, dt.date(2024, 1, 1), 800000, dt.date(2024, 1, 20))
    enrolment.terminate(uow, who, dt.date(2024, 1, 31))
    before = _snapshot(engine)
    with pytest.raises(ContributionRefused) as info:
        contributions.pay_employee(uow, who, dt.date(2024, 2, 1), 800000, dt.date(2024, 2, 20))
    assert "no open enrolment" in info.value.reason and "terminated" in info.value.reason
    assert _snapshot(engine) == before
    assert ledger.reconcile(uow).ok


def test_refused_payments_change_nothing(uow: UnitOfWork, engine: Engine) -> None:
    emp, res = _person(uow, 1), _person(uow, 3)
    enrolment.enrol(uow, emp, "employer", "360100", dt.date(2024, 3, 1), employer_code=EMPLOYER)
    enrolment.enrol(uow, res, "resident", "360100", dt.date(2024, 1, 1))
    contributions.pay_employee(uow, emp, dt.date(2024, 3, 1), 800000, dt.date(2024, 3, 20))
    before = _snapshot(engine)
    cases = [
        lambda: contributions.pay_employee(uow, emp, dt.date(2024, 3, 1), 1, dt.date(2024, 4, 1)),
        lambda: contributions.pay_employee(uow, emp, dt.date(2024, 2, 1), 1, dt.date(2024, 4, 1)),
        lambda: contributions.pay_employee(uow, emp, dt.date(2024, 4, 1), -5, dt.date(2024, 4, 1)),
        lambda: contributions.pay_flexible(
            uow, emp, dt.date(2024, 4, 1), 700000, dt.date(2024, 4, 1)
        ),
        lambda: contributions.pay_employee(
            uow, res, dt.date(2024, 4, 1), 800000, dt.date(2024, 4, 1)
        ),
        lambda: contributions.pay_resident(uow, res, 2023, dt.date(2024, 4, 1)),
        lambda: contributions.pay_repair(uow, res, [2024], dt.date(2024, 4, 1)),
    ]
    for case in cases:
        with pytest.raises((ContributionRefused, InvalidField)):
            case()
        assert _snapshot(engine) == before
    with pytest.raises(DuplicateContribution):
        contributions.pay_employee(uow, emp, dt.date(2024, 3, 1), 800000, dt.date(2024, 4, 1))
    enrolment.suspend(uow, res, dt.date(2024, 5, 1))
    with pytest.raises(ContributionRefused) as info:
        contributions.pay_resident(uow, res, 2025, dt.date(2024, 10, 1))
    assert "not active" in info.value.reason
    assert _snapshot(engine) == before


@pytest.mark.parametrize("day", [dt.date(9999, 12, 31), dt.date(2100, 1, 1)])
def test_dates_after_next_year_refused_naming_the_field(
    uow: UnitOfWork, engine: Engine, day: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An enrolment or a payment dated after the end of next year (a mistyped year) is refused
    naming its field, nothing changed; the end of next year itself is accepted."""
    monkeypatch.setenv("YIBAO_TODAY", "2024-06-15")
    emp, res, late = _person(uow, 1), _person(uow, 3), _person(uow, 5)
    enrolment.enrol(uow, emp, "employer", "360100", dt.date(2024, 3, 1), employer_code=EMPLOYER)
    enrolment.enrol(uow, res, "resident", "360100", dt.date(2024, 1, 1))
    before = _snapshot(engine)
    cases = {
        "on": lambda: enrolment.enrol(uow, late, "resident", "360100", day),
        "paid_on": lambda: contributions.pay_employee(uow, emp, dt.date(2024, 4, 1), 800000, day),
    }
    for field, case in cases.items():
        with pytest.raises(InvalidField) as info:
            case()
        assert info.value.field == field and "after the end of next year (2025-12-31)" in str(
            info.value
        )
        assert _snapshot(engine) == before
    for repaid in (
        lambda: contributions.pay_resident(uow, res, 9999, day),
        lambda: contributions.pay_repair(uow, res, [2023], day),
    ):
        with pytest.raises(InvalidField, match="paid_on"):
            repaid()
        assert _snapshot(engine) == before
    assert enrolment.enrol(uow, late, "resident", "360100", dt.date(2025, 12, 31)).id
