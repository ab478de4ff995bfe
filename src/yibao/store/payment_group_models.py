"""Tables of provider payment groups (migration ``0011``): each dated group table of a region
(DIP groups with their scores, or a DRG grouping table with its weights) and its rows.

Registered on the same ``Base`` as ``models.py`` (``yibao.store`` imports this module). Scores
and weights are points × 10^4 (``rules.provider_payment.POINTS_SCALE``), average costs fen.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.models import Base, BigId


class DipGroupTableRow(Base):
    """One dated group table of a region: built from history or loaded from a file."""

    __tablename__ = "dip_group_tables"
    __table_args__ = (
        CheckConstraint("method IN ('dip', 'drg')", name="method"),
        CheckConstraint("source IN ('built', 'loaded')", name="source"),
        UniqueConstraint("method", "region", "valid_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    method: Mapped[str] = mapped_column(String(3))
    region: Mapped[str] = mapped_column(String(6))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(6))
    detail: Mapped[str] = mapped_column(String(255))  # the file, or the years built from
    groups: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class DipGroupRow(Base):
    """One row of a group table: a DIP group (``level`` ``group``) or a DRG table row (``mdc``,
    ``adrg``, ``drg``, ``cc``, ``mcc``)."""

    __tablename__ = "dip_groups"
    __table_args__ = (
        CheckConstraint("level IN ('group', 'mdc', 'adrg', 'drg', 'cc', 'mcc')", name="level"),
        CheckConstraint("score IS NULL OR score > 0", name="score"),
        CheckConstraint("avg_cost IS NULL OR avg_cost > 0", name="avg_cost"),
    )

    table_id: Mapped[int] = mapped_column(ForeignKey("dip_group_tables.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    level: Mapped[str] = mapped_column(String(5))
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), server_default="")
    name: Mapped[str] = mapped_column(String(500), server_default="")
    parent: Mapped[str] = mapped_column(String(64), server_default="")
    match_by: Mapped[str] = mapped_column(String(10), server_default="")
    codes: Mapped[str] = mapped_column(Text, server_default="")
    split: Mapped[str] = mapped_column(String(3), server_default="")
    age_min: Mapped[int | None] = mapped_column(Integer)
    age_max: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int | None] = mapped_column(BigInteger)
    avg_cost: Mapped[int | None] = mapped_column(BigInteger)
    cases: Mapped[int | None] = mapped_column(Integer)
