"""Supplementary commercial insurance (惠民保) purchases: which purchase covers a claim's date,
from when a purchase covers, and whether it may still be cancelled (pure rules; the store keeps
the purchases, ``services.commercial``; the product pays in ``kernel.layers.commercial``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from yibao.policy.commercial import Product


@dataclass(frozen=True)
class Cover:
    """A purchase in force: ``product`` of ``area``'s list (sold by ``insurer``) for coverage
    year ``year``, covering claims from ``covers_from`` to 31 December of ``year``."""

    purchase_id: int
    area: str
    product: str
    insurer: str
    year: int
    covers_from: dt.date

    def covers(self, on: dt.date) -> bool:
        return on.year == self.year and self.covers_from <= on


def cover_on(covers: Iterable[Cover], on: dt.date) -> Cover | None:
    """The purchase that covers a claim of ``on`` (one in force per person and year), if any."""
    return next((c for c in covers if c.covers(on)), None)


def covers_from(bought_on: dt.date, year: int) -> dt.date:
    """The first day a purchase covers: 1 January of its year when bought before it, else the
    day after the purchase (no product bought at the counter pays for the care it is bought
    for)."""
    return max(dt.date(year, 1, 1), bought_on + dt.timedelta(days=1))


def on_sale(product: Product, on: dt.date) -> bool:
    """Whether ``product`` is sold on ``on`` (its sale period for its year, inclusive)."""
    return product.sale_from <= on <= product.sale_to


def cancellable(product: Product | None, bought_on: dt.date, starts: dt.date, on: dt.date) -> bool:
    """Whether a purchase may be cancelled on ``on``: before it starts to cover, or within the
    product's cooling-off days after the purchase (犹豫期). A purchase that paid a settlement in
    force is never cancelled (``services.commercial.cancel``)."""
    days = product.cooling_off_days if product is not None else 0
    return on < starts or on <= bought_on + dt.timedelta(days=days)
