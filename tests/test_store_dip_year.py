"""The DIP year-end settlement (年终清算) on SQLite and PostgreSQL, on a small hand-computed case
set: points, the point value, each case's standard, the institutions' settlements against
what the pooling fund advanced, the posting (once: a rerun posts nothing), the ledger
reconciled, and Σ settlements + Σ advances + Σ patients' shares = Σ points × point value."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_store_settlement import balances, resident
from yibao.cli import app
from yibao.domain.errors import InvalidField, NotFound
from yibao.domain.fees import Diagnosis, Procedure
from yibao.domain.settlement import Claim
from yibao.policy.group_tables import GroupTableRow
from yibao.services import demo, dip_year, ledger, settlement
from yibao.services.dip_group_file import parse_group_table
from yibao.services.fees import clinical
from yibao.store.repositories.payment_groups import PaymentGroupRepository
from yibao.store.uow import UnitOfWork

AREA = "360100"

TABLE = parse_group_table(
    {
        "groups": [
            {"code": "I21.0:36.0601", "weight": 2500, "avg_cost": 20000},
            {"code": "J18.9:-", "weight": 500, "avg_cost": 4000},
            {"code": "F20:bed", "per_day": 30},
        ],
        "institutions": [{"code": "H2", "coefficient": 1.05}],
    }
)


def case(
    uow: UnitOfWork,
    n: int,
    code: str,
    total: int,
    admitted: dt.date,
    discharged: dt.date,
    dx: str,
    proc: str | None,
) -> None:
    """A stay: registered (2201), discharged (2402), then settled on its discharge day."""
    who = resident(uow, n)
    visit = settlement.register_visit(uow, who, code, "inpatient", 2, admitted)
    procs = [Procedure(proc, admitted, True)] if proc else None
    clinical.discharge(uow, visit.mdtrt_id, discharged, "1", [Diagnosis(dx, True)], procs)
    claim = Claim(person=who, date=discharged, total=total, mdtrt_id=visit.mdtrt_id)
    settlement.settle(uow, claim, f"dip-{n}")


def year_2025(uow: UnitOfWork) -> None:
    """Residents, level 2, first admission: pooling fund (total − 400) × 75%, the rest the
    patient's:

    - H1: 10000.00 (05-10..05-20, I21.0 + 36.0601): fund 7200.00, patient 2800.00;
      30000.00 (06-01..06-11, same group): fund 22200.00, patient 7800.00;
    - H2 (coefficient 1.05): 10000.00 (05-20..07-25, F20.9: per-diem, 66 days) fund 7200.00,
      patient 2800.00; 4000.00 (06-10..06-15, J18.9, no procedure) fund 2700.00, patient 1300.00.
    """
    d = dt.date
    case(uow, 3, "H1", 1_000_000, d(2025, 5, 10), d(2025, 5, 20), "I21.0", "36.0601")
    case(uow, 5, "H1", 3_000_000, d(2025, 6, 1), d(2025, 6, 11), "I21.0", "36.0601")
    case(uow, 7, "H2", 1_000_000, d(2025, 5, 20), d(2025, 7, 25), "F20.9", None)
    case(uow, 9, "H2", 400_000, d(2025, 6, 10), d(2025, 6, 15), "J18.9", None)


def test_year_end_hand_computed_posted_once(uow: UnitOfWork, engine: Engine) -> None:
    year_2025(uow)
    before = balances(engine)
    done = dip_year.settle(uow, AREA, 2025, TABLE, budget=4_000_000, ratio=Decimal("0.8"))
    # points: 2500 + 2500 (normal: 10000 is not below 0.5 × 20000) + 30 × 66 × 1.05 = 2079
    # + 500 × 1.05 = 525: 7604; point value 40000 ÷ 0.8 ÷ 7604 = 6.575486586… → 6.575487
    assert done.total_points == 7604_0000 and done.point_value == 6_575487
    h1, h2 = done.institutions
    # standards 2500 × 6.575487 = 16438.7175 → 16438.72 (twice), 2079 × … = 13670.437473 →
    # 13670.44, 525 × … = 3452.130675 → 3452.13; fund due = standard − patient
    assert (h1.points, h1.standard, h1.fund_due, h1.advanced) == (
        5000_0000,
        3_287_744,
        1_363_872 + 863_872,
        720_000 + 2_220_000,
    )
    assert h1.settlement == 2_227_744 - 2_940_000 == -712_256
    assert (h2.points, h2.standard, h2.fund_due, h2.advanced, h2.per_diem_cases) == (
        2604_0000,
        1_367_044 + 345_213,
        1_087_044 + 215_213,
        990_000,
        1,
    )
    assert h2.settlement == 312_257
    # Σ fund due + Σ patients' shares = Σ standards = Σ round(points × point value), to the fen
    assert h1.fund_due + h2.fund_due + h1.patient_share + h2.patient_share == 5_000_001
    assert h1.standard + h2.standard == 5_000_001
    assert done.posted and h1.transaction_id and h2.transaction_id
    after = balances(engine)
    # H1 pays back 7122.56: the resident pooling fund takes it back (credit-normal, less
    # negative) and H1's payable account is debited; H2 is owed 3122.57
    assert after["institution_payable:H1"] - before["institution_payable:H1"] == 712_256
    assert after["institution_payable:H2"] - before["institution_payable:H2"] == -312_257
    pool = "resident_pooling:" + AREA
    assert after[pool] - before[pool] == 312_257 - 712_256
    assert ledger.reconcile(uow).ok

    again = dip_year.settle(uow, AREA, 2025, TABLE, budget=1, ratio=Decimal("0.5"))
    assert not again.posted and again.runs == 2
    assert again.point_value == done.point_value
    assert [i.settlement for i in again.institutions] == [-712_256, 312_257]
    assert balances(engine) == after
    stored = dip_year.statement(uow, AREA, 2025)
    assert stored is not None and stored.as_dict()["institutions"][1]["settlement"] == "3122.57"


def test_default_budget_and_ratio_from_the_year(uow: UnitOfWork) -> None:
    """Without a budget: budget_factor (1) × Σ advances = 39300.00; ratio Σ advances ÷ Σ costs
    = 39300 ÷ 54000 = 0.7278 (half up from 0.72777…)."""
    year_2025(uow)
    found = dip_year.compute_in(uow, AREA, 2025, TABLE)
    assert (found.budget, found.ratio, found.budget_source) == (3_930_000, 7278, "factor")


def test_refusals(uow: UnitOfWork) -> None:
    with pytest.raises(InvalidField, match="area"):
        dip_year.settle(uow, "36010", 2025, TABLE)
    with pytest.raises(InvalidField, match="not over"):
        dip_year.settle(uow, AREA, 2026, TABLE)
    with pytest.raises(InvalidField, match="no discharged"):
        dip_year.settle(uow, AREA, 2025, TABLE)
    year_2025(uow)
    for bad in ("NaN", "0", "1.5", "0.12345"):
        with pytest.raises(InvalidField, match="reimbursement_ratio"):
            dip_year.compute_in(uow, AREA, 2025, TABLE, ratio=Decimal(bad))
    with pytest.raises(InvalidField, match="area"):
        dip_year.settle(uow, "٣٦٠١٠٠", 2025, TABLE)  # Arabic-Indic digits
    small = parse_group_table({"groups": [{"code": "J18.9:-", "weight": 500, "avg_cost": 4000}]})
    with pytest.raises(InvalidField, match=r"no group for diagnosis I21\.0"):
        dip_year.settle(uow, AREA, 2025, small)
    assert dip_year.statement(uow, AREA, 2025) is None
    for bad in ({"groups": [{"code": "X", "weight": -1, "avg_cost": 1}]}, {"groups": 3}):
        with pytest.raises(InvalidField, match="groups"):
            parse_group_table(bad)


def test_command_json_and_chart(uow: UnitOfWork, db_url: str, tmp_path: Path) -> None:
    year_2025(uow)
    groups = tmp_path / "groups.yaml"
    groups.write_text(
        "groups:\n"
        "  - {code: 'I21.0:36.0601', weight: 2500, avg_cost: 20000}\n"
        "  - {code: 'J18.9:-', weight: 500, avg_cost: 4000}\n"
        "  - {code: 'F20:bed', per_day: 30}\n"
        "institutions: [{code: H2, coefficient: 1.05}]\n",
        encoding="utf-8",
    )
    chart = tmp_path / "dip.png"
    args = ["dip", "settle", "--year", "2025", "--area", AREA, "--groups", str(groups)]
    args += ["--budget", "40000", "--ratio", "0.8", "--db", db_url]
    r = CliRunner().invoke(app, [*args, "--json", "--chart", str(chart)])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["point_value"] == "6.575487" and body["posted"] is True
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "nothing posted" in again.output
    bad = CliRunner().invoke(app, [*args[:-4], "--budget", "-5", "--db", db_url])
    assert bad.exit_code == 2 and "budget" in bad.output


def test_the_stored_group_table_in_force(uow: UnitOfWork) -> None:
    """Without a file: the DIP table in force on 31 December (``yibao dip load``/``build``);
    F20.9 has no ``F20:bed`` row, so it takes provider_payment.per_diem.day_points (100) per
    day: 100 × 66 × 1.00 = 6600 points."""
    year_2025(uow)
    with pytest.raises(InvalidField, match="no DIP group table"):
        dip_year.compute_in(uow, AREA, 2025)
    rows = [
        GroupTableRow("group", "I21.0:36.0601", kind="core", score=2500_0000, avg_cost=2_000_000),
        GroupTableRow("group", "chapter:X", kind="comprehensive", score=500_0000, avg_cost=400_000),
    ]
    with uow:
        PaymentGroupRepository(uow.session).replace(
            "dip", AREA, dt.date(2025, 1, 1), "loaded", "t.csv", rows
        )
        uow.commit()
    found = dip_year.compute_in(uow, AREA, 2025, budget=4_000_000, ratio=Decimal("0.8"))
    # J18.9 (chapter X, respiratory) falls into the comprehensive group: 500 points
    assert found.total_points == (2500 + 2500 + 6600 + 500) * 10_000


def test_the_demo_year_end(uow: UnitOfWork, db_url: str) -> None:
    """The demo: nothing to settle without stays; with them, a table built from the year's own
    stays (all comprehensive: fewer than min_cases), settled once, then shown as stored."""
    assert demo.dip_year_end(db_url) is None
    year_2025(uow)
    first = demo.dip_year_end(db_url)
    assert first is not None and first.posted and first.cases == 4
    assert [i.institution for i in first.institutions] == ["H1", "H2"]
    again = demo.dip_year_end(db_url)
    assert again is not None and not again.posted and again.point_value == first.point_value
    assert ledger.reconcile(uow).ok


def test_year_end_balances_paid_out_of_cash_once(
    uow: UnitOfWork, engine: Engine, db_url: str
) -> None:
    """``yibao dip pay``: H1's reclaimed 7122.56 is paid back into cash:360100, H2's owed
    3122.57 paid out of it, each institution's payable account back where the year-end found
    it; once per institution; refused before the year-end, within the year and after today."""
    with pytest.raises(NotFound, match="DIP year-end"):
        dip_year.pay(uow, AREA, 2025, on=dt.date(2026, 1, 15))
    year_2025(uow)
    before = balances(engine)
    dip_year.settle(uow, AREA, 2025, TABLE, budget=4_000_000, ratio=Decimal("0.8"))
    for day, why in ((dt.date(2025, 12, 31), "within 2025"), (dt.date(9999, 1, 1), "after today")):
        with pytest.raises(InvalidField, match=why):
            dip_year.pay(uow, AREA, 2025, on=day)
    with pytest.raises(NotFound, match="H9"):
        dip_year.pay(uow, AREA, 2025, "H9", on=dt.date(2026, 1, 15))
    settled = balances(engine)
    h2 = dip_year.pay(uow, AREA, 2025, "H2", on=dt.date(2026, 1, 15))
    assert [(p.institution, p.posted, p.settlement) for p in h2] == [("H2", True, 312_257)]
    paid = dip_year.pay(uow, AREA, 2025, on=dt.date(2026, 1, 20))
    assert [(p.institution, p.posted) for p in paid] == [("H1", True), ("H2", False)]
    assert paid[1].payment == h2[0].payment  # H2's payment of the 15th, not paid again
    h1 = paid[0].payment
    assert h1 is not None and h1.amount == -712_256 and h1.paid_on == dt.date(2026, 1, 20)
    after = balances(engine)
    cash = "cash:" + AREA
    assert after[cash] - settled[cash] == 712_256 - 312_257
    for code in ("H1", "H2"):
        key = f"institution_payable:{code}"
        assert after[key] == before[key]
    assert ledger.reconcile(uow).ok
    again = dip_year.pay(uow, AREA, 2025, on=dt.date(2026, 2, 1))
    assert not any(p.posted for p in again) and balances(engine) == after
    r = CliRunner().invoke(
        app, ["dip", "pay", "--year", "2025", "--area", AREA, "--db", db_url, "--json"]
    )
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert [(p["institution"], p["paid"]["amount"], p["posted"]) for p in body] == [
        ("H1", "-7122.56", False),
        ("H2", "3122.57", False),
    ]
    bad = CliRunner().invoke(
        app, ["dip", "pay", "--year", "2025", "--area", AREA, "--on", "2026-13-01", "--db", db_url]
    )
    assert bad.exit_code == 2 and "on" in bad.output
