"""Financing of the second and third layers (筹资), rules.md section 7: pure functions of the
policy parameters on a date. Money is integer fen; each amount is rounded half up once.

- Critical illness insurance (大病保险) is financed from the resident pooling fund: with each
  resident contribution a share moves to the critical illness fund, either a ratio of the
  contribution (individual + fiscal subsidy; national default 10%) or a fixed amount per insured
  resident-year (``critical_illness.financing.basis``).
- Large-amount insurance (大额医疗费用补助) is financed from the employee pooling fund: a fixed
  amount per insured person-month (in service, flexible, retiree; default 3 yuan, Beijing's
  figure) moves with each month's contribution or retiree credit.
- Medical assistance (医疗救助) is financed by the fiscal budget (财政补助): once a year an
  allocation per aid recipient of the area plus a fixed area amount.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from yibao.policy import Policy
from yibao.rules.errors import InvalidField

CRITICAL_ILLNESS_BASES = ("ratio", "per_capita")


class FinancingRuleError(InvalidField):
    """An input or a parameter of a financing rule is outside what the rule allows."""


def _count(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FinancingRuleError(field, f"must be a non-negative integer, got {value!r}")
    return value


def _money(policy: Policy, path: str, on: dt.date) -> int:
    value = policy.get(path, on)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FinancingRuleError(path, f"expected a non-negative amount in fen, got {value!r}")
    return value


def critical_illness_share(policy: Policy, on: dt.date, contribution: int) -> int:
    """What moves from the resident pooling fund to the critical illness fund with one resident
    contribution of ``contribution`` fen (individual + fiscal subsidy) for the year of ``on``:
    ``ratio`` × the contribution, or the ``per_capita`` amount; never more than the contribution.
    """
    contribution = _count("contribution", contribution)
    path = "critical_illness.financing"
    basis = policy.text(f"{path}.basis", on)
    if basis == "ratio":
        ratio = policy.rate(f"{path}.ratio", on)  # a rate in [0, 1] (policy.values)
        share = int((contribution * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    elif basis == "per_capita":
        share = _money(policy, f"{path}.per_capita", on)
    else:
        raise FinancingRuleError(
            f"{path}.basis", f"must be one of {', '.join(CRITICAL_ILLNESS_BASES)}, got {basis!r}"
        )
    return min(share, contribution)


def large_amount_share(policy: Policy, on: dt.date, pooling_part: int | None = None) -> int:
    """What moves from the employee pooling fund to the large-amount fund for one insured
    person-month (the month of ``on``): ``large_amount.financing.per_month``, never more than
    the month's ``pooling_part`` when one is given (a contribution month; a retiree's month has
    none and is paid from the fund's balance)."""
    share = _money(policy, "large_amount.financing.per_month", on)
    if pooling_part is not None:
        share = min(share, _count("pooling_part", pooling_part))
    return share


def assistance_allocation(policy: Policy, on: dt.date, recipients: int) -> int:
    """The fiscal allocation to the medical assistance fund of an area for the year of ``on``:
    ``per_recipient`` × the aid recipients + ``area_amount``."""
    recipients = _count("recipients", recipients)
    path = "medical_assistance.financing"
    return _money(policy, f"{path}.per_recipient", on) * recipients + _money(
        policy, f"{path}.area_amount", on
    )
