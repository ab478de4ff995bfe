"""Capitation (按人头付费) for primary care and chronic outpatient care: each institution is paid
``per_capita`` a year for every person enrolled with it, and the year's reconciliation sets that
against what the fund paid claim by claim for those persons' outpatient care there.

Enrolment (签约) is read from the care itself: a person is enrolled with the institution where
they had most of their primary-care and chronic outpatient visits of the year, when that
institution holds at least ``min_share`` of them (by default a strict majority is not needed:
0.5 of the visits is enough; a tie goes to the smaller institution code, so the answer does not
depend on the order the visits were read). Pure functions; amounts in fen.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal


def enrolled_institution(visits: Mapping[str, int], min_share: Decimal) -> str | None:
    """The institution a person is enrolled with, from their outpatient visits of the year by
    institution: the one with most visits if it holds at least ``min_share`` of them, else
    None (care spread over several institutions: nobody is paid for the person)."""
    total = sum(visits.values())
    if total <= 0:
        return None
    code, most = min(visits.items(), key=lambda kv: (-kv[1], kv[0]))
    return code if Decimal(most) >= min_share * total else None


def capitation_due(enrolled: int, per_capita: int, months: int = 12) -> int:
    """What the year owes an institution (fen): ``per_capita`` × enrolled persons, pro rata
    for ``months`` of the year (a scheme starting in the year), half up."""
    if enrolled < 0 or not 0 <= months <= 12:
        raise ValueError("enrolled must be ≥ 0 and months within 0..12")
    return (per_capita * enrolled * months * 2 + 12) // 24


def capitation_settlement(due: int, paid_by_claim: int) -> int:
    """The year's reconciliation (年终清算): due − what the fund already paid claim by claim for
    the enrolled persons' care there. Positive: the fund pays the rest; negative: the
    institution pays back."""
    return due - paid_by_claim
