"""Table tests for waiting periods (rules.md section 4) and incentives (section 5)."""

from __future__ import annotations

import datetime as dt

import pytest

from yibao.calc.scenario import ScenarioError
from yibao.calc.waiting import waiting_scenario
from yibao.policy import Policy
from yibao.rules.incentives import YearRecord, incentives
from yibao.rules.waiting import Enrolment, Person, add_months, gap_months, waiting_period

D = dt.date
NATIONAL = Policy("000000")
RESIDENT = Person("resident", D(1990, 4, 1))
INS, LAP = "insured", "lapsed"


@pytest.mark.parametrize(
    ("rule", "history", "enrolment", "expected"),
    [
        (
            "fixed 3 months from payment outside the collection period",
            {2024: INS},
            Enrolment(D(2025, 3, 10)),
            (3, 0, 0, 3, D(2025, 6, 10)),
        ),
        (
            "variable +1 month per lapsed year",
            {2021: INS, 2022: LAP, 2023: LAP, 2024: LAP},
            Enrolment(D(2025, 3, 10)),
            (3, 3, 0, 6, D(2025, 9, 10)),
        ),
        (
            "repair: each year paid back removes a month",
            {2022: INS, 2023: LAP, 2024: LAP},
            Enrolment(D(2025, 3, 10), repaired_years=2),
            (3, 2, 2, 3, D(2025, 6, 10)),
        ),
        (
            "long lapse of ≥ 4 years keeps the wait at least 6 months after repair",
            {2020: INS, 2021: LAP, 2022: LAP, 2023: LAP, 2024: LAP},
            Enrolment(D(2025, 3, 10), repaired_years=4),
            (3, 4, 4, 6, D(2025, 9, 10)),
        ),
        (
            "collection period and insured the year before: from 1 January",
            {2024: INS},
            Enrolment(D(2024, 10, 8), in_collection_period=True),
            (0, 0, 0, 0, D(2025, 1, 1)),
        ),
        (
            "collection period after a lapse: wait counted from 1 January",
            {2023: INS, 2024: LAP},
            Enrolment(D(2024, 11, 8), in_collection_period=True),
            (3, 1, 0, 4, D(2025, 5, 1)),
        ),
        (
            "transfer between schemes with a gap ≤ 3 months after ≥ 2 years: no wait",
            {2023: INS, 2024: INS},
            Enrolment(D(2025, 2, 1), transfer_gap_months=2),
            (0, 0, 0, 0, D(2025, 2, 1)),
        ),
    ],
)
def test_resident_waiting_period(
    rule: str, history: dict[int, str], enrolment: Enrolment, expected: tuple[object, ...]
) -> None:
    w = waiting_period(NATIONAL, RESIDENT, history, enrolment)
    got = (w.fixed_months, w.variable_months, w.repaired_months, w.total_months, w.benefit_start)
    assert got == expected, rule


def test_first_lapse_year_free_switch() -> None:
    policy = Policy("000000", overlays=[{"resident": {"waiting": {"first_lapse_year_free": True}}}])
    w = waiting_period(
        policy, RESIDENT, {2022: INS, 2023: LAP, 2024: LAP}, Enrolment(D(2025, 3, 1))
    )
    assert (w.variable_months, w.total_months) == (1, 4)


def test_exempt_groups_and_newborn_window() -> None:
    newborn = Person("resident", D(2025, 2, 1), frozenset({"newborn"}))
    w = waiting_period(NATIONAL, newborn, {}, Enrolment(D(2025, 4, 1)))
    assert (w.total_months, w.benefit_start) == (0, D(2025, 2, 1))  # covered from birth
    late = waiting_period(NATIONAL, newborn, {}, Enrolment(D(2025, 8, 1)))
    assert late.total_months == 3  # outside the 90-day window: not exempt as a newborn
    aid = Person("resident", D(1960, 1, 1), frozenset({"dibao"}))
    assert waiting_period(NATIONAL, aid, {2024: LAP}, Enrolment(D(2025, 6, 1))).total_months == 0
    student = Person("resident", D(2005, 1, 1), frozenset({"student"}))  # not on the list
    assert (
        waiting_period(NATIONAL, student, {2024: LAP}, Enrolment(D(2025, 6, 1))).total_months == 4
    )


def test_employee_and_flexible_worker_waiting() -> None:
    emp = waiting_period(NATIONAL, Person("employee"), {}, Enrolment(D(2025, 3, 17)))
    assert emp.benefit_start == D(2025, 4, 1)  # from the month after payment
    flex = waiting_period(NATIONAL, Person("flexible"), {}, Enrolment(D(2025, 3, 17)))
    assert (flex.total_months, flex.benefit_start) == (6, D(2025, 9, 17))
    short_break = Enrolment(D(2025, 3, 17), break_months=2)
    assert waiting_period(NATIONAL, Person("flexible"), {}, short_break).total_months == 0
    long_break = Enrolment(D(2025, 3, 17), break_months=4)
    assert waiting_period(NATIONAL, Person("flexible"), {}, long_break).total_months == 6


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(D(2025, 8, 31), 6) == D(2026, 2, 28)


def years(*records: tuple[int, bool, int]) -> dict[int, YearRecord]:
    return {y: YearRecord(insured=ins, fund_paid=paid) for y, ins, paid in records}


@pytest.mark.parametrize(
    ("rule", "history", "year", "expected"),
    [
        (
            "continuous: each insured year after the first 4, from 2025",
            years(*((y, True, 1) for y in range(2019, 2027))),
            2027,
            (200_000, 0),
        ),
        (
            "zero reimbursement: each year the funds paid nothing",
            years((2025, True, 0), (2026, True, 0)),
            2027,
            (0, 200_000),
        ),
        (
            "years before 2025 earn nothing",
            years(*((y, True, 0) for y in range(2015, 2025))),
            2025,
            (0, 0),
        ),
        (
            "a lapse restarts the count, the continuous raise already earned is kept",
            years(*((y, True, 1) for y in range(2020, 2027)), (2027, False, 0), (2028, True, 1)),
            2029,
            (200_000, 0),
        ),
    ],
)
def test_incentive_raises(
    rule: str, history: dict[int, YearRecord], year: int, expected: tuple[int, int]
) -> None:
    r = incentives(NATIONAL, history, year)
    assert (r.continuous_raise, r.zero_claim_raise) == expected, rule
    assert r.cap == r.base_cap + sum(expected)


def test_raise_lost_on_lapse_where_the_switch_says_so() -> None:
    policy = Policy(
        "000000", overlays=[{"resident": {"incentives": {"continuous": {"kept_on_lapse": False}}}}]
    )
    history = years(*((y, True, 1) for y in range(2020, 2027)), (2027, False, 0))
    assert incentives(policy, history, 2028).continuous_raise == 0


def test_zero_claim_credit_cleared_when_the_raise_is_used() -> None:
    history = {
        2025: YearRecord(True, 0),
        2026: YearRecord(True, 0),
        2027: YearRecord(True, 5_000_000, used_raise=True),
        2028: YearRecord(True, 0),
    }
    assert incentives(NATIONAL, history, 2029).zero_claim_raise == 100_000


def test_both_raises_under_one_limit_of_20_percent() -> None:
    policy = Policy(
        "000000",
        overlays=[
            {
                "resident": {
                    "incentives": {"continuous": {"amount": 30000}, "zero_claim": {"amount": 30000}}
                }
            }
        ],
    )
    history = years(*((y, True, 0) for y in range(2019, 2028)))
    r = incentives(policy, history, 2028)
    # limit 20% of 300000 = 60000: continuous 3 x 30000 = 90000 -> 60000, zero-claim nothing left
    assert (r.continuous_raise, r.zero_claim_raise, r.cap) == (6_000_000, 0, 36_000_000)


@pytest.mark.parametrize(
    ("rule", "carried", "expected"),
    [
        # the national wait is 6 months: 2 carried leave 4, counted from the transfer date
        ("2 of 6 months carried: 4 still to wait", 2, (4, D(2025, 7, 1))),
        ("5 of 6 months carried: 1 still to wait", 5, (1, D(2025, 4, 1))),
        ("6 months carried: the wait is over", 6, (0, D(2025, 3, 1))),
        ("more than the wait carried: no wait", 30, (0, D(2025, 3, 1))),
        ("nothing carried: a first enrolment waits 6 months", 0, (6, D(2025, 9, 1))),
    ],
)
def test_flexible_transfer_carries_the_remaining_wait(
    rule: str, carried: int, expected: tuple[int, dt.date]
) -> None:
    w = waiting_period(
        NATIONAL, Person("flexible"), {}, Enrolment(D(2025, 3, 1), carried_months=carried)
    )
    assert (w.total_months, w.benefit_start) == expected, rule


def test_flexible_carried_months_and_breaks() -> None:
    flex = Person("flexible")
    # a break within break_restart_months (3) keeps the carried months: 6 − 2 = 4 to wait
    kept = Enrolment(D(2025, 3, 1), carried_months=2, break_months=3)
    assert waiting_period(NATIONAL, flex, {}, kept).benefit_start == D(2025, 7, 1)
    # a longer break is a new first enrolment: the whole wait, carried months or not
    restart = Enrolment(D(2025, 3, 1), carried_months=12, break_months=4)
    assert waiting_period(NATIONAL, flex, {}, restart).benefit_start == D(2025, 9, 1)


def test_flexible_transfer_uses_the_new_areas_wait_length() -> None:
    short = Policy("000000", overlays=[{"employee": {"waiting": {"flexible_first_months": 3}}}])
    transfer = Enrolment(D(2025, 3, 1), carried_months=2)
    w = waiting_period(short, Person("flexible"), {}, transfer)
    assert (w.total_months, w.benefit_start) == (3 - 2, D(2025, 4, 1))


@pytest.mark.parametrize(
    ("last_covered", "next_start", "months"),
    [
        (D(2024, 12, 31), D(2025, 1, 1), 0),  # the next day: no gap
        (D(2024, 12, 31), D(2025, 1, 2), 1),  # a started month counts whole
        (D(2024, 12, 31), D(2025, 3, 1), 2),  # January and February
        (D(2024, 12, 31), D(2025, 4, 1), 3),
        (D(2024, 12, 31), D(2025, 4, 2), 4),
        (D(2025, 1, 30), D(2025, 3, 31), 2),  # 31 Jan + 1 month is 28 Feb (month end)
    ],
)
def test_gap_months(last_covered: dt.date, next_start: dt.date, months: int) -> None:
    assert gap_months(last_covered, next_start) == months


@pytest.mark.parametrize(
    ("rule", "groups", "paid", "expected"),
    [
        (
            "newborn group given, paid within 90 days",
            {"newborn"},
            D(2025, 5, 1),
            (0, D(2025, 2, 1)),
        ),
        ("no group given, paid within 90 days: same", set(), D(2025, 5, 1), (0, D(2025, 2, 1))),
        (
            "no group, paid on day 90 (the last of the window)",
            set(),
            D(2025, 5, 2),
            (0, D(2025, 2, 1)),
        ),
        ("no group, paid on day 91: the fixed wait", set(), D(2025, 5, 3), (3, D(2025, 8, 3))),
        (
            "group given, paid on day 91: the fixed wait",
            {"newborn"},
            D(2025, 5, 3),
            (3, D(2025, 8, 3)),
        ),
    ],
)
def test_newborn_follows_from_the_birth_date(
    rule: str, groups: set[str], paid: dt.date, expected: tuple[int, dt.date]
) -> None:
    baby = Person("resident", D(2025, 2, 1), frozenset(groups))  # (2025-05-02 − 2025-02-01) = 90 d
    w = waiting_period(NATIONAL, baby, {}, Enrolment(paid))
    assert (w.total_months, w.benefit_start) == expected, rule


def test_newborn_exemption_follows_the_exempt_list() -> None:
    """An area that takes newborns off the exempt list makes them wait, group or not."""
    policy = Policy(
        "000000", overlays=[{"resident": {"waiting": {"exempt_groups": ["tekun", "dibao"]}}}]
    )
    baby = Person("resident", D(2025, 2, 1), frozenset({"newborn"}))
    assert waiting_period(policy, baby, {}, Enrolment(D(2025, 3, 1))).total_months == 3


def test_calculator_takes_carried_months() -> None:
    """``yibao calc waiting`` and the stored record share the rule: a flexible worker with 2
    carried months waits 6 − 2 = 4 months from the transfer."""
    scenario = {
        "region": "000000",
        "person": {"scheme": "flexible"},
        "history": {},
        "enrolment": {"date": "2025-03-01", "carried_months": 2},
    }
    out = waiting_scenario(scenario)
    assert (out["total_months"], out["benefit_start"]) == (4, "2025-07-01")
    with pytest.raises(ScenarioError) as info:
        waiting_scenario({**scenario, "enrolment": {"date": "2025-03-01", "carried_months": -1}})
    assert info.value.field == "enrolment.carried_months"
