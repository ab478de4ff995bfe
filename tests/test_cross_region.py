"""Cross-region direct settlement and clearing (异地就医) on SQLite and PostgreSQL: settlements of
360100's insured treated in 110100 and 340100 (inpatient and outpatient) are paid in advance by
the treating area when it clears its institutions' month, and cleared once a month per pair of
areas (hand-computed), once only, in either order, the ledger reconciling after each step; bad
inputs are refused naming the field; the CLI and the fund manager's API give the same figures."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.api_support import *  # noqa: F403  (fixtures: api)
from tests.api_support import SECRET, Api
from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_store_settlement import balances, employee, resident
from yibao.cli import app
from yibao.domain.clearing import CLEARED_AMOUNTS
from yibao.domain.cross_region import pair_postings
from yibao.domain.errors import InvalidField
from yibao.domain.roles import Role
from yibao.domain.settlement import Claim
from yibao.services import clearing, cross_region, ledger, settlement
from yibao.services.accounts import NewInstitution, issue_institution
from yibao.store.models import LedgerTransactionRow
from yibao.store.uow import UnitOfWork

HOME, BEIJING, HEFEI = "360100", "110100", "340100"


def _institutions(uow: UnitOfWork) -> None:
    for code, area in (("B1", BEIJING), ("A1", HEFEI), ("H1", HOME)):
        issue_institution(uow, SECRET, NewInstitution(code=code, name=code, level=2, area=area))


def _claim(who: str, total: int, on: dt.date, code: str, med: str, cross: str | None) -> Claim:
    return Claim(
        person=who,
        date=on,
        total=total,
        med_type=med,
        level=2,
        fixmedins_code=code,
        cross_region=cross,
    )


def settled_months(uow: UnitOfWork) -> None:
    """360100's insured in April and May 2025 (national defaults, level 2, first admissions):

    - R, resident, inpatient at B1 (110100), referred, 05-10, 10000.00: the cross-region
      pre-payment 10% = 1000.00, then (9000 − 400) × 75% = 6450.00 from the pooling fund, cash
      3550.00;
    - E, employee (1920.00 in the account), outpatient at B1, temporary, 05-12, 1000.00: 20% =
      200.00 first, then (800 − 300) × 60% = 300.00 from the pooling fund, the other 700.00
      from the account, no cash;
    - R3, resident, inpatient at A1 (340100), registered, 04-15, 10000.00: (10000 − 400) × 75%
      = 7200.00, cash 2800.00; reversed on 05-12;
    - R4, resident, inpatient at A1, registered, 05-20, 20000.00: (20000 − 400) × 75% =
      14700.00, cash 5300.00;
    - R2, resident, inpatient at H1 (360100 itself), 05-20, 10000.00: 7200.00 (local);
    - R5, resident, inpatient at X9 (not registered: its area unknown), temporary, 05-21,
      10000.00: 20% = 2000.00, (8000 − 400) × 75% = 5700.00 (cleared as local).
    """
    _institutions(uow)
    e = employee(uow, 1, months=12)
    r, r2, r3, r4, r5 = (resident(uow, n) for n in (3, 5, 7, 9, 11))
    s = {
        "r": settlement.settle(
            uow, _claim(r, 1_000_000, dt.date(2025, 5, 10), "B1", "inpatient", "referred"), "x-r"
        ),
        "e": settlement.settle(
            uow, _claim(e, 100_000, dt.date(2025, 5, 12), "B1", "outpatient", "temporary"), "x-e"
        ),
        "r3": settlement.settle(
            uow, _claim(r3, 1_000_000, dt.date(2025, 4, 15), "A1", "inpatient", "registered"), "x3"
        ),
        "r4": settlement.settle(
            uow, _claim(r4, 2_000_000, dt.date(2025, 5, 20), "A1", "inpatient", "registered"), "x4"
        ),
        "r2": settlement.settle(
            uow, _claim(r2, 1_000_000, dt.date(2025, 5, 20), "H1", "inpatient", None), "x2"
        ),
        "r5": settlement.settle(
            uow, _claim(r5, 1_000_000, dt.date(2025, 5, 21), "X9", "inpatient", "temporary"), "x5"
        ),
    }
    got = {k: (v.amounts["cross_prepay"], v.amounts["fund_pay_sumamt"]) for k, v in s.items()}
    assert got == {
        "r": (1_000_00, 6_450_00),
        "e": (200_00, 300_00),
        "r3": (0, 7_200_00),
        "r4": (0, 14_700_00),
        "r2": (0, 7_200_00),
        "r5": (2_000_00, 5_700_00),
    }
    assert (s["e"].amounts["acct_pay"], s["e"].amounts["psn_cash_pay"]) == (700_00, 0)
    assert s["r"].amounts["psn_cash_pay"] == 3_550_00
    setl_id = s["r3"].setl_id
    assert setl_id is not None
    settlement.reverse(uow, setl_id, on=dt.date(2025, 5, 12))


def _txn_count(uow: UnitOfWork) -> int:
    with uow:
        return int(uow.session.scalar(select(func.count()).select_from(LedgerTransactionRow)) or 0)


def test_a_month_cleared_between_areas(uow: UnitOfWork, engine: Engine) -> None:
    settled_months(uow)
    start = balances(engine)

    april = cross_region.statements(uow, "2025-04")
    assert [(p.insured_area, p.treating_area, p.totals.owed) for p in april] == [
        (HOME, HEFEI, 7_200_00)
    ]
    may = {(p.insured_area, p.treating_area): p for p in cross_region.statements(uow, "2025-05")}
    assert set(may) == {(HOME, BEIJING), (HOME, HEFEI)}  # H1 is local, X9's area unknown
    bj, hf = may[HOME, BEIJING].totals, may[HOME, HEFEI].totals
    # Beijing: R and E; fees 10000 + 1000, funds 6450 + 300, account 700, cash 3550, owed 7450
    assert (bj.count, bj.owed) == (2, 7_450_00)
    assert bj.amounts == {
        "medfee_sumamt": 11_000_00,
        "fund_pay_sumamt": 6_750_00,
        "acct_pay": 700_00,
        "acct_mulaid_pay": 0,
        "psn_cash_pay": 3_550_00,
    }
    # Hefei: R4 settled, R3's April settlement reversed: 14700 − 7200 = 7500, count 1 − 1 = 0
    assert (hf.settled, hf.reversed, hf.count, hf.owed) == (1, 1, 0, 7_500_00)
    assert hf.amounts["medfee_sumamt"] == 10_000_00

    # the institutions' months: the treating area's cash pays B1 and A1 in advance
    b1 = clearing.statements(uow, "2025-05", "B1")[0].totals
    assert b1.owed_by_area == {HOME: 7_450_00} and b1.advanced == {(HOME, BEIJING): 7_450_00}
    x9 = clearing.statements(uow, "2025-05", "X9")[0].totals
    assert x9.advanced == {} and x9.owed == 5_700_00

    # April: the pair first, then the institution (either order ends at zero)
    done = cross_region.pay(uow, "2025-04", on=dt.date(2025, 5, 3))
    assert [(c.posted, c.statement.totals.owed) for c in done] == [(True, 7_200_00)]
    assert ledger.reconcile(uow).ok
    clearing.pay(uow, "2025-04", on=dt.date(2025, 5, 5))
    assert ledger.reconcile(uow).ok
    # May: the institutions first, then the pairs
    clearing.pay(uow, "2025-05", on=dt.date(2025, 6, 5))
    mid = balances(engine)
    assert mid[f"cross_region_receivable:{BEIJING}"] == 7_450_00  # advanced by Beijing
    assert mid[f"cross_region_receivable:{HEFEI}"] == 7_500_00
    assert mid[f"cross_region_payable:{HOME}"] == -(7_450_00 + 7_500_00)
    assert start[f"cash:{BEIJING}"] - mid[f"cash:{BEIJING}"] == 7_450_00
    assert ledger.reconcile(uow).ok
    paid = cross_region.pay(uow, "2025-05", on=dt.date(2025, 6, 10))
    assert [(c.statement.treating_area, c.posted) for c in paid] == [
        (BEIJING, True),
        (HEFEI, True),
    ]
    assert ledger.reconcile(uow).ok

    end = balances(engine)
    for area in (BEIJING, HEFEI):  # paid back in full: nothing owed either way
        assert end[f"cross_region_receivable:{area}"] == 0
        assert end[f"cash:{area}"] == start[f"cash:{area}"]
    assert end[f"cross_region_payable:{HOME}"] == 0
    # 360100's cash paid everything its insured were owed: 7200 (April, A1) + 7450 (B1) + 7500
    # (A1, May) + 7200 (H1) + 5700 (X9) = 35050.00
    assert start[f"cash:{HOME}"] - end[f"cash:{HOME}"] == 35_050_00
    for code in ("B1", "A1", "H1", "X9"):
        assert end[f"institution_payable:{code}"] == end[f"institution_collected:{code}"] == 0

    # once per pair and month
    n = _txn_count(uow)
    again = cross_region.pay(uow, "2025-05", on=dt.date(2025, 6, 11))
    assert [c.posted for c in again] == [False, False]
    first = again[0].statement.payment
    assert first is not None and (first.paid_on, first.amount) == (dt.date(2025, 6, 10), 7_450_00)
    assert again[0].statement.outstanding == 0 and _txn_count(uow) == n
    assert ledger.reconcile(uow).ok


def test_one_pair_and_its_files(uow: UnitOfWork, tmp_path: Path) -> None:
    settled_months(uow)
    (bj,) = cross_region.statements(uow, "2025-05", HOME, BEIJING, lines=True)
    assert bj.lines is not None and [x.cross_region for x in bj.lines] == ["referred", "temporary"]
    table, summary_path = cross_region.write_statement(bj, tmp_path)
    assert (table.name, summary_path.name) == (
        f"{HOME}-{BEIJING}-2025-05.csv",
        f"{HOME}-{BEIJING}-2025-05.json",
    )
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert tuple(rows[0]) == cross_region.CSV_COLUMNS and len(rows) == 2
    for name in (*CLEARED_AMOUNTS, "owed"):
        assert sum(Decimal(r[name]) for r in rows) == Decimal(summary[name])
    assert {r["treating_area"] for r in rows} == {BEIJING}
    assert (summary["owed"], summary["setl_cnt"], summary["paid"]) == ("7450.00", 2, None)
    # by the treating area only: its pairs; an empty pair named in full: one empty statement
    assert [p.insured_area for p in cross_region.statements(uow, "2025-05", None, HEFEI)] == [HOME]
    (empty,) = cross_region.statements(uow, "2025-05", BEIJING, HOME)
    assert (empty.totals.count, empty.totals.owed) == (0, 0)
    assert (
        cross_region.pay(uow, "2025-05", BEIJING, HOME, on=dt.date(2025, 6, 2))[0].posted is False
    )


def test_bad_inputs_are_refused_and_change_nothing(uow: UnitOfWork, engine: Engine) -> None:
    settled_months(uow)
    before, n = balances(engine), _txn_count(uow)
    cases = [
        (lambda: cross_region.statements(uow, "2025-13"), "month"),
        (lambda: cross_region.statements(uow, "2025-05", "36010"), "insured_area"),
        (lambda: cross_region.statements(uow, "2025-05", None, "11010x"), "treating_area"),
        (lambda: cross_region.statements(uow, "2025-05", HOME, HOME), "treating_area"),
        (lambda: cross_region.pay(uow, "2025-05", on=dt.date(2025, 5, 31)), "month"),
        (lambda: cross_region.pay(uow, "2025-05", on=dt.date.today() + dt.timedelta(1)), "on"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidField) as info:
            call()
        assert info.value.field == field
    assert balances(engine) == before and _txn_count(uow) == n


def test_each_areas_legs_balance() -> None:
    """The pair's payment: each area's own legs sum to zero, for a debt either way."""
    for owed in (7_450_00, -1_00):
        legs = pair_postings(HOME, BEIJING, owed)
        for area in (HOME, BEIJING):
            assert sum(p.amount for p in legs if p.account.pooling_area == area) == 0
    assert pair_postings(HOME, BEIJING, 0) == []


def test_cli_cross_region(db_url: str, uow: UnitOfWork, tmp_path: Path) -> None:
    settled_months(uow)
    run = CliRunner().invoke
    shown = run(app, ["funds", "cross-region", "--month", "2025-05", "--db", db_url, "--json"])
    assert shown.exit_code == 0, shown.output
    assert [(d["treating_area"], d["owed"]) for d in json.loads(shown.output)] == [
        (BEIJING, "7450.00"),
        (HEFEI, "7500.00"),
    ]
    args = ["funds", "cross-region", "--month", "2025-05", "--treating-area", HEFEI, "--pay"]
    paid = run(app, [*args, "--on", "2025-06-02", "--file", str(tmp_path), "--db", db_url])
    assert paid.exit_code == 0, paid.output
    assert "cleared 7500.00 on 2025-06-02 (now)" in " ".join(paid.output.split())
    assert (tmp_path / f"{HOME}-{HEFEI}-2025-05.csv").exists()
    bad = run(app, ["funds", "cross-region", "--month", "2025-05", "--insured-area", "x"])
    assert bad.exit_code == 2 and "insured_area" in bad.output


def test_fund_manager_over_the_api(api: Api, uow: UnitOfWork) -> None:
    settled_months(UnitOfWork.for_engine(api.engine))
    manager = api.staff(Role.FUND_MANAGER)
    path = "/api/v1/funds/cross-region/2025-05"
    r = api.staff_get(manager, f"{path}?treating_area={BEIJING}&lines=true")
    assert r.status_code == 200, r.text
    (bj,) = r.json()["statements"]
    assert (bj["owed"], len(bj["lines"]), bj["paid"]) == ("7450.00", 2, None)
    for role in (Role.ENROLMENT_CLERK, Role.SETTLEMENT_AUDITOR):
        assert api.staff_get(api.staff(role), path).status_code == 403
    headers = {"authorization": f"Bearer {manager}"}
    post = api.client.post(f"{path}/clearing", json={"on": "2025-06-03"}, headers=headers)
    assert post.status_code == 200, post.text
    assert [s["posted"] for s in post.json()["statements"]] == [True, True]
    again = api.client.post(f"{path}/clearing", json={"on": "2025-06-04"}, headers=headers)
    assert [s["posted"] for s in again.json()["statements"]] == [False, False]
    assert again.json()["statements"][0]["paid"]["paid_on"] == "2025-06-03"
    early = api.client.post(f"{path}/clearing", json={"on": "2025-05-30"}, headers=headers)
    assert early.json()["infcode"] == 1003 and "month" in early.json()["err_msg"]
    assert ledger.reconcile(UnitOfWork.for_engine(api.engine)).ok
