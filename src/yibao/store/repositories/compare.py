"""The data comparison's rows (``store.compare_models``): runs, findings, unmatched records and
the actions taken on findings. Used as ``CompareRepository(uow.session)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from yibao.domain.errors import NotFound
from yibao.store.compare_models import (
    CompareActionRow,
    CompareFindingRow,
    CompareRunRow,
    CompareUnmatchedRow,
)

CHUNK = 5000


class CompareRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def run_by_digest(self, digest: str) -> CompareRunRow | None:
        return self.session.scalars(
            select(CompareRunRow).where(CompareRunRow.digest == digest)
        ).first()

    def run(self, run_id: int | None = None) -> CompareRunRow:
        """The run ``run_id``, or the latest."""
        stmt = select(CompareRunRow)
        stmt = (
            stmt.where(CompareRunRow.id == run_id)
            if run_id is not None
            else stmt.order_by(CompareRunRow.id.desc())
        )
        row = self.session.scalars(stmt.limit(1)).first()
        if row is None:
            raise NotFound("comparison run", run_id if run_id is not None else "(latest)")
        return row

    def add_run(self, row: CompareRunRow) -> CompareRunRow:
        self.session.add(row)
        self.session.flush()
        return row

    def _insert(self, model: Any, rows: Sequence[dict[str, Any]]) -> None:
        for i in range(0, len(rows), CHUNK):
            self.session.execute(insert(model), list(rows[i : i + CHUNK]))

    def add_findings(self, rows: Sequence[dict[str, Any]]) -> None:
        self._insert(CompareFindingRow, rows)

    def add_unmatched(self, rows: Sequence[dict[str, Any]]) -> None:
        self._insert(CompareUnmatchedRow, rows)

    def findings(
        self,
        run_id: int,
        kind: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CompareFindingRow]:
        stmt = select(CompareFindingRow).where(CompareFindingRow.run_id == run_id)
        if kind is not None:
            stmt = stmt.where(CompareFindingRow.kind == kind)
        if status is not None:
            stmt = stmt.where(CompareFindingRow.status == status)
        stmt = stmt.order_by(CompareFindingRow.id).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def finding(self, finding_id: int, lock: bool = False) -> CompareFindingRow:
        stmt = select(CompareFindingRow).where(CompareFindingRow.id == finding_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).first()
        if row is None:
            raise NotFound("finding", finding_id)
        return row

    def counts(self, run_id: int) -> dict[tuple[str, str], int]:
        stmt = (
            select(CompareFindingRow.kind, CompareFindingRow.status, func.count())
            .where(CompareFindingRow.run_id == run_id)
            .group_by(CompareFindingRow.kind, CompareFindingRow.status)
        )
        return {(k, s): int(n) for k, s, n in self.session.execute(stmt)}

    def unmatched(self, run_id: int) -> list[CompareUnmatchedRow]:
        stmt = (
            select(CompareUnmatchedRow)
            .where(CompareUnmatchedRow.run_id == run_id)
            .order_by(CompareUnmatchedRow.source, CompareUnmatchedRow.row_no)
        )
        return list(self.session.scalars(stmt))

    def add_action(self, finding_id: int, action: str, actor: str, detail: str) -> None:
        self.session.add(
            CompareActionRow(finding_id=finding_id, action=action, actor=actor, detail=detail)
        )

    def actions(self, finding_id: int) -> list[CompareActionRow]:
        stmt = (
            select(CompareActionRow)
            .where(CompareActionRow.finding_id == finding_id)
            .order_by(CompareActionRow.id)
        )
        return list(self.session.scalars(stmt))
