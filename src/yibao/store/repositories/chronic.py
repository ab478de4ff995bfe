"""The chronic-disease repository: certifications (门诊慢特病认定) with their audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from yibao.domain.errors import NotFound
from yibao.rules.chronic import Certification
from yibao.store.chronic_models import ChronicActionRow, ChronicCertificationRow
from yibao.store.sql import BulkRead, grouped

_CERTIFICATIONS = cast(Table, ChronicCertificationRow.__table__)
#: what a settlement round reads of its chronic claimants (``BulkRead``: built once; a part of
#: the person-file read too)
OF_PERSONS = BulkRead(
    lambda in_: (
        select(
            _CERTIFICATIONS.c.person_id,
            _CERTIFICATIONS.c.disease,
            _CERTIFICATIONS.c.valid_from,
            _CERTIFICATIONS.c.valid_to,
        )
        .where(in_(_CERTIFICATIONS.c.person_id, "keys"))
        .order_by(_CERTIFICATIONS.c.valid_from, _CERTIFICATIONS.c.id)
    )
)


def certifications_of(rows: Iterable[Any]) -> dict[int, list[Certification]]:
    """The rows of ``OF_PERSONS`` by person id."""
    return grouped((r.person_id, Certification(r.disease, r.valid_from, r.valid_to)) for r in rows)


class ChronicRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, person_id: int, area: str, disease: str, valid_from: dt.date, valid_to: dt.date
    ) -> ChronicCertificationRow:
        row = ChronicCertificationRow(
            person_id=person_id,
            area=area,
            disease=disease,
            valid_from=valid_from,
            valid_to=valid_to,
            status="active",
        )
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, cert_id: int, lock: bool = False) -> ChronicCertificationRow:
        stmt = select(ChronicCertificationRow).where(ChronicCertificationRow.id == cert_id)
        row = self.session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
        if row is None:
            raise NotFound("certification", cert_id)
        return row

    def of_person(self, person_id: int, lock: bool = False) -> list[ChronicCertificationRow]:
        """The person's certifications, oldest first."""
        stmt = (
            select(ChronicCertificationRow)
            .where(ChronicCertificationRow.person_id == person_id)
            .order_by(ChronicCertificationRow.valid_from, ChronicCertificationRow.id)
        )
        return list(self.session.execute(stmt.with_for_update() if lock else stmt).scalars())

    def of_persons(self, person_ids: Sequence[int]) -> dict[int, list[Certification]]:
        """The certifications of many persons by person id, oldest first (one compiled read:
        it runs with every settlement round that has a chronic claim)."""
        if not person_ids:
            return {}
        return certifications_of(OF_PERSONS.rows(self.session, keys=list(person_ids)))

    def act(self, cert_id: int, action: str, actor: str, at: dt.datetime, detail: str) -> None:
        self.session.add(
            ChronicActionRow(cert_id=cert_id, action=action, actor=actor, at=at, detail=detail)
        )
        self.session.flush()

    def actions(self, cert_id: int) -> list[ChronicActionRow]:
        stmt = (
            select(ChronicActionRow)
            .where(ChronicActionRow.cert_id == cert_id)
            .order_by(ChronicActionRow.id)
        )
        return list(self.session.execute(stmt).scalars())
