"""Writes of what a pooling area brings in from before the system: past coverage years."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from yibao.domain.enrolment import CoverageYear
from yibao.store.models import CoverageYearRow


def add_coverage_rows(session: Session, rows: Iterable[CoverageYear]) -> int:
    """Insert coverage years as they are (one statement); a year already there is an
    integrity error (primary key person, year)."""
    values = [
        {
            "person_id": r.person_id,
            "year": r.year,
            "status": r.status.value,
            "scheme": r.scheme.value if r.scheme else None,
            "pooling_area": r.pooling_area,
            "paid_on": r.paid_on,
            "repaired": r.repaired,
            "fund_paid": r.fund_paid,
            "continuous_years": r.continuous_years,
            "zero_claim": r.zero_claim,
            "closed": r.closed,
        }
        for r in rows
    ]
    if values:
        session.execute(insert(CoverageYearRow), values)
    return len(values)
