"""Tables of the catalogue (医保目录, migration ``0005``): each load of a region's catalogue and
the item versions it brought.

Registered on the same ``Base`` as ``models.py`` (``yibao.store`` imports this module). Prices
are integer price units (1/1,000,000 yuan), quantities quantity units (1/10,000 of the item's
unit), as ``policy.catalogue`` reads them; ``valid_to`` is the last day (inclusive).
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

from yibao.policy.vocab import ItemClass, ItemKind, sql_in
from yibao.store.models import Base, BigId


class CatalogueLoadRow(Base):
    """One load of a region's catalogue (``yibao catalogue load``): a version from a day on."""

    __tablename__ = "catalogue_loads"
    __table_args__ = (UniqueConstraint("region", "valid_from"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    region: Mapped[str] = mapped_column(String(6))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    items: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class CatalogueItemRow(Base):
    """One version of one item of a region's catalogue."""

    __tablename__ = "catalogue_items"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(ItemKind)}", name="kind"),
        CheckConstraint(f"item_class IN {sql_in(ItemClass)}", name="item_class"),
        CheckConstraint("sex IN (0, 1, 2)", name="sex"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="dates"),
        CheckConstraint(
            "(price_limit IS NULL OR price_limit >= 0) AND (max_per_day IS NULL OR "
            "max_per_day >= 0) AND (max_per_stay IS NULL OR max_per_stay >= 0)",
            name="limits",
        ),
        UniqueConstraint("region", "code", "valid_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("catalogue_loads.id"), index=True)
    region: Mapped[str] = mapped_column(String(6))
    code: Mapped[str] = mapped_column(String(50))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(12))
    item_class: Mapped[str] = mapped_column(String(1))
    unit: Mapped[str] = mapped_column(String(500), server_default="")
    price_limit: Mapped[int | None] = mapped_column(BigInteger)
    typical_price: Mapped[int | None] = mapped_column(BigInteger)
    sex: Mapped[int] = mapped_column(Integer, server_default="0")
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    min_level: Mapped[int | None] = mapped_column(Integer)
    max_per_day: Mapped[int | None] = mapped_column(BigInteger)
    max_per_stay: Mapped[int | None] = mapped_column(BigInteger)
    indication: Mapped[str] = mapped_column(Text, server_default="")
    fee_type: Mapped[str] = mapped_column(String(2), server_default="")
    procedure: Mapped[str] = mapped_column(String(500), server_default="")
