"""The enrolment repository (参保登记): enrolments over time and their events."""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.domain.contributions import ContributionKind
from yibao.domain.enrolment import (
    OPEN_STATUSES,
    Enrolment,
    EnrolmentEvent,
    EnrolmentKind,
    EventKind,
    Status,
)
from yibao.domain.errors import DuplicateEnrolment, NotFound
from yibao.store.models import ContributionRow, EnrolmentEventRow, EnrolmentRow
from yibao.store.sql import BulkRead, grouped

_OPEN = [s.value for s in OPEN_STATUSES]
_ENROLMENTS = cast(Table, EnrolmentRow.__table__)
_CONTRIBUTIONS = cast(Table, ContributionRow.__table__)
_ENROLMENT_HISTORY = (
    select(EnrolmentRow)
    .where(EnrolmentRow.person_id == bindparam("p_person"))
    .order_by(EnrolmentRow.start_date, EnrolmentRow.id)
)
#: Each enrolment with its first payment of the contribution kinds asked for (decoded by
#: ``histories_of``; a part of the person-file read too).
HISTORIES = BulkRead(
    lambda in_: (
        select(
            _ENROLMENTS,
            select(func.min(_CONTRIBUTIONS.c.paid_on))
            .where(
                _CONTRIBUTIONS.c.enrolment_id == _ENROLMENTS.c.id,
                in_(_CONTRIBUTIONS.c.kind, "kinds"),
                _CONTRIBUTIONS.c.paid_on.is_not(None),
            )
            .scalar_subquery()
            .label("first_paid"),
        )
        .where(in_(_ENROLMENTS.c.person_id, "persons"))
        .order_by(_ENROLMENTS.c.start_date, _ENROLMENTS.c.id)
    )
)


def _enrolment(row: EnrolmentRow | Row[Any]) -> Enrolment:
    return Enrolment(
        id=row.id,
        person_id=row.person_id,
        kind=EnrolmentKind(row.kind),
        pooling_area=row.pooling_area,
        start_date=row.start_date,
        status=Status(row.status),
        end_date=row.end_date,
        employer_code=row.employer_code,
        suspended_on=row.suspended_on,
        end_reason=row.end_reason,
        previous_id=row.previous_id,
        carried_employee_months=row.carried_employee_months,
        carried_resident_years=row.carried_resident_years,
    )


#: An enrolment's columns, in the table's order, as ``_enrolment`` reads them (a row of
#: another table's read that carries them after its own: ``enrolment_at``).
_Columns = namedtuple("_Columns", [c.name for c in _ENROLMENTS.c])  # type: ignore[misc]


def enrolment_at(row: Sequence[Any], start: int) -> Enrolment | None:
    """The enrolment of a row holding the enrolments' columns (in the table's order) from
    position ``start`` (a left join's row: None when they are NULL)."""
    values: Any = _Columns._make(row[start : start + len(_Columns._fields)])
    return None if values.id is None else _enrolment(values)


def histories_of(
    rows: Sequence[Any],
) -> tuple[dict[int, list[Enrolment]], dict[int, dt.date]]:
    """The rows of ``HISTORIES``: {person id: enrolments}, {enrolment id: first payment}."""
    first = {r.id: r.first_paid for r in rows if r.first_paid is not None}
    return grouped((r.person_id, _enrolment(r)) for r in rows), first


def _enrolment_values(e: Enrolment) -> dict[str, Any]:
    return {
        "person_id": e.person_id,
        "scheme": e.scheme.value,
        "kind": e.kind.value,
        "pooling_area": e.pooling_area,
        "employer_code": e.employer_code,
        "start_date": e.start_date,
        "end_date": e.end_date,
        "status": e.status.value,
        "suspended_on": e.suspended_on,
        "end_reason": e.end_reason,
        "previous_id": e.previous_id,
        "carried_employee_months": e.carried_employee_months,
        "carried_resident_years": e.carried_resident_years,
    }


class EnrolmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, enrolment: Enrolment, person_label: str = "") -> Enrolment:
        """Insert; the partial unique index refuses a second open enrolment."""
        row = EnrolmentRow(**_enrolment_values(enrolment))
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            existing = self.open_for(enrolment.person_id)
            if existing is None:
                raise
            raise DuplicateEnrolment(
                person_label or str(enrolment.person_id), existing.describe(), existing.id
            ) from exc
        return _enrolment(row)

    def get(self, enrolment_id: int, lock: bool = False) -> Enrolment:
        stmt = select(EnrolmentRow).where(EnrolmentRow.id == enrolment_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).one_or_none()
        if row is None:
            raise NotFound("enrolment", enrolment_id)
        return _enrolment(row)

    def open_for(self, person_id: int, lock: bool = False) -> Enrolment | None:
        stmt = select(EnrolmentRow).where(
            EnrolmentRow.person_id == person_id, EnrolmentRow.status.in_(_OPEN)
        )
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).one_or_none()
        return _enrolment(row) if row is not None else None

    def latest_for(self, person_id: int) -> Enrolment | None:
        row = self.session.scalars(
            select(EnrolmentRow)
            .where(EnrolmentRow.person_id == person_id)
            .order_by(EnrolmentRow.start_date.desc(), EnrolmentRow.id.desc())
            .limit(1)
        ).one_or_none()
        return _enrolment(row) if row is not None else None

    def history(self, person_id: int) -> list[Enrolment]:
        rows = self.session.scalars(_ENROLMENT_HISTORY, {"p_person": person_id})
        return [_enrolment(r) for r in rows]

    def histories(
        self, person_ids: Sequence[int], paid: Iterable[ContributionKind] = ()
    ) -> tuple[dict[int, list[Enrolment]], dict[int, dt.date]]:
        """Each person's enrolments (as ``history``), and the first payment of a contribution
        of the ``paid`` kinds of each enrolment that has one: one query."""
        return histories_of(
            HISTORIES.rows(self.session, persons=list(person_ids), kinds=[k.value for k in paid])
        )

    def save(self, enrolment: Enrolment) -> None:
        if enrolment.id is None:
            raise NotFound("enrolment", None)
        self.session.execute(
            update(EnrolmentRow)
            .where(EnrolmentRow.id == enrolment.id)
            .values(**_enrolment_values(enrolment))
        )

    def add_event(self, event: EnrolmentEvent) -> None:
        self.session.add(
            EnrolmentEventRow(
                enrolment_id=event.enrolment_id,
                kind=event.kind.value,
                on_date=event.on,
                detail=event.detail,
            )
        )
        self.session.flush()

    def events(self, enrolment_id: int) -> list[EnrolmentEvent]:
        rows = self.session.scalars(
            select(EnrolmentEventRow)
            .where(EnrolmentEventRow.enrolment_id == enrolment_id)
            .order_by(EnrolmentEventRow.id)
        )
        return [
            EnrolmentEvent(r.enrolment_id, EventKind(r.kind), r.on_date, r.detail) for r in rows
        ]

    def count_open(self) -> int:
        return int(
            self.session.scalar(
                select(func.count()).select_from(EnrolmentRow).where(EnrolmentRow.status.in_(_OPEN))
            )
            or 0
        )
