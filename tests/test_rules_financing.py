"""Financing rules of the critical illness, large-amount and medical assistance funds (rules.md
§7): table tests with hand computations over the national defaults (2025: resident individual
400 + subsidy 700 yuan; critical illness 10% of it; large amount 3 yuan a month; assistance 800
yuan per recipient) and overlays."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from yibao.policy import ParameterError, Policy
from yibao.rules.financing import (
    FinancingRuleError,
    assistance_allocation,
    critical_illness_share,
    large_amount_share,
)

ON = dt.date(2025, 1, 1)


def _policy(overlay: dict[str, Any] | None = None) -> Policy:
    return Policy("000000", overlays=[overlay] if overlay else [])


def _ci(**financing: Any) -> dict[str, Any]:
    return {"critical_illness": {"financing": financing}}


@pytest.mark.parametrize(
    ("overlay", "contribution", "share"),
    [
        pytest.param(None, (400_00 + 700_00), (400_00 + 700_00) * 10 // 100, id="ratio-10pct"),
        # 10% of 1234.55 yuan = 123.455 yuan: half up to 123.46
        pytest.param(None, 1234_55, 123_46, id="ratio-half-up"),
        pytest.param(_ci(ratio=0.125), 1100_00, 137_50, id="ratio-local"),
        pytest.param(_ci(basis="per_capita", per_capita=65), 1100_00, 65_00, id="per-capita"),
        pytest.param(_ci(basis="per_capita", per_capita=65), 40_00, 40_00, id="per-capita-capped"),
        pytest.param(None, 0, 0, id="nothing-paid"),
    ],
)
def test_critical_illness_share(
    overlay: dict[str, Any] | None, contribution: int, share: int
) -> None:
    assert critical_illness_share(_policy(overlay), ON, contribution) == share


@pytest.mark.parametrize(
    ("overlay", "field"),
    [
        pytest.param(_ci(basis="per_head"), "critical_illness.financing.basis", id="basis"),
    ],
)
def test_critical_illness_share_refuses_bad_parameters(overlay: dict[str, Any], field: str) -> None:
    with pytest.raises(FinancingRuleError) as exc:
        critical_illness_share(_policy(overlay), ON, 1100_00)
    assert exc.value.field == field


def test_a_critical_illness_ratio_above_one_is_refused_on_load() -> None:
    with pytest.raises(ParameterError) as exc:
        _policy(_ci(ratio=1.5))
    assert exc.value.path == "critical_illness.financing.ratio" and "above 1" in exc.value.reason


@pytest.mark.parametrize(
    ("overlay", "pooling_part", "share"),
    [
        pytest.param(None, None, 3_00, id="retiree-month-3-yuan"),
        pytest.param(None, 372_33, 3_00, id="contribution-month"),
        pytest.param(None, 2_50, 2_50, id="never-more-than-the-pooling-part"),
        pytest.param({"large_amount": {"financing": {"per_month": 10}}}, None, 10_00, id="local"),
    ],
)
def test_large_amount_share(
    overlay: dict[str, Any] | None, pooling_part: int | None, share: int
) -> None:
    assert large_amount_share(_policy(overlay), ON, pooling_part) == share


@pytest.mark.parametrize(
    ("overlay", "recipients", "amount"),
    [
        pytest.param(None, 0, 0, id="none"),
        pytest.param(None, 13, 13 * 800_00, id="per-recipient"),
        pytest.param(
            {"medical_assistance": {"financing": {"per_recipient": 500, "area_amount": 20000}}},
            7,
            7 * 500_00 + 20000_00,
            id="local-with-area-amount",
        ),
    ],
)
def test_assistance_allocation(
    overlay: dict[str, Any] | None, recipients: int, amount: int
) -> None:
    assert assistance_allocation(_policy(overlay), ON, recipients) == amount


@pytest.mark.parametrize("bad", [-1, True, 1.5])
def test_counts_are_refused(bad: Any) -> None:
    with pytest.raises(FinancingRuleError, match="recipients"):
        assistance_allocation(_policy(), ON, bad)
    with pytest.raises(FinancingRuleError, match="contribution"):
        critical_illness_share(_policy(), ON, bad)
