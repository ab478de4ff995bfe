"""The record linkage repository: candidate pairs and their review's audit trail (匹配候选)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.domain.errors import NotFound
from yibao.store.linkage_models import CandidatePairRow, PairActionRow
from yibao.store.sql import dialect_insert

#: The columns a new pair is written with (besides ``area`` and ``status``).
PAIR_COLUMNS = tuple(
    c.name
    for c in CandidatePairRow.__table__.columns
    if c.name not in ("id", "area", "status", "created_at")
)


class LinkageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_pairs(
        self, area: str, pairs: Iterable[dict[str, Any]], actor: str, at: dt.datetime
    ) -> int:
        """Record the pairs not recorded yet (same area, source, row and person), each with a
        first action (its status, by whom); a rerun leaves reviewed pairs as they are.
        Returns how many were new."""
        added = 0
        for pair in pairs:
            values = {c: pair[c] for c in PAIR_COLUMNS}
            stmt = (
                dialect_insert(self.session, CandidatePairRow)
                .values(area=area, status=pair["status"], **values)
                .on_conflict_do_nothing(index_elements=["area", "source", "row_no", "psn_no"])
                .returning(CandidatePairRow.id)
            )
            new_id = self.session.execute(stmt).scalar_one_or_none()
            if new_id is None:
                continue
            added += 1
            detail = f"match weight {pair['match_weight']:.2f}"
            self.act(new_id, pair["status"], actor, at, detail)
        self.session.flush()
        return added

    def get(self, pair_id: int, lock: bool = False) -> CandidatePairRow:
        stmt = select(CandidatePairRow).where(CandidatePairRow.id == pair_id)
        row = self.session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
        if row is None:
            raise NotFound("candidate pair", pair_id)
        return row

    def of_record(self, area: str, source: str, row_no: int, lock: bool = False) -> list[Any]:
        """The candidate pairs of one record, by id."""
        stmt = (
            select(CandidatePairRow)
            .where(
                CandidatePairRow.area == area,
                CandidatePairRow.source == source,
                CandidatePairRow.row_no == row_no,
            )
            .order_by(CandidatePairRow.id)
        )
        return list(self.session.execute(stmt.with_for_update() if lock else stmt).scalars())

    def find(self, statuses: Iterable[str] | None = None, **where: Any) -> list[CandidatePairRow]:
        """Pairs whose columns equal the given values (None values ignored), by record and
        weight (best first)."""
        stmt = select(CandidatePairRow).order_by(
            CandidatePairRow.source,
            CandidatePairRow.row_no,
            CandidatePairRow.match_weight.desc(),
            CandidatePairRow.id,
        )
        for name, value in where.items():
            if value is not None:
                stmt = stmt.where(getattr(CandidatePairRow, name) == value)
        if statuses is not None:
            stmt = stmt.where(CandidatePairRow.status.in_(list(statuses)))
        return list(self.session.execute(stmt).scalars())

    def actions(self, pair_id: int) -> list[PairActionRow]:
        stmt = select(PairActionRow).where(PairActionRow.pair_id == pair_id)
        return list(self.session.execute(stmt.order_by(PairActionRow.id)).scalars())

    def act(self, pair_id: int, status: str, actor: str, at: dt.datetime, detail: str) -> None:
        self.session.add(
            PairActionRow(pair_id=pair_id, status=status, actor=actor, at=at, detail=detail)
        )
        self.session.flush()
