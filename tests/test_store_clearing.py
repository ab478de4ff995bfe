"""The monthly settlement with institutions (清算) on SQLite and PostgreSQL: settlements post the
institution's fees and counter cash, a month's statement is its settlements less the month's
reversals (hand-computed), paying twice pays once, the institution's accounts are closed by the
payments (and, as a property, by the payment of any month), the ledger reconciles, and the
statement's files add up to the statement."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_store_settlement import balances, employee, resident
from yibao.cli import app
from yibao.domain.clearing import (
    CLEARED_AMOUNTS,
    clearing_postings,
    month_totals,
    owed_to_institution,
)
from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.domain.settlement import Claim
from yibao.services import clearing, ledger, settlement
from yibao.store.models import LedgerTransactionRow
from yibao.store.uow import UnitOfWork

AREA = "360100"


def inpatient(who: str, total: int, on: dt.date, code: str) -> Claim:
    return Claim(
        person=who, date=on, total=total, med_type="inpatient", level=2, fixmedins_code=code
    )


def settled_month(uow: UnitOfWork) -> dict[str, str]:
    """H1 and H2's April and May 2025 (national defaults, level 2, first admissions):

    - E, employee with 1920.00 in the account: 2000.00 at H1 on 05-03: (2000 − 500) × 85% =
      1275.00 from the pooling fund, the other 725.00 from the account, no cash; reversed on
      05-31;
    - R, resident: 30000.00 at H1 on 05-10: (30000 − 400) × 75% = 22200.00, cash 7800.00;
    - R3, resident: 10000.00 at H1 on 04-15: (10000 − 400) × 75% = 7200.00, cash 2800.00;
      reversed on 05-12;
    - R2, resident: 10000.00 at H2 on 05-20: 7200.00, cash 2800.00.
    """
    e = employee(uow, 1, months=12)
    r, r2, r3 = (resident(uow, n) for n in (3, 5, 7))
    s_e = settlement.settle(uow, inpatient(e, 200_000, dt.date(2025, 5, 3), "H1"), "c-e")
    s_r = settlement.settle(uow, inpatient(r, 3_000_000, dt.date(2025, 5, 10), "H1"), "c-r")
    s_r3 = settlement.settle(uow, inpatient(r3, 1_000_000, dt.date(2025, 4, 15), "H1"), "c-r3")
    s_r2 = settlement.settle(uow, inpatient(r2, 1_000_000, dt.date(2025, 5, 20), "H2"), "c-r2")
    assert (s_e.amounts["hifp_pay"], s_e.amounts["acct_pay"], s_e.amounts["psn_cash_pay"]) == (
        1_275_00,
        725_00,
        0,
    )
    assert (s_r.amounts["fund_pay_sumamt"], s_r.amounts["psn_cash_pay"]) == (22_200_00, 7_800_00)
    for s in (s_r3, s_r2):
        assert (s.amounts["fund_pay_sumamt"], s.amounts["psn_cash_pay"]) == (7_200_00, 2_800_00)
    assert s_r3.setl_id is not None and s_e.setl_id is not None
    settlement.reverse(uow, s_r3.setl_id, on=dt.date(2025, 5, 12))
    settlement.reverse(uow, s_e.setl_id, on=dt.date(2025, 5, 31))
    return {"e": s_e.setl_id, "r3": s_r3.setl_id}


def test_statement_pay_once_and_accounts_closed(uow: UnitOfWork, engine: Engine) -> None:
    settled_month(uow)
    start = balances(engine)
    # H1's accounts before clearing: fees 2000 + 30000 + 10000 − 10000 − 2000 = 30000.00
    # (credit), cash collected 7800.00 + 2800.00 − 2800.00 = 7800.00 (debit)
    assert start["institution_payable:H1"] == -30_000_00
    assert start["institution_collected:H1"] == 7_800_00

    april = {s.institution: s for s in clearing.statements(uow, "2025-04")}
    assert set(april) == {"H1"}
    a = april["H1"].totals
    assert (a.count, a.amounts["medfee_sumamt"], a.amounts["psn_cash_pay"], a.owed) == (
        1,
        10_000_00,
        2_800_00,
        7_200_00,
    )

    may = {s.institution: s for s in clearing.statements(uow, "2025-05", lines=True)}
    h1, h2 = may["H1"], may["H2"]
    # H1 in May: E and R settled (+2), R3 and E reversed (−2): count 0; fees 2000 + 30000
    # − 10000 − 2000 = 20000.00; funds 1275 + 22200 − 7200 − 1275 = 15000.00; account
    # 725 − 725 = 0; cash 7800 − 2800 = 5000.00; owed 15000.00
    assert (h1.totals.settled, h1.totals.reversed, h1.totals.count) == (2, 2, 0)
    assert h1.lines is not None and len(h1.lines) == 4
    assert h1.totals.amounts == {
        "medfee_sumamt": 20_000_00,
        "fund_pay_sumamt": 15_000_00,
        "acct_pay": 0,
        "acct_mulaid_pay": 0,
        "psn_cash_pay": 5_000_00,
    }
    assert h1.totals.owed_by_area == {AREA: 15_000_00} and h1.payment is None
    assert (h2.totals.count, h2.totals.owed, h2.totals.amounts["psn_cash_pay"]) == (
        1,
        7_200_00,
        2_800_00,
    )
    assert clearing.statements(uow, "2025-05", "H1")[0].totals == h1.totals
    assert clearing.statements(uow, "2025-06", "H1")[0].totals.owed == 0  # nothing that month

    paid = clearing.pay(uow, "2025-04", on=dt.date(2025, 5, 5))
    assert [(c.statement.institution, c.posted) for c in paid] == [("H1", True)]
    done = clearing.pay(uow, "2025-05", on=dt.date(2025, 6, 5))
    assert [(c.statement.institution, c.posted, c.statement.totals.owed) for c in done] == [
        ("H1", True, 15_000_00),
        ("H2", True, 7_200_00),
    ]
    end = balances(engine)
    # cash paid out: 7200.00 (April) + 15000.00 + 7200.00 (May) = 29400.00
    assert start[f"cash:{AREA}"] - end[f"cash:{AREA}"] == 29_400_00
    for code in ("H1", "H2"):  # every settlement cleared: the institution's accounts are empty
        assert end[f"institution_payable:{code}"] == 0
        assert end[f"institution_collected:{code}"] == 0
    assert ledger.reconcile(uow).ok

    with uow:
        n_txn = uow.session.scalar(select(func.count()).select_from(LedgerTransactionRow))
    again = clearing.pay(uow, "2025-05", on=dt.date(2025, 6, 6))
    assert [c.posted for c in again] == [False, False]
    assert again[0].statement.payment is not None
    assert again[0].statement.payment.paid_on == dt.date(2025, 6, 5)
    assert again[0].statement.payment.amount == 15_000_00
    assert again[0].statement.outstanding == 0
    with uow:
        assert uow.session.scalar(select(func.count()).select_from(LedgerTransactionRow)) == n_txn
    assert balances(engine) == {k: v for k, v in end.items() if v}  # (zeros are left out)


def test_paying_is_refused_before_the_month_ends_or_after_today(uow: UnitOfWork) -> None:
    with pytest.raises(InvalidField) as info:
        clearing.pay(uow, "2025-05", on=dt.date(2025, 5, 31))
    assert info.value.field == "month" and "not over" in info.value.reason
    with pytest.raises(InvalidField) as info:
        clearing.pay(uow, "2025-05", on=dt.date.today() + dt.timedelta(days=1))
    assert info.value.field == "on"
    for bad in ("2025-13", "2025-5", "25-05", "２０２５-05", "9999-01"):
        with pytest.raises(InvalidField) as info:
            clearing.statements(uow, bad)
        assert info.value.field == "month"
    with pytest.raises(InvalidField) as info:
        clearing.statements(uow, "2025-05", "H1\u202e")
    assert info.value.field == "institution"


def test_statement_files_add_up(uow: UnitOfWork, tmp_path: Path) -> None:
    settled_month(uow)
    (h1,) = clearing.statements(uow, "2025-05", "H1")
    table, summary_path = clearing.write_statement(h1, tmp_path)
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert len(rows) == 4 and tuple(rows[0]) == clearing.CSV_COLUMNS
    for name in (*CLEARED_AMOUNTS, "owed"):
        assert sum(Decimal(r[name]) for r in rows) == Decimal(summary[name])
    kinds = [r["kind"] for r in rows]
    assert kinds.count("settlement") - kinds.count("reversal") == summary["fixmedins_setl_cnt"]
    assert (summary["medfee_sumamt"], summary["owed"], summary["psn_cash_pay"]) == (
        "20000.00",
        "15000.00",
        "5000.00",
    )
    assert summary["stmt_begndate"] == "2025-05-01" and summary["stmt_enddate"] == "2025-05-31"


def test_cli_clearing(db_url: str, uow: UnitOfWork, tmp_path: Path) -> None:
    settled_month(uow)
    run = CliRunner().invoke
    shown = run(app, ["funds", "clearing", "--month", "2025-05", "--db", db_url, "--json"])
    assert shown.exit_code == 0, shown.output
    assert [(d["fixmedins_code"], d["owed"], d["paid"]) for d in json.loads(shown.output)] == [
        ("H1", "15000.00", None),
        ("H2", "7200.00", None),
    ]
    args = [
        "funds",
        "clearing",
        "--month",
        "2025-05",
        "--institution",
        "H2",
        "--pay",
        "--on",
        "2025-06-02",
    ]
    paid = run(app, [*args, "--file", str(tmp_path), "--db", db_url, "--json"])
    assert paid.exit_code == 0, paid.output
    out = json.loads(paid.output)
    assert [d["posted"] for d in out["statements"]] == [True]
    assert sorted(Path(p).name for p in out["files"]) == ["H2-2025-05.csv", "H2-2025-05.json"]
    again = run(app, [*args, "--db", db_url])
    assert again.exit_code == 0 and "paid 7200.00 on 2025-06-02" in " ".join(again.output.split())
    bad = run(app, ["funds", "clearing", "--month", "2025-5", "--db", db_url])
    assert bad.exit_code == 2 and "month" in bad.output
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unwritable = run(
        app, ["funds", "clearing", "--month", "2025-05", "--file", str(blocker), "--db", db_url]
    )
    assert unwritable.exit_code == 3 and "file" in unwritable.output


def test_month_totals_net_reversals() -> None:
    """The rule by itself: a reversal subtracts the settlement it reverses, per area."""
    a = {"medfee_sumamt": 100, "fund_pay_sumamt": 60, "acct_pay": 10, "acct_mulaid_pay": 5}
    a["psn_cash_pay"] = 25
    assert owed_to_institution(a) == 75
    t = month_totals(
        [(1, 1, "360100", None, a), (1, 1, "360200", None, a), (-1, 1, "360100", None, a)]
    )
    assert (
        (t.settled, t.reversed, t.count) == (2, 1, 1)
        and t.owed_by_area == {"360100": 0, "360200": 75}
        and t.owed == 75
    )


_AMOUNT = st.integers(min_value=0, max_value=10_000_000_00)
_LINE = st.tuples(
    st.sampled_from([1, -1]),
    st.sampled_from(["360100", "360200"]),
    st.tuples(_AMOUNT, _AMOUNT, _AMOUNT, _AMOUNT),
    st.sampled_from([None, "110100", "360200"]),  # the treating area of a cross-region one
)


@given(st.lists(_LINE, max_size=12))
def test_the_payment_closes_what_the_month_posted(lines: list[Any]) -> None:
    """For any month of settlements and reversals: the payment balances, and with what the
    settlements and reversals posted to the institution's accounts it leaves them at zero."""
    month = []
    for sign, area, (fund, acct, mulaid, cash), treating in lines:
        amounts = {
            "medfee_sumamt": fund + acct + mulaid + cash,
            "fund_pay_sumamt": fund,
            "acct_pay": acct,
            "acct_mulaid_pay": mulaid,
            "psn_cash_pay": cash,
        }
        month.append((sign, 1, area, treating, amounts))
    totals = month_totals(month)
    legs = clearing_postings("H1", totals)
    assert sum(p.amount for p in legs) == 0
    payable = AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, "H1")
    collected = AccountRef.of_institution(AccountKind.INSTITUTION_COLLECTED, "H1")
    # a settlement posts C payable (fees), D collected (cash); a reversal the negation
    posted_payable = sum(-sign * a["medfee_sumamt"] for sign, _, _, _, a in month)
    posted_collected = sum(sign * a["psn_cash_pay"] for sign, _, _, _, a in month)
    paid = {p.account: p.amount for p in legs}
    assert posted_payable + paid.get(payable, 0) == 0
    assert posted_collected + paid.get(collected, 0) == 0
    cash_out = -sum(p.amount for p in legs if p.account.kind is AccountKind.CASH)
    assert cash_out == totals.owed == sum(sign * owed_to_institution(a) for sign, *_, a in month)
    # an advance is neutral for the treating area (cash out, receivable in): each area's legs
    # come to what its own insured were owed, wherever they were treated
    for area in ("360100", "360200", "110100"):
        own = sum(sign * owed_to_institution(a) for sign, _, home, _, a in month if home == area)
        assert sum(p.amount for p in legs if p.account.pooling_area == area) == -own


def test_an_institution_account_is_keyed_by_its_code_only() -> None:
    ref = AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, "H1")
    assert ref.code == "institution_payable:H1" and not ref.kind.debit_normal
    assert AccountKind.INSTITUTION_COLLECTED.debit_normal
    for bad in (
        lambda: AccountRef.fund(AccountKind.INSTITUTION_PAYABLE, AREA),
        lambda: AccountRef(AccountKind.INSTITUTION_COLLECTED, AREA, None, "H1"),
        lambda: AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, ""),
        lambda: AccountRef(AccountKind.CASH, AREA, None, "H1"),
        lambda: AccountRef(AccountKind.PERSONAL_ACCOUNT, None, 1, "H1"),
    ):
        with pytest.raises(InvalidField):
            bad()
