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
from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.policy import Policy
from yibao.services import contributions, enrolment, ledger, registry
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
    enrolment.enrol(uow, who, "retiree", AREA, dt.date(2020, 1, 1))
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
