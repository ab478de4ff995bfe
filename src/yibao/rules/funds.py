"""Fund management (基金运行), rules.md section 7 and back-office.md section 2: pure functions of
the parameters and the funds' figures. Money is integer fen; each amount is rounded half up once.

- Reserve months (可支付月数): a fund's accumulated balance in months of last year's spending,
  and the risk warning (风险预警) those months give (``FundWarning``).
- The provincial adjustment fund (省级调剂金, Anhui 2024): each city pays in
  ``funds.adjustment.draw_ratio`` of last year's pooling income; paying in pauses once the fund
  holds ``pause_at_ratio`` of the province's last-year pooling income, and the draws of the year
  that would pass that line are scaled so that the balance lands exactly on it.
- Gaps caused by policy (政策性缺口): the adjustment fund pays ``gap_share`` of each city's gap,
  pro rata when it cannot pay every share; the rest comes from the city's accumulated balance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from yibao.policy import ParameterError, Policy, fen_to_yuan
from yibao.policy.money import round_fen
from yibao.policy.vocab import FundWarning
from yibao.rules.errors import InvalidField

#: ``reserve_months`` of a positive balance when nothing was spent last year.
UNBOUNDED = Decimal("Infinity")

_MONTHS = "funds.warning.balance_months"
_ADJUSTMENT = "funds.adjustment"


def province_of(area: str) -> str:
    """The province of a pooling area (``340100`` → ``340000``): who keeps its adjustment fund."""
    return area[:2] + "0000"


class FundsRuleError(InvalidField):
    """An input of a fund rule is outside what the rule allows."""


def _fen(field: str, value: object, *, signed: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FundsRuleError(field, f"must be an amount in integer fen, got {value!r}")
    if value < 0 and not signed:
        raise FundsRuleError(field, f"must not be negative, got {value}")
    return value


def reserve_months(balance_fen: int, expenditure_last_year_fen: int) -> Decimal:
    """可支付月数 = balance ÷ (expenditure_last_year ÷ 12), one decimal, half up (away from
    zero for a negative balance, 穿底). With no spending last year a positive balance covers
    every month (``UNBOUNDED``, Decimal infinity) and a balance of 0 or less covers none (0.0)."""
    balance = _fen("balance", balance_fen, signed=True)
    spent = _fen("expenditure_last_year", expenditure_last_year_fen)
    if spent == 0:
        return UNBOUNDED if balance > 0 else Decimal("0.0")
    tenths, rest = divmod(abs(balance) * 120, spent)  # exact: months × 10 = balance × 120 / spent
    if 2 * rest >= spent:
        tenths += 1
    return Decimal(-tenths if balance < 0 else tenths).scaleb(-1)


@dataclass(frozen=True, slots=True)
class WarningThresholds:
    """``funds.warning.balance_months``: critical below ``critical``, low below ``low``, surplus
    above ``high`` (months)."""

    critical: Decimal
    low: Decimal
    high: Decimal


def _months(policy: Policy, path: str, on: dt.date) -> Decimal:
    value = policy.get(path, on)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ParameterError(policy.source_file(path, on), path, f"expected months, got {value!r}")
    return Decimal(value)


def warning_thresholds(policy: Policy, on: dt.date) -> WarningThresholds:
    """The thresholds in force on ``on``; refused unless critical ≤ low ≤ high."""
    t = WarningThresholds(
        critical=_months(policy, f"{_MONTHS}.critical", on),
        low=_months(policy, f"{_MONTHS}.low", on),
        high=_months(policy, f"{_MONTHS}.high", on),
    )
    if not t.critical <= t.low <= t.high:
        path = f"{_MONTHS}.critical"
        raise ParameterError(
            policy.source_file(path, on),
            _MONTHS,
            f"must be critical ≤ low ≤ high, got {t.critical}, {t.low}, {t.high}",
        )
    return t


def warning_level(months: Decimal, thresholds: WarningThresholds) -> FundWarning:
    """The warning of a fund's reserve months: ``critical`` below ``thresholds.critical``,
    ``low`` below ``.low``, ``surplus`` above ``.high``, else ``normal`` (a threshold itself is
    the milder level)."""
    if months < thresholds.critical:
        return FundWarning.CRITICAL
    if months < thresholds.low:
        return FundWarning.LOW
    if months > thresholds.high:
        return FundWarning.SURPLUS
    return FundWarning.NORMAL


@dataclass(frozen=True, slots=True)
class AdjustmentParameters:
    """``funds.adjustment``: the draw ratio (at most ``draw_ratio_max``), the pause line as a
    ratio of the province's last-year pooling income, the share of a gap the fund pays."""

    draw_ratio: Decimal
    pause_at_ratio: Decimal
    gap_share: Decimal


def adjustment_parameters(policy: Policy, on: dt.date) -> AdjustmentParameters:
    """The adjustment fund's parameters in force on ``on``; a draw ratio above
    ``draw_ratio_max`` is refused, naming the file and the parameter."""
    draw = policy.rate(f"{_ADJUSTMENT}.draw_ratio", on)
    ceiling = policy.rate(f"{_ADJUSTMENT}.draw_ratio_max", on)
    if draw > ceiling:
        path = f"{_ADJUSTMENT}.draw_ratio"
        raise ParameterError(
            policy.source_file(path, on), path, f"{draw} is above draw_ratio_max {ceiling}"
        )
    return AdjustmentParameters(
        draw_ratio=draw,
        pause_at_ratio=policy.rate(f"{_ADJUSTMENT}.pause_at_ratio", on),
        gap_share=policy.rate(f"{_ADJUSTMENT}.gap_share", on),
    )


def scale_to(amounts: Sequence[int], target: int) -> tuple[int, ...]:
    """``amounts`` scaled to sum to ``target`` (0 ≤ target ≤ their sum): each pays the same
    share, rounded to the fen half up, and the last takes the remainder. When the remainder
    would be above the last's own amount (amounts of a few fen), the excess goes to the earlier
    ones in order, each up to its own amount; so each result is between 0 and its amount."""
    total = sum(amounts)
    if not 0 <= target <= total:
        raise FundsRuleError("target", f"must be between 0 and {total}, got {target}")
    if target == total:
        return tuple(amounts)
    out: list[int] = []
    left = target
    for a in amounts[:-1]:
        share = min((2 * a * target + total) // (2 * total), left)  # a × target / total, half up
        out.append(share)
        left -= share
    out.append(left)
    excess = out[-1] - amounts[-1]
    if excess > 0:
        out[-1] = amounts[-1]
        for i in range(len(out) - 1):
            take = min(amounts[i] - out[i], excess)
            out[i] += take
            excess -= take
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Draws:
    """The year's draws (调剂金上解) by area, the pause line and whether paying in paused (the
    fund's balance after the draws has reached the line)."""

    amounts: tuple[int, ...]
    line: int
    paused: bool


def adjustment_draws(
    incomes_last_year_fen: Sequence[int],
    draw_ratio: Decimal,
    province_income_last_year_fen: int,
    pause_at_ratio: Decimal,
    adjustment_balance_fen: int,
) -> Draws:
    """Each area pays ``draw_ratio`` × its last-year pooling income (fen, half up). The line is
    ``pause_at_ratio`` × the province's last-year pooling income (fen, half up): a fund already
    at or above it draws nothing; draws that would pass it are scaled (``scale_to``) so that the
    balance lands exactly on it."""
    incomes = [_fen(f"income_last_year[{i}]", x) for i, x in enumerate(incomes_last_year_fen)]
    province = _fen("province_income_last_year", province_income_last_year_fen)
    if sum(incomes) > province:
        raise FundsRuleError(
            "province_income_last_year", "is below the sum of the areas' income_last_year"
        )
    balance = _fen("adjustment_balance", adjustment_balance_fen)
    full = tuple(round_fen(draw_ratio * x) for x in incomes)
    line = round_fen(pause_at_ratio * province)
    room = line - balance
    if room <= 0:
        return Draws(tuple(0 for _ in full), line, True)
    if sum(full) < room:
        return Draws(full, line, False)
    return Draws(scale_to(full, room), line, True)


@dataclass(frozen=True, slots=True)
class GapShares:
    """Who pays each area's gap: the adjustment fund and the area's own balance."""

    from_adjustment: tuple[int, ...]
    from_balance: tuple[int, ...]


def share_gaps(gaps_fen: Sequence[int], gap_share: Decimal, available_fen: int) -> GapShares:
    """The adjustment fund pays ``gap_share`` of each gap (fen, half up); when ``available_fen``
    (its balance after the year's draws) is less than the shares' sum, it pays them pro rata
    (``scale_to``, the whole of what it holds). The rest of each gap comes from the area's
    accumulated balance."""
    gaps = [_fen(f"gap[{i}]", g) for i, g in enumerate(gaps_fen)]
    available = max(_fen("available", available_fen, signed=True), 0)
    shares = tuple(round_fen(gap_share * g) for g in gaps)
    paid = shares if sum(shares) <= available else scale_to(shares, available)
    return GapShares(paid, tuple(g - p for g, p in zip(gaps, paid, strict=True)))


@dataclass(frozen=True, slots=True)
class AreaFigures:
    """One city's pooling fund figures for the year's adjustment (fen)."""

    code: str
    income_last_year: int  # 统筹基金收入
    expenditure_last_year: int
    balance: int  # 累计结存 (negative: 穿底)
    gap: int  # this year's gap caused by policy


@dataclass(frozen=True, slots=True)
class AreaAdjustment:
    code: str
    reserve_months: Decimal
    warning: FundWarning
    draw: int
    gap_from_adjustment: int
    gap_from_balance: int


@dataclass(frozen=True, slots=True)
class Adjustment:
    """The year's adjustment of one scheme in one province."""

    areas: tuple[AreaAdjustment, ...]
    adjustment_balance_after: int
    paused: bool

    def as_dict(self) -> dict[str, Any]:
        """As ``yibao calc funds`` and ``yibao funds adjust`` print it (back-office.md section
        2): yuan as strings with two places, reserve months with one (null: unbounded)."""
        return {
            "areas": [
                {
                    "code": a.code,
                    "reserve_months": months_text(a.reserve_months),
                    "warning": a.warning.value,
                    "draw": fen_to_yuan(a.draw),
                    "gap_from_adjustment": fen_to_yuan(a.gap_from_adjustment),
                    "gap_from_balance": fen_to_yuan(a.gap_from_balance),
                }
                for a in self.areas
            ],
            "adjustment_balance_after": fen_to_yuan(self.adjustment_balance_after),
            "paused": self.paused,
        }


def months_text(months: Decimal) -> str | None:
    """Reserve months as printed: one decimal, or None when unbounded (nothing spent)."""
    return None if months.is_infinite() else f"{months:.1f}"


def adjust_year(
    areas: Sequence[AreaFigures],
    province_income_last_year_fen: int,
    adjustment_balance_fen: int,
    parameters: AdjustmentParameters,
    thresholds: WarningThresholds,
) -> Adjustment:
    """Reserve months and warning of each area, then the draws, then the gaps shared out of
    the fund's balance after the draws (back-office.md section 2)."""
    draws = adjustment_draws(
        [a.income_last_year for a in areas],
        parameters.draw_ratio,
        province_income_last_year_fen,
        parameters.pause_at_ratio,
        adjustment_balance_fen,
    )
    after_draws = adjustment_balance_fen + sum(draws.amounts)
    gaps = share_gaps([a.gap for a in areas], parameters.gap_share, after_draws)
    out = []
    for a, draw, paid, own in zip(
        areas, draws.amounts, gaps.from_adjustment, gaps.from_balance, strict=True
    ):
        months = reserve_months(a.balance, a.expenditure_last_year)
        out.append(
            AreaAdjustment(a.code, months, warning_level(months, thresholds), draw, paid, own)
        )
    return Adjustment(tuple(out), after_draws - sum(gaps.from_adjustment), draws.paused)
