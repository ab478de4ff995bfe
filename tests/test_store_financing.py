"""Financing postings on SQLite and PostgreSQL (rules.md §7): the retiree's large-amount share,
the yearly fiscal allocation to the medical assistance fund (who counts as an aid recipient,
once per area and year, bad input refused with nothing stored) and its command."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.domain.enrolment import Scheme
from yibao.domain.errors import AlreadyExists, InvalidField
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.policy import Policy
from yibao.services import contributions, enrolment, ledger, registry, yearend
from yibao.store.uow import UnitOfWork

AREA, OTHER = "360100", "360200"


def _balance(uow: UnitOfWork, kind: AccountKind, area: str = AREA) -> int:
    with uow:
        account = uow.ledger.account(AccountRef.fund(kind, area))
        return account.natural_balance if account else 0


def _resident(uow: UnitOfWork, n: int, area: str = AREA, start: dt.date | None = None) -> str:
    who = registry.add_person(uow, nid(n, dt.date(1960, 5, 5)), f"居民{n}").label
    enrolment.enrol(uow, who, "resident", area, start or dt.date(2024, 10, 1))
    return who


def _aid_area(uow: UnitOfWork) -> None:
    a = _resident(uow, 1)
    registry.add_group(uow, a, "dibao", dt.date(2024, 1, 1))  # open-ended: counts
    b = _resident(uow, 3)
    registry.add_group(uow, b, "tekun", dt.date(2025, 11, 1))  # from November: counts
    registry.add_group(uow, b, "dibao", dt.date(2024, 1, 1), dt.date(2025, 2, 1))  # counted once
    c = _resident(uow, 5)
    registry.add_group(uow, c, "dibao", dt.date(2023, 1, 1), dt.date(2024, 12, 31))  # ended
    d = _resident(uow, 7)
    registry.add_group(uow, d, "student", dt.date(2025, 1, 1))  # not an assistance class
    e = _resident(uow, 9, OTHER)
    registry.add_group(uow, e, "dibao", dt.date(2024, 1, 1))  # another area


def test_allocation_once_per_area_and_year(uow: UnitOfWork) -> None:
    _aid_area(uow)
    a = ledger.allocate_assistance(uow, AREA, 2025)
    assert (a.recipients, a.amount, a.posted) == (2, 2 * 800_00, True)
    assert _balance(uow, AccountKind.MEDICAL_ASSISTANCE) == 2 * 800_00
    assert _balance(uow, AccountKind.FISCAL_SUBSIDY_RECEIVABLE) == 2 * 800_00
    again = ledger.allocate_assistance(uow, AREA, 2025)
    assert not again.posted and _balance(uow, AccountKind.MEDICAL_ASSISTANCE) == 2 * 800_00
    other = ledger.allocate_assistance(uow, OTHER, 2025)
    assert (other.recipients, other.amount) == (1, 800_00)
    report = ledger.reconcile(uow)
    assert report.ok and report.transactions == 2


def test_allocation_by_a_local_policy_and_date(uow: UnitOfWork) -> None:
    _aid_area(uow)
    local = Policy(
        "360100",
        overlays=[
            {"medical_assistance": {"financing": {"per_recipient": 500, "area_amount": 1e4}}}
        ],
    )
    a = ledger.allocate_assistance(
        uow, AREA, 2025, on=dt.date(2025, 3, 1), policies=lambda _area: local
    )
    assert a.amount == 2 * 500_00 + 10000_00
    with uow:
        txn = uow.session.execute(
            text("SELECT occurred_on, kind FROM ledger_transactions WHERE reference = :r"),
            {"r": a.reference},
        ).one()
    assert str(txn[0]) == "2025-03-01" and txn[1] == "allocation"


def test_no_recipients_posts_nothing(uow: UnitOfWork) -> None:
    _resident(uow, 1)
    a = ledger.allocate_assistance(uow, AREA, 2025)
    assert (a.recipients, a.amount, a.posted) == (0, 0, False)
    assert ledger.reconcile(uow).transactions == 0


@pytest.mark.parametrize(
    ("area", "year", "on", "field"),
    [
        ("36010", 2025, None, "pooling_area"),
        (AREA, 99999, None, "year"),
        (AREA, 2025, dt.date(2024, 12, 31), "on"),
    ],
)
def test_bad_input_refused(
    uow: UnitOfWork, area: str, year: int, on: dt.date | None, field: str
) -> None:
    _aid_area(uow)
    with pytest.raises(InvalidField) as exc:
        ledger.allocate_assistance(uow, area, year, on=on)
    assert exc.value.field == field
    assert ledger.reconcile(uow).transactions == 0


def test_retiree_month_finances_large_amount(uow: UnitOfWork) -> None:
    who = registry.add_person(uow, nid(11, dt.date(1955, 1, 1)), "退休").label
    # deemed to have the 25 years of a man's minimum (rules.retirement)
    enrolment.enrol(uow, who, "retiree", AREA, dt.date(2020, 1, 1), deemed_months=25 * 12)
    contributions.credit_retiree(uow, who, dt.date(2025, 1, 1), dt.date(2025, 1, 20))
    # 2% of the 3000-yuan average pension to the account, 3 yuan to the large-amount fund,
    # both from the employee pooling fund
    assert _balance(uow, AccountKind.LARGE_AMOUNT) == 3_00
    assert _balance(uow, AccountKind.EMPLOYEE_POOLING) == -(3000_00 * 2 // 100 + 3_00)
    assert ledger.reconcile(uow).ok


def test_command(db_url: str) -> None:
    from yibao.cli import app

    uow = UnitOfWork.for_url(db_url)
    _aid_area(uow)
    runner = CliRunner()
    first = runner.invoke(app, ["funds", "allocate", AREA, "2025", "--db", db_url, "--json"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["amount"] == "1600.00" and data["recipients"] == 2 and data["posted"] is True
    second = runner.invoke(app, ["funds", "allocate", AREA, "2025", "--db", db_url])
    assert second.exit_code == 0 and "already posted" in second.output
    bad = runner.invoke(app, ["funds", "allocate", "3601", "2025", "--db", db_url])
    assert bad.exit_code == 2 and "pooling_area" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(app, ["funds", "allocate", AREA, "2025", "--on", "x", "--db", db_url])
    assert bad.exit_code == 2 and "on:" in bad.output


# ---------------------------------------------------- opening balances and past coverage


def test_opening_balance_posted_once(uow: UnitOfWork) -> None:
    who = registry.add_person(uow, nid(13, dt.date(1980, 1, 1)), "职工").label
    enrolment.enrol(uow, who, "employer", AREA, dt.date(2020, 1, 1), employer_code="91360100X")
    ledger.open_personal_balance(uow, who, 1234_56, dt.date(2025, 1, 1))
    with uow:
        person = uow.persons.require(who)
        assert person.id is not None
        account = uow.ledger.account(AccountRef.personal(person.id))
    assert account is not None and account.natural_balance == 1234_56
    # the equity counter account is credit-normal: balances brought in show as negative equity
    assert _balance(uow, AccountKind.OPENING_BALANCE) == -1234_56
    with pytest.raises(AlreadyExists):
        ledger.open_personal_balance(uow, who, 1_00, dt.date(2025, 1, 1))
    for bad in (0, -5, True):
        with pytest.raises(InvalidField, match="amount"):
            ledger.open_personal_balance(uow, who, bad, dt.date(2025, 1, 1))
    stranger = registry.add_person(uow, nid(15), "无").label
    with pytest.raises(InvalidField, match="area"):
        ledger.open_personal_balance(uow, stranger, 1_00, dt.date(2025, 1, 1))
    report = ledger.reconcile(uow)
    assert report.ok and report.transactions == 1


def test_history_continues_into_the_first_payment(uow: UnitOfWork) -> None:
    who = _resident(uow, 17)
    past = [
        yearend.PastYear(2021, True, Scheme.RESIDENT, fund_paid=5_00),
        yearend.PastYear(2022, False, Scheme.RESIDENT, repaired=True),
        yearend.PastYear(2023, True, Scheme.RESIDENT, zero_claim=True),
        yearend.PastYear(2024, True, Scheme.RESIDENT, fund_paid=1),
    ]
    rows = yearend.record_history(uow, who, AREA, past, continuous_before=3)
    assert [(r.year, r.status.value, r.continuous_years, r.closed) for r in rows] == [
        (2021, "insured", 4, True),  # 3 years before + 2021
        (2022, "lapsed", 0, True),
        (2023, "insured", 1, True),
        (2024, "insured", 2, True),
    ]
    contributions.pay_resident(uow, who, 2025, dt.date(2024, 11, 1))
    with uow:
        person = uow.persons.require(who)
        assert person.id is not None
        this = uow.coverage.get(person.id, 2025)
    assert this is not None and this.continuous_years == 3  # 2023, 2024, 2025


@pytest.mark.parametrize(
    ("past", "field"),
    [
        ([(2022, True), (2024, True)], "years"),  # not consecutive
        ([(2025, True)], "years"),  # not before the year already recorded
        ([(1959, True)], "years"),  # before birth (1960)
    ],
)
def test_history_refused(uow: UnitOfWork, past: list[tuple[int, bool]], field: str) -> None:
    who = _resident(uow, 19)
    contributions.pay_resident(uow, who, 2025, dt.date(2024, 11, 1))
    years = [yearend.PastYear(y, i, Scheme.RESIDENT) for y, i in past]
    with pytest.raises(InvalidField) as exc:
        yearend.record_history(uow, who, AREA, years)
    assert exc.value.field == field
    with uow:
        person = uow.persons.require(who)
        assert person.id is not None
        assert [c.year for c in uow.coverage.history(person.id)] == [2025]


@pytest.mark.parametrize(
    ("year", "field"),
    [
        (yearend.PastYear(2024, True, Scheme.RESIDENT, repaired=True), "repaired"),
        (yearend.PastYear(2024, False, Scheme.RESIDENT, zero_claim=True), "zero_claim"),
        (yearend.PastYear(2024, False, Scheme.RESIDENT, fund_paid=5), "fund_paid"),
    ],
)
def test_past_rows_refuse_contradictions(year: yearend.PastYear, field: str) -> None:
    with pytest.raises(InvalidField) as exc:
        yearend.past_rows(1, AREA, [year])
    assert exc.value.field == field
