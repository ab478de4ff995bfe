"""Contribution rules (缴费): pure functions of the policy parameters on a date.

Money is integer fen, rates exact ``Decimal``; each part is rounded half up to the fen once.
The employee base range is annual in the parameters (``employee.contribution.base_floor`` and
``base_ceiling``: 60% and 300% of the average wage); a monthly base is one twelfth of it,
rounded half up to the fen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from yibao.policy import Policy, money
from yibao.policy.money import round_fen
from yibao.rules.errors import InvalidField


class ContributionRuleError(InvalidField):
    """An input to a contribution rule is outside what the rule allows."""


def _rate(policy: Policy, path: str, on: dt.date) -> Decimal:
    return policy.rate(path, on)


def _money(policy: Policy, path: str, on: dt.date) -> int:
    value = policy.get(path, on)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ContributionRuleError(path, f"expected an amount in fen, got {value!r}")
    return value


def _amount(field: str, fen: object) -> int:
    """Integer fen, not negative, not above ``policy.money.MAX_FEN``."""
    try:
        return money.check_fen(fen, field)
    except money.AmountError as exc:
        raise ContributionRuleError(field, exc.reason) from None


@dataclass(frozen=True, slots=True)
class BaseRange:
    floor: int  # fen per month
    ceiling: int

    def clamp(self, wage: int) -> int:
        return min(max(wage, self.floor), self.ceiling)


def monthly_base_range(policy: Policy, on: dt.date) -> BaseRange:
    """Rule 3 (employee base): [60%, 300%] of the average wage, per month."""
    floor = _money(policy, "employee.contribution.base_floor", on)
    ceiling = _money(policy, "employee.contribution.base_ceiling", on)
    return BaseRange(round_fen(Decimal(floor) / 12), round_fen(Decimal(ceiling) / 12))


@dataclass(frozen=True, slots=True)
class EmployeeContribution:
    on: dt.date
    wage: int
    base: int
    employer_rate: Decimal
    employee_rate: Decimal
    employer_part: int
    employee_part: int
    account_credit: int  # to the employee's personal account

    @property
    def total(self) -> int:
        return self.employer_part + self.employee_part

    @property
    def pooling_part(self) -> int:
        return self.total - self.account_credit


def account_credit_in_service(policy: Policy, on: dt.date, base: int) -> int:
    """Rule 3 (personal account, in service): in_service_share × base, half up."""
    share = _rate(policy, "employee.personal_account.in_service_share", on)
    return round_fen(share * _amount("base", base))


def account_credit_retiree(policy: Policy, on: dt.date) -> int:
    """Rule 3 (personal account, retiree): a fixed monthly amount from the pooling fund."""
    return _money(policy, "employee.personal_account.retiree_monthly", on)


def employee_monthly(policy: Policy, on: dt.date, wage: int) -> EmployeeContribution:
    """Rule 3 (employee): base = wage clamped to the range; employer and employee parts."""
    wage = _amount("wage", wage)
    base = monthly_base_range(policy, on).clamp(wage)
    employer_rate = _rate(policy, "employee.contribution.employer_rate", on)
    employee_rate = _rate(policy, "employee.contribution.employee_rate", on)
    employee_part = round_fen(employee_rate * base)
    credit = min(account_credit_in_service(policy, on, base), employee_part)
    return EmployeeContribution(
        on=on,
        wage=wage,
        base=base,
        employer_rate=employer_rate,
        employee_rate=employee_rate,
        employer_part=round_fen(employer_rate * base),
        employee_part=employee_part,
        account_credit=credit,
    )


@dataclass(frozen=True, slots=True)
class FlexibleContribution:
    on: dt.date
    base: int
    rate: Decimal
    total: int
    account_credit: int

    @property
    def pooling_part(self) -> int:
        return self.total - self.account_credit


def flexible_monthly(policy: Policy, on: dt.date, base: int) -> FlexibleContribution:
    """Rule 3 (flexible workers): flexible_rate × a chosen base inside the range."""
    base = _amount("base", base)
    rng = monthly_base_range(policy, on)
    if not rng.floor <= base <= rng.ceiling:
        raise ContributionRuleError(
            "base",
            f"{base} fen is outside the monthly base range [{rng.floor}, {rng.ceiling}] fen "
            f"on {on.isoformat()}",
            base,
        )
    rate = _rate(policy, "employee.contribution.flexible_rate", on)
    total = round_fen(rate * base)
    credit = min(account_credit_in_service(policy, on, base), total)
    return FlexibleContribution(on=on, base=base, rate=rate, total=total, account_credit=credit)


@dataclass(frozen=True, slots=True)
class ResidentContribution:
    on: dt.date
    individual: int  # the person's part before assistance
    fiscal_subsidy: int
    assistance_class: str | None
    assistance_share: Decimal
    assistance_paid: int  # of the individual part, paid by medical assistance

    @property
    def person_pays(self) -> int:
        return self.individual - self.assistance_paid

    @property
    def total(self) -> int:
        return self.individual + self.fiscal_subsidy


def resident_annual(
    policy: Policy, on: dt.date, assistance_classes: Iterable[str] = ()
) -> ResidentContribution:
    """Rule 3 (resident): individual + fiscal subsidy per person-year; an aid recipient's
    individual part is paid by medical assistance at its class's share (the most generous of
    the person's classes)."""
    individual = _money(policy, "resident.contribution.individual", on)
    subsidy = _money(policy, "resident.contribution.fiscal_subsidy", on)
    shares = policy.get_or("resident.contribution.assistance_subsidy", on, {})
    best: tuple[Decimal, str | None] = (Decimal(0), None)
    for cls in sorted(set(assistance_classes)):
        if cls not in shares:
            continue
        share = Decimal(str(shares[cls]))
        if not Decimal(0) <= share <= Decimal(1):
            raise ContributionRuleError(
                f"resident.contribution.assistance_subsidy.{cls}", f"share {share} is not in [0, 1]"
            )
        if share > best[0]:
            best = (share, cls)
    share, chosen = best
    return ResidentContribution(
        on=on,
        individual=individual,
        fiscal_subsidy=subsidy,
        assistance_class=chosen,
        assistance_share=share,
        assistance_paid=round_fen(share * individual),
    )


@dataclass(frozen=True, slots=True)
class RepairContribution:
    on: dt.date
    years: tuple[int, ...]
    per_year: int

    @property
    def total(self) -> int:
        return self.per_year * len(self.years)


def repair(policy: Policy, on: dt.date, lapsed_years: Sequence[int]) -> RepairContribution:
    """Rule 4 (repair): each lapsed year is paid back at the current individual contribution
    (no fiscal subsidy). Years must be distinct and before the year of ``on``."""
    years = tuple(sorted(lapsed_years))
    if not years:
        raise ContributionRuleError("years", "no lapsed year to repair")
    if len(set(years)) != len(years):
        raise ContributionRuleError("years", f"repeated year in {list(lapsed_years)}")
    if years[-1] >= on.year:
        raise ContributionRuleError("years", f"{years[-1]} is not before {on.year}", years[-1])
    per_year = _money(policy, "resident.contribution.individual", on)
    return RepairContribution(on=on, years=years, per_year=per_year)
