"""Contribution rules (rules.md §3, §4 repair): table tests over the national defaults.

Each case names the rule it checks. 2025 national defaults: average wage 124110 yuan, so the
monthly base range is [6205.50, 31027.50] yuan; resident individual 400, subsidy 700.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from yibao.policy import Policy
from yibao.rules.contributions import (
    ContributionRuleError,
    account_credit_in_service,
    account_credit_retiree,
    employee_monthly,
    flexible_monthly,
    monthly_base_range,
    repair,
    resident_annual,
)

NATIONAL = Policy("000000")
D2025 = dt.date(2025, 3, 1)
D2024 = dt.date(2024, 3, 1)


@pytest.mark.parametrize(
    ("on", "floor", "ceiling"),
    [
        pytest.param(D2025, 620550, 3102750, id="rule3-base-range-60-300pct-of-2024-wage"),
        pytest.param(D2024, 603490, 3017450, id="rule3-base-range-60-300pct-of-2023-wage"),
    ],
)
def test_monthly_base_range(on: dt.date, floor: int, ceiling: int) -> None:
    rng = monthly_base_range(NATIONAL, on)
    assert (rng.floor, rng.ceiling) == (floor, ceiling)


# "last year" convention: a base in year Y is bounded by 60% and 300% of the year Y-1 average wage
# (NBS-WAGE / NBS-YB2012, yuan), one twelfth a month, half up to the fen.
HISTORY_BASES = [
    # 2014 average wage 56339 (NBS first release): 0.6 × 5633900 fen = 3380340 / 12 = 281695
    pytest.param(dt.date(2015, 6, 1), 56339, 281695, 1408475, id="rule3-base-2015-from-2014-wage"),
    # 2009 average wage 32244 (China Statistical Yearbook 2012, table 4-11)
    pytest.param(dt.date(2010, 1, 1), 32244, 161220, 806100, id="rule3-base-2010-from-2009-wage"),
    # 2006 average wage 20856 (same table): the first year entered
    pytest.param(dt.date(2007, 3, 1), 20856, 104280, 521400, id="rule3-base-2007-from-2006-wage"),
]


@pytest.mark.parametrize(("on", "wage_yuan", "floor", "ceiling"), HISTORY_BASES)
def test_monthly_base_range_in_history(
    on: dt.date, wage_yuan: int, floor: int, ceiling: int
) -> None:
    assert floor == (wage_yuan * 100 * 6 // 10 + 6) // 12  # annual fen / 12, half up
    assert ceiling == (wage_yuan * 100 * 3 + 6) // 12
    rng = monthly_base_range(NATIONAL, on)
    assert (rng.floor, rng.ceiling) == (floor, ceiling)


@pytest.mark.parametrize(("on", "wage_yuan", "floor", "ceiling"), HISTORY_BASES)
def test_employee_monthly_in_history_clamps_to_that_years_range(
    on: dt.date, wage_yuan: int, floor: int, ceiling: int
) -> None:
    low = employee_monthly(NATIONAL, on, 1000_00)  # below every floor
    assert low.base == floor
    assert (low.employer_part, low.employee_part) == (
        (floor * 6 + 50) // 100,
        (floor * 2 + 50) // 100,
    )
    high = employee_monthly(NATIONAL, on, 100_000_00)  # above every ceiling
    assert high.base == ceiling
    assert high.employee_part == (ceiling * 2 + 50) // 100
    inside = employee_monthly(NATIONAL, on, floor + 1)
    assert inside.base == floor + 1


@pytest.mark.parametrize(
    ("wage", "base", "employer", "employee"),
    [
        pytest.param(800000, 800000, 48000, 16000, id="rule3-employee-6pct-and-2pct-of-wage"),
        pytest.param(300000, 620550, 37233, 12411, id="rule3-employee-wage-below-floor-clamped"),
        pytest.param(0, 620550, 37233, 12411, id="rule3-employee-zero-wage-pays-on-floor"),
        pytest.param(
            5000000, 3102750, 186165, 62055, id="rule3-employee-wage-above-ceiling-clamped"
        ),
        pytest.param(620575, 620575, 37235, 12412, id="rule1-each-part-rounded-half-up-once"),
    ],
)
def test_employee_monthly(wage: int, base: int, employer: int, employee: int) -> None:
    c = employee_monthly(NATIONAL, D2025, wage)
    assert (c.base, c.employer_part, c.employee_part) == (base, employer, employee)
    assert c.total == employer + employee
    assert c.account_credit == employee  # rule3-personal-account: the employee's own 2%
    assert c.pooling_part == employer
    assert isinstance(c.employer_rate, Decimal)


def test_rule3_employer_rate_is_local() -> None:
    local = Policy("000000", overlays=[{"employee": {"contribution": {"employer_rate": 0.08}}}])
    c = employee_monthly(local, D2025, 800000)
    assert (c.employer_part, c.employee_part) == (64000, 16000)


@pytest.mark.parametrize(
    "wage",
    [
        pytest.param(-1, id="rule1-negative-wage-refused"),
        pytest.param(1.5, id="rule1-float"),
        pytest.param(10_000_000_000_01, id="rule1-wage-above-the-amount-bound"),
    ],
)
def test_employee_bad_wage(wage: object) -> None:
    with pytest.raises(ContributionRuleError) as info:
        employee_monthly(NATIONAL, D2025, wage)  # type: ignore[arg-type]
    assert info.value.field == "wage"


@pytest.mark.parametrize(
    ("base", "total", "credit"),
    [
        pytest.param(620550, 49644, 12411, id="rule3-flexible-8pct-on-floor"),
        pytest.param(3102750, 248220, 62055, id="rule3-flexible-8pct-on-ceiling"),
        pytest.param(1000000, 80000, 20000, id="rule3-flexible-8pct-on-chosen-base"),
    ],
)
def test_flexible_monthly(base: int, total: int, credit: int) -> None:
    c = flexible_monthly(NATIONAL, D2025, base)
    assert (c.total, c.account_credit, c.pooling_part) == (total, credit, total - credit)


@pytest.mark.parametrize(
    "base",
    [
        pytest.param(620549, id="rule3-flexible-base-below-range-refused"),
        pytest.param(3102751, id="rule3-flexible-base-above-range-refused"),
    ],
)
def test_flexible_base_outside_range(base: int) -> None:
    with pytest.raises(ContributionRuleError) as info:
        flexible_monthly(NATIONAL, D2025, base)
    assert info.value.field == "base"
    assert "outside the monthly base range" in info.value.reason


@pytest.mark.parametrize(
    ("base", "credit"),
    [
        pytest.param(800000, 16000, id="rule3-account-in-service-2pct-of-base"),
        pytest.param(620575, 12412, id="rule3-account-in-service-rounded-half-up"),
    ],
)
def test_account_credit_in_service(base: int, credit: int) -> None:
    assert account_credit_in_service(NATIONAL, D2025, base) == credit


def test_rule3_account_retiree_fixed_monthly() -> None:
    # 2% of the average pension (3000 yuan/month): 60 yuan
    assert account_credit_retiree(NATIONAL, D2025) == 6000


@pytest.mark.parametrize(
    ("on", "classes", "individual", "subsidy", "assisted", "pays", "cls"),
    [
        pytest.param(
            dt.date(2025, 1, 1), [], 40000, 70000, 0, 40000, None, id="rule3-resident-2025"
        ),
        pytest.param(
            dt.date(2024, 1, 1), [], 40000, 67000, 0, 40000, None, id="rule3-resident-2024"
        ),
        # history: each coverage year is priced from that year's national notice
        # GF2007-20: subsidy "no less than 40 yuan"; NCMS individual 10 (ASSUMED in 000000.yaml)
        pytest.param(
            dt.date(2007, 7, 10), [], 1000, 4000, 0, 1000, None, id="rule3-resident-2007-pilot"
        ),
        # NCMS2011: subsidy "from 120 yuan" (2010); individual 30 (ASSUMED)
        pytest.param(dt.date(2010, 1, 1), [], 3000, 12000, 0, 3000, None, id="rule3-resident-2010"),
        # NCMS2012: subsidy from 200 to 240 yuan, individual in principle 60 yuan
        pytest.param(dt.date(2012, 1, 1), [], 6000, 24000, 0, 6000, None, id="rule3-resident-2012"),
        # RES2016: subsidy 420, individual at least 150
        pytest.param(
            dt.date(2016, 6, 30), [], 15000, 42000, 0, 15000, None, id="rule3-resident-2016"
        ),
        # RES2020: subsidy at least 550, individual 280
        pytest.param(
            dt.date(2020, 1, 1), [], 28000, 55000, 0, 28000, None, id="rule3-resident-2020"
        ),
        # YBF2024-19: 2024 is +30 / +20 over 2023, to 670 / 400 -> 2023: 640 / 380
        pytest.param(
            dt.date(2023, 1, 1), [], 38000, 64000, 0, 38000, None, id="rule3-resident-2023"
        ),
        # a 2020 tekun recipient: the individual part paid in full by assistance
        pytest.param(
            dt.date(2020, 1, 1), ["tekun"], 28000, 55000, 28000, 0, "tekun", id="rule3-tekun-2020"
        ),
        pytest.param(
            dt.date(2025, 1, 1),
            ["tekun"],
            40000,
            70000,
            40000,
            0,
            "tekun",
            id="rule3-assistance-tekun-in-full",
        ),
        pytest.param(
            dt.date(2025, 1, 1),
            ["dibao"],
            40000,
            70000,
            24000,
            16000,
            "dibao",
            id="rule3-assistance-dibao-60pct",
        ),
        pytest.param(
            dt.date(2025, 1, 1),
            ["monitored"],
            40000,
            70000,
            24000,
            16000,
            "monitored",
            id="rule3-assistance-monitored-60pct",
        ),
        pytest.param(
            dt.date(2025, 1, 1),
            ["low_income_edge", "student"],
            40000,
            70000,
            0,
            40000,
            None,
            id="rule3-assistance-class-without-share-pays-full",
        ),
        pytest.param(
            dt.date(2025, 1, 1),
            ["dibao", "tekun"],
            40000,
            70000,
            40000,
            0,
            "tekun",
            id="rule3-assistance-most-generous-class",
        ),
    ],
)
def test_resident_annual(
    on: dt.date,
    classes: list[str],
    individual: int,
    subsidy: int,
    assisted: int,
    pays: int,
    cls: str | None,
) -> None:
    c = resident_annual(NATIONAL, on, classes)
    assert (c.individual, c.fiscal_subsidy, c.assistance_paid, c.person_pays) == (
        individual,
        subsidy,
        assisted,
        pays,
    )
    assert c.assistance_class == cls
    assert c.total == individual + subsidy


def test_rule3_assistance_share_rounded_half_up() -> None:
    local = Policy(
        "000000",
        overlays=[
            {
                "resident": {
                    "contribution": {
                        "individual": {"2025-01-01": 380.01},
                        "assistance_subsidy": {"dibao": 0.5},
                    }
                }
            }
        ],
    )
    c = resident_annual(local, dt.date(2025, 1, 1), ["dibao"])
    assert c.assistance_paid == 19001  # 0.5 × 38001 = 19000.5 → half up
    assert c.person_pays == 19000


@pytest.mark.parametrize(
    ("on", "years", "per_year", "total"),
    [
        pytest.param(D2025, [2022, 2023], 40000, 80000, id="rule4-repair-at-current-individual"),
        pytest.param(D2025, [2024], 40000, 40000, id="rule4-repair-one-year"),
    ],
)
def test_repair(on: dt.date, years: list[int], per_year: int, total: int) -> None:
    c = repair(NATIONAL, on, years)
    assert (c.per_year, c.total, c.years) == (per_year, total, tuple(sorted(years)))


@pytest.mark.parametrize(
    "years",
    [
        pytest.param([], id="rule4-repair-nothing-refused"),
        pytest.param([2023, 2023], id="rule4-repair-repeated-year-refused"),
        pytest.param([2025], id="rule4-repair-current-year-refused"),
    ],
)
def test_repair_refused(years: list[int]) -> None:
    with pytest.raises(ContributionRuleError) as info:
        repair(NATIONAL, D2025, years)
    assert info.value.field == "years"
