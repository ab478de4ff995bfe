"""The policy of a loaded area's year, compiled once (``YearRules``): the months that share their
amounts, and the payments, legs, contribution templates and closed coverage histories of each
kind of person, memoised on their inputs so that a million persons cost a few thousand calls of
the services' builders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from yibao.domain.contributions import ContributionKind
from yibao.domain.enrolment import CoverageYear, EnrolmentKind
from yibao.domain.ledger import Legs
from yibao.policy import ParameterError, Policy
from yibao.rules import contributions as rules
from yibao.services import payments, yearend
from yibao.services.area_load import generated as gen
from yibao.services.area_load.read import GeneratedPerson

#: policy parameters the monthly rules read: months with equal values share their amounts
MONTHLY_PATHS = (
    "employee.contribution.base_floor",
    "employee.contribution.base_ceiling",
    "employee.contribution.employer_rate",
    "employee.contribution.employee_rate",
    "employee.contribution.flexible_rate",
    "employee.personal_account.in_service_share",
    "employee.personal_account.retiree_monthly",
    "large_amount.financing.per_month",
)
Row = tuple[Any, ...]


def month_groups(policy: Policy, year: int) -> list[list[dt.date]]:
    """The months of the year (their first days) in runs over which the monthly rules read
    the same parameter values."""

    def signature(on: dt.date) -> tuple[Any, ...]:
        values: list[Any] = []
        for path in MONTHLY_PATHS:
            try:
                values.append(policy.get(path, on))
            except ParameterError:
                values.append(None)
        return tuple(values)

    groups: list[list[dt.date]] = []
    last: tuple[Any, ...] | None = None
    for month in range(1, 13):
        first = dt.date(year, month, 1)
        sig = signature(first)
        if sig != last:
            groups.append([])
            last = sig
        groups[-1].append(first)
    return groups


@dataclass(frozen=True, slots=True)
class Month:
    """A month of the year, its days as written (ISO), and the first month of its group."""

    first: dt.date
    last: dt.date
    group: dt.date
    pay_day: dt.date  # ``generated.monthly_paid_on`` for a person enrolled before it
    first_iso: str
    last_iso: str
    pay_day_iso: str


class Rules:
    """The area's payments (``services.payments``), memoised on their inputs."""

    def __init__(self, policy: Policy, year: int) -> None:
        self.policy = policy
        self.year = year
        self.months: list[Month] = []
        for g in month_groups(policy, year):
            for m in g:
                last = payments.month_bounds(m)[1]
                pay = gen.monthly_paid_on(m, m)
                self.months.append(
                    Month(m, last, g[0], pay, m.isoformat(), last.isoformat(), pay.isoformat())
                )
        self._monthly: dict[tuple[EnrolmentKind, dt.date, int], payments.MonthlyPayment] = {}
        self._resident: dict[str | None, tuple[payments.ResidentPayment, Legs, int]] = {}
        self._heads: dict[tuple[int, dt.date], int] = {}
        self._years: dict[tuple[EnrolmentKind, int], list[MonthPaid]] = {}
        self._history: dict[tuple[Any, ...], History] = {}
        #: the contributions rows' values but the person's (``CONTRIBUTION_SHARED``), each
        #: after its template number, and each template's contribution kind
        self.heads: list[Row] = []
        self.head_kinds: list[str] = []
        #: the closed coverage rows of the past years but the person (``COVERAGE_SHARED``),
        #: each after its template number (the history of equal generated values)
        self.histories: list[Row] = []

    def _head(self, values: Row) -> int:
        template = len(self.head_kinds)
        self.heads.append((template, *values))
        self.head_kinds.append(values[0])
        return template

    def contribution_head(self, m: payments.MonthlyPayment, month: Month) -> int:
        """The template of the contributions row of a month's payment (memoised)."""
        key = (id(m), month.first)
        found = self._heads.get(key)
        if found is None:
            found = self._heads[key] = self._head(
                (
                    m.kind.value,
                    month.first_iso,
                    month.last_iso,
                    m.base,
                    m.employer_part,
                    m.employee_part,
                    0,
                    0,
                    0,
                    m.account_credit,
                )
            )
        return found

    def year_of(self, kind: EnrolmentKind, wage: int, base: int) -> list[MonthPaid]:
        """The months of the year of a person of ``kind`` on a yearly ``wage`` (employees) or
        ``base`` (flexible workers): each with its payment and the template of its
        contributions row (memoised)."""
        key = (kind, wage if kind is EnrolmentKind.EMPLOYER else base)
        found = self._years.get(key)
        if found is None:
            found = self._years[key] = []
            for month in self.months:
                m = self.monthly(kind, month.group, wage, base)
                found.append(MonthPaid(month, m, self.contribution_head(m, month)))
        return found

    def history(self, p: GeneratedPerson, region: str) -> History:
        """The closed coverage years before the year of a generated person (``generated.
        past_years``, ``services.yearend.past_rows``), memoised on the generated values."""
        key = (
            p.coverage_history or "",
            p.scheme,
            p.contribution_years,
            p.continuous_years or 0,
            p.repaired_years or 0,
            p.zero_claim_years or 0,
        )
        found = self._history.get(key)
        if found is None:
            past, before = gen.past_years(key[0], self.year, *key[1:])
            rows = yearend.past_rows(0, region, past, before)
            template = len(self._history)
            self.histories.extend((template, *coverage_row(c)[1:]) for c in rows)
            found = self._history[key] = History(
                template if rows else None, len(rows), rows[-1] if rows else None
            )
        return found

    def monthly(
        self, kind: EnrolmentKind, group: dt.date, wage: int, base: int
    ) -> payments.MonthlyPayment:
        """The month of a person of ``kind`` on a yearly ``wage`` (employees) or ``base``
        (flexible workers), in the group starting ``group``."""
        key = (kind, group, wage if kind is EnrolmentKind.EMPLOYER else base)
        found = self._monthly.get(key)
        if found is None:
            if kind is EnrolmentKind.EMPLOYER:
                found = payments.employee_month(self.policy, group, gen.half_up(wage, 12))
            elif kind is EnrolmentKind.FLEXIBLE:
                span = rules.monthly_base_range(self.policy, group)
                monthly = span.clamp(gen.half_up(base, 12))
                found = payments.flexible_month(self.policy, group, monthly)
            else:
                found = payments.retiree_month(self.policy, group)
            self._monthly[key] = found
        return found

    def resident(self, aid: str | None) -> tuple[payments.ResidentPayment, Legs, int]:
        """The resident year of an aid class (or none), its legs (paid in cash) and the
        template of its contributions row."""
        found = self._resident.get(aid)
        if found is None:
            payment = payments.resident_year(self.policy, self.year, [aid] if aid else [])
            c = payment.contribution
            first, last = payments.resident_period(self.year)
            head = self._head(
                (
                    ContributionKind.RESIDENT.value,
                    first.isoformat(),
                    last.isoformat(),
                    None,
                    0,
                    0,
                    c.individual,
                    c.fiscal_subsidy,
                    c.assistance_paid,
                    0,
                )
            )
            found = self._resident[aid] = (payment, payment.legs(), head)
        return found


class MonthPaid(NamedTuple):
    """A month of a person's year: the month, its payment, its contributions row's template."""

    month: Month
    payment: payments.MonthlyPayment
    head: int


class History(NamedTuple):
    """A generated history's closed coverage rows: their template (None: no rows), how many,
    and the last one (its person id is not the person's)."""

    template: int | None
    years: int
    last: CoverageYear | None


def coverage_row(c: CoverageYear) -> Row:
    # str() of a StrEnum member is its value (a C call: ``.value`` is a Python property)
    return (
        c.person_id,
        c.year,
        str(c.status),
        str(c.scheme) if c.scheme else None,
        c.pooling_area,
        c.paid_on,
        c.repaired,
        c.fund_paid,
        c.continuous_years,
        c.zero_claim,
        c.closed,
    )


# ----------------------------------------------------------------- a person's ledger entries
