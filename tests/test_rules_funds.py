"""Fund management rules (rules.funds): reserve months, warnings, the adjustment fund's draws and
gap shares, against hand computations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.policy import ParameterError, Policy
from yibao.policy.money import round_fen
from yibao.policy.vocab import FundWarning
from yibao.rules.funds import (
    AdjustmentParameters,
    AreaFigures,
    FundsRuleError,
    WarningThresholds,
    adjust_year,
    adjustment_draws,
    adjustment_parameters,
    reserve_months,
    scale_to,
    share_gaps,
    warning_level,
    warning_thresholds,
)

ON = dt.date(2025, 1, 1)
FIVE = Decimal("0.05")
TEN = Decimal("0.10")


@pytest.mark.parametrize(
    ("balance", "spent", "months"),
    [
        (700_000_000_000, 840_000_000_000, "10.0"),  # 7e11 ÷ (8.4e11 ÷ 12) = 10
        (125, 1200, "1.3"),  # 125 ÷ 100 = 1.25, half up
        (124, 1200, "1.2"),
        (-125, 1200, "-1.3"),  # a deficit (穿底): half away from zero
        (0, 1200, "0.0"),
        (5, 0, "Infinity"),  # nothing spent: a positive balance covers every month
        (0, 0, "0.0"),
        (-5, 0, "0.0"),
    ],
)
def test_reserve_months(balance: int, spent: int, months: str) -> None:
    assert reserve_months(balance, spent) == Decimal(months)
    assert str(reserve_months(balance, spent)) == months


def test_reserve_months_refuses_negative_spending() -> None:
    with pytest.raises(FundsRuleError, match="expenditure_last_year"):
        reserve_months(1, -1)


T = WarningThresholds(Decimal(3), Decimal(6), Decimal(24))


@pytest.mark.parametrize(
    ("months", "level"),
    [
        ("-1.0", FundWarning.CRITICAL),
        ("2.9", FundWarning.CRITICAL),
        ("3.0", FundWarning.LOW),  # at a threshold: the milder level
        ("5.9", FundWarning.LOW),
        ("6.0", FundWarning.NORMAL),
        ("24.0", FundWarning.NORMAL),
        ("24.1", FundWarning.SURPLUS),
        ("Infinity", FundWarning.SURPLUS),
    ],
)
def test_warning_level_at_each_threshold(months: str, level: FundWarning) -> None:
    assert warning_level(Decimal(months), T) is level


def test_warning_thresholds_from_the_parameters() -> None:
    assert warning_thresholds(Policy("340000"), ON) == T
    bad = Policy("000000", overlays=[{"funds": {"warning": {"balance_months": {"critical": 7}}}}])
    with pytest.raises(ParameterError, match="critical ≤ low ≤ high"):
        warning_thresholds(bad, ON)


def test_draws_below_the_line() -> None:
    # draws 5% of 100000, 60000 = 5000, 3000; line 10% of 200000 = 20000; room 10000
    d = adjustment_draws([100_000, 60_000], FIVE, 200_000, TEN, 10_000)
    assert (d.amounts, d.line, d.paused) == ((5000, 3000), 20_000, False)


def test_draws_exactly_at_the_line() -> None:
    d = adjustment_draws([100_000, 60_000], FIVE, 200_000, TEN, 12_000)  # room 8000 = draws
    assert (d.amounts, d.paused) == ((5000, 3000), True)


def test_draws_scaled_onto_the_line() -> None:
    # draws 5000, 3000, 2000 = 10000; room 20000 − 13001 = 6999; share 0.6999:
    # 3499.5 → 3500, 2099.7 → 2100, the last the remainder 6999 − 5600 = 1399
    d = adjustment_draws([100_000, 60_000, 40_000], FIVE, 200_000, TEN, 13_001)
    assert (d.amounts, d.paused) == ((3500, 2100, 1399), True)


@pytest.mark.parametrize("balance", [20_000, 25_000])
def test_a_paused_fund_draws_nothing(balance: int) -> None:
    d = adjustment_draws([100_000, 60_000], FIVE, 200_000, TEN, balance)
    assert (d.amounts, d.paused) == ((0, 0), True)


def test_draws_refuse_inconsistent_figures() -> None:
    with pytest.raises(FundsRuleError, match="province_income_last_year"):
        adjustment_draws([100_000, 60_000], FIVE, 150_000, TEN, 0)
    with pytest.raises(FundsRuleError, match=r"income_last_year\[1\]"):
        adjustment_draws([100_000, -1], FIVE, 150_000, TEN, 0)


def test_gaps_paid_in_full() -> None:
    # shares 0.5 × 1000 = 500, 0.5 × 3001 = 1500.5 → 1501
    g = share_gaps([1000, 3001], Decimal("0.5"), 5000)
    assert (g.from_adjustment, g.from_balance) == ((500, 1501), (500, 1500))


def test_gaps_pro_rata() -> None:
    # shares 500 + 1501 = 2001 > 1000 held: 500 × 1000/2001 = 249.875 → 250, the last 750
    g = share_gaps([1000, 3001], Decimal("0.5"), 1000)
    assert (g.from_adjustment, g.from_balance) == ((250, 750), (750, 2251))
    nothing = share_gaps([1000, 3001], Decimal("0.5"), -5)
    assert (nothing.from_adjustment, nothing.from_balance) == ((0, 0), (1000, 3001))


def test_scale_to_keeps_each_share_within_its_amount() -> None:
    assert scale_to([1, 1, 1, 1], 2) == (1, 1, 0, 0)  # half up would give 1 each: capped
    # 6/13 of 3 = 1.38 → 1 four times; the last's remainder 2 is above its 1: the excess fen
    # goes to the first
    assert scale_to([3, 3, 3, 3, 1], 6) == (2, 1, 1, 1, 1)
    assert scale_to([], 0) == ()
    with pytest.raises(FundsRuleError):
        scale_to([1, 2], 4)


@given(
    st.lists(st.integers(0, 10**12), min_size=1, max_size=12),
    st.floats(0, 1),
)
def test_scale_to_lands_exactly(amounts: list[int], fraction: float) -> None:
    target = int(sum(amounts) * fraction)
    out = scale_to(amounts, target)
    assert sum(out) == target
    assert all(0 <= s <= a for s, a in zip(out, amounts, strict=True))


def test_adjustment_parameters() -> None:
    p = adjustment_parameters(Policy("340000"), ON)
    assert (p.draw_ratio, p.pause_at_ratio, p.gap_share) == (FIVE, TEN, Decimal("0.5"))
    lower = Policy("340000", overlays=[{"funds": {"adjustment": {"draw_ratio_max": 0.03}}}])
    assert adjustment_parameters(lower, ON).draw_ratio == Decimal("0.03")  # follows the ceiling
    above = {"funds": {"adjustment": {"draw_ratio_max": 0.03, "draw_ratio": 0.04}}}
    with pytest.raises(ParameterError, match=r"draw_ratio: 0\.04 is above draw_ratio_max 0\.03"):
        adjustment_parameters(Policy("340000", overlays=[above]), ON)
    with pytest.raises(ParameterError, match=r"national ceiling 0\.05"):
        Policy("340000", overlays=[{"funds": {"adjustment": {"draw_ratio": 0.06}}}])


@given(
    st.lists(
        st.tuples(st.integers(0, 10**12), st.integers(0, 10**12)),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 10**12),
    st.integers(0, 2 * 10**12),
)
def test_the_year_keeps_every_fen(
    areas: list[tuple[int, int]], extra_income: int, held: int
) -> None:
    """Draws never above 5% of income nor past the line (unless already there); each gap split
    exactly; the fund ends at what it held plus the draws less the gaps it paid, never below 0."""
    figures = [
        AreaFigures(f"3401{i:02d}", income, 12, 0, gap) for i, (income, gap) in enumerate(areas)
    ]
    province = sum(a[0] for a in areas) + extra_income
    p = AdjustmentParameters(FIVE, TEN, Decimal("0.5"))
    r = adjust_year(figures, province, held, p, T)
    draws = [a.draw for a in r.areas]
    assert all(
        0 <= d <= round_fen(FIVE * f.income_last_year) for d, f in zip(draws, figures, strict=True)
    )
    line = round_fen(TEN * province)
    assert held + sum(draws) <= max(line, held)
    assert r.paused == (held + sum(draws) >= line)
    for a, f in zip(r.areas, figures, strict=True):
        assert a.gap_from_adjustment + a.gap_from_balance == f.gap
        assert 0 <= a.gap_from_adjustment <= round_fen(Decimal("0.5") * f.gap)
    paid = sum(a.gap_from_adjustment for a in r.areas)
    assert r.adjustment_balance_after == held + sum(draws) - paid >= 0
