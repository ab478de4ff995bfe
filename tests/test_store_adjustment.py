"""The provincial adjustment on the ledger (``yibao funds adjust``), on SQLite and PostgreSQL:
figures read from the postings, draws and gap payments posted once as a balanced transaction,
the ledger reconciling after every step; amounts by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from yibao.cli import app
from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind, AccountRef, LedgerTransaction, credit, debit
from yibao.policy.vocab import InsuranceScheme
from yibao.services import adjustment, ledger
from yibao.store.repositories.ledger import LedgerRepository
from yibao.store.uow import UnitOfWork

RESIDENT = InsuranceScheme.RESIDENT
EMPLOYEE = InsuranceScheme.EMPLOYEE
YUAN = 100


def post(uow: UnitOfWork, kind: str, on: str, pooling: AccountRef, yuan: int) -> None:
    """Money into (``yuan`` > 0) or out of a pooling fund, against the area's cash."""
    cash = AccountRef.fund(AccountKind.CASH, str(pooling.pooling_area))
    fen = abs(yuan) * YUAN
    legs = (
        (debit(cash, fen), credit(pooling, fen))
        if yuan > 0
        else (credit(cash, fen), debit(pooling, fen))
    )
    with uow:
        uow.ledger.post(LedgerTransaction(kind, dt.date.fromisoformat(on), legs))
        uow.commit()


def pool(scheme: InsuranceScheme, area: str) -> AccountRef:
    return AccountRef.fund(AccountKind.pooling(scheme), area)


def seed(uow: UnitOfWork) -> None:
    """Last year (2024), by hand:
    resident 340100: income 100,000; spent 60,000 less a 10,000 reversal = 50,000; with 20,000
        brought from 2023 its balance at the end of 2024 is 70,000: 70,000 ÷ (50,000 ÷ 12) = 16.8
    resident 340200: income 60,000, spent 55,000; balance 5,000 ÷ (55,000 ÷ 12) = 1.09 → 1.1
        (a settlement of 1,000 in 2025 counts for neither)
    employee 340100: income 40,000, nothing spent (reserve months unbounded)
    resident 360100 (another province): income 10,000, spent 6,000; balance 4,000 → 8.0"""
    post(uow, "contribution", "2023-06-01", pool(RESIDENT, "340100"), 20_000)
    post(uow, "contribution", "2024-03-01", pool(RESIDENT, "340100"), 100_000)
    post(uow, "settlement", "2024-05-01", pool(RESIDENT, "340100"), -60_000)
    post(uow, "settlement_reversal", "2024-05-02", pool(RESIDENT, "340100"), 10_000)
    post(uow, "contribution", "2024-03-01", pool(RESIDENT, "340200"), 60_000)
    post(uow, "settlement", "2024-12-31", pool(RESIDENT, "340200"), -55_000)
    post(uow, "settlement", "2025-01-01", pool(RESIDENT, "340200"), -1_000)
    post(uow, "contribution", "2024-01-01", pool(EMPLOYEE, "340100"), 40_000)
    post(uow, "contribution", "2024-02-01", pool(RESIDENT, "360100"), 10_000)
    post(uow, "settlement", "2024-02-02", pool(RESIDENT, "360100"), -6_000)


def natural(uow: UnitOfWork, ref: AccountRef) -> int:
    with uow:
        account = uow.ledger.account(ref)
        return 0 if account is None else account.natural_balance // YUAN


def by(results: list[adjustment.YearAdjustment]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.province, r.scheme.value): r.as_dict() for r in results}


GAPS = {RESIDENT: {"340200": 10_000 * YUAN}}


def test_adjust_posts_once_and_the_ledger_reconciles(uow: UnitOfWork) -> None:
    seed(uow)
    assert ledger.reconcile(uow).ok
    first = by(adjustment.adjust(uow, 2025, gaps=GAPS))
    assert list(first) == [("340000", "employee"), ("340000", "resident"), ("360000", "resident")]
    # resident 340000: province income 160,000, line 16,000; draws 5% = 5,000 and 3,000 (8,000,
    # below the line); 340200's gap 10,000: the fund pays half, 5,000, of the 8,000 it holds
    r = first[("340000", "resident")]
    assert r["province_income_last_year"] == "160000.00"
    assert r["adjustment_balance"] == "0.00"
    assert r["areas"] == [
        {
            "code": "340100",
            "reserve_months": "16.8",
            "warning": "normal",
            "draw": "5000.00",
            "gap_from_adjustment": "0.00",
            "gap_from_balance": "0.00",
        },
        {
            "code": "340200",
            "reserve_months": "1.1",
            "warning": "critical",
            "draw": "3000.00",
            "gap_from_adjustment": "5000.00",
            "gap_from_balance": "5000.00",
        },
    ]
    assert (r["adjustment_balance_after"], r["paused"], r["posted"]) == ("3000.00", False, True)
    assert r["reference"] == "adjust:340000:resident:2025" and r["on"] == "2025-12-31"
    e = first[("340000", "employee")]
    assert [(a["reserve_months"], a["warning"], a["draw"]) for a in e["areas"]] == [
        (None, "surplus", "2000.00")
    ]
    assert first[("360000", "resident")]["areas"][0]["draw"] == "500.00"
    assert ledger.reconcile(uow).ok

    # balances: 340100 70,000 − 5,000; 340200 5,000 − 1,000 (2025) − 3,000 + 5,000
    assert natural(uow, pool(RESIDENT, "340100")) == 65_000
    assert natural(uow, pool(RESIDENT, "340200")) == 6_000
    adjustment_fund = AccountRef.fund(AccountKind.RESIDENT_ADJUSTMENT, "340000")
    assert adjustment_fund.code == "resident_adjustment:340000"
    assert natural(uow, adjustment_fund) == 3_000
    assert natural(uow, AccountRef.fund(AccountKind.EMPLOYEE_ADJUSTMENT, "340100")) == 2_000
    assert natural(uow, AccountRef.fund(AccountKind.RESIDENT_ADJUSTMENT, "360100")) == 500

    again = by(adjustment.adjust(uow, 2025, gaps=GAPS))
    assert all(not a["posted"] and a["matches_ledger"] for a in again.values())
    assert again[("340000", "resident")]["transaction"] == r["transaction"]
    assert natural(uow, adjustment_fund) == 3_000  # posted once
    other_gaps = by(adjustment.adjust(uow, 2025, province="340000"))
    assert other_gaps[("340000", "resident")]["matches_ledger"] is False
    assert natural(uow, adjustment_fund) == 3_000
    assert ledger.reconcile(uow).ok

    # 2026: nothing came in during 2025 (the adjustment is no income), so the line is 0 and the
    # 3,000 held pauses paying in; 340100's gap of 10,000 asks 5,000: the fund pays what it holds
    later = by(adjustment.adjust(uow, 2026, gaps={RESIDENT: {"340100": 10_000 * YUAN}}))
    r = later[("340000", "resident")]
    assert r["adjustment_balance"] == "3000.00" and r["paused"] is True
    assert [a["draw"] for a in r["areas"]] == ["0.00", "0.00"]
    assert [a["reserve_months"] for a in r["areas"]] == [
        None,
        "72.0",
    ]  # 340200: 6,000 ÷ (1,000 ÷ 12)
    assert r["areas"][0]["gap_from_adjustment"] == "3000.00"
    assert r["areas"][0]["gap_from_balance"] == "7000.00"
    assert r["adjustment_balance_after"] == "0.00"
    assert natural(uow, adjustment_fund) == 0
    assert natural(uow, pool(RESIDENT, "340100")) == 68_000
    assert ledger.reconcile(uow).ok


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"gaps": {RESIDENT: {"350100": 1}}}, "gaps.resident.350100"),
        ({"gaps": {EMPLOYEE: {"340200": 1}}}, "gaps.employee.340200"),
        ({"gaps": {RESIDENT: {"360100": 1}}, "province": "340000"}, "gaps.resident.360100"),
        ({"province": "340100"}, "province"),
        ({"on": dt.date(2024, 12, 31)}, "on"),
    ],
)
def test_refused(uow: UnitOfWork, kwargs: dict[str, Any], field: str) -> None:
    seed(uow)
    with pytest.raises(InvalidField) as info:
        adjustment.adjust(uow, 2025, **kwargs)
    assert info.value.field == field
    with uow:
        assert uow.ledger.transaction_id("adjust:340000:resident:2025") is None


def test_gaps_file(tmp_path: Path) -> None:
    assert adjustment.parse_gaps({"resident": {"340200": "10000.50"}, "employee": None}) == {
        RESIDENT: {"340200": 1_000_050}
    }
    for doc, field in [
        ({"farmer": {}}, "gaps.farmer"),
        ({"resident": {"3402": 1}}, "gaps.resident.3402"),
        ({"resident": {"340200": -1}}, "gaps.resident.340200"),
        ({"resident": [1]}, "gaps.resident"),
        ([1], "gaps"),
    ]:
        with pytest.raises(InvalidField) as info:
            adjustment.parse_gaps(doc)
        assert info.value.field == field


def test_command(db_url: str, tmp_path: Path) -> None:
    seed(UnitOfWork.for_url(db_url))
    gaps = tmp_path / "gaps.yaml"
    gaps.write_text('resident:\n  "340200": 10000\n', encoding="utf-8")
    runner = CliRunner()
    args = ["funds", "adjust", "--year", "2025", "--province", "340000", "--db", db_url]
    first = runner.invoke(app, [*args, "--gaps", str(gaps), "--json"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert [(d["scheme"], d["posted"]) for d in data] == [("employee", True), ("resident", True)]
    assert data[1]["adjustment_balance_after"] == "3000.00"
    second = runner.invoke(app, [*args, "--gaps", str(gaps)])
    assert second.exit_code == 0 and second.output.count("already posted") == 2
    check = runner.invoke(app, ["ledger", "check", "--db", db_url])
    assert check.exit_code == 0 and "balanced" in check.output
    gaps.write_text("resident:\n  '340200': -5\n", encoding="utf-8")
    bad = runner.invoke(app, [*args, "--gaps", str(gaps)])
    assert bad.exit_code == 2 and "gaps.resident.340200: must not be negative" in bad.output
    bad = runner.invoke(app, [*args, "--gaps", str(tmp_path / "none.yaml")])
    assert bad.exit_code == 2 and "gaps: cannot read" in bad.output
    assert "Traceback" not in bad.output


def test_a_run_that_loses_the_race_posts_nothing(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs at once: the second finds no transaction when it looks, then its INSERT meets
    the first one's reference (unique): it rolls back and posts nothing."""
    seed(uow)
    adjustment.adjust(uow, 2025, gaps=GAPS, province="340000")
    monkeypatch.setattr(LedgerRepository, "transaction_id", lambda self, reference: None)
    late = adjustment.adjust(uow, 2025, gaps=GAPS, province="340000")
    assert [a.posted for a in late] == [False, False]
    monkeypatch.undo()
    assert natural(uow, AccountRef.fund(AccountKind.RESIDENT_ADJUSTMENT, "340000")) == 3_000
    assert ledger.reconcile(uow).ok


def test_the_adjustment_fund_is_keyed_by_province() -> None:
    assert AccountRef.fund(AccountKind.adjustment(EMPLOYEE), "340100").code == (
        "employee_adjustment:340000"
    )
    with pytest.raises(InvalidField, match="keyed by province"):
        AccountRef(AccountKind.RESIDENT_ADJUSTMENT, pooling_area="340100")
