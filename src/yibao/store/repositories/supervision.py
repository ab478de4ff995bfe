"""The supervision repository: findings with their evidence and audit trail (稽核结果)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, select, text
from sqlalchemy.orm import Session, aliased

from yibao.domain.errors import NotFound
from yibao.policy.vocab import MedType
from yibao.store.bulk_write import next_ids
from yibao.store.fee_models import VisitDiagnosisRow
from yibao.store.models import VisitRow
from yibao.store.sql import copy_rows
from yibao.store.supervision_models import EvidenceRow, FindingActionRow, FindingRow


@dataclass(frozen=True)
class NewFinding:
    """A finding to record with its evidence: (line number or None, other claim or None,
    amount in fen) per piece."""

    area: str
    year: int
    rule: str
    severity: str
    claim_ref: str
    psn_no: str
    institution: str
    scheme: str
    amount: int
    evidence: tuple[tuple[str | None, str | None, int], ...]


_V = cast(Table, VisitRow.__table__)
_D = cast(Table, VisitDiagnosisRow.__table__)
_ADMISSIONS = (MedType.INPATIENT.value, MedType.MATERNITY.value)
_SETTLED_DAY = func.coalesce(_V.c.end_date, _V.c.begin_date)
_PREV_D = aliased(_D, name="prev_d")
_THIS_D = aliased(_D, name="this_d")
# the person's latest earlier admission (not cancelled, discharged) with the same principal
# diagnosis as the visit's (``visits.person_id`` and the diagnoses' key are indexed)
_PREVIOUS_ADMISSION = (
    select(_V.c.mdtrt_id, _V.c.begin_date, _V.c.end_date, _THIS_D.c.code)
    .join(_PREV_D, and_(_PREV_D.c.visit_id == _V.c.id, _PREV_D.c.seq == 1))
    .join(
        _THIS_D,
        and_(
            _THIS_D.c.visit_id == bindparam("p_visit"),
            _THIS_D.c.seq == 1,
            _THIS_D.c.code == _PREV_D.c.code,
        ),
    )
    .where(
        _V.c.person_id == bindparam("p_person"),
        _V.c.id != bindparam("p_visit"),
        _V.c.med_type.in_(_ADMISSIONS),
        _V.c.status != "cancelled",
        _V.c.end_date.is_not(None),
        _V.c.begin_date <= bindparam("p_admit"),
    )
    .order_by(_V.c.begin_date.desc(), _V.c.end_date.desc(), _V.c.id.desc())
    .limit(1)
)
_PRINCIPAL = select(_D.c.code).where(_D.c.visit_id == bindparam("p_visit"), _D.c.seq == 1)
_VISIT_DAYS = select(_SETTLED_DAY).where(
    _V.c.person_id == bindparam("p_person"),
    _V.c.id != bindparam("p_visit"),
    _V.c.status != "cancelled",
    _SETTLED_DAY.between(bindparam("p_first"), bindparam("p_last")),
)


_FINDING_COLUMNS = (
    "id",
    "area",
    "year",
    "rule",
    "severity",
    "claim_ref",
    "psn_no",
    "institution",
    "scheme",
    "amount",
    "status",
)


def _finding_values(f: NewFinding) -> tuple[Any, ...]:
    return (
        f.area,
        f.year,
        f.rule,
        f.severity,
        f.claim_ref,
        f.psn_no,
        f.institution,
        f.scheme,
        f.amount,
    )


class SupervisionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_findings(self, findings: Sequence[NewFinding]) -> int:
        """Record the findings not recorded yet (same area, year, rule and claim), each new
        one with its evidence, in bulk: one read of the keys recorded for the findings' areas
        and years, ids reserved, then one COPY (PostgreSQL; SQLite one executemany) of the
        findings and one of their evidence. Concurrent runs are serialised (PostgreSQL: a
        transaction lock), so a rerun adds none. Returns how many were new."""
        if not findings:
            return 0
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('supervision_findings'))"))
        seen: set[tuple[str, int, str, str]] = set()
        for area, year in {(f.area, f.year) for f in findings}:
            keys = conn.execute(
                select(FindingRow.rule, FindingRow.claim_ref).where(
                    FindingRow.area == area, FindingRow.year == year
                )
            )
            seen.update((area, year, rule, claim) for rule, claim in keys)
        new: list[NewFinding] = []
        for f in findings:
            key = (f.area, f.year, f.rule, f.claim_ref)
            if key not in seen:
                seen.add(key)
                new.append(f)
        ids = next_ids(conn, FindingRow.__tablename__, len(new))
        copy_rows(
            conn,
            FindingRow.__tablename__,
            _FINDING_COLUMNS,
            ((i, *_finding_values(f), "open") for i, f in zip(ids, new, strict=True)),
        )
        copy_rows(
            conn,
            EvidenceRow.__tablename__,
            ("finding_id", "line_sn", "other_claim_ref", "amount"),
            (
                (i, sn, other, amount)
                for i, f in zip(ids, new, strict=True)
                for sn, other, amount in f.evidence
            ),
        )
        return len(new)

    # the online rules over a person's visits (services.supervision.online)

    def previous_admission(
        self, visit_id: int, person_id: int, admit: dt.date
    ) -> tuple[str, dt.date, dt.date, str] | None:
        """The person's latest admission before ``admit`` (not cancelled, discharged, not
        the visit itself) with the same principal diagnosis as visit ``visit_id``: (its
        mdtrt_id, admission day, discharge day, the diagnosis); None when there is none."""
        row = self.session.execute(
            _PREVIOUS_ADMISSION, {"p_visit": visit_id, "p_person": person_id, "p_admit": admit}
        ).first()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def principal_diagnosis(self, visit_id: int) -> str | None:
        """The visit's principal diagnosis (ICD-10), None when none is recorded."""
        return self.session.execute(_PRINCIPAL, {"p_visit": visit_id}).scalar_one_or_none()

    def visit_days(
        self, person_id: int, first: dt.date, last: dt.date, but: int | None = None
    ) -> list[dt.date]:
        """The settlement days (discharge, else begin) of the person's visits (not cancelled,
        other than visit ``but``) from ``first`` to ``last``."""
        rows = self.session.execute(
            _VISIT_DAYS,
            {
                "p_person": person_id,
                "p_visit": -1 if but is None else but,
                "p_first": first,
                "p_last": last,
            },
        ).scalars()
        return [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in rows]

    def get(self, finding_id: int, lock: bool = False) -> FindingRow:
        stmt = select(FindingRow).where(FindingRow.id == finding_id)
        row = self.session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
        if row is None:
            raise NotFound("finding", finding_id)
        return row

    def find(self, **where: Any) -> list[FindingRow]:
        """Findings whose columns equal the given values (None values ignored), by id."""
        stmt = select(FindingRow).order_by(FindingRow.id)
        for name, value in where.items():
            if value is not None:
                stmt = stmt.where(getattr(FindingRow, name) == value)
        return list(self.session.execute(stmt).scalars())

    def evidence(self, finding_id: int) -> list[EvidenceRow]:
        stmt = select(EvidenceRow).where(EvidenceRow.finding_id == finding_id)
        return list(self.session.execute(stmt.order_by(EvidenceRow.id)).scalars())

    def actions(self, finding_id: int) -> list[FindingActionRow]:
        stmt = select(FindingActionRow).where(FindingActionRow.finding_id == finding_id)
        return list(self.session.execute(stmt.order_by(FindingActionRow.id)).scalars())

    def act(self, finding_id: int, status: str, actor: str, at: dt.datetime, detail: str) -> None:
        self.session.add(
            FindingActionRow(
                finding_id=finding_id, status=status, actor=actor, at=at, detail=detail
            )
        )
        self.session.flush()
