"""The supervision repository: findings with their evidence and audit trail (稽核结果)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.domain.errors import NotFound
from yibao.store.sql import dialect_insert
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


class SupervisionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_findings(self, findings: Sequence[NewFinding]) -> int:
        """Record the findings not recorded yet (same area, year, rule and claim); each new
        one with its evidence and an ``open`` action. Returns how many were new."""
        added = 0
        for f in findings:
            stmt = (
                dialect_insert(self.session, FindingRow)
                .values(
                    area=f.area,
                    year=f.year,
                    rule=f.rule,
                    severity=f.severity,
                    claim_ref=f.claim_ref,
                    psn_no=f.psn_no,
                    institution=f.institution,
                    scheme=f.scheme,
                    amount=f.amount,
                    status="open",
                )
                .on_conflict_do_nothing(index_elements=["area", "year", "rule", "claim_ref"])
                .returning(FindingRow.id)
            )
            new_id = self.session.execute(stmt).scalar_one_or_none()
            if new_id is None:
                continue
            added += 1
            self.session.add_all(
                EvidenceRow(finding_id=new_id, line_sn=sn, other_claim_ref=other, amount=amount)
                for sn, other, amount in f.evidence
            )
        self.session.flush()
        return added

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
