"""The maternity allowance (生育津贴) of an insured employee: the days of maternity leave (产假)
and the allowance for them.

Leave days = ``maternity.leave_days.base`` + ``.difficult`` for a difficult birth (难产) +
``.per_extra_baby`` × (babies − 1) + ``.local_extra`` (days a region's regulation adds), in force
on the birth date. Allowance = the employer's average monthly contribution wage of last year ×
days ÷ 30, rounded once to the fen, half up (back-office.md §8; the Special Provisions on Labour
Protection of Female Employees 2012, arts. 7 and 8).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from yibao.policy import Policy
from yibao.policy.money import round_fen
from yibao.rules.errors import InvalidField

#: The days of a month the allowance divides a monthly wage by (计发天数 30).
DAYS_PER_MONTH = 30
#: The most babies of one birth accepted (a guard against absurd input, not a policy figure).
MAX_BABIES = 9


@dataclass(frozen=True)
class Birth:
    """A birth (分娩): its date, whether it was difficult, and how many babies."""

    date: dt.date
    difficult: bool = False
    babies: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.babies, bool) or not isinstance(self.babies, int):
            raise InvalidField("babies", "must be a whole number", self.babies)
        if not 1 <= self.babies <= MAX_BABIES:
            raise InvalidField("babies", f"must be 1 to {MAX_BABIES}", self.babies)


@dataclass(frozen=True)
class Allowance:
    """The allowance of one birth: days, the daily figure (display only) and the amount, fen."""

    leave_days: int
    daily: int
    allowance: int


def leave_days(policy: Policy, birth: Birth) -> int:
    """The days of maternity leave the allowance pays for ``birth``."""
    on = birth.date
    days = policy.count("maternity.leave_days.base", on)
    if birth.difficult:
        days += policy.count("maternity.leave_days.difficult", on)
    days += policy.count("maternity.leave_days.per_extra_baby", on) * (birth.babies - 1)
    return days + policy.count("maternity.leave_days.local_extra", on)


def maternity_allowance(policy: Policy, monthly_wage: int, birth: Birth) -> Allowance:
    """The allowance for ``birth`` on an average monthly wage of ``monthly_wage`` fen: wage ×
    days ÷ 30, rounded once half up; ``daily`` = wage ÷ 30, rounded, for display only."""
    if isinstance(monthly_wage, bool) or not isinstance(monthly_wage, int) or monthly_wage < 0:
        raise InvalidField("employer_avg_monthly_wage", "must be an amount ≥ 0", monthly_wage)
    days = leave_days(policy, birth)
    wage = Decimal(monthly_wage)
    return Allowance(
        leave_days=days,
        daily=round_fen(wage / DAYS_PER_MONTH),
        allowance=round_fen(wage * days / DAYS_PER_MONTH),
    )


def average_monthly_wage(total_base: int, months: int) -> int:
    """The employer's average monthly contribution wage (上年度职工月平均缴费工资): the bases of
    its employees' contribution months of the year summed, ÷ the months, rounded half up."""
    if months <= 0:
        raise InvalidField("months", "no contribution months to average", months)
    return round_fen(Decimal(total_base) / months)
