"""Tables of the DIP year-end settlement (年终清算, migration ``0012``): one run per pooling area
and year (the point value and what it was computed from), and one settlement per institution
of the run with its ledger transaction.

Registered on the same ``Base`` as ``models.py`` (``yibao.store`` imports this module).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.models import Base, BigId


class DipRunRow(Base):
    """A year-end of a pooling area: the budget, the reimbursement ratio (× 10^4), the total
    points (× 10^4) and the point value (× 10^6 yuan per point); ``runs`` counts the calls."""

    __tablename__ = "dip_runs"
    __table_args__ = (UniqueConstraint("area", "year"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(Integer)
    ran_on: Mapped[dt.date] = mapped_column(Date)
    budget: Mapped[int] = mapped_column(BigInteger)  # fund_available, fen
    budget_source: Mapped[str] = mapped_column(String(10))  # given | factor
    reimbursement_ratio: Mapped[int] = mapped_column(Integer)  # × 10^4
    cases: Mapped[int] = mapped_column(BigInteger)
    total_points: Mapped[int] = mapped_column(BigInteger)  # × 10^4
    point_value: Mapped[int] = mapped_column(BigInteger)  # × 10^6 yuan per point
    runs: Mapped[int] = mapped_column(Integer)


class DipSettlementRow(Base):
    """An institution's year-end in a run (fen; points × 10^4) and the ledger transaction that
    posted its settlement (none when it is zero)."""

    __tablename__ = "dip_settlements"
    __table_args__ = (UniqueConstraint("run_id", "institution"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("dip_runs.id"))
    institution: Mapped[str] = mapped_column(String(40))
    cases: Mapped[int] = mapped_column(BigInteger)
    per_diem_cases: Mapped[int] = mapped_column(BigInteger)
    review_cases: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[int] = mapped_column(BigInteger)
    patient_share: Mapped[int] = mapped_column(BigInteger)
    standard: Mapped[int] = mapped_column(BigInteger)
    fund_due: Mapped[int] = mapped_column(BigInteger)
    advanced: Mapped[int] = mapped_column(BigInteger)
    settlement: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
