"""Tables of a visit's fee detail lines and clinical data (migration ``0006``): the lines
(费用明细, 2204/2205) with their classification beside them, the diagnoses (ICD-10, principal
first) and the procedures (ICD-9-CM-3). The discharge date and way are columns of ``visits``.

Registered on the same ``Base`` as ``models.py`` (``yibao.store`` imports this module).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.policy.vocab import FeeLineStatus, ItemClass, LineReason, sql_in
from yibao.store.models import Base, BigId


class FeeLineRow(Base):
    """A fee detail line of a visit and its classification (fen; quantity in 1/10,000 unit,
    unit price in 1/1,000,000 yuan)."""

    __tablename__ = "fee_lines"
    __table_args__ = (
        UniqueConstraint("visit_id", "feedetl_sn"),
        CheckConstraint(f"status IN {sql_in(FeeLineStatus)}", name="status"),
        CheckConstraint(f"item_class IN {sql_in(ItemClass)}", name="item_class"),
        CheckConstraint(f"reason IN {sql_in(LineReason)}", name="reason"),
        CheckConstraint("approval IN ('0', '1', '2')", name="approval"),
        CheckConstraint("quantity > 0 AND unit_price >= 0 AND amount >= 0", name="line"),
        CheckConstraint(
            "fully_self_paid >= 0 AND over_limit >= 0 AND in_scope >= 0 AND category_b >= 0"
            " AND category_b <= in_scope"
            " AND fully_self_paid + over_limit + in_scope = amount",
            name="classes",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    feedetl_sn: Mapped[str] = mapped_column(String(30))
    code: Mapped[str] = mapped_column(String(50))  # med_list_codg
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    fee_date: Mapped[dt.date] = mapped_column(Date)
    approval: Mapped[str] = mapped_column(String(1))  # hosp_appr_flag
    status: Mapped[str] = mapped_column(String(10))
    item_class: Mapped[str] = mapped_column(String(1))
    fully_self_paid: Mapped[int] = mapped_column(BigInteger)
    over_limit: Mapped[int] = mapped_column(BigInteger)
    in_scope: Mapped[int] = mapped_column(BigInteger)
    category_b: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(16))


class VisitDiagnosisRow(Base):
    """A diagnosis of a visit (ICD-10): ``seq`` 1 is the principal one."""

    __tablename__ = "visit_diagnoses"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(20))
    diag_type: Mapped[str] = mapped_column(String(1))


class VisitProcedureRow(Base):
    """A procedure of a visit (ICD-9-CM-3): ``seq`` 1 is the main one when ``main``."""

    __tablename__ = "visit_procedures"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(20))
    performed_on: Mapped[dt.date | None] = mapped_column(Date)
    main: Mapped[bool] = mapped_column(Boolean)
