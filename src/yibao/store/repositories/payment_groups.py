"""The provider payment group repository: each region's dated group tables (DIP groups, DRG
grouping tables) and their rows (``policy.group_tables.GroupTableRow``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from yibao.policy.group_tables import GroupTableRow
from yibao.store.payment_group_models import DipGroupRow, DipGroupTableRow
from yibao.store.sql import insert_rows

_ROWS = cast(Table, DipGroupRow.__table__)


@dataclass(frozen=True, slots=True)
class GroupTable:
    """One dated group table of a region: ``source`` ``built`` (``detail``: the years) or
    ``loaded`` (``detail``: the file's name)."""

    id: int
    method: str
    region: str
    valid_from: dt.date
    source: str
    detail: str
    groups: int


def _table(row: DipGroupTableRow) -> GroupTable:
    return GroupTable(
        row.id, row.method, row.region, row.valid_from, row.source, row.detail, row.groups
    )


def _row(row: Any) -> GroupTableRow:
    return GroupTableRow(
        level=row.level,
        code=row.code,
        kind=row.kind,
        name=row.name,
        parent=row.parent,
        by=row.match_by,
        codes=tuple(c for c in row.codes.split(";") if c),
        split=row.split,
        age_min=row.age_min,
        age_max=row.age_max,
        score=row.score,
        avg_cost=row.avg_cost,
        cases=row.cases,
    )


class PaymentGroupRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def tables(self, method: str, region: str) -> list[GroupTable]:
        """The region's tables of a method, oldest first."""
        rows = self.session.scalars(
            select(DipGroupTableRow)
            .where(DipGroupTableRow.method == method, DipGroupTableRow.region == region)
            .order_by(DipGroupTableRow.valid_from)
        )
        return [_table(r) for r in rows]

    def in_force(self, method: str, region: str, on: dt.date) -> GroupTable | None:
        """The table in force on ``on``: the latest one from that day or before."""
        row = self.session.scalars(
            select(DipGroupTableRow)
            .where(
                DipGroupTableRow.method == method,
                DipGroupTableRow.region == region,
                DipGroupTableRow.valid_from <= on,
            )
            .order_by(DipGroupTableRow.valid_from.desc())
            .limit(1)
        ).first()
        return _table(row) if row else None

    def rows(self, table_id: int) -> list[GroupTableRow]:
        """A table's rows in their order."""
        found = self.session.execute(
            select(_ROWS).where(_ROWS.c.table_id == table_id).order_by(_ROWS.c.seq)
        )
        return [_row(r) for r in found]

    def replace(
        self,
        method: str,
        region: str,
        valid_from: dt.date,
        source: str,
        detail: str,
        rows: Sequence[GroupTableRow],
    ) -> GroupTable:
        """Store a table as the region's version from ``valid_from``, replacing one of the same
        day (rows and all)."""
        old = self.session.scalars(
            select(DipGroupTableRow).where(
                DipGroupTableRow.method == method,
                DipGroupTableRow.region == region,
                DipGroupTableRow.valid_from == valid_from,
            )
        ).first()
        if old is not None:
            self.session.execute(delete(_ROWS).where(_ROWS.c.table_id == old.id))
            self.session.delete(old)
            self.session.flush()
        n_groups = sum(1 for r in rows if r.level in ("group", "drg"))
        head = DipGroupTableRow(
            method=method,
            region=region,
            valid_from=valid_from,
            source=source,
            detail=detail[:255],
            groups=n_groups,
        )
        self.session.add(head)
        self.session.flush()
        insert_rows(
            self.session,
            _ROWS,
            [
                {
                    "table_id": head.id,
                    "seq": i,
                    "level": r.level,
                    "code": r.code,
                    "kind": r.kind,
                    "name": r.name,
                    "parent": r.parent,
                    "match_by": r.by,
                    "codes": ";".join(r.codes),
                    "split": r.split,
                    "age_min": r.age_min,
                    "age_max": r.age_max,
                    "score": r.score,
                    "avg_cost": r.avg_cost,
                    "cases": r.cases,
                }
                for i, r in enumerate(rows)
            ],
        )
        return _table(head)
