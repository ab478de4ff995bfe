"""Tables of certified chronic and special diseases (门诊慢特病认定, migration ``0016``): a
person's certification of a listed disease with its validity dates, and its audit trail (who
certified, renewed or ended it, when). Registered on the same ``Base`` as ``models.py``
(``yibao.store`` imports this module)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.models import Base, BigId

STATUSES = "('active', 'ended')"
ACTIONS = "('certify', 'renew', 'end')"


class ChronicCertificationRow(Base):
    """A person's certified disease (its code on the area's list), valid from ``valid_from`` to
    ``valid_to`` inclusive; an ended certification's ``valid_to`` is its last day."""

    __tablename__ = "chronic_certifications"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("valid_to >= valid_from", name="dates"),
        Index("ix_chronic_certifications_person_id", "person_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    area: Mapped[str] = mapped_column(String(6))
    disease: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class ChronicActionRow(Base):
    """The audit trail of a certification: each action, by whom, when, with its dates."""

    __tablename__ = "chronic_actions"
    __table_args__ = (CheckConstraint(f"action IN {ACTIONS}", name="action"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cert_id: Mapped[int] = mapped_column(ForeignKey("chronic_certifications.id"))
    action: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    detail: Mapped[str] = mapped_column(String(500))
