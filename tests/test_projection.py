"""``yibao project``: the funds' path year by year from an area's settled year."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from yibao.batch.projection import (
    AGES,
    FUNDS,
    Assumptions,
    Cells,
    assumptions,
    gompertz_q,
    life_expectancy,
    project,
    project_cells,
)
from yibao.batch.simulation.contributions import CATEGORIES
from yibao.batch.simulation.engine import scenario
from yibao.batch.simulation.local import area_meta, simulate_area
from yibao.cli import app
from yibao.policy import Policy
from yibao.policy.params import fen_to_yuan
from yibao.rules.funds import reserve_months
from yibao.synth import SynthConfig, generate
from yibao.synth.calibrated import area_policy

YEAR = 2025
STATIC = {
    "growth.cost_factor": "1",
    "growth.wage_factor": "1",
    "growth.income_factor": "1",
    "enrolment_drift.employee_factor": "1",
    "enrolment_drift.resident_factor": "1",
    "ageing": "false",
}
RESIDENT = CATEGORIES.index("resident")


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("project")
    generate(out, SynthConfig("360100", 4_000, YEAR, seed=5, chunk_size=2_000))
    return out


def yuan(text: str) -> int:
    return int(Decimal(text) * 100)


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["project", *args])


def test_zero_growth_keeps_the_balance_moving_only_by_the_surplus(area: Path) -> None:
    result = project(area, 4, overrides=STATIC).report()
    # the settled year equals the simulation's baseline (the one kernel, the contribution rules)
    # under the area's policy (the region's, the generated area's calibrated benefits on top)
    policy = area_policy("360100", area_meta(area))
    acc = simulate_area(area, [scenario("baseline", policy, YEAR)], YEAR)
    for f, fund in enumerate(FUNDS):
        sums = acc.sums[0][f]
        income = sums["contributions"] - sums["account_credits"]
        spent = sums["hifp_pay"] + sums["hifmi_pay"] + sums["hifob_pay"]
        rows = result["scenarios"][0]["funds"][fund]
        months = {"employee": 18, "resident": 9}[fund]
        opening = (months * spent + 6) // 12  # half up (spent ≥ 0)
        balance = opening
        for r in rows:
            assert yuan(r["income"]) == income
            assert yuan(r["expenditure"]) == spent
            assert yuan(r["surplus"]) == income - spent
            balance += income - spent
            assert yuan(r["balance"]) == balance
            assert r["reserve_months"] == str(reserve_months(balance, spent))


def test_a_two_year_projection_by_hand(area: Path) -> None:
    overrides = {
        **STATIC,
        "growth.cost_factor": "1.2",
        "growth.wage_factor": "1.1",
        "growth.income_factor": "1.05",
        "enrolment_drift.resident_factor": "0.9",
        "opening_reserve_months.employee": "12",
        "opening_reserve_months.resident": "6",
    }
    base = project(area, 1, overrides=STATIC).report()["scenarios"][0]["funds"]
    two = project(area, 2, overrides=overrides).report()["scenarios"][0]["funds"]
    for fund, grow_in, drift, months in (
        ("employee", Decimal("1.1"), Decimal(1), 12),
        ("resident", Decimal("1.05"), Decimal("0.9"), 6),
    ):
        inc0, spent0 = yuan(base[fund][0]["income"]), yuan(base[fund][0]["expenditure"])
        y0, y1 = two[fund]
        opening = (months * spent0 + 6) // 12
        assert (yuan(y0["income"]), yuan(y0["expenditure"])) == (inc0, spent0)
        assert yuan(y0["balance"]) == opening + inc0 - spent0
        # year 2: persons × drift, income × growth, spending × 1.2, half up to the fen
        inc1 = int((inc0 * drift * grow_in).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
        spent1 = int((spent0 * drift * Decimal("1.2")).quantize(Decimal(1), "ROUND_HALF_UP"))
        assert abs(yuan(y1["income"]) - inc1) <= 1  # floats: within a fen
        assert abs(yuan(y1["expenditure"]) - spent1) <= 1
        assert yuan(y1["surplus"]) == yuan(y1["income"]) - yuan(y1["expenditure"])
        assert yuan(y1["balance"]) == yuan(y0["balance"]) + yuan(y1["surplus"])
        assert y1["year"] == YEAR + 1


def _hand_cells(income_pp: int, spent_pp: int, persons: int) -> Cells:
    cells = Cells.empty(1)
    cells.persons[RESIDENT, 1, 30] = persons  # men aged 30, residents
    cells.income[0, RESIDENT, 1, 30] = income_pp * persons
    cells.spent[0, RESIDENT, 1, 30] = spent_pp * persons
    return cells


def test_ageing_by_hand() -> None:
    a = assumptions(Policy("000000"), dt.date(YEAR, 1, 1), {
        **STATIC, "ageing": "true", "births_per_thousand": "10", "boys_per_hundred_girls": "100",
    })  # fmt: skip
    cells = _hand_cells(100_000, 80_000, 1000)  # 1,000 yuan in, 800 out a person-year
    rows = project_cells(cells, a, YEAR, 2, ["baseline"])[0].funds["resident"]
    q = gompertz_q(75.37, 0.0045, 0.085)
    survivors = 1000 * (1 - q[30])
    births = 1000 * 10 / 1000  # 10 newborns, half boys: their band 0-4 has no profile
    assert rows[1].persons == round(survivors + births)
    # the survivors are aged 31, in the same 5-year band (30-34): same profile per person
    assert abs(rows[1].income - survivors * 100_000) <= 1
    assert abs(rows[1].expenditure - survivors * 80_000) <= 1


def test_life_tables_meet_the_published_life_expectancy() -> None:
    for e0 in (75.37, 80.88):
        q = gompertz_q(e0, 0.0045, 0.085)
        assert life_expectancy(q) == pytest.approx(e0, abs=1e-6)
        assert q[0] == 0.0045 and q[-1] == 1.0 and np.all(np.diff(q[1:]) > 0)


@settings(max_examples=40, deadline=None)
@given(
    cost=st.decimals("0.8", "1.3", places=3),
    wage=st.decimals("0.8", "1.3", places=3),
    drift=st.decimals("0.9", "1.1", places=3),
    ageing=st.booleans(),
    persons=st.integers(1, 10_000),
    income_pp=st.integers(0, 500_000),
    spent_pp=st.integers(0, 500_000),
)
def test_balance_moves_only_by_the_surplus(
    cost: Decimal,
    wage: Decimal,
    drift: Decimal,
    ageing: bool,
    persons: int,
    income_pp: int,
    spent_pp: int,
) -> None:
    a = Assumptions({
        **assumptions(Policy("000000"), dt.date(YEAR, 1, 1)).values,
        "growth.cost_factor": cost, "growth.income_factor": wage,
        "enrolment_drift.resident_factor": drift, "ageing": Decimal(int(ageing)),
    })  # fmt: skip
    cells = _hand_cells(income_pp, spent_pp, persons)
    rows = project_cells(cells, a, YEAR, 6, ["baseline"])[0].funds["resident"]
    opening = (9 * spent_pp * persons + 6) // 12
    balance = opening
    for r in rows:
        assert r.surplus == r.income - r.expenditure
        balance += r.surplus
        assert r.balance == balance
        assert r.reserve_months == reserve_months(r.balance, r.expenditure)


def test_a_reform_applies_from_its_year_of_effect(area: Path, tmp_path: Path) -> None:
    reform = tmp_path / "subsidy.yaml"
    reform.write_text(
        "name: subsidy +100\npolicy:\n  resident:\n    contribution:\n      fiscal_subsidy: 800\n",
        encoding="utf-8",
    )
    result = project(area, 4, [reform], effective=YEAR + 2, overrides=STATIC).report()
    base, reformed = (s["funds"]["resident"] for s in result["scenarios"])
    assert result["scenarios"][1]["effective"] == YEAR + 2
    residents = base[0]["persons"]
    for b, r in zip(base, reformed, strict=True):
        extra = yuan(r["income"]) - yuan(b["income"])
        assert extra == (100 * 100 * residents if b["year"] >= YEAR + 2 else 0)
        assert r["expenditure"] == b["expenditure"]
    assert (
        result["scenarios"][0]["funds"]["employee"] == result["scenarios"][1]["funds"]["employee"]
    )


def test_the_command_prints_json_and_draws_the_chart(area: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_cli("--area", str(area), "--years", "3", "--json", "--out", str(out))
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert [r["year"] for r in body["scenarios"][0]["funds"]["employee"]] == [2025, 2026, 2027]
    assert body["assumptions"]["projection.growth.cost_factor"] == "1.06"
    assert "NBS2023-POP" in body["sources"]
    assert (out / "projection.png").stat().st_size > 10_000
    assert json.loads((out / "projection.json").read_text()) == body
    text = run_cli("--area", str(area), "--years", "2")
    assert text.exit_code == 0 and "resident fund" in text.stdout


def test_the_projection_s_calibration_comes_from_its_own_baseline(
    area: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The projection's calibration table is made of the sums of its own settlement of the
    baseline (equal to a separate settlement's, the test below): the area is not settled twice."""
    from yibao.synth import calibration as cal

    expected = cal.calibration_table(area)

    def settles(*_: Any) -> Any:
        raise AssertionError("the area settled again for the calibration table")

    monkeypatch.setattr(cal, "inpatient_fund_sums_by_level", settles)
    res = run_cli("--area", str(area), "--years", "1", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["calibration"] == json.loads(json.dumps(expected))


def test_the_projection_carries_the_calibration_table(area: Path) -> None:
    """As every simulation: the generated area's calibration table (published figure and
    source beside each row), in the JSON and printed; the benefits it was settled under."""
    from yibao.synth.calibration import calibration_table

    res = run_cli("--area", str(area), "--years", "1", "--json")
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    table = calibration_table(area)
    assert body["benefits"] == "calibrated"
    assert body["calibration"] == json.loads(json.dumps(table))
    ratio = [r for r in body["calibration"] if r["measure"].startswith("fund payment ratio")]
    assert len(ratio) == 8 and all(r["published"] and r["source"] for r in ratio)
    text = run_cli("--area", str(area), "--years", "1").stdout
    assert "calibration of the area against published figures" in text
    assert "benefits: calibrated" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--years", "0"], "--years: must be between 1 and 50, got 0"),
        (["--years", "51"], "--years: must be between 1 and 50"),
        (["--years", "3", "--set", "growth.cost_factor=2"], "projection.growth.cost_factor: must"),
        (["--years", "3", "--set", "growth.cost_factor=abc"], "must be a number"),
        (["--years", "3", "--set", "ageing=maybe"], "projection.ageing: must be true or false"),
        (["--years", "3", "--set", "retirement_age.male=60.5"], "must be a whole number"),
        (["--years", "3", "--set", "nonsense=1"], "projection.nonsense: unknown parameter"),
        (["--years", "3", "--set", "growth.cost_factor"], "--set: expected NAME=VALUE"),
        (["--years", "3", "--effective", "2020"], "--effective: must be a year from 2025"),
        (
            [
                "--years",
                "3",
                "--set",
                "mortality.life_expectancy.male=99",
                "--set",
                "mortality.infant=0.19",
            ],
            "cannot be reached",
        ),
    ],
)
def test_bad_parameters_are_refused_with_one_line(
    area: Path, args: list[str], message: str
) -> None:
    res = run_cli("--area", str(area), *args)
    assert res.exit_code == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr


def test_bad_area_and_reform_are_refused(area: Path, tmp_path: Path) -> None:
    res = run_cli("--area", str(tmp_path / "none"), "--years", "2")
    assert res.exit_code == 2 and "--area" in res.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npolicy:\n  resident:\n    nonsense: 1\n", encoding="utf-8")
    res = run_cli("--area", str(area), "--years", "2", "--reform", str(bad))
    assert res.exit_code == 2 and "unknown parameter" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_money_is_rendered_as_yuan(area: Path) -> None:
    row = project(area, 1, overrides=STATIC).report()["scenarios"][0]["funds"]["employee"][0]
    assert row["income"] == fen_to_yuan(yuan(row["income"]))
    assert AGES == 101
