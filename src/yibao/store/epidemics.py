"""Major epidemics (重大疫情, migration 0017): ``epidemics`` (an area's declared epidemic: its
period, listed diseases and special groups, who declared it) and ``epidemic_settlements`` (each
settlement an epidemic covered: the mark that makes them reportable), with their queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from yibao.domain.clearing import CLEARED_AMOUNTS
from yibao.domain.epidemics import Epidemic
from yibao.rules.epidemics import EpidemicTerms
from yibao.store.models import Base, BigId, SettlementRow, VisitRow
from yibao.store.sql import BulkRead


class EpidemicRow(Base):
    """A major epidemic declared for a pooling area (重大疫情), from ``starts_on`` to
    ``ends_on`` (null: until it is ended)."""

    __tablename__ = "epidemics"
    __table_args__ = (CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    diseases: Mapped[list[str]] = mapped_column(JSON)
    groups: Mapped[list[str]] = mapped_column(JSON)
    declared_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class EpidemicSettlementRow(Base):
    """A settlement an epidemic covered (exempt from the catalogue, dosage limits and the cap)."""

    __tablename__ = "epidemic_settlements"

    setl_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    epidemic_id: Mapped[int] = mapped_column(ForeignKey("epidemics.id"), index=True)
    # what the exemption moved into policy scope (fen): the claim's fully self-paid amount
    exempted: Mapped[int] = mapped_column(BigInteger)


def _epidemic(row: EpidemicRow) -> Epidemic:
    return Epidemic(
        area=row.area,
        name=row.name,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        diseases=tuple(row.diseases),
        groups=tuple(row.groups),
        declared_by=row.declared_by,
        id=row.id,
    )


def add(session: Session, e: Epidemic) -> Epidemic:
    row = EpidemicRow(
        area=e.area,
        name=e.name,
        starts_on=e.starts_on,
        ends_on=e.ends_on,
        diseases=list(e.diseases),
        groups=list(e.groups),
        declared_by=e.declared_by,
    )
    session.add(row)
    session.flush()
    return _epidemic(row)


def get(session: Session, epidemic_id: int, lock: bool = False) -> Epidemic | None:
    stmt = select(EpidemicRow).where(EpidemicRow.id == epidemic_id)
    row = session.scalar(stmt.with_for_update() if lock else stmt)
    return _epidemic(row) if row is not None else None


def set_end(session: Session, epidemic_id: int, ends_on: dt.date) -> None:
    row = session.get(EpidemicRow, epidemic_id)
    assert row is not None
    row.ends_on = ends_on
    session.flush()


def listed(session: Session, areas: Iterable[str] | None = None) -> list[Epidemic]:
    """The epidemics of ``areas`` (all when None), by id."""
    stmt = select(EpidemicRow).order_by(EpidemicRow.id)
    if areas is not None:
        wanted = sorted(set(areas))
        if not wanted:
            return []
        stmt = stmt.where(EpidemicRow.area.in_(wanted))
    return [_epidemic(r) for r in session.scalars(stmt)]


_TABLE = cast(Table, EpidemicRow.__table__)
#: the epidemics of areas as the settlement rule reads them (a part of the person-file read too)
TERMS = BulkRead(
    lambda in_: select(
        _TABLE.c.id,
        _TABLE.c.area,
        _TABLE.c.starts_on,
        _TABLE.c.ends_on,
        _TABLE.c.diseases,
        _TABLE.c.groups,
    ).where(in_(_TABLE.c.area, "keys"))
)


def terms(session: Session, areas: Iterable[str]) -> list[EpidemicTerms]:
    """The epidemics of ``areas`` as the settlement rule reads them (one compiled read: it runs
    with every settlement round)."""
    wanted = sorted(set(areas))
    if not wanted:
        return []
    return terms_of(TERMS.rows(session, keys=wanted))


def terms_of(rows: Iterable[Sequence[Any]]) -> list[EpidemicTerms]:
    """The rows of ``TERMS``."""
    return [EpidemicTerms(int(i), str(a), s, e, tuple(d), tuple(g)) for i, a, s, e, d, g in rows]


def mark(session: Session, marks: Iterable[tuple[str, int, int]]) -> None:
    """Mark settlements (setl_id, epidemic id, exempted fen) as covered by an epidemic."""
    session.add_all(
        EpidemicSettlementRow(setl_id=s, epidemic_id=e, exempted=x) for s, e, x in marks
    )
    session.flush()


def settlements(session: Session, epidemic_id: int) -> list[dict[str, Any]]:
    """The settlements an epidemic covered, by date and id: the settlement's ids, institution,
    status and amounts (fen), and what the exemption moved into scope."""
    rows = session.execute(
        select(
            SettlementRow.setl_id,
            SettlementRow.settled_on,
            SettlementRow.status,
            SettlementRow.pooling_area,
            VisitRow.fixmedins_code,
            SettlementRow.person_id,
            EpidemicSettlementRow.exempted,
            *(getattr(SettlementRow, a) for a in CLEARED_AMOUNTS),
        )
        .join(SettlementRow, SettlementRow.setl_id == EpidemicSettlementRow.setl_id)
        .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
        .where(EpidemicSettlementRow.epidemic_id == epidemic_id)
        .order_by(SettlementRow.settled_on, SettlementRow.setl_id)
    ).all()
    out = []
    for setl_id, on, status, area, code, person, exempted, *amounts in rows:
        out.append(
            {
                "setl_id": setl_id,
                "settled_on": on,
                "status": status,
                "pooling_area": area,
                "fixmedins_code": code,
                "person_id": int(person),
                "exempted": int(exempted),
                **{a: int(v) for a, v in zip(CLEARED_AMOUNTS, amounts, strict=True)},
            }
        )
    return out
