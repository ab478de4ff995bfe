"""Tables of supervision findings (migration ``0013``): a finding per (area, year, rule, claim),
its evidence (the lines and other visits that triggered it) and its audit trail (who moved it,
when). Registered on the same ``Base`` as ``models.py`` (``yibao.store`` imports this module).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.policy.vocab import FindingStatus, Severity, SupervisionRule, sql_in
from yibao.store.models import Base, BigId


class FindingRow(Base):
    """A supervision finding: a rule that fired on a claim (visit) of an area's year."""

    __tablename__ = "supervision_findings"
    __table_args__ = (
        UniqueConstraint("area", "year", "rule", "claim_ref"),
        CheckConstraint(f"rule IN {sql_in(SupervisionRule)}", name="rule"),
        CheckConstraint(f"status IN {sql_in(FindingStatus)}", name="status"),
        CheckConstraint(f"severity IN {sql_in(Severity)}", name="severity"),
        CheckConstraint("amount >= 0 AND (recovery IS NULL OR recovery > 0)", name="amounts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(24))
    severity: Mapped[str] = mapped_column(String(8))
    claim_ref: Mapped[str] = mapped_column(String(40))  # the claim (visit) it is about
    psn_no: Mapped[str] = mapped_column(String(40))
    institution: Mapped[str] = mapped_column(String(30))
    scheme: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)  # fen at stake (the evidence's sum)
    status: Mapped[str] = mapped_column(String(10))
    recovery: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    ledger_transaction: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class EvidenceRow(Base):
    """A piece of a finding's evidence: a line of its claim and/or another claim."""

    __tablename__ = "supervision_evidence"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("supervision_findings.id"))
    line_sn: Mapped[str | None] = mapped_column(String(30), nullable=True)
    other_claim_ref: Mapped[str | None] = mapped_column(String(40), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class FindingActionRow(Base):
    """The audit trail of a finding: each move, by whom and when."""

    __tablename__ = "supervision_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("supervision_findings.id"))
    status: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    detail: Mapped[str] = mapped_column(String(500))
