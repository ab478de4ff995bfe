"""The staff console's supplementary commercial insurance (惠民保) use cases: a person's purchases
and the products on sale to them, a purchase bought or cancelled at the counter, and the month's
statement per insurer (惠民保结算单).

Each function calls ``services.commercial`` (what the command line and the API call) and writes
its audit entry (actor ``staff:<username>``, ``detail`` starting ``console``): every read and
every write. Nothing here decides a purchase; the console (``yibao.web.commercial``) only checks,
calls and renders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.domain.enrolment import covering_or_last
from yibao.domain.errors import NotFound
from yibao.policy import fen_to_yuan
from yibao.policy.commercial import Product
from yibao.rules.commercial import on_sale
from yibao.services import commercial
from yibao.services.commercial import PurchaseView
from yibao.services.console import Staff, console_audit
from yibao.store.uow import UnitOfWork


@dataclass(frozen=True)
class Offer:
    """A product on sale today for a coverage year."""

    product: Product
    year: int


@dataclass(frozen=True)
class CommercialFile:
    """A person's purchases (by year, each with its trail of actions), their pooling area (the
    enrolment covering ``on``, else the last; None if never enrolled) and what is on sale there
    on ``on``."""

    person_id: int
    purchases: list[PurchaseView]
    history: dict[int, list[dict[str, Any]]]
    area: str | None
    offers: list[Offer]


def _area(uow: UnitOfWork, person_id: int, on: dt.date) -> str | None:
    """The pooling area ``commercial.buy`` sells in: the enrolment covering ``on``, else the
    last one."""
    with uow:
        history = uow.enrolments.history(person_id)
    chosen = covering_or_last(history, on)
    return chosen.pooling_area if chosen is not None else None


def offers(area: str | None, on: dt.date) -> list[Offer]:
    """The products of ``area`` on sale on ``on``: next year's first, then this year's."""
    if area is None:
        return []
    return [
        Offer(p, y)
        for y in (on.year + 1, on.year)
        for p in commercial.product_list(area, y)
        if on_sale(p, on)
    ]


def commercial_file(uow: UnitOfWork, staff: Staff, person_id: int, on: dt.date) -> CommercialFile:
    """The person's purchases and the products on sale to them on ``on``; audited
    (``commercial:read``)."""
    found = commercial.listing(uow, person_id)  # an unknown person: NotFound
    trails = {p.id: commercial.history(uow, p.id) for p in found}
    area = _area(uow, person_id, on)
    console_audit(uow, staff, "commercial:read", f"{len(found)} purchases", person_id=person_id,
           target=f"person:{person_id}")  # fmt: skip
    return CommercialFile(person_id, found, trails, area, offers(area, on))


def buy(
    uow: UnitOfWork, staff: Staff, person_id: int, product: str, year: int | None
) -> PurchaseView:
    """The person buys ``product`` for ``year`` today (``commercial.buy``); audited."""
    made = commercial.buy(uow, person_id, product, year, actor=staff.actor)
    console_audit(uow, staff, "commercial:buy",
           f"buy {made.product} for {made.year} from {made.covers_from}",
           person_id=person_id, target=f"commercial:{made.id}")  # fmt: skip
    return made


def cancel(
    uow: UnitOfWork, staff: Staff, person_id: int, purchase_id: int, reason: str
) -> PurchaseView:
    """Cancel the person's purchase (``commercial.cancel``); audited. A purchase of another
    person is not found (nothing changed)."""
    with uow:
        row = uow.commercial.get(purchase_id)
        owner = row.person_id
    if owner != person_id:
        raise NotFound("purchase", purchase_id)
    made = commercial.cancel(uow, purchase_id, actor=staff.actor, reason=reason)
    console_audit(uow, staff, "commercial:buy", f"cancel {made.product} for {made.year}",
           person_id=person_id, target=f"commercial:{made.id}")  # fmt: skip
    return made


def statement(uow: UnitOfWork, staff: Staff, month: str) -> dict[str, Any]:
    """The month's statement per insurer (``commercial.statement``); audited
    (``commercial:statement``)."""
    found = commercial.statement(uow, month)
    console_audit(uow, staff, "commercial:statement",
           f"{found['month']}; {len(found['insurers'])} insurers; total {found['total']}",
           target=f"commercial:{found['month']}")  # fmt: skip
    return found


def collect(
    uow: UnitOfWork, staff: Staff, month: str, insurer: str, on: dt.date
) -> list[commercial.Collected]:
    """Record the insurer's payment of the month's net (``commercial.collect``); audited
    (``commercial:collect``)."""
    done = commercial.collect(uow, month, insurer, on=on)
    posted = sum(c.amount for c in done if c.posted)
    console_audit(uow, staff, "commercial:collect",
           f"{insurer} {month}: {sum(c.posted for c in done)} posted, {fen_to_yuan(posted)}",
           target=f"commercial:{insurer}:{month}")  # fmt: skip
    return done


__all__ = [
    "CommercialFile",
    "Offer",
    "buy",
    "cancel",
    "collect",
    "commercial_file",
    "offers",
    "statement",
]
