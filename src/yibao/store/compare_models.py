"""Tables of the data comparison (migration ``0014``): a run (its inputs' digest: the same
files on the same day compared again store nothing twice), its findings with their evidence,
the records no ID matched (record linkage's input) and every action on a finding (the audit)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
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


class CompareRunRow(Base):
    __tablename__ = "compare_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    area: Mapped[str] = mapped_column(String(6))
    on_date: Mapped[dt.date] = mapped_column(Date)
    sources: Mapped[str] = mapped_column(Text)  # JSON: kind → file, rows, matched, errors
    coverage: Mapped[str] = mapped_column(Text)  # JSON rows of the coverage table
    created_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class CompareFindingRow(Base):
    __tablename__ = "compare_findings"
    __table_args__ = (UniqueConstraint("run_id", "kind", "source", "row_no", "person_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("compare_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    person_id: Mapped[int | None] = mapped_column(BigInteger)
    id_no: Mapped[str | None] = mapped_column(String(18))
    name: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(12))
    row_no: Mapped[int | None] = mapped_column(BigInteger)
    on_date: Mapped[dt.date | None] = mapped_column(Date)
    detail: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)  # JSON: the department row as read
    status: Mapped[str] = mapped_column(String(10), server_default="open")


class CompareUnmatchedRow(Base):
    __tablename__ = "compare_unmatched"
    __table_args__ = (UniqueConstraint("run_id", "source", "row_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("compare_runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(12))
    row_no: Mapped[int] = mapped_column(BigInteger)
    id_no: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(30))


class CompareActionRow(Base):
    __tablename__ = "compare_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("compare_findings.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(60))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    seq: Mapped[int] = mapped_column(Integer, server_default="0")
