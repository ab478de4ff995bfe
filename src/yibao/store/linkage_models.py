"""Tables of record linkage (migration ``0015``): the candidate pairs of a department record
and a registry person, with their match weight, probability, comparison levels and both sides'
fields as the reviewer sees them, and the review's audit trail (who moved a pair, when).
Registered on the same ``Base`` as ``models.py`` (``yibao.store`` imports this module)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.domain.linkage import PairStatus
from yibao.policy.vocab import sql_in
from yibao.store.models import Base, BigId


class CandidatePairRow(Base):
    """A candidate pair: a department file's record (``source``, ``row_no``) and a person."""

    __tablename__ = "linkage_pairs"
    __table_args__ = (
        UniqueConstraint("area", "source", "row_no", "psn_no"),
        CheckConstraint(f"status IN {sql_in(PairStatus)}", name="status"),
        CheckConstraint("match_probability >= 0 AND match_probability <= 1", name="probability"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area: Mapped[str] = mapped_column(String(6))
    source: Mapped[str] = mapped_column(String(20))
    row_no: Mapped[int] = mapped_column(Integer)
    psn_no: Mapped[str] = mapped_column(String(40), index=True)
    match_weight: Mapped[float] = mapped_column(Float)
    match_probability: Mapped[float] = mapped_column(Float)
    # the comparison level of each field (Splink's gamma: -1 null, 0 different, higher closer)
    level_name: Mapped[int] = mapped_column(SmallInteger)
    level_birth_date: Mapped[int] = mapped_column(SmallInteger)
    level_sex: Mapped[int] = mapped_column(SmallInteger)
    level_address: Mapped[int] = mapped_column(SmallInteger)
    level_id_no: Mapped[int] = mapped_column(SmallInteger)
    # the record as the department wrote it
    rec_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    rec_sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    rec_birth_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    rec_address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rec_id_no: Mapped[str | None] = mapped_column(String(18), nullable=True)
    # the person as the registry has them
    psn_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    psn_sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    psn_birth_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    psn_address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    psn_id_no: Mapped[str | None] = mapped_column(String(18), nullable=True)
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class PairActionRow(Base):
    """The audit trail of a candidate pair: its creation and each move, by whom and when."""

    __tablename__ = "linkage_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("linkage_pairs.id"), index=True)
    status: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    detail: Mapped[str] = mapped_column(String(500))
