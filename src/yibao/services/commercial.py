"""Supplementary commercial insurance (惠民保): the region's products (``commercial.products``),
a person's purchase of one for a coverage year, its cancellation, and the monthly statement of
what each insurer owes for the settlements its products paid, and its collection: the insurer
pays the month's net, per area, into the area's cash (``collect``). Each purchase keeps its own
audit trail of actions (who bought or cancelled it, when). A settlement reads the purchase
covering the claim's date and the product pays its share (``kernel.layers.commercial``),
posted to ``commercial_receivable:<area>`` (``services.settlement.write``).

Refused, changing nothing: a product code missing or not on the list of the person's area for
the year, a purchase outside the product's sale period, a person not insured on the day the
purchase would start to cover, a second purchase for one person and year; cancelling a
cancelled purchase, one that paid a settlement in force, or one past its cooling-off days once
it covers; a collection dated before the month is over or after today.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from yibao.domain.enrolment import covering_or_last
from yibao.domain.errors import AlreadyExists, InvalidField
from yibao.domain.ledger import AccountKind, AccountRef, LedgerTransaction, credit, debit
from yibao.domain.registry import Person
from yibao.domain.text import check_identifier
from yibao.policy import fen_to_yuan
from yibao.policy.commercial import Product, products
from yibao.rules.commercial import cancellable, covers_from, on_sale
from yibao.services import clock
from yibao.services.clearing import payment_day
from yibao.services.clock import today
from yibao.services.common import PolicySource, policy_for, stored_person
from yibao.store.clearing import payments
from yibao.store.commercial_models import CommercialPurchaseRow
from yibao.store.uow import UnitOfWork

ACTIVE, CANCELLED = "active", "cancelled"
AREA = re.compile(r"[0-9]{6}")
#: The coverage years a purchase may name.
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: The ledger transaction of an insurer's payment of a month's net for an area.
COLLECTION_KIND = "commercial_collection"


@dataclass(frozen=True)
class PurchaseView:
    """A purchase as the edges show it."""

    id: int
    person: str
    area: str
    product: str
    name: str
    insurer: str
    year: int
    bought_on: dt.date
    covers_from: dt.date
    status: str
    cancelled_on: dt.date | None
    person_id: int  # the stored person's (for the audit; not shown)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "person": self.person,
            "area": self.area,
            "product": self.product,
            "product_name": self.name,
            "insurer": self.insurer,
            "year": self.year,
            "bought_on": self.bought_on.isoformat(),
            "covers_from": self.covers_from.isoformat(),
            "covers_to": dt.date(self.year, 12, 31).isoformat(),
            "status": self.status,
            "cancelled_on": self.cancelled_on.isoformat() if self.cancelled_on else None,
        }


def product_list(
    area: str, year: int | None = None, *, policies: PolicySource = policy_for
) -> list[Product]:
    """The products sold in ``area`` for coverage ``year`` (default: this year), by code."""
    if not isinstance(area, str) or not AREA.fullmatch(area):
        raise InvalidField("area", "must be a pooling area's 6-digit code", area)
    y = _year(year if year is not None else today().year)
    return sorted(products(policies(area), y).values(), key=lambda p: p.code)


def _year(year: int) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidField("year", f"must be a year from {FIRST_YEAR} to {LAST_YEAR}", year)
    return year


def _product(policies: PolicySource, row: CommercialPurchaseRow) -> Product | None:
    return products(policies(row.area), row.year).get(row.product)


def _view(row: CommercialPurchaseRow, person: Person, policies: PolicySource) -> PurchaseView:
    listed = _product(policies, row)
    return PurchaseView(
        row.id, str(person.national_id), row.area, row.product,
        listed.name if listed is not None else row.product, row.insurer, row.year, row.bought_on,
        row.covers_from, row.status, row.cancelled_on, row.person_id,
    )  # fmt: skip


def _code(product: str | None) -> str:
    code = (product or "").strip()
    if not code:
        raise InvalidField("product", "a product code is required (惠民保产品编码)", product)
    return code


def buy(
    uow: UnitOfWork,
    who: str | int,
    product: str | None,
    year: int | None = None,
    *,
    actor: str = "cli",
    policies: PolicySource = policy_for,
) -> PurchaseView:
    """``who`` buys ``product`` of their area's list for coverage ``year`` today (default: the
    year whose sale period today falls in, the next year's first); it covers claims from
    ``rules.commercial.covers_from`` to the end of the year."""
    code = _code(product)
    now = today()
    with uow:
        person, pid = stored_person(uow, who)
        history = uow.enrolments.history(pid)
        chosen = covering_or_last(history, now)
        if chosen is None:
            raise InvalidField("person", f"{person.label} has no enrolment: not insured")
        area = chosen.pooling_area
        if year is None:
            sold = [
                y for y in (now.year + 1, now.year)
                if code in (ps := products(policies(area), y)) and on_sale(ps[code], now)
            ]  # fmt: skip
            year = sold[0] if sold else now.year
        y = _year(year)
        listed = products(policies(area), y).get(code)
        if listed is None:
            raise InvalidField("product", f"{code} is not a product sold in {area} for {y}", code)
        if not on_sale(listed, now):
            raise InvalidField(
                "year",
                f"{code} is sold for {y} from {listed.sale_from} to {listed.sale_to}, not on {now}",
                y,
            )
        start = covers_from(now, y)
        if not any(e.covers(start) and e.pooling_area == area for e in history):
            raise InvalidField(
                "person", f"{person.label} is not insured in {area} on {start}", start
            )
        for other in uow.commercial.of_person(pid, lock=True):
            if other.year == y and other.status == ACTIVE:
                raise AlreadyExists(
                    "purchase", f"of {other.product} for {person.label} for {y} (#{other.id})"
                )
        row = uow.commercial.add(pid, area, code, listed.insurer, y, now, start)
        uow.commercial.act(row.id, "buy", actor, clock.now(), f"{code} for {y} from {start}")
        view = _view(row, person, policies)
        uow.commit()
    return view


def cancel(
    uow: UnitOfWork,
    purchase_id: int,
    *,
    actor: str = "cli",
    reason: str = "",
    policies: PolicySource = policy_for,
) -> PurchaseView:
    """Cancel a purchase (退保): before it covers, or within the product's cooling-off days
    after it was bought; never once it paid a settlement in force (reverse those first)."""
    now = today()
    with uow:
        row = uow.commercial.get(purchase_id, lock=True)
        if row.status != ACTIVE:
            raise InvalidField("purchase", f"purchase {purchase_id} is cancelled", purchase_id)
        listed = _product(policies, row)
        if not cancellable(listed, row.bought_on, row.covers_from, now):
            days = listed.cooling_off_days if listed is not None else 0
            raise InvalidField(
                "purchase",
                f"purchase {purchase_id} covers since {row.covers_from} and its "
                f"{days} cooling-off days after {row.bought_on} are over",
                purchase_id,
            )
        paid = uow.commercial.paid_under(row.id)
        if paid:
            raise InvalidField(
                "purchase",
                f"purchase {purchase_id} paid {paid} settlement(s) in force",
                purchase_id,
            )
        row.status, row.cancelled_on = CANCELLED, now
        detail = f"cancelled on {now}" + (f": {reason}" if reason else "")
        uow.commercial.act(row.id, "cancel", actor, clock.now(), detail[:500])
        view = _view(row, uow.persons.get(row.person_id), policies)
        uow.commit()
    return view


def listing(
    uow: UnitOfWork, who: str | int, *, policies: PolicySource = policy_for
) -> list[PurchaseView]:
    """The person's purchases, by year."""
    with uow:
        person, pid = stored_person(uow, who)
        return [_view(r, person, policies) for r in uow.commercial.of_person(pid)]


def history(uow: UnitOfWork, purchase_id: int) -> list[dict[str, Any]]:
    """A purchase's audit trail: each action, by whom, when."""
    with uow:
        uow.commercial.get(purchase_id)
        return [
            {"action": a.action, "actor": a.actor, "at": a.at.isoformat(), "detail": a.detail}
            for a in uow.commercial.actions(purchase_id)
        ]


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """``YYYY-MM`` as its first and last day, else refused naming ``month``."""
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except (TypeError, ValueError):
        raise InvalidField("month", "must be YYYY-MM", month) from None
    _year(first.year)
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def statement(uow: UnitOfWork, month: str) -> dict[str, Any]:
    """The month's statement per insurer (惠民保结算单): for each insurer, area and product, the
    settlements its products paid in the month and those reversed in it, and the net it owes
    (yuan); what the insurer has paid of each area's net (``collect``), and what is still
    outstanding; with the net posted to the ``commercial_receivable`` accounts by the month's
    settlements and reversals, which the statement's total equals."""
    first, last = month_bounds(month)
    with uow:
        lines = _owed(uow, first, last)
        accounts = uow.ledger.fund_accounts([AccountKind.COMMERCIAL_RECEIVABLE])
        flows = uow.ledger.flows([a.ref.code for a in accounts], first, last)
        owing = sorted({(insurer, area) for insurer, area, _ in lines})
        paid = payments(uow.session, [collection_reference(*k, first) for k in owing], sign=1)
    collected: dict[str, int] = {}
    for insurer, area in owing:
        got = paid.get(collection_reference(insurer, area, first))
        collected[insurer] = collected.get(insurer, 0) + (got.amount if got else 0)
    insurers: dict[str, dict[str, Any]] = {}
    for (insurer, area, product), n in sorted(lines.items()):
        entry = insurers.setdefault(insurer, {"insurer": insurer, "lines": [], "owed": 0})
        net = n["settled_amount"] - n["reversed_amount"]
        entry["owed"] += net
        entry["lines"].append(
            {
                "area": area,
                "product": product,
                "settlements": n["settled"],
                "paid": fen_to_yuan(n["settled_amount"]),
                "reversals": n["reversed"],
                "reversed": fen_to_yuan(n["reversed_amount"]),
                "owed": fen_to_yuan(net),
            }
        )
    total = sum(e["owed"] for e in insurers.values())
    posted = sum(d - c for _, kind, d, c in flows if kind != COLLECTION_KIND)
    return {
        "month": first.strftime("%Y-%m"),
        "insurers": [
            {
                **e,
                "owed": fen_to_yuan(e["owed"]),
                "collected": fen_to_yuan(collected[i]),
                "outstanding": fen_to_yuan(e["owed"] - collected[i]),
                # what ``collect`` would post: a month owing more than nothing, not collected
                "collectable": collected[i] == 0 and e["owed"] > 0,
            }
            for i, e in insurers.items()
        ],
        "total": fen_to_yuan(total),
        "posted": fen_to_yuan(posted),
        "balanced": total == posted,
    }


def _owed(
    uow: UnitOfWork, first: dt.date, last: dt.date
) -> dict[tuple[str, str, str], dict[str, int]]:
    """The settlements and reversals from ``first`` to ``last`` paid under purchases, by
    (insurer, area, product): counts and fen."""
    settled = uow.commercial.paid(first, last, reversed_=False)
    undone = uow.commercial.paid(first, last, reversed_=True)
    lines: dict[tuple[str, str, str], dict[str, int]] = {}
    for sign, group in ((1, settled), (-1, undone)):
        for g in group:
            line = lines.setdefault(
                (g.insurer, g.area, g.product),
                {"settled": 0, "settled_amount": 0, "reversed": 0, "reversed_amount": 0},
            )
            key = "settled" if sign > 0 else "reversed"
            line[key] += g.count
            line[f"{key}_amount"] += g.amount
    return lines


def collection_reference(insurer: str, area: str, first: dt.date) -> str:
    """The business key of an insurer's payment of a month's net for an area."""
    return f"commercial:{insurer}:{area}:{first:%Y-%m}"


@dataclass(frozen=True)
class Collected:
    """An insurer's payment of a month's net for an area: ``posted`` False when it was
    collected before (nothing changed; ``amount`` and ``transaction`` are that payment's)."""

    insurer: str
    area: str
    month: str
    amount: int
    transaction: int
    paid_on: dt.date
    posted: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "insurer": self.insurer,
            "area": self.area,
            "month": self.month,
            "amount": fen_to_yuan(self.amount),
            "transaction": self.transaction,
            "paid_on": self.paid_on.isoformat(),
            "posted": self.posted,
        }


def collect(
    uow: UnitOfWork, month: str, insurer: str | None = None, *, on: dt.date | None = None
) -> list[Collected]:
    """The insurer (or every insurer with a statement for the month) pays the month's net per
    area (收回惠民保垫付): one transaction ``commercial:<insurer>:<area>:<YYYY-MM>`` per
    (insurer, area) owing more than nothing, dated ``on`` (default today; after the month's end
    and not after today): D ``cash:<area>``, C ``commercial_receivable:<area>``. A month
    already collected from an insurer for an area is not collected again; what was posted to
    the area's receivable in the month after its collection (a settlement dated into it since)
    shows as outstanding in the statement."""
    first, last = month_bounds(month)
    label, day = f"{first:%Y-%m}", payment_day(first, last, on)
    if insurer is not None:
        check_identifier("insurer", insurer)
    out: list[Collected] = []
    with uow:  # read and posted in one database transaction
        owed: dict[tuple[str, str], int] = {}
        for (who, area, _), n in _owed(uow, first, last).items():
            if insurer is None or who == insurer:
                net = n["settled_amount"] - n["reversed_amount"]
                owed[who, area] = owed.get((who, area), 0) + net
        refs = {key: collection_reference(*key, first) for key in owed}
        done = payments(uow.session, list(refs.values()), sign=1)
        for (who, area), amount in sorted(owed.items()):
            ref = refs[who, area]
            before = done.get(ref)
            if before is not None:
                paid = (before.amount, before.transaction_id, before.paid_on, False)
                out.append(Collected(who, area, label, *paid))
                continue
            if amount <= 0:
                continue
            txn = LedgerTransaction.of(
                COLLECTION_KIND,
                day,
                [
                    debit(AccountRef.fund(AccountKind.CASH, area), amount),
                    credit(AccountRef.fund(AccountKind.COMMERCIAL_RECEIVABLE, area), amount),
                ],
                f"惠民保 {first:%Y-%m}: {who} pays the net for {area}",
                ref,
            )
            try:
                txn_id = uow.ledger.post(txn)
            except AlreadyExists:  # collected meanwhile by another run: keep its payment
                continue
            out.append(Collected(who, area, label, amount, txn_id, day, True))
        uow.commit()
    return out


__all__ = [
    "COLLECTION_KIND",
    "Collected",
    "PurchaseView",
    "buy",
    "cancel",
    "collect",
    "collection_reference",
    "history",
    "listing",
    "month_bounds",
    "product_list",
    "statement",
]
