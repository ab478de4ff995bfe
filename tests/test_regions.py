"""Shipped region parameter files: they load, inherit down to the national defaults, cite only
sources they list, and hold the values their source texts state.

Amounts come out of the loader in fen (yuan × 100), rates as Decimal.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
import yaml

from yibao.policy import NATIONAL, Policy, available_regions
from yibao.policy.params import default_folder
from yibao.policy.tree import Dated

ON = dt.date(2025, 6, 1)
IN_2024 = dt.date(2024, 6, 1)

# region -> (name, inheritance chain from the region up to the national defaults)
SHIPPED: dict[str, tuple[str, list[str]]] = {
    "340000": ("Anhui", ["340000", NATIONAL]),
    "110000": ("Beijing", ["110000", NATIONAL]),
    "360000": ("Jiangxi", ["360000", NATIONAL]),
    "360100": ("Nanchang", ["360100", "360000", NATIONAL]),
}


def _raw(region: str) -> dict[str, Any]:
    doc = yaml.safe_load((default_folder() / f"{region}.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("region", SHIPPED)
def test_region_is_shipped_and_loads(region: str) -> None:
    assert region in available_regions()
    policy = Policy(region)
    assert policy.name == SHIPPED[region][0]
    basic = policy.get("benefits.resident.inpatient.basic", ON)
    assert basic["annual_cap"] > 0
    assert set(basic["ratio"]) == {"level1", "level2", "level3"}


@pytest.mark.parametrize("region", SHIPPED)
def test_parent_chain_ends_at_national(region: str) -> None:
    chain = [layer.region for layer in Policy(region).chain]
    assert chain == SHIPPED[region][1]
    assert chain[-1] == NATIONAL


@pytest.mark.parametrize("region", SHIPPED)
def test_file_header(region: str) -> None:
    doc = _raw(region)
    assert {"region", "name", "parent", "sources", "parameters"} <= set(doc)
    assert doc["region"] == region
    assert doc["parent"] == SHIPPED[region][1][1]
    ids = [s["id"] for s in doc["sources"]]
    assert ids and len(ids) == len(set(ids))
    assert all(str(s.get("title", "")).strip() for s in doc["sources"])


@pytest.mark.parametrize("region", SHIPPED)
def test_every_cited_source_is_listed(region: str) -> None:
    for layer in Policy(region).chain:
        for path, leaf in layer.leaves.items():
            cited = [s for _, _, s in leaf.steps] if isinstance(leaf, Dated) else [leaf.source]
            for source in cited:
                if source is not None:
                    assert source in layer.sources, f"{layer.file}: {path} cites {source}"


VALUES = [
    # --- Anhui, AH2024 (Wan Zheng Ban [2024] No. 3) ---
    # "the employee's payment proportion is his own wages 2%"
    pytest.param(
        "340000", "employee.contribution.employee_rate", ON, Decimal("0.02"), id="AH-rate"
    ),
    # "Flexible employees who apply for insurance for the first time shall pay fees continuously
    # according to regulations three [to] six months" -> the upper bound, 6
    pytest.param("340000", "employee.waiting.flexible_first_months", ON, 6, id="AH-flexible"),
    # "The maximum payment limit is ... the per capita disposable income of the province's
    # residents in the previous year six Times" -> 6 × 34,893 yuan (AH-STAT2023)
    pytest.param(
        "340000", "benefits.resident.inpatient.basic.annual_cap", ON, 6 * 34893 * 100, id="AH-cap"
    ),
    # "the withdrawal proportion is not higher than the income collected from the basic medical
    # insurance pooling fund of the previous year 5%"
    pytest.param("340000", "funds.adjustment.draw_ratio_max", ON, Decimal("0.05"), id="AH-draw"),
    # "The accumulated balance of provincial adjustment funds reached the revenue collected from
    # the basic medical insurance pooling fund of the province last year 10%, pause extraction."
    pytest.param("340000", "funds.adjustment.pause_at_ratio", ON, Decimal("0.10"), id="AH-pause"),
    # "In principle, the insurance premiums shall be paid on an annual basis twelve month
    # thirty-one [December 31]"
    pytest.param(
        "340000", "resident.contribution.collection_period.end", ON, "12-31", id="AH-collect"
    ),
    # --- Beijing ---
    # BJ-STAT2023: "2023年全年全市居民人均可支配收入81752元" (in force for 2024)
    pytest.param(
        "110000", "economy.resident_disposable_income", IN_2024, 81752 * 100, id="BJ-income23"
    ),
    # BJ-STAT2024: per-capita disposable income of residents 85,415 yuan (in force for 2025)
    pytest.param("110000", "economy.resident_disposable_income", ON, 85415 * 100, id="BJ-income24"),
    # ASSUMED (not found in a published text): in-service outpatient deductible 1,800 yuan
    pytest.param(
        "110000", "benefits.employee.outpatient.basic.annual_deductible", ON, 180000, id="BJ-ded"
    ),
    # BJ-TABLE2021: "社区卫生机构报销比例均为90%", "在职职工医院门诊报销比例达到70%以上"
    pytest.param(
        "110000",
        "benefits.employee.outpatient.basic.ratio",
        ON,
        {"level1": Decimal("0.90"), "level2": Decimal("0.70"), "level3": Decimal("0.70")},
        id="BJ-ratio",
    ),
    # BJ-TABLE2021: "门诊封顶线为2万元"
    pytest.param(
        "110000", "benefits.employee.outpatient.basic.annual_cap", ON, 2000000, id="BJ-cap"
    ),
    # ASSUMED (not found in a published text): retirees' outpatient deductible 1,300 yuan
    pytest.param(
        "110000", "benefits.retiree.outpatient.basic.annual_deductible", ON, 130000, id="BJ-ret"
    ),
    # --- Jiangxi ---
    # rules.md §5: "each further continuous year raises the person's critical illness cap by an
    # amount (floor 1000; e.g. 3000 in Jiangxi ...)"
    pytest.param("360000", "resident.incentives.continuous.amount", ON, 300000, id="JX-amount"),
    # 2024 interpretation: "Two measures are set independently, All implemented from 2025" ->
    # before 2025 Jiangxi sets nothing and the national value holds
    pytest.param(
        "360000", "resident.incentives.continuous.amount", IN_2024, 100000, id="JX-before-2025"
    ),
    # 2024 interpretation: "Continuous insurance incentive is continuous insurance for 4 years,
    # Every consecutive year of insurance thereafter, Can enjoy continuous insurance incentives"
    pytest.param("360000", "resident.incentives.continuous.after_years", ON, 4, id="JX-after"),
    # rules.md §5: "Both raises accumulate under one limit: 20% of the area's original critical
    # illness cap."
    pytest.param(
        "360000", "resident.incentives.total_limit_ratio", ON, Decimal("0.2"), id="JX-limit"
    ),
    # --- Nanchang (everything inherited through Jiangxi) ---
    # rules.md §5: "e.g. 3000 in Jiangxi" -> Nanchang inherits its province's raise
    pytest.param("360100", "resident.incentives.continuous.amount", ON, 300000, id="NC-amount"),
    # 2024 interpretation: "the zero reimbursement incentive ... Each increase shall not be less
    # than 1,000 yuan"
    pytest.param("360100", "resident.incentives.zero_claim.amount", ON, 100000, id="NC-zero"),
    # 2024 interpretation: "Even if the resident insured person terminates his insurance ... the
    # continuous insurance incentive amount is always retained"
    pytest.param("360100", "resident.incentives.continuous.kept_on_lapse", ON, True, id="NC-kept"),
    # 2024 interpretation: "Financial subsidies and personal payment standards ... Not less than
    # 670 yuan and 400 yuan per person per year respectively"
    pytest.param("360100", "resident.contribution.fiscal_subsidy", IN_2024, 67000, id="NC-subsidy"),
    pytest.param("360100", "resident.contribution.individual", IN_2024, 40000, id="NC-individual"),
]


@pytest.mark.parametrize(("region", "path", "on", "expected"), VALUES)
def test_value_matches_source(region: str, path: str, on: dt.date, expected: Any) -> None:
    assert Policy(region).get(path, on) == expected


@pytest.mark.parametrize(
    ("scheme", "stated"), [("employee", Decimal("0.80")), ("resident", Decimal("0.70"))]
)
def test_anhui_ratios_keep_the_stated_level_and_gaps(scheme: str, stated: Decimal) -> None:
    # AH2024: "The payment proportion within the scope of medical insurance policy is
    # respectively stable at 80% 70% Left and right, maintenance between medical institutions at
    # different levels 5—15"
    ratio = Policy("340000").get(f"benefits.{scheme}.inpatient.basic.ratio", ON)
    levels = [ratio["level1"], ratio["level2"], ratio["level3"]]
    assert levels[1] == stated
    for higher, lower in pairwise(levels):
        assert Decimal("0.05") <= higher - lower <= Decimal("0.15")


def test_anhui_employee_cap_is_six_average_wages() -> None:
    # AH2024: "The maximum payment limit is the average wage of the employees of the province's
    # full caliber urban units in the previous year ... six Times"
    policy = Policy("340000")
    cap = policy.get("benefits.employee.inpatient.basic.annual_cap", ON)
    assert cap == 6 * policy.get("economy.average_wage", ON)


def test_anhui_flexible_wait_is_within_the_stated_range() -> None:
    # AH2024: "Flexible employees who apply for insurance for the first time shall pay fees
    # continuously according to regulations three After six months"
    assert 3 <= Policy("340000").get("employee.waiting.flexible_first_months", ON) <= 6


def test_beijing_keeps_the_financing_principles_of_its_2022_measures() -> None:
    policy = Policy("110000")
    # BJ2022: "The basic medical insurance for the employed shall be jointly paid by the employer
    # and the individual."
    assert policy.get("employee.contribution.employer_rate", ON) > 0
    assert policy.get("employee.contribution.employee_rate", ON) > 0
    # BJ2022: "The participation of non employed persons in basic medical insurance is paid by
    # individuals and subsidized by the government according to regulations."
    assert policy.get("resident.contribution.individual", ON) > 0
    assert policy.get("resident.contribution.fiscal_subsidy", ON) > 0
    # BJ2022: "steadily promote the reform of individual accounts ... improve the method of
    # recording individual accounts" (no number: the national reform's own 2% is inherited)
    assert policy.get("employee.personal_account.in_service_share", ON) == Decimal("0.02")


HISTORY_PATHS = (
    "economy.average_wage",
    "economy.resident_disposable_income",
    "resident.contribution.individual",
    "resident.contribution.fiscal_subsidy",
)


@pytest.mark.parametrize("year", range(2007, 2026))
def test_national_history_has_a_sourced_figure_for_every_year(year: int) -> None:
    national = Policy(NATIONAL).chain[-1]
    for path in HISTORY_PATHS:
        leaf = national.leaves[path]
        assert isinstance(leaf, Dated), path
        found, value, source = leaf.at(dt.date(year, 6, 1))
        assert found and value is not None and value > 0, (path, year)
        assert source in national.sources, (path, year)


@pytest.mark.parametrize("region", [NATIONAL, *SHIPPED])
def test_assumed_values_say_so_in_their_source(region: str) -> None:
    layer = Policy(region).chain[0]
    if "ASSUMED" in layer.sources:
        assert layer.sources["ASSUMED"].startswith("ASSUMPTION")


def test_national_income_and_wage_rise_year_on_year_except_the_survey_switch() -> None:
    # a typo in a figure shows as a fall: NBS series rose every year; the one fall is 2014, the
    # first national (integrated survey) disposable income after the urban series (NBS-URBAN)
    policy = Policy(NATIONAL)
    for path in ("economy.average_wage", "economy.resident_disposable_income"):
        values = [policy.get(path, dt.date(y, 1, 1)) for y in range(2007, 2026)]
        falls = [2007 + i + 1 for i, (a, b) in enumerate(pairwise(values)) if b <= a]
        assert falls == ([2014] if path.endswith("income") else []), path


def test_floor_documents_are_listed_and_subsidy_floors_match_the_national_history() -> None:
    from yibao.policy.floors import BOUNDS, SUBSIDY_FLOORS

    policy = Policy(NATIONAL)
    sources = policy.sources()
    assert {b.note for b in BOUNDS if b.note} <= set(sources)
    for year, low, _ in SUBSIDY_FLOORS:
        on = dt.date(year, 1, 1)
        assert policy.get("resident.contribution.fiscal_subsidy", on) == int(low) * 100, year
