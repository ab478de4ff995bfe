"""Queries of the fund financing use cases (``services.ledger.allocate_assistance``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.domain.registry import ASSISTANCE_CLASSES
from yibao.store.models import EnrolmentRow, SpecialGroupRow


def aid_recipients(session: Session, area: str, first: dt.date, last: dt.date) -> int:
    """Persons with an enrolment in ``area`` and an assistance class, both in force on some day
    of [first, last] (each person once)."""
    enrolled = select(EnrolmentRow.person_id).where(
        EnrolmentRow.pooling_area == area,
        EnrolmentRow.start_date <= last,
        (EnrolmentRow.end_date.is_(None)) | (EnrolmentRow.end_date >= first),
    )
    stmt = select(func.count(func.distinct(SpecialGroupRow.person_id))).where(
        SpecialGroupRow.kind.in_(sorted(k.value for k in ASSISTANCE_CLASSES)),
        SpecialGroupRow.valid_from <= last,
        (SpecialGroupRow.valid_to.is_(None)) | (SpecialGroupRow.valid_to >= first),
        SpecialGroupRow.person_id.in_(enrolled),
    )
    return int(session.scalar(stmt) or 0)
