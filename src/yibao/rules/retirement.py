"""Retirement in the employee scheme (退休人员医保待遇), rules.md section 3: pure functions.

An employee whose cumulative contribution years (actual + deemed, 实际缴费年限 + 视同缴费年限)
reach the local minimum (``employee.retirement_min_years``, by sex; default 25 men, 20 women)
pays nothing after retirement. One who falls short pays the missing months in one lump sum
(一次性补缴) on the retirement base:

    lump sum = missing months × monthly base × (employer_rate + employee_rate), half up once

where the monthly base is ``employee.retirement_backpay_base`` (default 100% of the average
wage, per year) divided by 12, rounded half up to the fen as every monthly base is. The whole
lump sum goes to the employee pooling fund: a retiree's personal account is credited by the
fixed monthly amount, not from contributions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from yibao.policy import Policy
from yibao.policy.money import round_fen
from yibao.rules.errors import InvalidField

SEX_KEYS = {"M": "male", "F": "female"}


def _months(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(field, f"must be a whole number of months, got {value!r}", value)
    if value < 0:
        raise InvalidField(field, f"must not be negative, got {value}", value)
    return value


@dataclass(frozen=True, slots=True)
class RetirementYears:
    """Whether a person's contribution months reach the minimum for a retiree's benefits."""

    sex: str  # "male" | "female"
    required_months: int
    actual_months: int
    deemed_months: int

    @property
    def counted_months(self) -> int:
        return self.actual_months + self.deemed_months

    @property
    def missing_months(self) -> int:
        return max(self.required_months - self.counted_months, 0)

    def describe(self) -> str:
        return (
            f"{self.actual_months} actual + {self.deemed_months} deemed contribution months"
            f" against the {self.required_months // 12}-year minimum ({self.sex})"
        )


def retirement_years(
    policy: Policy, on: dt.date, sex: str, actual_months: int, deemed_months: int
) -> RetirementYears:
    """Rule 3 (retirement): the minimum of ``employee.retirement_min_years`` for ``sex``
    ("M"/"F", as the national ID says) against actual + deemed months."""
    key = SEX_KEYS.get(sex)
    if key is None:
        raise InvalidField("sex", "must be M or F", sex)
    minimum = policy.get("employee.retirement_min_years", on)
    years = minimum.get(key) if isinstance(minimum, dict) else None
    if isinstance(years, bool) or not isinstance(years, int) or years < 0:
        raise InvalidField(
            f"employee.retirement_min_years.{key}", "must be a whole number of years", years
        )
    return RetirementYears(
        sex=key,
        required_months=years * 12,
        actual_months=_months("actual_months", actual_months),
        deemed_months=_months("deemed_months", deemed_months),
    )


@dataclass(frozen=True, slots=True)
class RetirementBackPay:
    """The one-off back-payment of the months missing to the minimum."""

    on: dt.date
    months: int
    monthly_base: int  # fen
    rate: Decimal  # employer_rate + employee_rate
    amount: int  # fen, all to the employee pooling fund


def retirement_backpay(policy: Policy, on: dt.date, missing_months: int) -> RetirementBackPay:
    """Rule 3 (retirement): missing months × monthly base × (employer + employee rate)."""
    months = _months("missing_months", missing_months)
    annual = policy.get("employee.retirement_backpay_base", on)
    if isinstance(annual, bool) or not isinstance(annual, int) or annual <= 0:
        raise InvalidField("employee.retirement_backpay_base", "must be an amount > 0", annual)
    base = round_fen(Decimal(annual) / 12)
    rate = policy.rate("employee.contribution.employer_rate", on) + policy.rate(
        "employee.contribution.employee_rate", on
    )
    return RetirementBackPay(
        on=on, months=months, monthly_base=base, rate=rate, amount=round_fen(months * base * rate)
    )
