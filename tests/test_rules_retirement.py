"""Table tests for the retirement minimum and the one-off back-payment (rules.md section 3)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.domain.errors import InvalidField
from yibao.policy import Policy
from yibao.rules.retirement import retirement_backpay, retirement_years

D = dt.date
NATIONAL = Policy("000000")


@pytest.mark.parametrize(
    ("sex", "actual", "deemed", "required", "missing"),
    [
        ("M", 0, 0, 300, 300),  # men: 25 years
        ("F", 0, 0, 240, 240),  # women: 20 years
        ("M", 180, 120, 300, 0),  # 15 actual + 10 deemed years: enough
        ("M", 180, 109, 300, 11),
        ("F", 3, 236, 240, 1),
        ("F", 300, 0, 240, 0),  # more than enough: nothing missing, never negative
    ],
)
def test_retirement_minimum_by_sex(
    sex: str, actual: int, deemed: int, required: int, missing: int
) -> None:
    y = retirement_years(NATIONAL, D(2025, 6, 1), sex, actual, deemed)
    assert (y.required_months, y.counted_months, y.missing_months) == (
        required,
        actual + deemed,
        missing,
    )


def test_retirement_minimum_is_local() -> None:
    local = Policy(
        "000000", overlays=[{"employee": {"retirement_min_years": {"male": 30, "female": 25}}}]
    )
    assert retirement_years(local, D(2025, 6, 1), "F", 240, 0).missing_months == 60


@pytest.mark.parametrize(
    ("on", "months", "base", "amount"),
    [
        # 2025: 124,110 yuan a year / 12 = 10,342.50 yuan a month, exactly
        (D(2025, 6, 1), 1, 1_034_250, 1_034_250 * 8 // 100),
        (D(2025, 6, 1), 11, 1_034_250, 11 * 1_034_250 * 8 // 100),
        # 2024: 120,698 / 12 = 10,058.1666… → 1,005,817 fen; 13 × 1,005,817 × 8% = 1,046,049.68
        (D(2024, 6, 1), 13, 1_005_817, 1_046_050),
        (D(2025, 6, 1), 0, 1_034_250, 0),
    ],
)
def test_retirement_backpay(on: dt.date, months: int, base: int, amount: int) -> None:
    b = retirement_backpay(NATIONAL, on, months)
    assert (b.months, b.monthly_base, b.rate, b.amount) == (months, base, Decimal("0.08"), amount)


def test_retirement_backpay_base_is_local() -> None:
    local = Policy(
        "000000",
        overlays=[{"employee": {"retirement_backpay_base": {"of": "economy.average_wage",
                                                            "ratio": 0.6}}}],
    )  # fmt: skip
    # 60% of 124,110 yuan = 74,466 yuan a year = 6,205.50 a month; × 8% = 496.44
    assert retirement_backpay(local, D(2025, 6, 1), 1).amount == 49_644


@pytest.mark.parametrize(
    ("sex", "actual", "deemed", "field"),
    [
        ("X", 0, 0, "sex"),
        ("M", -1, 0, "actual_months"),
        ("M", 0, -12, "deemed_months"),
        ("M", 0, 1.5, "deemed_months"),
        ("M", True, 0, "actual_months"),
    ],
)
def test_retirement_bad_input(sex: str, actual: object, deemed: object, field: str) -> None:
    with pytest.raises(InvalidField) as info:
        retirement_years(NATIONAL, D(2025, 6, 1), sex, actual, deemed)  # type: ignore[arg-type]
    assert info.value.field == field


@given(st.integers(0, 600), st.integers(0, 600))
def test_counted_plus_missing_reaches_the_minimum(actual: int, deemed: int) -> None:
    y = retirement_years(NATIONAL, D(2025, 6, 1), "M", actual, deemed)
    assert y.missing_months >= 0
    assert y.counted_months + y.missing_months >= y.required_months
    assert y.missing_months == 0 or y.counted_months + y.missing_months == y.required_months
