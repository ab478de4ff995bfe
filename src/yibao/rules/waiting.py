"""Eligibility and waiting periods (待遇等待期), rules.md section 4.

Pure functions of the parameters and the person's participation history.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

from yibao.policy import Policy

INSURED, LAPSED = "insured", "lapsed"


def add_months(d: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day where it is shorter)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Enrolment:
    """An enrolment (参保) and what the waiting rules need to know about it."""

    date: dt.date  # payment / enrolment date
    in_collection_period: bool = False
    repaired_years: int = 0  # lapsed years paid back (补缴)
    coverage_year: int | None = None  # default: next year if paid in the collection period
    break_months: int | None = None  # flexible workers: months since the last payment (None: first)
    transfer_gap_months: int | None = None  # moving between schemes: months without cover
    # flexible workers: contribution months brought from earlier enrolments; they shorten the
    # wait unless break_months > break_restart_months (then a new first enrolment)
    carried_months: int = 0
    zero_claim_years: int = 0  # used only where zero-claim credit offsets the wait


@dataclass(frozen=True)
class Person:
    scheme: str  # employee | flexible | retiree | resident
    birth_date: dt.date | None = None
    groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Waiting:
    fixed_months: int
    variable_months: int
    repaired_months: int
    total_months: int
    benefit_start: dt.date
    rule: str


def coverage_year(policy: Policy, enrolment: Enrolment) -> int:
    if enrolment.coverage_year is not None:
        return enrolment.coverage_year
    period = policy.node("resident.contribution.collection_period", enrolment.date)
    start_month = int(str(period["start"]).split("-")[0])
    if enrolment.in_collection_period and enrolment.date.month >= start_month:
        return enrolment.date.year + 1
    return enrolment.date.year


def gap_months(last_covered: dt.date, next_start: dt.date) -> int:
    """Months without cover between two enrolments, a started month counting whole: 0 when
    ``next_start`` is the day after ``last_covered``; 3 up to three calendar months later."""
    first_uncovered = last_covered + dt.timedelta(days=1)
    n = 0
    while add_months(first_uncovered, n) < next_start:
        n += 1
    return n


def restarts_wait(policy: Policy, on: dt.date, break_months: int | None) -> bool:
    """A flexible worker's break longer than ``break_restart_months`` makes a new first
    enrolment: the wait is counted again from the first payment, carried months or not."""
    restart = policy.count("employee.waiting.break_restart_months", on)
    return break_months is not None and break_months > restart


def lapsed_years(history: dict[int, str], before: int) -> int:
    """Consecutive lapsed years immediately before ``before`` (the current break)."""
    n, year = 0, before - 1
    while history.get(year) == LAPSED:
        n, year = n + 1, year - 1
    return n


def continuous_years(history: dict[int, str], before: int) -> int:
    """Consecutive insured years immediately before ``before``."""
    n, year = 0, before - 1
    while history.get(year) == INSURED:
        n, year = n + 1, year - 1
    return n


def employee_waiting(policy: Policy, person: Person, enrolment: Enrolment) -> Waiting:
    """Employees: from the month after payment; flexible workers: a continuous-payment wait."""
    on = enrolment.date
    w = policy.node("employee.waiting", on)
    first_of_month = enrolment.date.replace(day=1)
    if person.scheme == "flexible":
        restart = int(w["break_restart_months"])
        broken = restarts_wait(policy, on, enrolment.break_months)
        months = int(w["flexible_first_months"])
        carried = enrolment.carried_months
        if carried > 0 and not broken:
            # a transfer neither restarts nor ends the wait: the months carried count towards
            # this area's wait, the rest is waited from the transfer date
            left = max(months - carried, 0)
            return Waiting(
                left,
                0,
                0,
                left,
                add_months(on, left),
                f"flexible worker: {carried} contribution months carried count towards the"
                f" {months}-month wait: "
                + (f"{left} months still to wait" if left else "wait completed, no wait"),
            )
        if enrolment.break_months is not None and not broken:
            return Waiting(
                0,
                0,
                0,
                0,
                on,
                f"flexible worker: break of {enrolment.break_months}"
                f" months ≤ {restart}, continuity kept, no wait",
            )
        return Waiting(
            months,
            0,
            0,
            months,
            add_months(on, months),
            f"flexible worker, first enrolment (or break > {restart} months):"
            f" benefits after {months} months of continuous payment",
        )
    months = int(w["employer_enrolled_months"])
    start = add_months(first_of_month, months)
    return Waiting(
        0,
        0,
        0,
        0,
        start,
        f"employee enrolled by an employer: benefits from the month"
        f" after payment ({start.isoformat()})",
    )


def resident_waiting(
    policy: Policy, person: Person, history: dict[int, str], enrolment: Enrolment
) -> Waiting:
    """Residents from 2025: fixed + variable wait, repair, long-lapse floor, exemptions."""
    on = enrolment.date
    w = policy.node("resident.waiting", on)
    year = coverage_year(policy, enrolment)
    year_start = dt.date(year, 1, 1)
    start = max(on, year_start)
    listed = set(w["exempt_groups"])
    exempt = listed & set(person.groups)
    if "newborn" in listed:
        # the newborn group follows from the birth date: given or not, a person enrolled
        # within the window after birth is exempt
        window = int(w["newborn_window_days"])
        born = person.birth_date
        if born is not None and 0 <= (on - born).days <= window:
            return Waiting(
                0,
                0,
                0,
                0,
                born,
                f"newborn enrolled within {window} days of birth: covered from birth",
            )
        exempt.discard("newborn")
    if exempt:
        return Waiting(0, 0, 0, 0, start, f"exempt group ({', '.join(sorted(exempt))}): no wait")
    gap = enrolment.transfer_gap_months
    if gap is not None and gap <= 3 and continuous_years(history, year) >= 2:
        return Waiting(
            0,
            0,
            0,
            0,
            start,
            f"transfer between schemes with a gap of {gap} months"
            " after ≥ 2 continuous years: gap back-paid, no wait",
        )
    lapsed = lapsed_years(history, year)
    continuous = history.get(year - 1) == INSURED
    if year < 2025:
        return Waiting(0, 0, 0, 0, start, "before 2025 no resident waiting period applies")
    if enrolment.in_collection_period and continuous:
        return Waiting(
            0,
            0,
            0,
            0,
            year_start,
            "paid in the collection period and insured the year before: covered from 1 January",
        )
    fixed = int(w["fixed_months"])
    counted = max(lapsed - (1 if w["first_lapse_year_free"] else 0), 0)
    variable = counted * int(w["months_per_lapsed_year"])
    if w["zero_claim_credit_offsets_wait"]:
        variable = max(variable - enrolment.zero_claim_years, 0)
    repaired = min(enrolment.repaired_years * int(w["repair_months_per_year"]), variable)
    total = fixed + variable - repaired
    rule = (
        f"fixed {fixed} months from payment; variable {variable} months for {lapsed}"
        f" lapsed year(s); {repaired} months repaired by back-payment"
    )
    long_years, floor = int(w["long_lapse_years"]), int(w["long_lapse_min_months"])
    if lapsed >= long_years and total < floor:
        total = floor
        rule += f"; a lapse of ≥ {long_years} years keeps the wait at least {floor} months"
    return Waiting(fixed, variable, repaired, total, add_months(start, total), rule)


def waiting_period(
    policy: Policy, person: Person, history: dict[int, str], enrolment: Enrolment
) -> Waiting:
    """The waiting period of an enrolment, by scheme."""
    if person.scheme == "resident":
        return resident_waiting(policy, person, history, enrolment)
    return employee_waiting(policy, person, enrolment)
