"""Fund operation rules (基金运行分析与风险预警) beyond the reserve months of back-office.md §2
(``rules.funds``): this year's deficit, spending growing faster than income, the expenditure a
month's reserve is measured against, and the projection of the year-end balance.

Amounts are integer fen; ratios are exact (``Fraction``) until the one rounding, half up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

from yibao.policy.money import round_fen

MONTHS = 12


def deficit(income: int, expenditure: int) -> bool:
    """当期赤字: the fund spent more than it took in over the months so far of the year."""
    return expenditure > income


def growth(now: int, last: int) -> Fraction | None:
    """Growth of ``now`` over ``last`` (the same months of last year) as a ratio; None when
    last year had nothing to grow from."""
    if last <= 0:
        return None
    return Fraction(now - last, last)


def growth_percent(now: int, last: int) -> Decimal | None:
    """``growth`` in percent, one decimal, half up (for reports and evidence)."""
    g = growth(now, last)
    if g is None:
        return None
    exact = Decimal(g.numerator * 100) / Decimal(g.denominator)
    return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def spending_outgrows_income(
    income: int, income_last: int, expenditure: int, expenditure_last: int
) -> bool:
    """支出增速快于收入增速: expenditure grew faster than income against the same months of
    last year (compared exactly, not after rounding). Needs both of last year's figures."""
    g_exp, g_inc = growth(expenditure, expenditure_last), growth(income, income_last)
    if g_exp is None or g_inc is None:
        return False
    return g_exp > g_inc


def annual_expenditure(window: int, months: int) -> int:
    """The yearly expenditure a month's reserve is measured against: the expenditure of the
    twelve months ending with it (``months`` = 12), or, while the ledger holds fewer months
    (``months`` < 12), what they spent scaled to a year, half up."""
    if not 0 < months <= MONTHS:
        raise ValueError(f"months: {months} is not 1..12")
    return round_fen(Decimal(window) * MONTHS / months)


Method = Literal["actual", "seasonal", "scaled"]


@dataclass(frozen=True, slots=True)
class Projection:
    balance: int  # fen, projected at 31 December
    method: Method


def project_year_end(
    balance: int,
    months: int,
    income: int,
    expenditure: int,
    last_year: tuple[int, int, int, int] | None = None,
) -> Projection:
    """The year-end balance projected from ``months`` months so far (balance at the end of the
    last of them, ``income`` and ``expenditure`` to date).

    - ``actual``: all twelve months are in: the balance itself.
    - ``seasonal`` (when ``last_year`` gives last year's income and expenditure of the same
      months and of the rest of the year, and the same months' are positive): the rest of the
      year follows last year's shape, income to date × (last year's rest ÷ last year's same
      months), and likewise expenditure.
    - ``scaled`` (otherwise): the months so far repeat, to date × (12 − months) ÷ months.

    The projected balance is rounded once, half up."""
    if not 0 < months <= MONTHS:
        raise ValueError(f"months: {months} is not 1..12")
    if months == MONTHS:
        return Projection(balance, "actual")
    if last_year is not None:
        inc_same, inc_rest, exp_same, exp_rest = last_year
        if inc_same > 0 and exp_same > 0:
            rest = Fraction(income * inc_rest, inc_same) - Fraction(
                expenditure * exp_rest, exp_same
            )
            return Projection(_half_up(balance + rest), "seasonal")
    rest = Fraction((income - expenditure) * (MONTHS - months), months)
    return Projection(_half_up(balance + rest), "scaled")


def _half_up(value: Fraction) -> int:
    return round_fen(Decimal(value.numerator) / Decimal(value.denominator))
