"""Tables of supplementary commercial insurance (惠民保, migration ``0020``): a person's purchase
of a region's product for a coverage year (when bought, from when it covers, whether cancelled),
and its audit trail (who bought or cancelled it, when). Registered on the same ``Base`` as
``models.py`` (``yibao.store`` imports this module)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.models import Base, BigId

STATUSES = "('active', 'cancelled')"
ACTIONS = "('buy', 'cancel')"


class CommercialPurchaseRow(Base):
    """A person's purchase of ``product`` (of ``area``'s list, sold by ``insurer``) for coverage
    year ``year``: it covers claims from ``covers_from`` to the end of the year unless
    cancelled. One purchase in force per person and year."""

    __tablename__ = "commercial_purchases"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("(status = 'cancelled') = (cancelled_on IS NOT NULL)", name="cancelled"),
        Index("ix_commercial_purchases_person_id", "person_id"),
        Index(
            "uq_commercial_purchases_person_id_year",
            "person_id",
            "year",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    area: Mapped[str] = mapped_column(String(6))
    product: Mapped[str] = mapped_column(String(40))
    insurer: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    bought_on: Mapped[dt.date] = mapped_column(Date)
    covers_from: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))
    cancelled_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class CommercialActionRow(Base):
    """The audit trail of a purchase: each action, by whom, when, with what it did."""

    __tablename__ = "commercial_actions"
    __table_args__ = (CheckConstraint(f"action IN {ACTIONS}", name="action"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("commercial_purchases.id"))
    action: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    detail: Mapped[str] = mapped_column(String(500))
