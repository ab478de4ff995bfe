"""A year's contributions and their subsidies, per person, as arrays (rules.md §3 and §7).

The rules are ``rules.contributions`` and ``rules.financing``: this module asks them for each
month's base range, rates and fixed amounts (and each aid class's resident year) once, and
applies them to every person's wage or base with the same rounding (half up, once per part:
``kernel.segments.round_div``), so a million persons cost a few array operations. Tests check
the arrays against the scalar rules person by person.

Inputs per person: the insured category (employee | flexible | retiree | resident), the aid
class, the annual wage (employees) or chosen annual base (flexible workers), and the month of
enrolment in the year (months before it are not contributed for; residents pay the year).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from yibao.kernel.segments import I64, round_div
from yibao.kernel.tables import AID_CLASSES
from yibao.policy import Policy
from yibao.policy.vocab import InsuredCategory
from yibao.rules import contributions as rules
from yibao.rules import financing

#: the insured categories in code order (the persons' ``scheme`` column)
CATEGORIES: tuple[str, ...] = tuple(c.value for c in InsuredCategory)
EMPLOYEE, FLEXIBLE, RETIREE, RESIDENT = (
    CATEGORIES.index(c) for c in ("employee", "flexible", "retiree", "resident")
)
#: what ``person_year`` returns per person, fen
AMOUNTS = (
    "contributions",  # received by the insurance funds: employer + employee, flexible, resident
    "person_contributions",  # paid by the person (the employer's part and subsidies excluded)
    "fiscal_subsidy",  # the resident fiscal subsidy
    "assistance_subsidy",  # of a resident's individual part, paid by medical assistance
    "account_credits",  # to personal accounts (in service: a share of the base; retirees)
    "critical_illness_financing",  # moved from the resident pooling fund to critical illness
    "large_amount_financing",  # moved from the employee pooling fund to large-amount insurance
)


def _fraction(rate: Decimal) -> tuple[int, int]:
    n, d = rate.as_integer_ratio()
    return int(n), int(d)


def times(rate: tuple[int, int], amounts: I64) -> I64:
    """rate × amounts, rounded half up to the fen (amounts ≥ 0)."""
    n, d = rate
    return round_div(amounts * n, d)


@dataclass(frozen=True)
class Month:
    """A month's parameters as the monthly rules read them (fen per month, exact rates)."""

    floor: int
    ceiling: int
    employer: tuple[int, int]
    employee: tuple[int, int]
    flexible: tuple[int, int]
    account_share: tuple[int, int]
    retiree_credit: int
    large_amount: int


@dataclass(frozen=True)
class ContributionRates:
    """A policy's contribution parameters for one coverage year, compiled (picklable)."""

    year: int
    months: tuple[Month, ...]  # January .. December
    #: per aid class code (``kernel.tables.AID_CLASSES``, 0: none): the resident year's
    #: individual part, fiscal subsidy, part paid by assistance, critical illness share
    resident: tuple[tuple[int, int, int, int], ...]


def compile_rates(policy: Policy, year: int) -> ContributionRates:
    months = []
    for m in range(1, 13):
        on = dt.date(year, m, 1)
        span = rules.monthly_base_range(policy, on)
        months.append(
            Month(
                floor=span.floor,
                ceiling=span.ceiling,
                employer=_fraction(policy.rate("employee.contribution.employer_rate", on)),
                employee=_fraction(policy.rate("employee.contribution.employee_rate", on)),
                flexible=_fraction(policy.rate("employee.contribution.flexible_rate", on)),
                account_share=_fraction(
                    policy.rate("employee.personal_account.in_service_share", on)
                ),
                retiree_credit=rules.account_credit_retiree(policy, on),
                large_amount=financing.large_amount_share(policy, on),
            )
        )
    first = dt.date(year, 1, 1)
    resident = []
    for cls in AID_CLASSES:
        c = rules.resident_annual(policy, first, [] if cls == "none" else [cls])
        ci = financing.critical_illness_share(policy, first, c.total)
        resident.append((c.individual, c.fiscal_subsidy, c.assistance_paid, ci))
    return ContributionRates(year, tuple(months), tuple(resident))


def monthly_wage(annual: I64) -> I64:
    """An annual wage or base as a monthly one, half up (negative: none, taken as 0)."""
    return round_div(np.maximum(annual, 0), 12)


def person_year(
    rates: ContributionRates,
    category: I64,
    aid_class: I64,
    wage: I64,
    base: I64,
    first_month: I64,
) -> dict[str, I64]:
    """Each person's year of contributions (``AMOUNTS``), fen.

    ``wage`` and ``base`` are annual (negative: none); ``first_month`` 0..12 is the first month
    contributed for (0: January; 12: none this year)."""
    n = len(category)
    out = {a: np.zeros(n, dtype=np.int64) for a in AMOUNTS}
    emp = category == EMPLOYEE
    flex = category == FLEXIBLE
    ret = category == RETIREE
    res = category == RESIDENT
    wage_m, base_m = monthly_wage(wage), monthly_wage(base)
    contrib, own, credit, large = (
        out["contributions"],
        out["person_contributions"],
        out["account_credits"],
        out["large_amount_financing"],
    )
    # months with the same parameters give the same amounts: each run of equal months once,
    # times the months of it each person contributes for
    k = 0
    while k < 12:
        month = rates.months[k]
        last = k
        while last + 1 < 12 and rates.months[last + 1] == month:
            last += 1
        count = np.clip(last + 1 - np.maximum(first_month, k), 0, None)
        k = last + 1
        e, f = emp & (count > 0), flex & (count > 0)
        if e.any():
            b, times_e = np.clip(wage_m[e], month.floor, month.ceiling), count[e]
            employee = times(month.employee, b)
            total = times(month.employer, b) + employee
            to_account = np.minimum(times(month.account_share, b), employee)
            contrib[e] += total * times_e
            own[e] += employee * times_e
            credit[e] += to_account * times_e
            large[e] += np.minimum(month.large_amount, total - to_account) * times_e
        if f.any():
            b, times_f = np.clip(base_m[f], month.floor, month.ceiling), count[f]
            total = times(month.flexible, b)
            to_account = np.minimum(times(month.account_share, b), total)
            contrib[f] += total * times_f
            own[f] += total * times_f
            credit[f] += to_account * times_f
            large[f] += np.minimum(month.large_amount, total - to_account) * times_f
        # a retiree's month: a credit from the pooling fund, the large-amount share from the
        # fund's balance
        credit[ret] += month.retiree_credit * count[ret]
        large[ret] += month.large_amount * count[ret]
    table = np.array(rates.resident, dtype=np.int64).reshape(-1, 4)
    row = table[aid_class[res]]
    contrib[res] = row[:, 0] + row[:, 1]
    own[res] = row[:, 0] - row[:, 2]
    out["fiscal_subsidy"][res] = row[:, 1]
    out["assistance_subsidy"][res] = row[:, 2]
    out["critical_illness_financing"][res] = row[:, 3]
    return out
