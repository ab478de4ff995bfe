"""Per-diem (按床日) and capitation (按人头) rules against hand computations and the shipped
national defaults."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.policy import Policy
from yibao.rules.capitation import capitation_due, capitation_settlement, enrolled_institution
from yibao.rules.per_diem import bed_days, listed_prefix, per_diem_group

LISTED = ["F20", "F21", "F29", "Z50", "Z51.5"]


@pytest.mark.parametrize(
    ("dx", "days", "group"),
    [
        ("F20.9", 5, "F20:bed"),  # psychiatric: by bed day whatever the stay
        ("z51.501", 3, "Z51.5:bed"),  # palliative, lower case, longer code
        ("Z51.1", 3, None),  # chemotherapy session: not listed
        ("Z50.1", 20, "Z50:bed"),  # rehabilitation
        ("I63.9", 59, None),  # one day short of a long stay
        ("I63.9", 60, "I63:bed"),  # long stay: its ICD-10 category
    ],
)
def test_per_diem_group(dx: str, days: int, group: str | None) -> None:
    assert per_diem_group(dx, days, 60, LISTED) == group


def test_bed_days_and_listing() -> None:
    assert bed_days(dt.date(2025, 5, 20), dt.date(2025, 7, 25)) == 66
    assert bed_days(dt.date(2025, 5, 20), dt.date(2025, 5, 20)) == 1
    with pytest.raises(ValueError):
        bed_days(dt.date(2025, 5, 20), dt.date(2025, 5, 19))
    assert listed_prefix("Z51.5", ["Z51", "Z51.5"]) == "Z51.5"  # the longest prefix
    shipped = Policy("000000").get(
        "provider_payment.per_diem.listed_diagnoses", dt.date(2025, 1, 1)
    )
    assert "F25" in shipped and "Z51.5" in shipped


def test_capitation_hand_computed() -> None:
    # 120 yuan × 1250 enrolled = 150000.00; 7 months of it: 87500.00
    assert capitation_due(1250, 120_00) == 15_000_000
    assert capitation_due(1250, 120_00, months=7) == 8_750_000
    assert capitation_due(1, 1, months=6) == 1  # 0.5 fen, half up
    # paid claim by claim 162345.67: the institution pays back 12345.67
    assert capitation_settlement(15_000_000, 16_234_567) == -1_234_567
    half = Decimal("0.5")
    assert enrolled_institution({"C1": 3, "C2": 2}, half) == "C1"
    assert enrolled_institution({"C1": 2, "C2": 2}, half) == "C1"  # tie: smaller code
    assert enrolled_institution({"C1": 2, "C2": 2, "C3": 1}, half) is None  # 2 of 5
    assert enrolled_institution({}, half) is None


@given(st.dictionaries(st.sampled_from(["A", "B", "C", "D"]), st.integers(0, 50)))
def test_enrolled_institution_holds_the_share(visits: dict[str, int]) -> None:
    found = enrolled_institution(visits, Decimal("0.5"))
    if found is not None:
        assert 2 * visits[found] >= sum(visits.values()) > 0
        assert visits[found] == max(visits.values())
