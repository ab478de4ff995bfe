"""Fund operation analysis, risk warnings and budgets (``services.fund_analysis``,
``fund_warnings``, ``fund_budgets``), on SQLite and PostgreSQL: hand-computed figures from
postings with known amounts, the analysis against the ledger after contributions, settlements
and a reversal through the services, each warning at its threshold, budget files refused by line
and field, and the fund manager's API."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.api_support import Api, make_api
from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.cli import app
from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind, AccountRef, LedgerTransaction, Posting
from yibao.domain.roles import Role
from yibao.domain.settlement import Claim
from yibao.rules import fund_risks
from yibao.rules.fund_risks import Projection
from yibao.services import (
    contributions,
    enrolment,
    fund_analysis,
    fund_budgets,
    fund_warnings,
    ledger,
    registry,
    settlement,
)
from yibao.services.area_load import load_area
from yibao.services.fund_budgets import BudgetFileRefused
from yibao.services.settlement import ClaimRequest
from yibao.store.migrate import downgrade, upgrade
from yibao.store.models import AccountRow, FundWarningRow, LedgerTransactionRow, PostingRow
from yibao.store.repositories.funds import FundRepository
from yibao.store.uow import UnitOfWork
from yibao.synth import SynthConfig, generate

POOL = AccountKind.RESIDENT_POOLING
CASH = AccountKind.CASH


def post(
    uow: UnitOfWork, area: str, on: dt.date, income: int = 0, spent: int = 0, kind: str = "x"
) -> None:
    """``income`` fen into the area's resident pooling fund (C pool, D cash) and ``spent`` out
    of it (D pool, C cash), as one transaction each."""
    pool, cash = AccountRef.fund(POOL, area), AccountRef.fund(CASH, area)
    with uow:
        if income:
            uow.ledger.post(
                LedgerTransaction.of(kind, on, [Posting(cash, income), Posting(pool, -income)])
            )
        if spent:
            uow.ledger.post(
                LedgerTransaction.of(kind, on, [Posting(pool, spent), Posting(cash, -spent)])
            )
        uow.commit()


def flat_year(uow: UnitOfWork, area: str, lump: int) -> None:
    """A balance of ``lump`` brought in on 2023-12-31, then every month of 2024 and January
    2025 taking in and spending 1,000.00 yuan: the balance at the end of January 2025 is
    ``lump`` and its monthly expenditure 1,000.00."""
    post(uow, area, dt.date(2023, 12, 31), income=lump)
    for m in range(1, 13):
        post(uow, area, dt.date(2024, m, 15), income=100_000, spent=100_000)
    post(uow, area, dt.date(2025, 1, 15), income=100_000, spent=100_000)


def assert_totals_kept(uow: UnitOfWork) -> None:
    """The month totals the ledger kept as it posted equal the postings, recounted."""
    with uow:
        repo = FundRepository(uow.session)
        kept, recounted = repo.month_totals(), repo.recount()
    assert sorted(kept, key=repr) == sorted(recounted, key=repr)
    assert kept


def line(analysis: fund_analysis.Analysis, fund: AccountKind, area: str) -> Any:
    found = [x for x in analysis.lines if x.fund is fund and x.area == area]
    assert len(found) == 1, analysis.lines
    return found[0]


# ---------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("balance", "months", "income", "spent", "last", "expected"),
    [
        (1_000, 12, 5, 7, None, Projection(1_000, "actual")),
        # scaled: (300 − 440) × 9 / 3 = −420
        (960, 3, 300, 440, None, Projection(540, "scaled")),
        # seasonal: 300 × 900/100 − 440 × 600/200 = 2700 − 1320 = 1380
        (960, 3, 300, 440, (100, 900, 200, 600), Projection(2_340, "seasonal")),
        # last year's same months without income: scaled
        (960, 3, 300, 440, (0, 900, 200, 600), Projection(540, "scaled")),
        # rounded once: 10 + 1 × 5 / 7 = 10.714 → 11
        (10, 7, 1, 0, None, Projection(11, "scaled")),
        # 1 × 4 / 8 = 0.5 → 1 (half up)
        (0, 8, 1, 0, (0, 0, 0, 0), Projection(1, "scaled")),
    ],
)
def test_project_year_end(
    balance: int,
    months: int,
    income: int,
    spent: int,
    last: tuple[int, int, int, int] | None,
    expected: Projection,
) -> None:
    assert fund_risks.project_year_end(balance, months, income, spent, last) == expected


def test_growth_deficit_and_annual_expenditure() -> None:
    assert fund_risks.deficit(100, 101) and not fund_risks.deficit(100, 100)
    assert fund_risks.growth_percent(150_000, 80_000) == Decimal("87.5")
    assert fund_risks.growth_percent(2, 3) == Decimal("-33.3")
    assert fund_risks.growth_percent(5, 0) is None
    # expenditure +10%, income +9.9%: outgrows; equal growth does not
    assert fund_risks.spending_outgrows_income(1099, 1000, 110, 100)
    assert not fund_risks.spending_outgrows_income(110, 100, 110, 100)
    assert not fund_risks.spending_outgrows_income(110, 0, 500, 100)  # no income last year
    assert fund_risks.annual_expenditure(1_000, 12) == 1_000
    assert fund_risks.annual_expenditure(1_001, 8) == 1_502  # 1501.5 → 1502
    with pytest.raises(ValueError):
        fund_risks.annual_expenditure(1, 0)


# --------------------------------------------------------------- hand-computed figures


def test_analysis_by_hand(uow: UnitOfWork) -> None:
    area = "360600"
    post(uow, area, dt.date(2023, 12, 31), income=1_100_000)
    for m in range(1, 13):
        post(uow, area, dt.date(2024, m, 15), income=100_000, spent=100_000)
    for m in (1, 2, 3):
        post(uow, area, dt.date(2025, m, 10), income=100_000, spent=150_000)
    post(uow, area, dt.date(2025, 3, 20), income=10_000, kind="settlement_reversal")

    assert_totals_kept(uow)
    a = fund_analysis.analyse(uow, 2025, area)
    assert a.through == 3
    pool = line(a, POOL, area)
    assert pool.opening_balance == 1_100_000
    assert [(m.income, m.expenditure, m.balance) for m in pool.months] == [
        (100_000, 150_000, 1_050_000),
        (100_000, 150_000, 1_000_000),
        (100_000, 140_000, 960_000),  # the reversal reduces expenditure, not income
    ]
    # the twelve months ending with each: 11 × 1,000 + 1,500; 10 × 1,000 + 3,000; ...
    assert [m.annual_expenditure for m in pool.months] == [1_250_000, 1_300_000, 1_340_000]
    # 1,050,000 × 12 / 1,250,000 = 10.08; 9.23; 960,000 × 12 / 1,340,000 = 8.597
    assert [m.reserve_months for m in pool.months] == [
        Decimal("10.1"),
        Decimal("9.2"),
        Decimal("8.6"),
    ]
    assert pool.income_growth == Decimal("0.0")
    assert pool.expenditure_growth == Decimal("46.7")  # 440,000 / 300,000 − 1
    assert pool.spending_outgrows_income
    # seasonal: 300,000 × 900,000/300,000 − 440,000 × 900,000/300,000 = −420,000
    assert pool.projection == Projection(540_000, "seasonal")
    cash = line(a, CASH, area) if any(x.fund is CASH for x in a.lines) else None
    assert cash is None  # only the funds are analysed

    found = fund_warnings.evaluate(uow, 2025, area).warnings
    assert [(w.month, w.risk) for w in found] == [
        (1, "deficit"),
        (1, "spending_growth"),
        (2, "deficit"),
        (2, "spending_growth"),
        (3, "deficit"),
        (3, "spending_growth"),
    ]
    assert found[4].evidence == {
        "income_to_date": "3000.00",
        "expenditure_to_date": "4400.00",
        "deficit": "1400.00",
    }
    assert found[5].evidence["expenditure_growth_pct"] == "46.7"
    assert found[5].evidence["income_growth_pct"] == "0.0"


@pytest.mark.parametrize(
    ("lump", "reserve", "risk"),
    [
        (290_000, "2.9", "reserve_critical"),
        (300_000, "3.0", "reserve_low"),  # the threshold itself is the milder level
        (599_949, "6.0", None),  # 5.99949 rounds to 6.0: normal
        (594_999, "5.9", "reserve_low"),
        (2_400_000, "24.0", None),
        (2_410_000, "24.1", "reserve_surplus"),
    ],
)
def test_reserve_warnings_at_each_threshold(
    uow: UnitOfWork, engine: Engine, lump: int, reserve: str, risk: str | None
) -> None:
    area = "360100"
    flat_year(uow, area, lump)
    a = fund_analysis.analyse(uow, 2025, area)
    january = line(a, POOL, area).months[0]
    assert (january.balance, january.annual_expenditure) == (lump, 1_200_000)
    assert str(january.reserve_months) == reserve
    first = fund_warnings.evaluate(uow, 2025, area).warnings
    assert [w.risk for w in first] == ([risk] if risk else [])
    # evaluating again keeps one row per month, fund and risk
    again = fund_warnings.evaluate(uow, 2025, area).warnings
    assert [(w.month, w.risk, w.evidence) for w in again] == [
        (w.month, w.risk, w.evidence) for w in first
    ]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(FundWarningRow)) == len(first)
    if risk:
        assert first[0].evidence["reserve_months"] == reserve
        assert first[0].evidence["balance"] == f"{lump // 100}.{lump % 100:02d}"


def test_warnings_follow_the_ledger_and_areas_apart(uow: UnitOfWork) -> None:
    flat_year(uow, "360100", 290_000)  # critical
    flat_year(uow, "360200", 1_000_000)  # normal
    every = fund_warnings.evaluate(uow, 2025).warnings
    assert [(w.area, w.risk) for w in every] == [("360100", "reserve_critical")]
    # more money comes in: re-evaluating the month replaces its warning
    post(uow, "360100", dt.date(2025, 1, 31), income=700_000)
    assert fund_warnings.evaluate(uow, 2025, "360100").warnings == []
    assert fund_warnings.stored(uow, 2025) == []
    with pytest.raises(InvalidField, match="area"):
        fund_warnings.stored(uow, 2025, "36010")


# ------------------------------------------------------------- the services' postings

AREA = "360100"
EMPLOYER = "91360100MA35000001"


def _ledger_by_month(engine: Engine) -> dict[tuple[str, int, int], list[int]]:
    """Per fund kind and month of 2025: [income, expenditure], summed posting by posting."""
    rows = (
        select(
            AccountRow.kind,
            LedgerTransactionRow.kind,
            LedgerTransactionRow.occurred_on,
            PostingRow.amount,
        )
        .join(AccountRow, AccountRow.id == PostingRow.account_id)
        .join(LedgerTransactionRow, LedgerTransactionRow.id == PostingRow.transaction_id)
    )
    out: dict[tuple[str, int, int], list[int]] = defaultdict(lambda: [0, 0])
    with engine.connect() as conn:
        for kind, txn_kind, on, amount in conn.execute(rows):
            day = on if isinstance(on, dt.date) else dt.date.fromisoformat(on)
            sums = out[(kind, day.year, day.month)]
            if txn_kind == "opening_balance":  # a balance brought in: neither
                continue
            if txn_kind == "settlement_reversal" or amount > 0:
                sums[1] += amount
            else:
                sums[0] -= amount
    return out


def test_analysis_equals_the_ledger_after_the_services(uow: UnitOfWork, engine: Engine) -> None:
    emp = registry.add_person(uow, nid(1), "职工1").label
    enrolment.enrol(uow, emp, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, 7):
        contributions.pay_employee(uow, emp, dt.date(2024, m, 1), 800_000, dt.date(2024, m, 20))
    for m in (1, 2, 3):
        contributions.pay_employee(uow, emp, dt.date(2025, m, 1), 800_000, dt.date(2025, m, 20))
    res = registry.add_person(uow, nid(2, dt.date(2010, 5, 5)), "居民2").label
    enrolment.enrol(uow, res, "resident", AREA, dt.date(2023, 10, 1))
    contributions.pay_resident(uow, res, 2025, dt.date(2024, 11, 1))
    s1 = settlement.settle(
        uow,
        Claim(person=emp, date=dt.date(2025, 3, 1), total=200_000, med_type="inpatient", level=2),
    )
    s2 = settlement.settle(
        uow,
        Claim(person=res, date=dt.date(2025, 5, 10), total=300_000, med_type="inpatient", level=2),
    )
    s3 = settlement.settle(
        uow,
        Claim(person=emp, date=dt.date(2025, 5, 12), total=50_000, med_type="inpatient", level=2),
    )
    settlement.reverse(uow, s3.setl_id, on=dt.date(2025, 6, 2))
    assert ledger.reconcile(uow).ok
    assert_totals_kept(uow)

    a = fund_analysis.analyse(uow, 2025, AREA)
    assert a.through == 6
    by_month = _ledger_by_month(engine)
    for x in a.lines:
        for m in x.months:
            assert [m.income, m.expenditure] == by_month.get((x.fund.value, 2025, m.month), [0, 0])
    # by hand from the settlement answers: the pooling funds paid their layers in their months
    emp_pool = line(a, AccountKind.EMPLOYEE_POOLING, AREA)
    res_pool = line(a, AccountKind.RESIDENT_POOLING, AREA)
    hifp = {s.setl_id: s.answer.amounts["hifp_pay"] for s in (s1, s2, s3)}
    assert emp_pool.months[2].expenditure == hifp[s1.setl_id]
    assert emp_pool.months[4].expenditure == hifp[s3.setl_id]
    assert emp_pool.months[5].expenditure == -hifp[s3.setl_id]  # the reversal in June
    assert res_pool.months[4].expenditure == hifp[s2.setl_id]
    # each line's balance at the end of June is its accounts' stored balance
    with uow:
        stored = {x.ref.code: x.natural_balance for x in uow.ledger.accounts(AREA)}
        personal = -uow.ledger.personal_totals()[1]
    for x in a.lines:
        want = personal if x.fund is AccountKind.PERSONAL_ACCOUNT else stored[f"{x.fund}:{AREA}"]
        assert x.months[-1].balance == want
    # and at 1 January: what 2024 left (the resident's 2025 contribution was paid in 2024)
    with engine.connect() as conn:
        before = dict(
            conn.execute(
                select(AccountRow.kind, -func.sum(PostingRow.amount))
                .join(AccountRow, AccountRow.id == PostingRow.account_id)
                .join(LedgerTransactionRow, LedgerTransactionRow.id == PostingRow.transaction_id)
                .where(LedgerTransactionRow.occurred_on < dt.date(2025, 1, 1))
                .group_by(AccountRow.kind)
            ).all()
        )
    for x in a.lines:
        assert x.opening_balance == int(before.get(x.fund.value, 0))


def test_generated_area_settled_for_a_year(uow: UnitOfWork, engine: Engine, tmp_path: Path) -> None:
    """A generated area loaded (a year of contributions, opening balances brought in) and its
    year of claims settled through the services: every month of every fund is the ledger's."""
    generate(tmp_path, SynthConfig(AREA, 80, 2025, seed=3, chunk_size=80))
    load_area(tmp_path, engine, migrate=False)
    persons = pa.concat_tables(
        [pq.read_table(f) for f in sorted((tmp_path / "persons").glob("part-*.parquet"))]
    )
    nids = dict(zip(persons["psn_no"].to_pylist(), persons["national_id"].to_pylist(), strict=True))
    claims = pa.concat_tables(
        [pq.read_table(f) for f in sorted((tmp_path / "claims").glob("part-*.parquet"))]
    ).to_pylist()
    requests = [
        ClaimRequest(
            Claim(
                person=nids[c["psn_no"]],
                date=c["date"],
                total=c["total"],
                med_type=c["med_type"],
                level=c["level"],
                fully_self_paid=c["fully_self_paid"],
                over_limit=c["over_limit"],
                category_b=c["category_b"],
                cross_region=c["cross_region"],
                fixmedins_code=c["fixmedins_code"],
            ),
            f"claim-{c['claim_id']}",
        )
        for c in claims
    ]
    outcomes = settlement.settle_many(uow, requests)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert ledger.reconcile(uow).ok
    assert_totals_kept(uow)

    a = fund_analysis.analyse(uow, 2025)
    assert a.through == 12
    by_month = _ledger_by_month(engine)
    funds = {x.fund for x in a.lines}
    assert {AccountKind.PERSONAL_ACCOUNT, AccountKind.RESIDENT_POOLING} <= funds
    with uow:
        stored = {x.ref.code: x.natural_balance for x in uow.ledger.accounts(AREA)}
        personal = -uow.ledger.personal_totals()[1]
    for x in a.lines:
        assert x.area == AREA
        for m in x.months:
            assert [m.income, m.expenditure] == by_month.get((x.fund.value, 2025, m.month), [0, 0])
        want = personal if x.fund is AccountKind.PERSONAL_ACCOUNT else stored[f"{x.fund}:{AREA}"]
        assert x.months[-1].balance == want
        assert x.projection == Projection(want, "actual")


def test_the_migration_counts_what_was_posted_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before.sqlite'}"
    upgrade(url)
    uow = UnitOfWork.for_url(url)
    flat_year(uow, "360100", 290_000)
    emp = registry.add_person(uow, nid(1), "职工1").label
    enrolment.enrol(uow, emp, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    contributions.pay_employee(uow, emp, dt.date(2024, 1, 1), 800_000, dt.date(2024, 1, 20))
    with uow:
        kept = sorted(FundRepository(uow.session).month_totals(), key=repr)
    downgrade(url, "0008")
    upgrade(url)
    with uow:
        assert sorted(FundRepository(uow.session).month_totals(), key=repr) == kept
    assert {m.area for m in kept} == {"360100"}  # the personal account's too
    assert AccountKind.PERSONAL_ACCOUNT in {m.fund for m in kept}


# --------------------------------------------------------------------------- budgets

GOOD = (
    "year,area,fund,income,expenditure\n"
    "2025,360600,resident_pooling,12000.00,11500.50\n"
    "2025,360600,employee_pooling,0,0\n"
)
#: a province's yearly pooling income is far above one claim's limit (一亿元)
BIG = "year,area,fund,income,expenditure\n2025,340000,resident_adjustment,9000000000000.00,1\n"


def test_budgets_against_the_ledger(uow: UnitOfWork) -> None:
    area = "360600"
    for m in (1, 2, 3):
        post(uow, area, dt.date(2025, m, 10), income=100_000, spent=150_000)
    assert len(fund_budgets.import_budgets(uow, GOOD)) == 2
    # entering one again replaces it
    fund_budgets.set_budget(
        uow, fund_budgets.budget(2025, area, "resident_pooling", "12000", "18000.00")
    )
    [emp, res] = fund_budgets.compare(uow, 2025, area)
    assert (emp.budget.fund, res.budget.fund) == (AccountKind.EMPLOYEE_POOLING, POOL)
    assert [(m.income_budget, m.income_actual) for m in res.months] == [
        (100_000, 100_000),
        (200_000, 200_000),
        (300_000, 300_000),
    ]
    # 1,800,000 × m / 12
    assert [(m.expenditure_budget, m.expenditure_actual) for m in res.months] == [
        (150_000, 150_000),
        (300_000, 300_000),
        (450_000, 450_000),
    ]
    d = res.as_dict()
    assert (d["income_execution_pct"], d["expenditure_execution_pct"]) == ("25.0", "25.0")
    assert emp.as_dict()["income_execution_pct"] is None  # nothing budgeted
    [big] = fund_budgets.import_budgets(uow, BIG)
    assert big.income == 900_000_000_000_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year,area,fund,income\n", "line 1: the header must be"),
        (GOOD + "2025,360600,resident_pooling,1,1\n", "line 4, fund: resident_pooling of 360600"),
        (GOOD + "2025,36060,resident_pooling,1,1\n", "line 4, area: must be a 6-digit"),
        (GOOD + "2025,360600,pooling,1,1\n", "line 4, fund: 'pooling' is not a fund"),
        (GOOD + "2025,360600,large_amount,-5,1\n", "line 4, income: must not be negative"),
        (GOOD + "2025,360600,large_amount,1,1.234\n", "line 4, expenditure:"),
        (GOOD + "2025,360600,large_amount,1,1e9\n", "line 4, expenditure:"),
        (GOOD + "2025,360600,large_amount,1,10000000000000.01\n", "line 4, expenditure: 1"),
        (GOOD + "2025,360600,large_amount,1,\n", "line 4, expenditure: missing"),
        (
            GOOD + "2025,360600,large_amount,1,1\x00\n",
            "line 4, expenditure: '1.x00'",
        ),
        (GOOD + "2025,360600,large_amount,1,1２\n", "line 4, expenditure:"),
        (GOOD + "20x5,360600,large_amount,1,1\n", "line 4, year:"),
        (GOOD + "9999,360600,large_amount,1,1\n", "line 4, year: must be a year"),
        (GOOD + "2025,360600,large_amount,1\n", "line 4: 4 fields, expected 5"),
    ],
)
def test_bad_budget_files_store_nothing(uow: UnitOfWork, text: str, message: str) -> None:
    with pytest.raises(BudgetFileRefused, match=message):
        fund_budgets.import_budgets(uow, text)
    assert fund_budgets.compare(uow, 2025) == []


# ------------------------------------------------------------------ command line, API


def run(db_url: str, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--db", db_url, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else result.stderr


def test_commands(db_url: str, uow: UnitOfWork, tmp_path: Path) -> None:
    flat_year(uow, "360100", 290_000)
    chart = tmp_path / "funds.png"
    out = run(db_url, "funds", "analysis", "--year", "2025", "--chart", str(chart))
    [pool] = [f for f in out["funds"] if f["fund"] == "resident_pooling"]
    assert pool["months"][0]["balance"] == "2900.00"
    assert pool["months"][0]["reserve_months"] == "2.9"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    warned = run(db_url, "funds", "warnings", "--year", "2025", "--area", "360100")
    assert [w["risk"] for w in warned["warnings"]] == ["reserve_critical"]
    listed = run(db_url, "funds", "warnings", "--year", "2025", "--stored")
    assert listed["warnings"] == warned["warnings"]
    budgets = tmp_path / "budgets.csv"
    budgets.write_text(GOOD.replace("360600", "360100"), encoding="utf-8")
    assert run(db_url, "funds", "budget", "import", str(budgets)) == {"imported": 2}
    shown = run(db_url, "funds", "budget", "show", "--year", "2025")
    assert [b["fund"] for b in shown["budgets"]] == ["employee_pooling", "resident_pooling"]
    budgets.write_text(GOOD + "2025,360100,x,1,1\n", encoding="utf-8")
    assert "line 4, fund" in run(db_url, "funds", "budget", "import", str(budgets), code=2)
    assert "year" in run(db_url, "funds", "analysis", "--year", "20000", code=2)
    assert "chart" in run(db_url, "funds", "analysis", "--year", "2025", "--chart", "x.gif", code=2)
    assert "area" in run(db_url, "funds", "warnings", "--year", "2025", "--area", "abc", code=2)


def test_api_for_fund_managers_only(db_url: str, engine: Engine, uow: UnitOfWork) -> None:
    api: Api = make_api(db_url, engine)
    flat_year(uow, "360100", 290_000)
    fund_warnings.evaluate(uow, 2025)
    manager = api.staff(Role.FUND_MANAGER)
    r = api.staff_get(manager, "/api/v1/funds/analysis?year=2025&area=360100")
    assert r.status_code == 200, r.text
    [pool] = [f for f in r.json()["funds"] if f["fund"] == "resident_pooling"]
    assert pool["months"][0]["reserve_months"] == "2.9"
    r = api.staff_get(manager, "/api/v1/funds/warnings?year=2025")
    assert [w["risk"] for w in r.json()["warnings"]] == ["reserve_critical"]
    assert api.staff_get(manager, "/api/v1/funds/budgets?year=2025").json()["budgets"] == []
    assert api.staff_get(manager, "/api/v1/funds/analysis?year=2025&area=x").status_code == 400
    assert api.staff_get(manager, "/api/v1/funds/analysis?year=99999").status_code == 400
    inst = api.institution()
    for path in ("analysis", "warnings", "budgets"):
        assert api.get(inst, f"/api/v1/funds/{path}?year=2025").status_code == 403
    clerk = api.staff(Role.ENROLMENT_CLERK)
    assert api.staff_get(clerk, "/api/v1/funds/analysis?year=2025").status_code == 403
    assert api.client.get("/api/v1/funds/analysis?year=2025").status_code == 401
