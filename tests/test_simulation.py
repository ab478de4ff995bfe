"""``yibao simulate`` (back-office.md §6): the seam, the aggregation and the command.

- a reform that changes nothing gives a zero difference;
- a reform that only raises a cap changes only the claims that reached it (property);
- the baseline's totals equal a plain batch settlement of the area;
- a tiny area computed by hand (contributions, every layer, burden);
- bad reforms refused with one line and exit 2 before any work.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from yibao.batch.area import parts, read_part
from yibao.batch.simulation import contributions as vec
from yibao.batch.simulation.aggregate import Accumulator
from yibao.batch.simulation.engine import PAYMENTS, scenario, settle_households
from yibao.batch.simulation.local import simulate_area
from yibao.batch.simulation.reform import Reform, check_reform
from yibao.batch.simulation.run import calibration, plan, report, settle
from yibao.cli import app
from yibao.kernel.reasons import BASIC_CAP
from yibao.kernel.settle import Claims, Persons, settle_claims
from yibao.kernel.tables import (
    DISEASE_UNCHECKED,
    MED_TYPES,
    SCHEME_INPUT,
    compile_tables,
    epoch_days,
)
from yibao.policy import Policy
from yibao.rules import contributions as rules
from yibao.synth import SynthConfig, generate

REGION, YEAR = "360100", 2025
EXAMPLES = Path(__file__).parents[1] / "src/yibao/calc/examples/reforms"


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "area"
    generate(out, SynthConfig(REGION, 3000, YEAR, 11, 1000))
    return out


def write_reform(folder: Path, name: str, doc: Any) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["simulate", *args], env={"COLUMNS": "200"})


# ------------------------------------------------------------------ no change, zero difference


def zero(tree: Any) -> bool:
    if isinstance(tree, dict):
        return all(zero(v) for v in tree.values())
    if isinstance(tree, list):
        return all(zero(v) for v in tree)
    return tree is None or tree == 0 or tree == "0.00"


def test_a_reform_that_changes_nothing_gives_zero_difference(area: Path, tmp_path: Path) -> None:
    rate = Policy(REGION).rate("employee.contribution.employer_rate", dt.date(YEAR, 1, 1))
    same = write_reform(
        tmp_path,
        "same",
        {"name": "same", "policy": {"employee": {"contribution": {"employer_rate": float(rate)}}}},
    )
    empty = write_reform(tmp_path, "empty", {"name": "nothing"})
    result = run_cli(str(same), str(empty), "--area", str(area), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [r["name"] for r in out["reforms"]] == ["same", "nothing"]
    for r in out["reforms"]:
        assert zero(r["delta"]), r["delta"]
        assert r["totals"] == out["baseline"]
        assert r["affected"]["persons"] == r["affected"]["households"] == 0
    assert out["baseline"]["contributions"] != "0.00"


# ------------------------------------------------------- raising a cap changes only capped claims


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(
        st.tuples(
            st.integers(0, 3),  # person
            st.integers(0, 364),  # day of the year
            st.sampled_from(("inpatient", "chronic", "outpatient")),
            st.integers(0, 2),  # level
            st.integers(0, 40_000_000),  # total, fen
        ),
        min_size=1,
        max_size=30,
    ),
    scheme=st.sampled_from(("resident", "employee", "retiree")),
    ratio=st.sampled_from(("6.5", "8", "20")),
)
def test_raising_a_cap_changes_only_claims_that_reached_it(
    data: list[tuple[int, int, str, int, int]], scheme: str, ratio: str
) -> None:
    data = sorted(data, key=lambda c: (c[0], c[1]))
    n = len(data)
    of = "economy.resident_disposable_income" if scheme == "resident" else "economy.average_wage"
    benefit = "resident" if scheme == "resident" else "employee"
    overlay = {
        "benefits": {
            benefit: {"inpatient": {"basic": {"annual_cap": {"of": of, "ratio": Decimal(ratio)}}}}
        }
    }
    reformed = compile_tables(check_reform(Reform("cap", overlay), REGION), YEAR)
    base = compile_tables(Policy(REGION), YEAR)
    keys = np.array([d[0] for d in data], dtype=np.int64)
    first = np.r_[True, keys[1:] != keys[:-1]]
    seg = np.cumsum(first) - 1
    start = epoch_days(dt.date(YEAR, 1, 1))
    zeros = np.zeros(n, dtype=np.int64)
    claims = Claims(
        person=seg,
        date=np.array([start + d[1] for d in data], dtype=np.int64),
        med_type=np.array([MED_TYPES.index(d[2]) for d in data], dtype=np.int64),
        level=np.array([d[3] for d in data], dtype=np.int64),
        cross_region=zeros,
        total=np.array([d[4] for d in data], dtype=np.int64),
        fully_self_paid=zeros,
        over_limit=zeros,
        category_b=zeros,
        disease=np.full(n, DISEASE_UNCHECKED, dtype=np.int64),
        listed_self_paid=zeros,
    )
    p = int(seg[-1]) + 1
    persons = Persons(
        scheme=np.full(p, SCHEME_INPUT[scheme], dtype=np.int64),
        aid_class=np.zeros(p, dtype=np.int64),
        account_balance=np.zeros(p, dtype=np.int64),
        use_account=np.zeros(p, dtype=np.bool_),
        mutual_aid_balance=np.zeros(p, dtype=np.int64),
        incentive_raise=np.zeros(p, dtype=np.int64),
        entitled_from=np.full(p, start - 1000, dtype=np.int64),
        com_deductible=np.zeros(p, dtype=np.int64),
        com_ratio=np.zeros(p, dtype=np.int64),
        com_cap=np.zeros(p, dtype=np.int64),
        com_covers=np.zeros(p, dtype=np.int64),
    )
    before = settle_claims(base, claims, persons)
    after = settle_claims(reformed, claims, persons)
    capped = (before.columns["reasons"] & BASIC_CAP) != 0
    for name in PAYMENTS:
        a, b = before.columns[name], after.columns[name]
        assert np.array_equal(a[~capped], b[~capped]), name
    # a claim the cap stopped never gets less from the basic fund when the cap is higher
    assert np.all(after.columns["hifp_pay"][capped] >= before.columns["hifp_pay"][capped])


# ------------------------------------------------------ baseline = a plain batch settlement


def test_baseline_totals_equal_a_plain_batch_settlement(area: Path, tmp_path: Path) -> None:
    """The baseline is the area's policy: the region's with the generated area's calibrated
    benefits on top (``synth.calibrated``), which pays more than the region's alone."""
    from yibao.batch.simulation.local import area_meta
    from yibao.synth.calibrated import area_policy

    meta = area_meta(area)
    assert meta["benefits"] == "calibrated"
    tables = compile_tables(area_policy(REGION, meta), YEAR)
    plain = compile_tables(Policy(REGION), YEAR)
    sums = dict.fromkeys(PAYMENTS, 0)
    claims_n = 0
    for persons_path, claims_path in parts(area):
        claims, persons = read_part(persons_path, claims_path)
        result = settle_claims(tables, claims, persons, explain=False)
        for name in PAYMENTS:
            sums[name] += int(result.columns[name].sum())
        claims_n += len(claims)
        region_only = settle_claims(plain, claims, persons, explain=False)
        assert result.columns["hifp_pay"].sum() > region_only.columns["hifp_pay"].sum()
    reform = write_reform(tmp_path, "r", {"name": "r", "policy": {}})
    p = plan(area, [reform])
    acc = settle(p, workers=2)
    assert acc.claims == claims_n
    for name in PAYMENTS:
        assert sum(acc.sums[0][s][name] for s in range(2)) == sums[name], name
    # and the seam on the whole area as one slice gives the same per-person sums
    claims_t = pa.concat_tables([pq.read_table(c) for _, c in parts(area)])
    persons_t = pa.concat_tables([pq.read_table(pp) for pp, _ in parts(area)])
    one = Accumulator(2)
    one.add(settle_households(claims_t, persons_t, p.scenarios, YEAR))
    assert one.sums == acc.sums
    assert report(p, one)["baseline"] == report(p, acc)["baseline"]


# ------------------------------------------------------------------ contributions as arrays


@settings(max_examples=40, deadline=None)
@given(
    wages=st.lists(st.integers(-1, 200_000_000), min_size=1, max_size=20),
    months=st.lists(st.integers(0, 12), min_size=20, max_size=20),
    rate=st.sampled_from((None, "0.07", "0.065", "0.0613")),
)
def test_contribution_arrays_equal_the_rules(
    wages: list[int], months: list[int], rate: str | None
) -> None:
    overlay = {"employee": {"contribution": {"employer_rate": Decimal(rate)}}} if rate else {}
    policy = Policy(REGION, overlays=[overlay] if overlay else [])
    rates = vec.compile_rates(policy, YEAR)
    n = len(wages)
    wage = np.array(wages, dtype=np.int64)
    first = np.array(months[:n], dtype=np.int64)
    for category in (vec.EMPLOYEE, vec.FLEXIBLE):
        cat = np.full(n, category, dtype=np.int64)
        got = vec.person_year(rates, cat, np.zeros(n, np.int64), wage, wage, first)
        for i in range(n):
            total = own = credit = 0
            for m in range(first[i], 12):
                on = dt.date(YEAR, m + 1, 1)
                monthly = int(vec.monthly_wage(wage[i : i + 1])[0])
                if category == vec.EMPLOYEE:
                    c = rules.employee_monthly(policy, on, monthly)
                    total, own = total + c.total, own + c.employee_part
                else:
                    span = rules.monthly_base_range(policy, on)
                    f = rules.flexible_monthly(policy, on, span.clamp(monthly))
                    total, own = total + f.total, own + f.total
                    c = f  # type: ignore[assignment]
                credit += c.account_credit
            assert got["contributions"][i] == total
            assert got["person_contributions"][i] == own
            assert got["account_credits"][i] == credit


# --------------------------------------------------------------------- a tiny area by hand

NATIONAL = "000000"


def tiny_area(folder: Path, income: bool) -> Path:
    """Household 1: resident A (head, 10,000 yuan inpatient at level 1) and resident child B (no
    claims); household 2: employee C (1,000 yuan outpatient at level 1, wage 120,000 a year)."""
    day = dt.date(YEAR, 3, 1)
    persons = {
        "psn_no": [1, 2, 3],
        "scheme": ["resident", "resident", "employee"],
        "assistance_class": pa.array([None, None, None], pa.string()),
        "account_balance": [0, 0, 0],
        "use_account": [False, False, False],
        "mutual_aid_balance": [0, 0, 0],
        "incentive_raise": [0, 0, 0],
        "entitled_from": pa.array([None, None, None], pa.date32()),
        "household_id": [1, 1, 3],
        "wage": [None, None, 12_000_000],
        "contribution_base": pa.array([None, None, None], pa.int64()),
        "enrolled_on": pa.array([dt.date(2010, 1, 1)] * 3, pa.date32()),
    }
    if income:
        persons["household_income"] = [1_000_000, 1_000_000, 10_000_000]
    claims = {
        "psn_no": [1, 3],
        "date": pa.array([day, day], pa.date32()),
        "med_type": ["inpatient", "outpatient"],
        "level": pa.array([1, 1], pa.int8()),
        "cross_region": pa.array([None, None], pa.string()),
        "total": [1_000_000, 100_000],
        "fully_self_paid": [0, 0],
        "over_limit": [0, 0],
        "category_b": [0, 0],
    }
    for name, table in (("persons", persons), ("claims", claims)):
        (folder / name).mkdir(parents=True)
        pq.write_table(pa.table(table), folder / name / "part-00000.parquet")
    return folder


@pytest.mark.parametrize("income", [True, False])
def test_a_tiny_area_by_hand(tmp_path: Path, income: bool) -> None:
    area = tiny_area(tmp_path / "area", income)
    on = dt.date(YEAR, 1, 1)
    national = Policy(NATIONAL)
    # the parameters the hand computation reads, as the national defaults give them
    assert national.fen("resident.contribution.individual", on) == 400_00
    assert national.fen("resident.contribution.fiscal_subsidy", on) == 700_00
    assert national.get("benefits.resident.inpatient.basic.deductible.level1", on) == 100_00
    assert national.rate("benefits.resident.inpatient.basic.ratio.level1", on) == Decimal("0.85")
    assert national.get("benefits.employee.outpatient.basic.annual_deductible", on) == 300_00
    assert national.rate("benefits.employee.outpatient.basic.ratio.level1", on) == Decimal("0.65")
    span = rules.monthly_base_range(national, on)
    assert span.floor <= 10_000_00 <= span.ceiling
    large = national.fen("large_amount.financing.per_month", on)
    subsidy = write_reform(
        tmp_path,
        "s",
        {"name": "subsidy", "policy": {"resident": {"contribution": {"fiscal_subsidy": 800}}}},
    )
    result = run_cli(
        str(subsidy), "--area", str(area), "--region", NATIONAL, "--year", str(YEAR), "--json"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    b = out["baseline"]
    assert (out["persons"], out["households"], out["claims"]) == (3, 2, 2)
    # A: (10,000 − 100) × 85% = 8,415.00 from the basic fund; 1,585.00 cash (below the critical
    # illness deductible, no aid class). C: (1,000 − 300) × 65% = 455.00; 545.00 cash.
    assert b["hifp_pay"] == "8870.00"
    assert b["hifmi_pay"] == b["hifob_pay"] == b["maf_pay"] == "0.00"
    assert b["fund_pay_sumamt"] == "8870.00"
    assert b["psn_cash_pay"] == "2130.00"
    assert b["by_scheme"]["resident"]["psn_cash_pay"] == "1585.00"
    # contributions: two residents 400 + 700; C: 12 months of 6% + 2% of 10,000 yuan
    assert b["by_scheme"]["resident"]["contributions"] == "2200.00"
    assert b["by_scheme"]["employee"]["contributions"] == "9600.00"
    assert b["contributions"] == "11800.00"
    assert b["person_contributions"] == "3200.00"  # 2 × 400 + 12 × 200
    assert b["fiscal_subsidy"] == "1400.00"
    assert b["account_credits"] == "2400.00"  # 12 × 2% of 10,000
    assert b["large_amount_financing"] == f"{12 * large // 100}.{12 * large % 100:02d}"
    # result: 11,800 − 2,400 − 8,870
    assert b["fund_balance"] == "530.00"
    r = out["reforms"][0]
    assert r["delta"]["fiscal_subsidy"] == r["delta"]["contributions"] == "200.00"
    assert r["delta"]["fund_balance"] == "200.00"
    assert r["delta"]["hifp_pay"] == "0.00"
    assert r["affected"]["persons"] == 0  # a subsidy changes no one's own payment
    if income:
        # household 1: 1,585 of 10,000 yuan: above 10%, not 25%; household 2: 545 of 100,000
        assert (b["households_over_10pct"], b["households_over_25pct"]) == (1, 0)
        assert b["by_scheme"]["resident"]["households_over_10pct"] == 1
        assert b["by_scheme"]["employee"]["households_over_10pct"] == 0
        assert out["burden_measured"] is True
        # two households ranked 0 and 1 of 2: quintiles 1 and 3 (5,000 and 100,000 yuan a member)
        assert [q["households"] for q in out["quintiles"]] == [1, 0, 1, 0, 0]
        assert out["quintiles"][0]["income_per_member_to"] == "5000.00"
    else:
        assert b["households_over_10pct"] is None
        assert out["burden_measured"] is False


def test_a_lower_deductible_by_hand(tmp_path: Path) -> None:
    area = tiny_area(tmp_path / "area", True)
    lower = write_reform(
        tmp_path,
        "d",
        {
            "name": "deductible 50",
            "policy": {
                "benefits": {"resident": {"inpatient": {"basic": {"deductible": {"level1": 50}}}}}
            },
        },
    )
    out_dir = tmp_path / "out"
    result = run_cli(
        str(lower),
        "--area",
        str(area),
        "--region",
        NATIONAL,
        "--year",
        str(YEAR),
        "--json",
        "--out",
        str(out_dir),
    )
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)["reforms"][0]
    # (10,000 − 50) × 85% = 8,457.50: 42.50 more from the fund, 42.50 less cash for A
    assert r["delta"]["hifp_pay"] == "42.50"
    assert r["delta"]["psn_cash_pay"] == "-42.50"
    assert r["delta"]["fund_balance"] == "-42.50"
    assert r["affected"]["persons"] == 1
    assert r["affected"]["households"] == 1
    assert (r["affected"]["households_better_off"], r["affected"]["households_worse_off"]) == (1, 0)
    assert r["totals"]["households_over_10pct"] == 1  # 1,542.50 is still above 1,000
    for name in ("report.json", "fund_balance.png", "burden_by_quintile.png", "winners_losers.png"):
        assert (out_dir / name).read_bytes()[:4] in (b"\x89PNG", b"{\n  ")


# ------------------------------------------------------------------------------ bad reforms


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"policy": {"resident": {"contribution": {"fiscal_subsidyy": 800}}}},
            "policy.resident.contribution.fiscal_subsidyy: unknown parameter",
        ),
        ({"policy": {"benefitz": {"x": 1}}}, "policy.benefitz.x: unknown parameter"),
        (
            {"policy": {"resident": {"incentives": {"continuous": {"amount": 500}}}}},
            "below the national floor",
        ),
        ({"policy": {"resident": {"contribution": {"fiscal_subsidy": 100}}}}, "national floor"),
        (
            {"policy": {"resident": {"contribution": {"fiscal_subsidy": "lots"}}}},
            "policy.resident.contribution.fiscal_subsidy",
        ),
        ({"name": "x", "polcy": {}}, "polcy: unknown key"),
        ({"name": "", "policy": {}}, "name: must be a non-empty text"),
        ({"name": "baseline", "policy": {}}, "'baseline' is the name of the baseline"),
        ({"policy": [1, 2]}, "policy: must be a mapping"),
        ([1, 2], "reform: must be a mapping"),
    ],
)
def test_bad_reforms_are_refused_before_any_work(
    area: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: Any, message: str
) -> None:
    import yibao.batch.simulation.run as run_module

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started")

    monkeypatch.setattr(run_module, "simulate_area", no_work)
    monkeypatch.setattr(run_module, "scenario", no_work)
    good = EXAMPLES / "resident_subsidy.yaml"
    bad = write_reform(tmp_path, "bad", doc)
    result = run_cli(str(good), str(bad), "--area", str(area))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_bad_command_lines_are_refused(area: Path, tmp_path: Path) -> None:
    good = str(EXAMPLES / "resident_subsidy.yaml")
    cases = [
        ([good, good, "--area", str(area)], "is used by another reform"),
        ([str(tmp_path / "missing.yaml"), "--area", str(area)], "cannot read"),
        ([good, "--area", str(tmp_path)], "no persons/part-*.parquet"),
        ([good, "--area", str(area), "--year", "2024"], "the area's claims are of 2025"),
        ([good, "--area", str(area), "--engine", "dask"], "--engine: unknown engine"),
        ([good, "--area", str(area), "--region", "999999"], "999999"),
    ]
    for args, message in cases:
        result = run_cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and len(result.output.strip().splitlines()) == 1, (
            result.output
        )


# ------------------------------------------------------------------------ examples, output


def test_the_shipped_example_reforms_run(area: Path, tmp_path: Path) -> None:
    examples = sorted(EXAMPLES.glob("*.yaml"))
    assert len(examples) >= 3
    result = run_cli(*map(str, examples), "--area", str(area), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    assert "households over 10% / 25% of income" in result.output  # generated household_income
    saved = json.loads((tmp_path / "o" / "report.json").read_text())
    assert set(saved) >= {"year", "persons", "claims", "baseline", "reforms"}
    for key in (
        "contributions",
        "hifp_pay",
        "hifmi_pay",
        "hifob_pay",
        "maf_pay",
        "fund_pay_sumamt",
        "acct_pay",
        "psn_cash_pay",
        "households_over_10pct",
        "households_over_25pct",
    ):
        assert key in saved["baseline"]
        assert all(key in r["totals"] and key in r["delta"] for r in saved["reforms"])
    cap = next(r for r in saved["reforms"] if "cap" in r["name"])
    assert Decimal(cap["delta"]["hifp_pay"]) >= 0
    # winners and losers are counted, and the funds' result moves opposite to what they pay
    deductible = next(r for r in saved["reforms"] if "deductible" in r["name"])
    assert deductible["affected"]["households_better_off"] > 0
    assert deductible["affected"]["households_worse_off"] == 0
    assert Decimal(deductible["delta"]["fund_balance"]) == -Decimal(
        deductible["delta"]["hifp_pay"]
    ) - Decimal(deductible["delta"]["hifmi_pay"]) - Decimal(deductible["delta"]["hifob_pay"])


def test_the_local_engine_gives_the_same_totals_on_any_number_of_workers(area: Path) -> None:
    scenarios = [scenario("baseline", Policy(REGION), YEAR)]
    one = simulate_area(area, scenarios, YEAR, workers=1)
    two = simulate_area(area, scenarios, YEAR, workers=2)
    assert one.sums == two.sums and one.claims == two.claims
    assert report_like(one) == report_like(two)


def report_like(acc: Accumulator) -> Any:
    return acc.result(["baseline"])


def test_household_income_measures_burden_and_quintiles(area: Path, tmp_path: Path) -> None:
    """An area with ``household_income`` (as calibrate writes it): burden is measured, each
    quintile holds a fifth of the households."""
    copy = tmp_path / "area"
    for persons_path, claims_path in parts(area):
        t = pq.read_table(persons_path)
        hh = t["household_id"].to_numpy()
        income = (hh * 7919) % 20_000_000 + 1_000_000  # 10,000 – 210,000 yuan, by household
        (copy / "persons").mkdir(parents=True, exist_ok=True)
        (copy / "claims").mkdir(parents=True, exist_ok=True)
        if "household_income" in t.column_names:  # generated: replace it by the test's own
            t = t.drop_columns(["household_income"])
        pq.write_table(
            t.append_column("household_income", pa.array(income)),
            copy / "persons" / persons_path.name,
        )
        pq.write_table(pq.read_table(claims_path), copy / "claims" / claims_path.name)
    (copy / "meta.json").write_text((area / "meta.json").read_text())
    result = run_cli(str(EXAMPLES / "lower_deductible.yaml"), "--area", str(copy), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    sizes = [q["households"] for q in out["quintiles"]]
    assert sum(sizes) == out["households"] and max(sizes) - min(sizes) <= 1
    b = out["baseline"]
    assert b["households_over_10pct"] >= b["households_over_25pct"] > 0
    assert (
        sum(q["households_over_10pct"] for q in b["burden_by_quintile"])
        == b["households_over_10pct"]
    )
    r = out["reforms"][0]
    assert r["delta"]["households_over_10pct"] <= 0  # a lower deductible burdens no one more
    assert (
        sum(q["better_off"] for q in r["affected"]["by_quintile"])
        == r["affected"]["households_better_off"]
    )


def test_a_scenario_is_picklable() -> None:
    import pickle

    s = scenario("baseline", Policy(REGION), YEAR)
    back = pickle.loads(pickle.dumps(s))
    assert back.rates == s.rates and back.name == s.name
    assert replace(s, name="x").name == "x"


def test_the_calibration_table_comes_with_every_simulation(area: Path) -> None:
    """The generated area's calibration table (``synth.calibration.calibration_table``),
    printed and in the JSON."""
    from yibao.synth.calibration import calibration_table

    good = str(EXAMPLES / "resident_subsidy.yaml")
    out = json.loads(run_cli(good, "--area", str(area), "--json").output)
    table = calibration_table(area)
    assert table and out["calibration"] == json.loads(json.dumps(table))
    assert any(r["measure"].startswith("fund payment ratio") for r in table)
    text = run_cli(good, "--area", str(area)).output
    assert "calibration of the area" in text and str(table[0]["measure"]) in text


def test_the_calibration_sums_are_the_baseline_s_own(
    area: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inpatient sums by scheme and level the local engine makes of the baseline equal, to
    the fen, those of a separate settlement of the area (``inpatient_fund_sums_by_level``), and
    so does the table; the simulation's report does not settle the area a second time."""
    from yibao.synth import calibration as cal

    p = plan(area, [EXAMPLES / "resident_subsidy.yaml"])
    acc = settle(p)
    by_level = acc.inpatient_by_level()
    expected = cal.inpatient_fund_sums_by_level(area)
    assert by_level == expected
    # both schemes, every level, have inpatient care: the comparison is not of zeros
    assert all(fund > 0 and scope > fund for fund, scope in expected.values()), expected
    table = cal.calibration_table(area)
    assert cal.calibration_table(area, by_level) == table

    def settles(*_: Any) -> Any:
        raise AssertionError("the area settled again for the calibration table")

    monkeypatch.setattr(cal, "inpatient_fund_sums_by_level", settles)
    assert report(p, acc)["calibration"] == table
    monkeypatch.undo()
    # a baseline under another region than the area's own is not the area's: settled again
    wrong = dict.fromkeys(by_level, (1, 1))
    assert calibration(area, REGION, wrong) != table
    assert calibration(area, "110000", wrong) == table


def test_a_bad_area_is_refused_with_one_line(tmp_path: Path) -> None:
    """Claims outside the year, a column the kernel does not know, --out a file: one line,
    exit 2, nothing written."""
    good = str(EXAMPLES / "resident_subsidy.yaml")
    area = tiny_area(tmp_path / "a", True)
    claims = pq.read_table(area / "claims" / "part-00000.parquet")
    late = claims.set_column(1, "date", pa.array([dt.date(YEAR + 1, 1, 2)] * 2, pa.date32()))
    pq.write_table(late, area / "claims" / "part-00000.parquet")
    args = ["--region", NATIONAL, "--year", str(YEAR)]
    result = run_cli(good, "--area", str(area), *args, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "claims: date 2026-01-02 is not in 2025" in result.output
    assert not (tmp_path / "o").exists()
    med = claims.set_column(2, "med_type", pa.array(["dental", "inpatient"]))
    pq.write_table(med, area / "claims" / "part-00000.parquet")
    result = run_cli(good, "--area", str(area), *args)
    assert result.exit_code == 2 and "med_type: unknown value 'dental'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    (tmp_path / "file").write_text("x")
    result = run_cli(good, "--area", str(area), *args, "--out", str(tmp_path / "file"))
    assert result.exit_code == 2 and "--out:" in result.output
    bad_name = write_reform(tmp_path, "n", {"name": "a\nb", "policy": {}})
    result = run_cli(str(bad_name), "--area", str(area), *args)
    assert result.exit_code == 2 and "name: at most 100 printable characters" in result.output


def test_an_area_of_one_part_settles_its_scenarios_at_once(tmp_path: Path) -> None:
    """Fewer parts than workers: the scenarios of the part settle on threads at once, with
    the same totals as one after the other."""
    area = tiny_area(tmp_path / "a", True)
    national = Policy(NATIONAL)
    lower = check_reform(
        Reform(
            "d",
            {"benefits": {"resident": {"inpatient": {"basic": {"deductible": {"level1": 50}}}}}},
        ),
        NATIONAL,
    )
    scenarios = [scenario("baseline", national, YEAR), scenario("d", lower, YEAR)]
    one = simulate_area(area, scenarios, YEAR, workers=1)
    two = simulate_area(area, scenarios, YEAR, workers=2)
    assert one.sums == two.sums and one.changed == two.changed
    assert one.result(["baseline", "d"]) == two.result(["baseline", "d"])
    assert one.sums[1][1]["hifp_pay"] - one.sums[0][1]["hifp_pay"] == 42_50


def test_spark_where_it_cannot_load_is_refused_before_work(
    area: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "yibao.batch.spark", None)  # importing it fails
    result = run_cli(
        str(EXAMPLES / "resident_subsidy.yaml"), "--area", str(area), "--engine", "spark"
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: --engine spark: the Spark engine cannot be loaded")
    assert len(result.output.strip().splitlines()) == 1


def test_contributions_count_the_months_from_enrolment(tmp_path: Path) -> None:
    """An employee enrolled on 15 July contributes for July to December; before the year, all
    twelve months; after it, none."""
    from yibao.batch.simulation.engine import part_input

    area = tiny_area(tmp_path / "a", False)
    persons = pq.read_table(area / "persons" / "part-00000.parquet")
    claims = pq.read_table(area / "claims" / "part-00000.parquet")
    days = [dt.date(2024, 3, 1), dt.date(YEAR, 7, 15), dt.date(YEAR + 1, 1, 1)]
    persons = persons.set_column(
        persons.schema.get_field_index("enrolled_on"), "enrolled_on", pa.array(days, pa.date32())
    )
    part = part_input(claims, persons, YEAR)
    assert part.first_month.tolist() == [0, 6, 12]
    rates = vec.compile_rates(Policy(NATIONAL), YEAR)
    got = vec.person_year(
        rates, part.category, part.aid_class, part.wage, part.base, np.array([0, 0, 6])
    )
    assert got["contributions"][2] == 6 * 800_00  # six months of 8% of 10,000 yuan
    assert got["contributions"][0] == 1100_00  # a resident pays the year


@pytest.fixture(scope="module")
def per_person(area: Path) -> tuple[pa.Table, list[str]]:
    claims = pa.concat_tables([pq.read_table(c) for _, c in parts(area)])
    persons = pa.concat_tables([pq.read_table(p) for p, _ in parts(area)])
    lower = read_reform_checked(EXAMPLES / "lower_deductible.yaml")
    scenarios = [scenario("baseline", Policy(REGION), YEAR), scenario("d", lower, YEAR)]
    return settle_households(claims, persons, scenarios, YEAR), ["baseline", "d"]


def read_reform_checked(path: Path) -> Policy:
    from yibao.batch.simulation.reform import read_reform

    return check_reform(read_reform(path), REGION)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(1, 2999), max_size=8), shuffle=st.randoms(use_true_random=False))
def test_slices_in_any_order_and_cut_anywhere_give_the_same_report(
    per_person: tuple[pa.Table, list[str]], cuts: list[int], shuffle: Any
) -> None:
    """The per-person table cut at any rows (households split between slices, as Spark's
    batches may) and added in any order, merged or not: the same report as one slice."""
    table, names = per_person
    whole = Accumulator(2)
    whole.add(table)
    bounds = [0, *sorted(set(cuts)), table.num_rows]
    slices = [table.slice(a, b - a) for a, b in pairwise(bounds) if b > a]
    shuffle.shuffle(slices)
    one, merged = Accumulator(2), Accumulator(2)
    for s in slices:
        one.add(s)
        part = Accumulator(2)
        part.add(s)
        merged.merge(part)
    expected = whole.result(names)
    assert one.result(names) == expected
    assert merged.result(names) == expected


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(-1, 3)), min_size=0, max_size=60),
    st.integers(0, 5),
)
def test_quintile_cuts_give_the_rank_quintiles(rows: list[tuple[int, int]], split: int) -> None:
    """A household of rank r of n (by income per member, then id) is in quintile ⌊5r/n⌋ under
    the cut points, whichever slice it is reduced in; the burden of two slices merged is the
    burden of both at once."""
    from yibao.batch.simulation.aggregate import household_burden
    from yibao.kernel.quintiles import per_member, quintile_cuts, quintile_of

    n = len(rows)
    key = np.arange(100, 100 + n, dtype=np.int64)[::-1].copy()  # ids not in income order
    income = np.array([r[0] * 7 for r in rows], dtype=np.int64)
    income[[r[1] < 0 for r in rows]] = -1 if n else income[:0]
    h = {
        "key": key,
        "income": income,
        "members": np.array([max(r[1], 1) for r in rows], dtype=np.int64),
        "scheme": np.zeros(n, dtype=np.int64),
        "oop0": income // 3,
        "own0": np.zeros(n, dtype=np.int64),
    }
    pc = per_member(h["income"], h["members"])
    cuts = quintile_cuts(key, pc)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((key, pc))] = np.arange(n)
    assert np.array_equal(quintile_of(key, pc, cuts), rank * 5 // max(n, 1))
    whole = household_burden(h, 1, cuts)
    cut = min(split * n // 5, n)
    halves = [{k: v[:cut] for k, v in h.items()}, {k: v[cut:] for k, v in h.items()}]
    merged = household_burden(halves[0], 1, cuts).merged(household_burden(halves[1], 1, cuts))
    assert merged == whole
    assert sum(whole.q_households) == n
