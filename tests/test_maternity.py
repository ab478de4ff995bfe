"""The maternity allowance (生育津贴): the rule against hand computations, ``yibao calc
maternity`` as back-office.md §8, and the use case on SQLite and PostgreSQL (one ledger
transaction per birth, the ledger reconciling, a non-employee refused)."""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.cli import app
from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.policy import Policy
from yibao.rules.maternity import Birth, average_monthly_wage, leave_days, maternity_allowance
from yibao.services import contributions, enrolment, ledger, maternity, registry
from yibao.store.models import LedgerTransactionRow
from yibao.store.uow import UnitOfWork

NATIONAL = Policy("000000")
BEIJING = Policy("110000")
D = dt.date(2025, 5, 1)


@pytest.mark.parametrize(
    ("policy", "birth", "days"),
    [
        (NATIONAL, Birth(D), 98),
        (NATIONAL, Birth(D, difficult=True), 98 + 15),
        (NATIONAL, Birth(D, babies=2), 98 + 15),  # twins
        (NATIONAL, Birth(D, difficult=True, babies=2), 98 + 15 + 15),  # the spec's example
        (NATIONAL, Birth(D, babies=3), 98 + 15 * 2),  # triplets
        (NATIONAL, Birth(dt.date(2012, 4, 27)), 90),  # the 1988 provisions' 90 days
        (NATIONAL, Birth(dt.date(2012, 4, 28)), 98),  # the 2012 provisions in force
        (BEIJING, Birth(D), 98 + 60),  # Beijing's 60 days of extended leave
        (BEIJING, Birth(D, difficult=True, babies=2), 98 + 15 + 15 + 60),
        (BEIJING, Birth(dt.date(2021, 11, 25)), 98),  # before the 2021 regulation
    ],
)
def test_leave_days(policy: Policy, birth: Birth, days: int) -> None:
    assert leave_days(policy, birth) == days


@pytest.mark.parametrize(
    ("wage", "birth", "daily", "allowance"),
    [
        # 876543 × 128 ÷ 30 = 3739916.8 → 3739917 fen; daily 876543 ÷ 30 = 29218.1 → 29218
        (876543, Birth(D, difficult=True, babies=2), 29218, 3739917),
        # 600000 × 98 ÷ 30 = 1960000 exactly; daily 20000
        (600000, Birth(D), 20000, 1960000),
        # 700001 × 113 ÷ 30 = 2636670.43.. → 2636670 (difficult); daily 23333.36.. → 23333
        (700001, Birth(D, difficult=True), 23333, 2636670),
        # 700005 × 113 ÷ 30 = 2636685.5 → 2636686 (half up); daily 23333.5 → 23334
        (700005, Birth(D, babies=2), 23334, 2636686),
        (0, Birth(D), 0, 0),
    ],
)
def test_allowance_hand_computed(wage: int, birth: Birth, daily: int, allowance: int) -> None:
    r = maternity_allowance(NATIONAL, wage, birth)
    assert (r.daily, r.allowance) == (daily, allowance)


@given(
    wage=st.integers(min_value=0, max_value=10_000_000_00),
    difficult=st.booleans(),
    babies=st.integers(min_value=1, max_value=9),
)
def test_allowance_within_half_a_fen_of_the_exact_amount(
    wage: int, difficult: bool, babies: int
) -> None:
    r = maternity_allowance(NATIONAL, wage, Birth(D, difficult, babies))
    exact = Fraction(wage * r.leave_days, 30)
    assert -Fraction(1, 2) < r.allowance - exact <= Fraction(1, 2)
    assert r.leave_days == 98 + 15 * difficult + 15 * (babies - 1)


def test_average_monthly_wage_rounds_once_half_up() -> None:
    # (800000 × 2 + 900001) ÷ 3 = 833333.67 → 833334
    assert average_monthly_wage(800000 * 2 + 900001, 3) == 833334
    with pytest.raises(InvalidField, match="months"):
        average_monthly_wage(0, 0)


@pytest.mark.parametrize("babies", [0, -1, 10, True])
def test_bad_babies_refused(babies: Any) -> None:
    with pytest.raises(InvalidField, match="babies"):
        Birth(D, babies=babies)


def _calc(scenario: Any, tmp_path: Path) -> tuple[int, str, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario) if not isinstance(scenario, str) else scenario)
    result = CliRunner().invoke(app, ["calc", "maternity", str(path)])
    return result.exit_code, result.stdout, result.stderr


SPEC = {
    "region": "000000",
    "employer_avg_monthly_wage": 8765.43,
    "birth": {"date": "2025-05-01", "difficult": True, "babies": 2},
}


def test_calc_maternity_is_the_spec_example(tmp_path: Path) -> None:
    code, out, _ = _calc(SPEC, tmp_path)
    assert code == 0
    assert json.loads(out) == {"leave_days": 128, "daily": "292.18", "allowance": "37399.17"}


def test_calc_maternity_shipped_example(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "src/yibao/calc/examples/maternity.yaml"
    code, out, _ = _calc(example.read_text(encoding="utf-8"), tmp_path)
    assert code == 0 and json.loads(out)["allowance"] == "37399.17"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"employer_avg_monthly_wage": -1}, "employer_avg_monthly_wage: must not be negative"),
        ({"employer_avg_monthly_wage": None}, "employer_avg_monthly_wage: missing"),
        ({"birth": {"date": "2025-05-01", "babies": 0}}, "birth.babies:"),
        ({"birth": {"date": "2025-05-01", "twins": True}}, "birth.twins: unknown field"),
        ({"salary": 1}, "salary: unknown field"),
        ({"birth": {"date": "1990-05-01"}}, "birth.date: 1990-05-01 is before the parameters"),
        ({"birth": {"date": "2025-02-30"}}, "birth.date"),
        ({"birth": {"date": "2025-05-01", "difficult": "yes"}}, "birth.difficult:"),
        ({"region": "999999"}, "region: unknown region"),
    ],
)
def test_calc_maternity_bad_scenario_exits_2_naming_the_field(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    code, out, err = _calc({**SPEC, **change}, tmp_path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err


EMPLOYER = "91360100MA35000001"
AREA = "360100"


def _employee(uow: UnitOfWork, n: int, wages: list[int]) -> str:
    """An employee of EMPLOYER since 2024-01-01, the months of 2024 paid at ``wages`` (each
    inside the 2024 base floor 6034.90 and ceiling 30174.50 yuan: the base is the wage)."""
    who = registry.add_person(uow, nid(n, dt.date(1995, 3, 3)), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m, wage in enumerate(wages, start=1):
        contributions.pay_employee(uow, who, dt.date(2024, m, 1), wage, dt.date(2024, m, 20))
    return who


def _transactions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(LedgerTransactionRow)) or 0)


def _fund(uow: UnitOfWork, kind: AccountKind) -> int:
    with uow:
        account = uow.ledger.account(AccountRef.fund(kind, AREA))
        return account.natural_balance if account else 0


def test_allowance_paid_once_from_the_employers_contributions(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _employee(uow, 2, [800000, 800000])
    _employee(uow, 4, [900001])
    # the employer's 2024 months: (800000 + 800000 + 900001) ÷ 3 = 833333.67 → 833334 fen
    pool, cash = _fund(uow, AccountKind.EMPLOYEE_POOLING), _fund(uow, AccountKind.CASH)
    paid = maternity.pay_allowance(uow, mother, Birth(D, difficult=True, babies=2))
    # 833334 × 128 ÷ 30 = 3555558.4 → 3555558 fen
    assert (paid.wage, paid.wage_source, paid.leave_days) == (833334, "store", 128)
    assert paid.allowance == 3555558
    assert _fund(uow, AccountKind.EMPLOYEE_POOLING) == pool - 3555558
    assert _fund(uow, AccountKind.CASH) == cash - 3555558
    before = _transactions(engine)
    with pytest.raises(maternity.AllowanceAlreadyPaid, match="is paid"):
        maternity.pay_allowance(uow, mother, Birth(D, difficult=True, babies=2))
    assert _transactions(engine) == before
    assert ledger.reconcile(uow).ok


def test_allowance_on_a_given_wage_when_the_store_has_no_year(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _employee(uow, 2, [])
    with pytest.raises(InvalidField, match="no contributions of employer"):
        maternity.pay_allowance(uow, mother, Birth(D))
    paid = maternity.pay_allowance(uow, mother, Birth(D), wage=876543)
    # 876543 × 98 ÷ 30 = 2863373.8 → 2863374 fen
    assert (paid.wage_source, paid.allowance) == ("given", 2863374)
    assert ledger.reconcile(uow).ok


def test_refused_clearly_and_nothing_stored(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _employee(uow, 2, [800000])
    resident = registry.add_person(uow, nid(6, dt.date(1996, 1, 1)), "居民6").label
    enrolment.enrol(uow, resident, "resident", AREA, dt.date(2024, 1, 1))
    flexible = registry.add_person(uow, nid(8, dt.date(1996, 1, 1)), "灵活8").label
    enrolment.enrol(uow, flexible, "flexible", AREA, dt.date(2024, 1, 1))
    never = registry.add_person(uow, nid(10, dt.date(1996, 1, 1)), "未参保10").label
    before = _transactions(engine)
    with pytest.raises(maternity.AllowanceRefused, match="maternity allowance is for employees"):
        maternity.pay_allowance(uow, resident, Birth(D), wage=800000)
    with pytest.raises(maternity.AllowanceRefused, match="maternity allowance is for employees"):
        maternity.pay_allowance(uow, flexible, Birth(D), wage=800000)
    with pytest.raises(maternity.AllowanceRefused, match="not insured"):
        maternity.pay_allowance(uow, never, Birth(D), wage=800000)
    with pytest.raises(InvalidField, match="birth_date: 2025-06-02 is in the future"):
        maternity.pay_allowance(uow, mother, Birth(dt.date(2025, 6, 2)))
    with pytest.raises(maternity.AllowanceRefused, match="not insured"):
        maternity.pay_allowance(uow, mother, Birth(dt.date(2023, 12, 31)), wage=800000)
    with pytest.raises(InvalidField, match="wage: must be a positive amount"):
        maternity.pay_allowance(uow, mother, Birth(D), wage=-5)
    assert _transactions(engine) == before
    assert ledger.reconcile(uow).ok


def test_cli_allowance(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    from yibao.store.db import make_engine

    engine = make_engine(db_url)
    try:
        mother = _employee(UnitOfWork.for_engine(engine), 2, [700000])
    finally:
        engine.dispose()
    args = ["maternity", "allowance", "--person", mother, "--birth-date", "2025-05-01"]
    result = CliRunner().invoke(app, [*args, "--db", db_url, "--json"])
    assert result.exit_code == 0, result.stderr
    # the base of the one month is the wage (inside the 2024 floor and ceiling):
    # 700000 × 98 ÷ 30 = 2286666.67 → 2286667 fen
    assert json.loads(result.stdout)["allowance"] == "22866.67"
    again = CliRunner().invoke(app, [*args, "--db", db_url, "--json"])
    assert again.exit_code == 2 and "is paid" in json.loads(again.stderr)["error"]
    bad = CliRunner().invoke(app, [*args, "--babies", "0", "--db", db_url, "--json"])
    assert bad.exit_code == 2 and "babies: must be 1 to 9" in json.loads(bad.stderr)["error"]
