"""The commercial-insurance repository (惠民保): purchases with their audit trail, and what the
settlements paid under them (the monthly statement per insurer)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from yibao.domain.errors import NotFound
from yibao.rules.commercial import Cover
from yibao.store.commercial_models import CommercialActionRow, CommercialPurchaseRow
from yibao.store.models import SettlementRow
from yibao.store.sql import BulkRead, grouped

ACTIVE = "active"

_PURCHASES = cast(Table, CommercialPurchaseRow.__table__)
#: what a settlement round reads of its persons' purchases (``BulkRead``: built once; a part of
#: the person-file read too)
IN_FORCE = BulkRead(
    lambda in_: (
        select(
            _PURCHASES.c.person_id,
            _PURCHASES.c.id,
            _PURCHASES.c.area,
            _PURCHASES.c.product,
            _PURCHASES.c.insurer,
            _PURCHASES.c.year,
            _PURCHASES.c.covers_from,
        )
        .where(in_(_PURCHASES.c.person_id, "keys"), _PURCHASES.c.status == ACTIVE)
        .order_by(_PURCHASES.c.year, _PURCHASES.c.id)
    )
)


def covers_of(rows: Iterable[Any]) -> dict[int, list[Cover]]:
    """The rows of ``IN_FORCE`` by person id."""
    return grouped(
        (r.person_id, Cover(r.id, r.area, r.product, r.insurer, r.year, r.covers_from))
        for r in rows
    )


@dataclass(frozen=True, slots=True)
class PaidLine:
    """What the settlements of one (area, insurer, product) paid under purchases, in a period:
    ``count`` settlements, ``amount`` fen."""

    area: str
    insurer: str
    product: str
    count: int
    amount: int


class CommercialRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        person_id: int,
        area: str,
        product: str,
        insurer: str,
        year: int,
        bought_on: dt.date,
        covers_from: dt.date,
    ) -> CommercialPurchaseRow:
        row = CommercialPurchaseRow(
            person_id=person_id,
            area=area,
            product=product,
            insurer=insurer,
            year=year,
            bought_on=bought_on,
            covers_from=covers_from,
            status=ACTIVE,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, purchase_id: int, lock: bool = False) -> CommercialPurchaseRow:
        stmt = select(CommercialPurchaseRow).where(CommercialPurchaseRow.id == purchase_id)
        row = self.session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
        if row is None:
            raise NotFound("purchase", purchase_id)
        return row

    def of_person(self, person_id: int, lock: bool = False) -> list[CommercialPurchaseRow]:
        """The person's purchases, by year then id."""
        stmt = (
            select(CommercialPurchaseRow)
            .where(CommercialPurchaseRow.person_id == person_id)
            .order_by(CommercialPurchaseRow.year, CommercialPurchaseRow.id)
        )
        return list(self.session.execute(stmt.with_for_update() if lock else stmt).scalars())

    def in_force(self, person_ids: Sequence[int]) -> dict[int, list[Cover]]:
        """The purchases not cancelled of many persons by person id, by year then id (one
        compiled read: it runs with every settlement round)."""
        if not person_ids:
            return {}
        return covers_of(IN_FORCE.rows(self.session, keys=list(person_ids)))

    def paid_under(self, purchase_id: int) -> int:
        """How many settlements in force the purchase paid something of."""
        return int(
            self.session.execute(
                select(func.count())
                .select_from(SettlementRow)
                .where(
                    SettlementRow.commercial_purchase_id == purchase_id,
                    SettlementRow.status == "settled",
                    SettlementRow.commercial_pay > 0,
                )
            ).scalar_one()
        )

    def paid(self, first: dt.date, last: dt.date, reversed_: bool) -> list[PaidLine]:
        """What settlements paid under purchases, by (area, insurer, product): those settled
        from ``first`` to ``last`` (``reversed_`` False, whatever became of them later), or
        those reversed then (``reversed_`` True)."""
        day = SettlementRow.reversed_on if reversed_ else SettlementRow.settled_on
        p = CommercialPurchaseRow
        rows = self.session.execute(
            select(
                SettlementRow.pooling_area,
                p.insurer,
                p.product,
                func.count(),
                func.sum(SettlementRow.commercial_pay),
            )
            .join(p, p.id == SettlementRow.commercial_purchase_id)
            .where(SettlementRow.commercial_pay > 0, day.between(first, last))
            .group_by(SettlementRow.pooling_area, p.insurer, p.product)
            .order_by(p.insurer, SettlementRow.pooling_area, p.product)
        ).all()
        return [PaidLine(a, i, pr, int(n), int(s)) for a, i, pr, n, s in rows]

    def act(self, purchase_id: int, action: str, actor: str, at: dt.datetime, detail: str) -> None:
        self.session.add(
            CommercialActionRow(
                purchase_id=purchase_id, action=action, actor=actor, at=at, detail=detail
            )
        )
        self.session.flush()

    def actions(self, purchase_id: int) -> list[CommercialActionRow]:
        stmt = (
            select(CommercialActionRow)
            .where(CommercialActionRow.purchase_id == purchase_id)
            .order_by(CommercialActionRow.id)
        )
        return list(self.session.execute(stmt).scalars())
